"""Unit tests of the bench's pure pieces (`.venv/bin/pytest bench/tests`); `make test` runs only tests/."""
