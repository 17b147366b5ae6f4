"""The HTTP server: health probes, REST API, webhooks, metrics and the dashboard."""
