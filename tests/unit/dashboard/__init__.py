"""Unit tests of gitward.server.dashboard: pure functions from plain data, and the app without a
backend (assets). The pages against the real cluster: tests/integration/test_dashboard_pages.py."""
