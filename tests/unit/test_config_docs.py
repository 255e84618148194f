"""params.yaml documents itself: every key has a comment, and docs/configuration.md is rendered from them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nightshift.config_docs import parse, render, undocumented, update

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ROOT / "params.yaml"
PAGE = ROOT / "docs" / "configuration.md"


def _yaml_paths(node: object, prefix: str = "") -> list[str]:
    if not isinstance(node, dict):
        return []
    paths = []
    for key, value in node.items():
        path = f"{prefix}{key}"
        paths += [path, *_yaml_paths(value, path + ".")]
    return paths


def test_every_key_of_params_yaml_has_a_comment() -> None:
    assert undocumented(parse(PARAMS.read_text())) == []


def test_the_parser_sees_exactly_the_keys_yaml_sees() -> None:
    text = PARAMS.read_text()
    assert [k.path for k in parse(text)] == _yaml_paths(yaml.safe_load(text))


def test_the_configuration_page_is_rendered_from_params_yaml() -> None:
    page = PAGE.read_text()
    assert update(page, parse(PARAMS.read_text())) == page, "docs/configuration.md is out of date: run python -m nightshift.config_docs"


TINY = """\
# a file header, not a key's comment

top:
  documented: 1   # on its own line
  # in the block right above
  above: 2
  # a comment separated by a blank line documents nothing

  bare: 3
  salt: "a#b"
# the block above a section documents the section
nested:
  leaf: [1, 2]  # a list
"""


def test_a_key_without_a_comment_is_reported() -> None:
    keys = parse(TINY)
    assert undocumented(keys) == ["top (line 3)", "top.bare (line 9)", "top.salt (line 10)"]
    by_path = {k.path: k for k in keys}
    assert by_path["top.documented"].description == "on its own line"
    assert by_path["top.above"].description == "in the block right above"
    assert by_path["top.salt"].default == '"a#b"'
    assert by_path["nested"].description == "the block above a section documents the section"
    assert by_path["nested.leaf"].default == "[1, 2]"


def test_a_new_key_without_a_comment_fails_the_check() -> None:
    text = PARAMS.read_text() + "\nnew_section:  # documented\n  forgotten: 1\n"
    assert undocumented(parse(text)) == [f"new_section.forgotten (line {len(text.splitlines())})"]


def test_pipes_in_a_comment_do_not_break_the_table() -> None:
    table = render(parse("a:  # x\n  b: 1  # train | gap | eval\n"))
    assert "| `a.b` | `1` | train \\| gap \\| eval |" in table


def test_a_line_the_parser_cannot_read_is_an_error() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse("a:  # x\n  - 1\n")
