"""The package's layout rules, checked on the source.

Production code never reaches into local mode; nothing imports the command line; the sub-packages
of `nightshift` import each other one way only (no cycles); no function is longer than a reader
holds in mind at once.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "include" / "nightshift"
MAX_FUNCTION_LINES = 60
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


# --- No cycles between sub-packages ------------------------------------------------------------


def package_of(module: str) -> str | None:
    """The first part under `nightshift` (``nightshift.model.train`` -> ``model``; ``nightshift.config`` -> ``config``)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "nightshift" and len(parts) > 1 else None


def package_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Which of `nightshift`'s sub-packages (and top-level modules) each imports, at any depth."""
    graph: dict[str, set[str]] = {}
    known = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()} | {
        p.stem for p in root.glob("*.py") if p.stem != "__init__"
    }
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        if parts == ("__init__",):
            continue
        source = parts[0]
        targets = {package_of(m) for m in imported_modules(path)}
        graph.setdefault(source, set()).update(t for t in targets if t in known and t != source)
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted; [] when the graph has no cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_cycles_between_subpackages() -> None:
    graph = package_graph()
    found = cycles(graph)
    edges = {f"{a} -> {b}" for cycle in found for a in cycle for b in graph[a] if b in cycle}
    assert found == [], f"sub-packages that import each other: {found}, through {sorted(edges)}"


def test_the_cycle_check_reports_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "nightshift"
    for name, body in {
        "a/__init__.py": "",
        "a/one.py": "from nightshift.b.two import f\n",
        "b/__init__.py": "",
        "b/two.py": "def f():\n    from nightshift.c import g\n    return g\n",
        "c.py": "def g():\n    import nightshift.a.one\n",
        "d/__init__.py": "from nightshift.a import one\n",
    }.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(body)
    graph = package_graph(package)
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# --- Functions one can hold in one's head -----------------------------------------------------


def long_functions(paths: Iterable[Path], limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """``file:line name`` -> lines, for every function (or method) longer than ``limit`` lines, def to last line."""
    found: dict[str, int] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found[f"{path.relative_to(path.parents[1])}:{node.lineno} {node.name}"] = lines
    return found


def test_no_function_over_the_limit() -> None:
    found = long_functions(sorted(PACKAGE.rglob("*.py")))
    assert found == {}, f"functions over {MAX_FUNCTION_LINES} lines (def to last line): {found}"


def test_the_length_check_reports_a_long_function(tmp_path: Path) -> None:
    module = tmp_path / "pkg" / "long.py"
    module.parent.mkdir()
    at_limit = "def fits():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES - 2) + "    return x\n"
    over = "class C:\n    async def too_long(self):\n" + "        x = 1\n" * (MAX_FUNCTION_LINES - 1) + "        return x\n"
    module.write_text(at_limit + "\n\n" + over)
    assert long_functions([module]) == {f"pkg/long.py:{MAX_FUNCTION_LINES + 4} too_long": MAX_FUNCTION_LINES + 1}


# --- The registry is reached through nightshift.model.registry ----------------------------------

# MlflowClient's model registry methods; the tracking store's (runs, experiments) are not among them.
REGISTRY_METHODS = frozenset(
    {
        "create_model_version",
        "create_registered_model",
        "delete_model_version_tag",
        "delete_registered_model_alias",
        "get_latest_versions",
        "get_model_version",
        "get_model_version_by_alias",
        "get_registered_model",
        "search_model_versions",
        "search_registered_models",
        "set_model_version_tag",
        "set_registered_model_alias",
        "set_registered_model_tag",
        "transition_model_version_stage",
    }
)


def registry_calls(path: Path) -> list[str]:
    """``line method`` for every call of a registry method on any object in the file."""
    return [
        f"{node.lineno} {node.func.attr}"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in REGISTRY_METHODS
    ]


def test_registry_calls_go_through_the_registry_module() -> None:
    registry = PACKAGE / "model" / "registry.py"
    offenders = {str(p.relative_to(ROOT)): registry_calls(p) for p in production_files(excluding=()) if p != registry}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_registry_check_sees_a_direct_call(tmp_path: Path) -> None:
    direct = tmp_path / "direct.py"
    direct.write_text("def f(client):\n    client.get_model_version('m', '1')\n    return client.get_run('r')\n")
    assert registry_calls(direct) == ["2 get_model_version"]
