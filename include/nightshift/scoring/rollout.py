"""The challenger's rollout settings and the canary split: which customers the challenger serves.

A customer is in the canary when the first 8 bytes of sha256(salt + customer_id as decimal text),
read as a big-endian unsigned integer and divided by 2**64, fall below ``canary_fraction``. It depends
on the id and the salt only, so it picks the same customers every night, in any partitioning, on any
machine, and a larger fraction keeps every customer a smaller one had.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# Above it the "canary" would be most of the customers: that is a promotion, which goes through the policy.
MAX_CANARY_FRACTION = 0.5


@dataclass(frozen=True)
class Canary:
    fraction: float
    salt: str

    def __post_init__(self) -> None:
        fraction = self.fraction
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction <= MAX_CANARY_FRACTION:
            raise ValueError(f"params.yaml rollout.canary_fraction must be a number from 0 to {MAX_CANARY_FRACTION}, got {fraction!r}")
        if not isinstance(self.salt, str) or not self.salt:
            raise ValueError(f"params.yaml rollout.salt must be a non-empty string, got {self.salt!r}")

    @property
    def active(self) -> bool:
        return self.fraction > 0

    @classmethod
    def from_params(cls, rollout: Mapping[str, Any]) -> Canary:
        """From params.yaml ``rollout``; a missing key is an error, not a silent 0."""
        missing = [k for k in ("canary_fraction", "salt") if k not in rollout]
        if missing:
            raise KeyError(f"params.yaml rollout lacks {missing}")
        return cls(rollout["canary_fraction"], rollout["salt"])


def canary_threshold(fraction: float) -> int:
    """The hash value (an unsigned 64-bit integer) below which a customer is in the canary."""
    return int(fraction * 2**64)


def in_canary(customer_ids: np.ndarray, canary: Canary) -> np.ndarray:
    """A boolean mask: True where the customer's served score comes from the challenger."""
    import numpy as np

    ids = np.asarray(customer_ids, dtype=np.int64)
    if not canary.active:
        return np.zeros(len(ids), dtype=bool)
    salt = canary.salt.encode()
    digests = b"".join(hashlib.sha256(salt + str(i).encode()).digest()[:8] for i in ids.tolist())
    values = np.frombuffer(digests, dtype=">u8")
    return values < np.uint64(canary_threshold(canary.fraction))
