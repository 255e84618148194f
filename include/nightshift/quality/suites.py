"""The GX suites that check feature sets, derived from the feature list, and their run-time parameters.

`features` and `training_set` check every model input, so their per-column rules are generated
from `feature_columns(params.features.windows_days)` rather than written out by hand:
`nightshift suites` rewrites `great_expectations/expectations/{features,training_set}.json` from
params.yaml, a unit test fails when the checked-in files differ from what params.yaml gives, and
a run refuses a suite whose columns are not the configured feature list (`check_suite_columns`).
The raw suites check the contract, which has no knob, and stay hand-written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nightshift.feature_list import KEYS, active_days_columns, feature_columns, one_hot_columns

FEATURE_SUITES = ("features", "training_set")
# Expectation ids are derived from the rule, so regenerating an unchanged suite changes no byte.
_ID_NAMESPACE = uuid.UUID("6b1d3c2e-5f0a-4c59-9a57-6e6967687473")
_STRICTLY_POSITIVE = {"monthly_fee"}


def suite_parameters(quality: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Expectation parameters of the training_set suite, from params.yaml's `quality`.

    The features suite's mean bands come from the serving model's reference (nightshift.quality.bands).
    """
    low, high = quality["training_set"]["label_rate"]
    training = {"label_rate_min": low, "label_rate_max": high, "training_min_rows": quality["training_set"]["min_rows"]}
    return {"training_set": training}


def _rule(suite: str, kind: str, **kwargs: Any) -> dict[str, Any]:
    key = json.dumps([suite, kind, kwargs], sort_keys=True)
    return {
        "id": str(uuid.uuid5(_ID_NAMESPACE, key)),
        "kwargs": kwargs,
        "meta": {},
        "severity": "critical",
        "type": f"expect_{kind}",
    }


def _mean_bound_columns(columns: Sequence[str], mean_columns: Sequence[str]) -> list[str]:
    unknown = [c for c in mean_columns if c not in columns]
    if unknown:
        raise ValueError(
            f"params.yaml quality.features.mean_columns names {unknown}, which are not features for these windows "
            f"(features: {list(columns)})"
        )
    return list(mean_columns)


def features_rules(windows: Sequence[int], mean_columns: Sequence[str]) -> list[dict[str, Any]]:
    """The `features` suite: every column present and not null, unique keys, ranges, column means.

    The means' bounds are suite parameters, set per night from the champion's reference.
    """
    columns = feature_columns(windows)
    flags = set(one_hot_columns())
    everything = [*KEYS, *columns]
    rules = [_rule("features", "column_to_exist", column=c) for c in everything]
    rules += [_rule("features", "column_values_to_not_be_null", column=c) for c in everything]
    rules.append(_rule("features", "compound_columns_to_be_unique", column_list=list(KEYS)))
    for c in columns:
        if c in flags:
            continue
        if c in _STRICTLY_POSITIVE:
            rules.append(_rule("features", "column_values_to_be_between", column=c, min_value=0.0, strict_min=True))
        else:
            rules.append(_rule("features", "column_values_to_be_between", column=c, min_value=0.0))
    rules += [_rule("features", "column_values_to_be_in_set", column=c, value_set=[0, 1]) for c in one_hot_columns()]
    rules += [
        _rule("features", "column_max_to_be_between", column=c, max_value=float(days)) for c, days in active_days_columns(windows).items()
    ]
    rules += [
        _rule(
            "features",
            "column_mean_to_be_between",
            column=c,
            max_value={"$PARAMETER": f"mean_{c}_max"},
            min_value={"$PARAMETER": f"mean_{c}_min"},
        )
        for c in _mean_bound_columns(columns, mean_columns)
    ]
    return rules


def training_set_rules(windows: Sequence[int]) -> list[dict[str, Any]]:
    """The `training_set` suite: enough rows, a 0/1 label at a plausible rate, unique keys, no null input."""
    rules = [
        _rule("training_set", "table_row_count_to_be_between", min_value={"$PARAMETER": "training_min_rows"}),
        _rule("training_set", "column_to_exist", column="label"),
        _rule("training_set", "column_values_to_not_be_null", column="label"),
        _rule("training_set", "column_values_to_be_in_set", column="label", value_set=[0, 1]),
        _rule(
            "training_set",
            "column_mean_to_be_between",
            column="label",
            max_value={"$PARAMETER": "label_rate_max"},
            min_value={"$PARAMETER": "label_rate_min"},
        ),
        _rule("training_set", "compound_columns_to_be_unique", column_list=list(KEYS)),
    ]
    rules += [_rule("training_set", "column_values_to_not_be_null", column=c) for c in feature_columns(windows)]
    return rules


def feature_suites(params: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The expectations of both feature suites for params.yaml's windows and mean-bounded columns."""
    windows = params["features"]["windows_days"]
    return {
        "features": features_rules(windows, params["quality"]["features"]["mean_columns"]),
        "training_set": training_set_rules(windows),
    }


def suite_path(context_dir: Path, suite: str) -> Path:
    return context_dir / "expectations" / f"{suite}.json"


def render_suite(context_dir: Path, suite: str, expectations: list[dict[str, Any]]) -> str:
    """The suite file's text with `expectations` in place of its current ones (id, name, meta kept)."""
    current = json.loads(suite_path(context_dir, suite).read_text())
    return json.dumps({**current, "expectations": expectations}, indent=2, sort_keys=True) + "\n"


def write_feature_suites(context_dir: Path, params: Mapping[str, Any]) -> list[Path]:
    """Rewrite the feature suites from params.yaml; returns the files that changed."""
    changed = []
    for suite, expectations in feature_suites(params).items():
        path = suite_path(context_dir, suite)
        text = render_suite(context_dir, suite, expectations)
        if path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def check_suite_columns(suite: str, checked: Sequence[str], windows: Sequence[int]) -> None:
    """Refuse to validate with a suite built for another feature list: its verdict would be about other columns."""
    expected = set(feature_columns(windows))
    got = set(checked) - {*KEYS, "label"}
    if got != expected:
        raise ValueError(
            f"the GX suite {suite!r} checks the features of other windows than params.yaml "
            f"features.windows_days={list(windows)} (missing {sorted(expected - got)}, extra {sorted(got - expected)}); "
            "regenerate it with `nightshift suites`"
        )
