"""The feature suites are derived from the feature list (nightshift.quality.suites)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nightshift.config import load_params, project_home
from nightshift.feature_list import feature_columns
from nightshift.quality.suites import (
    FEATURE_SUITES,
    check_suite_columns,
    feature_suites,
    render_suite,
    suite_path,
    write_feature_suites,
)

pytestmark = pytest.mark.unit

CONTEXT = project_home() / "great_expectations"


@pytest.mark.parametrize("suite", FEATURE_SUITES)
def test_checked_in_suites_are_what_params_yaml_gives(suite: str) -> None:
    expected = render_suite(CONTEXT, suite, feature_suites(load_params())[suite])
    assert suite_path(CONTEXT, suite).read_text() == expected, "run `nightshift suites` after changing params.yaml"


def test_other_windows_give_suites_for_their_columns(tmp_path: Path) -> None:
    params = load_params()
    params["features"]["windows_days"] = [5, 14, 60]
    params["quality"]["features"]["mean_columns"] = ["active_days_14d", "monthly_fee"]
    context = tmp_path / "gx"
    shutil.copytree(CONTEXT / "expectations", context / "expectations")

    assert sorted(p.name for p in write_feature_suites(context, params)) == ["features.json", "training_set.json"]
    assert write_feature_suites(context, params) == []  # regenerating is stable
    rules = feature_suites(params)["features"]
    not_null = [r["kwargs"]["column"] for r in rules if r["type"] == "expect_column_values_to_not_be_null"]
    assert not_null == ["as_of_date", "customer_id", *feature_columns([5, 14, 60])]
    caps = {r["kwargs"]["column"]: r["kwargs"]["max_value"] for r in rules if r["type"] == "expect_column_max_to_be_between"}
    assert caps == {"active_days_5d": 5.0, "active_days_14d": 14.0, "active_days_60d": 60.0}


def test_mean_bounds_on_a_column_the_windows_do_not_make_are_refused() -> None:
    params = load_params()
    params["features"]["windows_days"] = [5, 14, 60]  # active_days_30d of the default bounds no longer exists
    named = "mean_columns names \\['active_days_30d', 'sessions_30d', 'minutes_30d', 'failed_payments_30d'\\]"
    with pytest.raises(ValueError, match=named):
        feature_suites(params)


def test_a_suite_for_other_windows_is_refused_before_it_runs() -> None:
    check_suite_columns("features", ["as_of_date", "customer_id", *feature_columns([7, 30, 90])], [7, 30, 90])
    with pytest.raises(ValueError, match="regenerate it with `nightshift suites`") as excinfo:
        check_suite_columns("features", ["as_of_date", "customer_id", *feature_columns([7, 30, 90])], [5, 14, 60])
    assert "sessions_5d" in str(excinfo.value) and "sessions_7d" in str(excinfo.value)
