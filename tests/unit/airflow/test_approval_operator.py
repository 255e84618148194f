"""The approval task as the DAGs build it: Approve/Reject with Reject on timeout, its own form, skipped when nothing is proposed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowSkipException

from nightshift.airflow.approval import ChampionApproval

pytestmark = pytest.mark.unit


def _operator(decided) -> ChampionApproval:
    with DAG("approval_test", schedule=None, default_args={"execution_timeout": timedelta(minutes=60)}, params={"as_of": None}):
        return ChampionApproval(task_id="approve", decided=decided)


def test_the_form_is_approve_or_reject_with_a_comment_and_reject_on_timeout() -> None:
    op = _operator(None)
    assert (op.options, op.defaults, op.multiple) == (["Approve", "Reject"], ["Reject"], False)
    # The run's trigger form is not the approver's: the only field is the comment.
    assert set(op.serialized_params) == {"comment"}
    # The task keeps its execution_timeout (the operator would otherwise take it for the wait for a person).
    assert op.execution_timeout == timedelta(minutes=60)


@pytest.mark.parametrize("decided", [None, {"champion": True, "proposal": None}, {}])
def test_nothing_proposed_skips_without_asking(decided) -> None:
    with pytest.raises(AirflowSkipException, match="nothing to approve"):
        _operator(decided).execute({})
