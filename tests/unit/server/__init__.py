"""Unit tests of gitward.server (no cluster: pure functions and the ASGI app in memory)."""
