"""The approval task of a change of `champion`: Airflow's human-in-the-loop operator, showing the evidence.

It waits in Airflow's `awaiting_input` state (Airflow 3.3; a deferral on older versions), which holds
no worker slot, until someone answers in the UI (Browse > Required Actions, or the task's page) or
`rollout.approval_timeout` passes; then the scheduler answers with the default, Reject. A run whose
deciding step proposed nothing (approval off, the gate refused, the rollout policy kept) skips it.
The answer is the task's result; the task after it applies it (nightshift.model.approval).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowSkipException

APPROVAL_TIMEOUT_PLACEHOLDER = timedelta(hours=24)


class ChampionApproval(HITLOperator):
    """Approve or Reject a proposal, with a comment; `decided` is the deciding task's result (its `proposal` key)."""

    template_fields = (*HITLOperator.template_fields, "decided")

    def __init__(self, *, decided: Any, params=None, **kwargs) -> None:
        # `params` are the DAG's (its trigger form), passed in by Airflow: the form of this task is its own comment field.
        del params
        super().__init__(
            subject="Change of champion",
            options=[ApprovalOperator.APPROVE, ApprovalOperator.REJECT],
            # What an unanswered request reads as once rollout.approval_timeout passed: nothing moves.
            defaults=[ApprovalOperator.REJECT],
            multiple=False,
            # Replaced by rollout.approval_timeout when the request is made (execute). Given here so the operator
            # keeps the task's execution_timeout (which bounds writing the request and applying the answer)
            # instead of taking it for the wait for a person.
            response_timeout=APPROVAL_TIMEOUT_PLACEHOLDER,
            params={
                "comment": Param(
                    "",
                    type="string",
                    title="Comment",
                    description="Why you approve or reject: recorded on the model version's tags with your name and the time.",
                )
            },
            **kwargs,
        )
        self.decided = decided

    def execute(self, context: Any) -> Any:
        from nightshift.config import drift_reports_dir, load_params, mlflow_ui_url
        from nightshift.model.approval import ApprovalSettings, Proposal, evidence_markdown, latest_drift_report, proposal_subject

        proposal = (self.decided or {}).get("proposal")
        if not proposal:
            raise AirflowSkipException("nothing to approve: no change of champion was proposed (rollout.approval off, or nothing passed)")
        # Read when the request is made, like the decision to ask: a changed timeout needs no redeploy.
        settings = ApprovalSettings.from_params(load_params()["rollout"])
        p = Proposal.from_dict(proposal)
        self.subject = proposal_subject(p)
        self.body = evidence_markdown(p, mlflow_ui_url(), latest_drift_report(drift_reports_dir()), settings.timeout)
        self.response_timeout = settings.timeout
        self.log.info("%s\n%s", self.subject, self.body)
        return super().execute(context)
