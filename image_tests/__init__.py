"""Tests of the container image (`make image-test`), kept out of tests/ and so out of `make test`."""
