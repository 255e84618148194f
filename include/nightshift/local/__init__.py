"""Local mode and tooling: the embedded default (PostgreSQL, a project-local Airflow), the data
generator and its bad-input kinds, and the demo.

Production code never imports this package: it takes URLs and connections, and only local
mode knows how to start a server. The `nightshift` command (nightshift.cli) is the one other
importer: its `generate`, `db`, `airflow` and `demo` commands are this package's front door.
"""
