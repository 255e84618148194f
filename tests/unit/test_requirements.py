"""pyspark and pyspark-client install into the same `pyspark` package: their pins must match.

A newer pyspark-client (pulled in by the Spark provider) overwrites parts of pyspark and
Great Expectations on Spark then fails with an ImportError, so the pins are guarded here.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PAIR = ("pyspark", "pyspark-client")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def exact_pins(text: str) -> dict[str, list[str]]:
    """Every `name==version` requirement in a requirements/constraints file, by normalised name."""
    pins: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:  # a line pip would also reject
            raise AssertionError(f"unparsable requirement line: {raw!r}") from exc
        specs = list(req.specifier)
        exact = [s.version for s in specs if s.operator in ("==", "===")]
        pins.setdefault(_normalise(req.name), []).extend(exact or [str(req.specifier) or "<unpinned>"])
    return pins


def pair_problems(text: str) -> list[str]:
    """Why the pyspark / pyspark-client pins of one file are unsafe; empty when they are fine."""
    pins = exact_pins(text)
    problems = []
    for name in PAIR:
        found = pins.get(name, [])
        if not found:
            problems.append(f"{name} is not pinned")
        elif len(set(found)) != 1 or not re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", found[0]):
            problems.append(f"{name} needs exactly one exact pin, found {found}")
    if not problems and pins["pyspark"][0] != pins["pyspark-client"][0]:
        problems.append(f"pyspark=={pins['pyspark'][0]} but pyspark-client=={pins['pyspark-client'][0]}")
    return problems


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("pyspark==4.1.3\npyspark-client==4.1.3\n", True),
        ("# c\nPySpark==4.1.3  # comment\npyspark_client==4.1.3 ; python_version >= '3.9'\n", True),
        ("pyspark==4.1.3\npyspark-client==4.2.0\n", False),
        ("pyspark==4.1.3\n", False),
        ("pyspark-client==4.1.3\n", False),
        ("pyspark>=4.1\npyspark-client==4.1.3\n", False),
        ("pyspark==4.1.3\npyspark-client==4.1.3\npyspark==4.1.2\n", False),
        ("great-expectations[spark]==1.24.1\n", False),
    ],
)
def test_checker_itself(text: str, ok: bool) -> None:
    assert (pair_problems(text) == []) is ok


@pytest.mark.parametrize("filename", ["requirements.txt", "constraints.txt"])
def test_pyspark_and_client_pins_match(filename: str) -> None:
    path = ROOT / filename
    assert path.is_file(), f"{filename} missing at the repo root"
    assert pair_problems(path.read_text()) == [], filename


def test_files_agree_with_each_other() -> None:
    req = exact_pins((ROOT / "requirements.txt").read_text())
    con = exact_pins((ROOT / "constraints.txt").read_text())
    for name in PAIR:
        assert req.get(name) == con.get(name), name


def test_installed_distributions_agree() -> None:
    try:
        installed = {name: version(name) for name in PAIR}
    except PackageNotFoundError as exc:
        pytest.fail(f"{exc.name} is not installed in this environment")
    assert installed["pyspark"] == installed["pyspark-client"], installed
