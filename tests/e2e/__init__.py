"""End-to-end tests of the dashboard in a real browser (headless Chromium via Playwright) against
the real HTTP server, a real controller, real Git servers and the real control plane."""
