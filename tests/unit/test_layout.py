"""The package's layout rules, checked on the source: production code never reaches into local mode; nothing imports the command line."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "include" / "nightshift"
# Sub-packages that may import any other: the embedded default and the command line sit on top.
ENTRY_PACKAGES = ("local", "cli")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def production_files(excluding: Iterable[str] = ("local",)) -> list[Path]:
    skipped = [PACKAGE / name for name in excluding]
    files = [p for p in PACKAGE.rglob("*.py") if not any(s in p.parents for s in skipped)]
    return files + sorted((ROOT / "dags").glob("*.py")) + sorted((ROOT / "plugins").glob("*.py"))


def importers_of(package: str, files: Iterable[Path]) -> dict[str, list[str]]:
    """Files that import ``nightshift.<package>`` or anything in it, with what they import."""
    prefix = f"nightshift.{package}"
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if m == prefix or m.startswith(prefix + ".")) for p in files
    }
    return {k: v for k, v in offenders.items() if v}


def test_nothing_outside_local_and_the_command_line_imports_local() -> None:
    assert importers_of("local", production_files(excluding=ENTRY_PACKAGES)) == {}


def test_nothing_imports_the_command_line() -> None:
    # Its modules parse arguments and print: anything a command does lives in the package it calls.
    assert importers_of("cli", production_files(excluding=("cli",))) == {}


def test_the_rule_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from nightshift.local.database import database_url\n    return database_url()\n")
    assert "nightshift.local.database" in imported_modules(sneaky)
