"""Sourcing: fetch Git repositories (shared, shallow, cached), resolve revisions, read commit metadata."""
