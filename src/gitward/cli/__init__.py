"""The `gitward` command line (SPEC §3): one typer sub-app per command family."""
