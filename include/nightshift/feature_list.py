"""The feature set's columns, in one fixed order: what the model takes, the scorer passes and the GX suites check.

Everything that names a feature derives it from `feature_columns(params.features.windows_days)`,
so the windows are a real knob: the suites, the model signature and the scoring job follow.
"""

from __future__ import annotations

from collections.abc import Sequence

from nightshift.contract import PLANS, REGIONS

DEFAULT_WINDOWS = (7, 30, 90)
KEYS = ("as_of_date", "customer_id")


def feature_columns(windows: Sequence[int] = DEFAULT_WINDOWS) -> list[str]:
    """The model's input columns, in a fixed order."""
    cols: list[str] = []
    for w in windows:
        cols += [f"sessions_{w}d", f"minutes_{w}d", f"active_days_{w}d", f"tickets_{w}d", f"failed_payments_{w}d"]
    short, mid, long_ = three_windows(windows)
    cols += [
        "days_since_last_active",
        f"sessions_trend_{short}_{mid}",
        f"minutes_trend_{mid}_{long_}",
        "tenure_days",
        "monthly_fee",
    ]
    return cols + one_hot_columns()


def one_hot_columns() -> list[str]:
    """The 0/1 indicator columns of plan and region, in feature order."""
    return [f"plan_{p}" for p in PLANS] + [f"region_{r}" for r in REGIONS]


def active_days_columns(windows: Sequence[int] = DEFAULT_WINDOWS) -> dict[str, int]:
    """Each window's active-day count column and its window length (a customer is active at most once a day)."""
    return {f"active_days_{w}d": int(w) for w in windows}


def three_windows(windows: Sequence[int]) -> tuple[int, int, int]:
    """Short, mid and long windows: the trend ratios compare short with mid and mid with long."""
    if len(set(windows)) != 3 or min(windows) < 1:
        raise ValueError(f"features.windows_days must be three distinct positive day counts, got {list(windows)}")
    short, mid, long_ = sorted(windows)
    return short, mid, long_
