"""Test-bed helpers shared by gitward's test suites: real Git servers and repositories (`gitserver`,
built on `gitward.testing`, which bench/ shares) and the pytest fixtures that start and stop them
(`fixtures`)."""
