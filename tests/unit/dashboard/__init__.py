"""Unit tests of gitward.server.dashboard (no cluster: pure functions, and the pages in memory)."""
