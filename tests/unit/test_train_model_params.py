"""train_model's trigger-form Params: typed, bounded, and a bad value is refused with a clear message.

Validated the way Airflow validates a trigger (the serialized DAG's params merged with the
run's conf), in-process, without a scheduler.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def params():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    dag = DagBag(dag_folder=str(DAGS_DIR / "train_model.py")).dags["train_model"]
    # What the API server and scheduler hold: the serialized DAG, not the Python object.
    return DagSerialization.from_dict(DagSerialization.to_dict(dag)).params


def _validate(params, conf: dict) -> dict:
    return params.deep_merge(conf).validate()


def test_defaults_keep_params_yaml(params) -> None:
    empty = {"as_of": None, "window_days": None, "min_improvement": None, "force_promote": False, "drift_event": None}
    assert _validate(params, {}) == empty


def test_good_values_pass(params) -> None:
    conf = {
        "as_of": "1997-05-30",
        "window_days": 180,
        "min_improvement": 0.01,
        "force_promote": True,
        "drift_event": {"score_date": "2026-07-14"},
    }
    assert _validate(params, conf) == conf


def test_the_form_asks_for_the_day_to_train_as_of(params) -> None:
    # Training as of any landed day is a field of the trigger form, a date picker like nightly_scoring's score_date.
    schema = params.get_param("as_of").schema
    assert schema["type"] == ["null", "string"] and schema["format"] == "date"
    assert schema["title"] == "Train as of"


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"window_days": -3}, "window_days: -3 is less than the minimum of 91"),
        ({"window_days": 10_000}, "window_days: 10000 is greater than the maximum of 730"),
        ({"window_days": "ninety"}, "window_days: 'ninety' is not of type 'null', 'integer'"),
        ({"window_days": 120.5}, "window_days: 120.5 is not of type 'null', 'integer'"),
        ({"min_improvement": -0.01}, "min_improvement: -0.01 is less than the minimum of 0"),
        ({"force_promote": "yes"}, "force_promote: 'yes' is not of type 'boolean'"),
        ({"as_of": 19970530}, "as_of: 19970530 is not of type 'null', 'string'"),
        ({"as_of": "1997-13-40"}, "as_of: '1997-13-40' is not a 'date'"),
    ],
)
def test_bad_values_are_refused_naming_the_param_and_the_rule(params, conf: dict, message: str) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError) as caught:
        _validate(params, conf)
    assert f"Invalid input for param {message}" in str(caught.value)
