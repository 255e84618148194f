"""The `nightshift` command: one module per command group, wired together in ``nightshift.cli.main``."""
