"""Health (pure): assess the health of live objects, one module per family of kinds."""
