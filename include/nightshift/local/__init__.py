"""Local mode and tooling: the embedded default (PostgreSQL, a project-local Airflow), the data
generator and its bad-input kinds, the demo and the `nightshift` command line.

Production code never imports this package: it takes URLs and connections, and only local
mode knows how to start a server.
"""
