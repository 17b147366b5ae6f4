"""`python -m gitward` runs the CLI."""

from gitward.cli.main import main

main()
