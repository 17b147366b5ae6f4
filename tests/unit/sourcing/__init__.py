"""Unit tests of gitward.sourcing (no network, no servers)."""
