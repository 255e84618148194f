"""The top three reasons of a score, picked from a tiny contribution matrix checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from nightshift.score_reasons import REASON_COLUMNS, reasons_mode, top_reasons

pytestmark = pytest.mark.unit

NONE = -1


def test_the_three_largest_positive_contributions_in_descending_order() -> None:
    contributions = np.array(
        [
            [0.5, -1.0, 2.0, 0.1, 0.3],  # 2.0, 0.5, 0.3: features 2, 0, 4
            [-0.2, 0.9, -0.4, 1.5, 0.0],  # only 1.5 and 0.9 push up; 0.0 pushes nothing
            [-0.3, 0.0, 0.7, -0.1, 0.0],  # one reason
            [-1.0, -1.0, -0.5, 0.0, -2.0],  # none: nothing raised this score
        ],
        dtype=np.float32,
    )
    codes, values = top_reasons(contributions)
    assert codes.tolist() == [[2, 0, 4], [3, 1, NONE], [2, NONE, NONE], [NONE, NONE, NONE]]
    np.testing.assert_array_equal(
        values,
        np.array([[2.0, 0.5, 0.3], [1.5, 0.9, np.nan], [0.7, np.nan, np.nan], [np.nan, np.nan, np.nan]], dtype=np.float32).astype(
            np.float64
        ),
    )
    assert values.dtype == np.float64


def test_ties_go_to_the_feature_earlier_in_the_models_column_order() -> None:
    contributions = np.array(
        [
            [0.2, 0.2, 0.2, 0.2, -0.1],  # four equal: the first three columns
            [0.1, 0.4, 0.4, 0.0, 0.4],  # three equal at the top
            [0.3, 0.1, 0.3, 0.9, 0.3],  # the third place tied between 0, 2 and 4
            [0.3, 0.3, 0.3, 0.3, 0.3],
        ],
        dtype=np.float32,
    )
    codes, _ = top_reasons(contributions)
    assert codes.tolist() == [[0, 1, 2], [1, 2, 4], [3, 0, 2], [0, 1, 2]]


def test_fewer_features_than_reasons_and_no_rows() -> None:
    codes, values = top_reasons(np.array([[0.5, 1.0]], dtype=np.float32))
    assert codes.tolist() == [[1, 0, NONE]]
    np.testing.assert_array_equal(values, [[1.0, 0.5, np.nan]])
    codes, values = top_reasons(np.empty((0, 4), dtype=np.float32))
    assert codes.shape == values.shape == (0, 3)


def test_the_columns_a_crm_reads() -> None:
    assert REASON_COLUMNS == (
        "reason_1",
        "reason_1_contribution",
        "reason_2",
        "reason_2_contribution",
        "reason_3",
        "reason_3_contribution",
    )


@pytest.mark.parametrize("value", ["exact", "approx", "off"])
def test_each_reasons_mode_is_accepted(value: str) -> None:
    assert reasons_mode(value) == value


@pytest.mark.parametrize("value", ["EXACT", "shap", "", None, True])
def test_any_other_reasons_mode_is_refused_naming_the_key_and_the_allowed_values(value: object) -> None:
    with pytest.raises(ValueError, match=r"params.yaml scoring.reasons must be one of exact, approx, off; got"):
        reasons_mode(value)


def test_params_yaml_names_a_reasons_mode() -> None:
    from nightshift.config import load_params

    assert reasons_mode(load_params()["scoring"]["reasons"]) == "exact"
