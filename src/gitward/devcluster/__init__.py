"""The embedded local control plane for development and tests: build, start, stop, node simulator."""
