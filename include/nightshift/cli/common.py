"""What several command groups share: argument types, the warehouse URL, the model's name and aliases, the as-of day."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nightshift.model.registry import Aliases


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def database_url() -> str:
    """The warehouse the commands reach: the tasks' one, the embedded server only in local mode."""
    from nightshift.local.database import database_url as local_or_configured

    return local_or_configured()


def model_context() -> tuple[str, Aliases]:
    from nightshift.config import load_params
    from nightshift.model.registry import Aliases

    model = load_params()["model"]
    return model["name"], Aliases.from_params(model)


def newest_landed_day(root: Path) -> date:
    from nightshift.contract import CUSTOMERS, CUSTOMERS_PARTITION, EVENTS, EVENTS_PARTITION
    from nightshift.landing import describe_landing_zone, landed_days

    both = set(landed_days(root, EVENTS, EVENTS_PARTITION)) & set(landed_days(root, CUSTOMERS, CUSTOMERS_PARTITION))
    if not both:
        raise FileNotFoundError(f"no day with both events and a customers snapshot: {describe_landing_zone(root)}")
    return max(both)


def training_as_of(chosen: date | None, params: dict, raw: Path) -> date:
    """The day a training from the command line is as of: --as-of, else params.yaml train.as_of, else the newest landed day."""
    configured = params["train"].get("as_of")
    if chosen is None and configured is not None:
        try:
            chosen = configured if isinstance(configured, date) else date.fromisoformat(str(configured))
        except ValueError as exc:
            raise ValueError(f"params.yaml train.as_of: not a YYYY-MM-DD date or null: {configured!r}") from exc
    return chosen or newest_landed_day(raw)
