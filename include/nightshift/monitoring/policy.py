"""The retrain policy: from one day's drift (and the days before it) to a decision with its reason.

A day is drifted when the score drifts, at least ``min_drifted_inputs`` inputs do, or one input's
PSI reaches ``psi.severe_threshold`` (its distribution has mostly left the reference's bins: a price
change, a unit change, a new feed; one such column is not seasonal wobble). Retraining is
asked for only when every guard passes, checked in this order, and the first that fails names the
decision:

1. persistence: the day ends a run of ``consecutive_days`` drifted calendar days (a missing or
   not-drifted day breaks the run), so one odd day (a holiday, a late partition) never retrains;
2. cooldown: no drift-triggered retrain in the ``cooldown_days`` before the day, so a drift that
   persists while the new model is trained, gated and rolled out asks once, not every night;
3. freshness: a labelled snapshot newer than the champion's training data (its ``data.date_max``)
   exists, otherwise a retrain would fit the same labels again: "drift, no new labels".

A drifted day whose shortest feature window holds a day accepted as missing (`nightshift quality
accept DATE --missing`: read as a day of no activity) is recorded as ``drift_accepted_gap``, drifted but
never part of a run toward a retrain: the shift is the hole someone accepted, and a model retrained on
the same hole would not fix it. The longer windows dilute one empty day below the thresholds.

A realized ROC AUC below the gate's floor, or a realized expected calibration error above the gate's
ceiling (a closed label window; nightshift.monitoring.performance), is a retrain reason too; it
skips persistence (it already summarises a whole window) but passes cooldown and freshness. So is an
estimated ROC AUC (from the scores alone, ``monitoring.estimated``) below the floor on
``consecutive_days`` days in a row: its persistence is checked where it is computed.
Every decision, "no" included, comes with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

NOT_ENOUGH_ROWS = "not_enough_rows"
NO_DRIFT = "no_drift"
NOT_PERSISTENT = "drift_not_persistent"
COOLDOWN = "drift_cooldown"
NO_NEW_LABELS = "drift_no_new_labels"
ACCEPTED_GAP = "drift_accepted_gap"
RETRAIN = "retrain"
DECISIONS = (NOT_ENOUGH_ROWS, NO_DRIFT, ACCEPTED_GAP, NOT_PERSISTENT, COOLDOWN, NO_NEW_LABELS, RETRAIN)


@dataclass(frozen=True)
class DriftPolicy:
    """params.yaml ``drift``: when a day is drifted and when drift asks for a retrain."""

    min_drifted_inputs: int = 1
    consecutive_days: int = 2
    cooldown_days: int = 7

    @classmethod
    def from_params(cls, drift: Mapping[str, Any]) -> DriftPolicy:
        policy = cls(
            min_drifted_inputs=int(drift["min_drifted_inputs"]),
            consecutive_days=int(drift["consecutive_days"]),
            cooldown_days=int(drift["cooldown_days"]),
        )
        if policy.min_drifted_inputs < 1 or policy.consecutive_days < 1 or policy.cooldown_days < 0:
            raise ValueError(f"drift policy out of range: {policy} (min_drifted_inputs >= 1, consecutive_days >= 1, cooldown_days >= 0)")
        return policy


@dataclass(frozen=True)
class PastDay:
    """A day already judged: its date, whether it drifted and what was decided."""

    score_date: date
    drifted: bool
    decision: str


@dataclass(frozen=True)
class Verdict:
    decision: str
    reason: str
    drifted: bool
    streak: int = 0

    @property
    def retrain(self) -> bool:
        return self.decision == RETRAIN


def day_drifted(
    score_drifted: bool, drifted_inputs: Sequence[str], policy: DriftPolicy, severe_inputs: Sequence[str] = ()
) -> tuple[bool, str]:
    """Whether the day drifted, and why in words."""
    parts = []
    if score_drifted:
        parts.append("the score drifted")
    if drifted_inputs:
        shown = ", ".join(drifted_inputs[:5]) + (f" and {len(drifted_inputs) - 5} more" if len(drifted_inputs) > 5 else "")
        parts.append(f"{len(drifted_inputs)} input(s) drifted ({shown}); {policy.min_drifted_inputs} make a drifted day")
    if severe_inputs:
        parts.append(f"severe drift of {', '.join(severe_inputs)}, enough on its own")
    drifted = score_drifted or len(drifted_inputs) >= policy.min_drifted_inputs or bool(severe_inputs)
    return drifted, "; ".join(parts) or "no input and not the score drifted"


def streak(day: date, drifted: bool, history: Sequence[PastDay]) -> int:
    """Consecutive drifted calendar days ending at ``day`` (``history`` holds earlier days; ``day`` itself is excluded).

    A day whose drift was an accepted gap breaks the run like a day without drift.
    """
    if not drifted:
        return 0
    by_date = {h.score_date: h for h in history if h.score_date < day}
    n, d = 1, day - timedelta(days=1)
    while d in by_date and by_date[d].drifted and by_date[d].decision != ACCEPTED_GAP:
        n += 1
        d -= timedelta(days=1)
    return n


def last_retrain_before(day: date, history: Sequence[PastDay]) -> date | None:
    asked = [h.score_date for h in history if h.decision == RETRAIN and h.score_date < day]
    return max(asked) if asked else None


def decide(
    day: date,
    score_drifted: bool,
    drifted_inputs: Sequence[str],
    history: Sequence[PastDay],
    newest_labelled: date | None,
    champion_date_max: date | None,
    policy: DriftPolicy,
    severe_inputs: Sequence[str] = (),
    performance_reason: str | None = None,
    accepted_gaps: Sequence[date] = (),
) -> Verdict:
    """The decision for ``day`` (see the module docstring for the guards and their order).

    ``accepted_gaps``: the days of ``day``'s shortest feature window accepted as missing.
    """
    drifted, why = day_drifted(score_drifted, drifted_inputs, policy, severe_inputs)
    if drifted and accepted_gaps and not performance_reason:
        gaps = ", ".join(d.isoformat() for d in sorted(accepted_gaps))
        return Verdict(
            ACCEPTED_GAP,
            f"{why}; the feature window holds {gaps}, accepted as missing and read as no activity: not counted toward a retrain",
            drifted=True,
        )
    run = streak(day, drifted, history)
    if performance_reason:
        why = f"{performance_reason}; {why}" if drifted else performance_reason
    elif not drifted:
        return Verdict(NO_DRIFT, why, drifted=False)
    elif run < policy.consecutive_days:
        return Verdict(
            NOT_PERSISTENT, f"{why}; drifted {run} consecutive day(s), {policy.consecutive_days} needed", drifted=True, streak=run
        )
    else:
        why = f"{why}; drifted {run} consecutive days"
    last = last_retrain_before(day, history)
    if last is not None and (day - last).days < policy.cooldown_days:
        return Verdict(
            COOLDOWN,
            f"{why}; retraining was asked for on {last}, {(day - last).days} day(s) ago, within the {policy.cooldown_days}-day cooldown",
            drifted=drifted,
            streak=run,
        )
    if newest_labelled is None or (champion_date_max is not None and newest_labelled <= champion_date_max):
        newest = "no labelled snapshot" if newest_labelled is None else f"the newest labelled snapshot is {newest_labelled}"
        return Verdict(
            NO_NEW_LABELS,
            f"{why}; drift, no new labels: {newest}, the champion trained on labels up to {champion_date_max}",
            drifted=drifted,
            streak=run,
        )
    fresh = f"labels up to {newest_labelled}" + (f", newer than the champion's {champion_date_max}" if champion_date_max else "")
    return Verdict(RETRAIN, f"{why}; {fresh}", drifted=drifted, streak=run)


def not_enough_rows(reason: str) -> Verdict:
    """The decision of a day too small to judge: recorded, never drifted, never a retrain."""
    return Verdict(NOT_ENOUGH_ROWS, reason, drifted=False)
