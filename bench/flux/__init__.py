"""Flux built for the bench: the Go module (go.mod, go.sum) and `build` (compile once, cache, CRDs)."""
