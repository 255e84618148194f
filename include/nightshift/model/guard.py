"""Guards a training passes before any work: a refused run registers nothing and leaves an MLflow run saying why.

The refusal is a short run in the model's experiment, status FAILED, tagged with the guard that fired
(`guard`, `guard.*`) and what started the training: the week a scheduled run did not train shows up
in MLflow next to the weeks it did, with the reason.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from nightshift.model.registry import ensure_experiment, registry_client
from nightshift.quality.freshness import Freshness, StaleDataError, max_staleness_days, require_fresh

log = logging.getLogger(__name__)


def record_refusal(model_name: str, tags: dict[str, str], reason: str) -> str:
    """An MLflow run in `model_name`'s experiment, status FAILED, holding `tags` and `reason`; its id."""
    client = registry_client()
    experiment_id = ensure_experiment(model_name)
    run = client.create_run(experiment_id, run_name=f"refused-{tags.get('guard', 'guard')}", tags={**tags, "guard.reason": reason[:5000]})
    client.set_terminated(run.info.run_id, status="FAILED")
    return run.info.run_id


def require_fresh_training(raw_data_dir: Path, as_of: date, params: dict[str, Any], tags: dict[str, str] | None = None) -> Freshness:
    """The data freshness guard of a training as of `as_of`; a refusal is recorded in MLflow, then raised.

    `tags` (what started the run, its Airflow run id) go on the refusal's MLflow run.
    """
    try:
        fresh = require_fresh(raw_data_dir, as_of, max_staleness_days(params))
    except StaleDataError as stale:
        run_id = record_refusal(params["model"]["name"], {**(tags or {}), **stale.freshness.tags()}, str(stale))
        log.error("%s (MLflow run %s, status FAILED)", stale, run_id)
        raise
    log.info(
        "data freshness guard passed: newest landed day %s, %s day(s) before %s (allowed %d)",
        fresh.newest_landed_day,
        fresh.gap_days,
        fresh.as_of,
        fresh.max_staleness_days,
    )
    return fresh
