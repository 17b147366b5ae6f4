"""Test-bed helpers shared by gitward's test suites: real Git servers and repositories (`gitserver`)
and the pytest fixtures that start and stop them (`fixtures`)."""
