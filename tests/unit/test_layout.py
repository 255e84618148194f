"""The package's layout rules, checked on the source: production code never reaches into local mode."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "include" / "nightshift"


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


def production_files() -> list[Path]:
    local = PACKAGE / "local"
    files = [p for p in PACKAGE.rglob("*.py") if local not in p.parents]
    return files + sorted((ROOT / "dags").glob("*.py")) + sorted((ROOT / "plugins").glob("*.py"))


def test_nothing_outside_local_imports_local() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if m == "nightshift.local" or m.startswith("nightshift.local."))
        for p in production_files()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_rule_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from nightshift.local.database import database_url\n    return database_url()\n")
    assert "nightshift.local.database" in imported_modules(sneaky)
