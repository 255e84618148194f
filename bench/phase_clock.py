"""Where a step's time goes: exclusive wall time per phase, from wrapping the functions the step calls.

The benchmarks wrap module attributes (``clock.wrap(module, "name", "label")``) for the duration of a
timed run and restore them afterwards; nothing in the package is instrumented for them. A wrapped
function called inside another wrapped one counts towards its own label only, so the phases add up
to at most the step's total and the remainder is what no wrapped function covers.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class PhaseClock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._inner: list[float] = []  # per open call: time spent in wrapped calls nested inside it
        self._undo: list[tuple[Any, str, Callable[..., Any]]] = []

    def wrap(self, owner: Any, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._inner.append(0.0)
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                nested = self._inner.pop()
                self.seconds[label] += elapsed - nested
                if self._inner:
                    self._inner[-1] += elapsed

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    @contextmanager
    def phase(self, label: str) -> Iterator[None]:
        """Time a block under ``label`` (exclusive of wrapped calls inside it)."""
        self._inner.append(0.0)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - t0
            nested = self._inner.pop()
            self.seconds[label] += elapsed - nested
            if self._inner:
                self._inner[-1] += elapsed

    def reset(self) -> None:
        self.seconds.clear()

    def restore(self) -> None:
        while self._undo:
            owner, attr, original = self._undo.pop()
            setattr(owner, attr, original)

    def table(self, total: float, indent: str = "  ") -> str:
        """One line per phase, longest first, with its share of ``total``; then what no phase covers."""
        lines = [
            f"{indent}{label:<44} {seconds:>8.2f} s {100 * seconds / total:>5.1f}%"
            for label, seconds in sorted(self.seconds.items(), key=lambda kv: -kv[1])
        ]
        rest = total - sum(self.seconds.values())
        lines.append(f"{indent}{'(not in a phase above)':<44} {rest:>8.2f} s {100 * rest / total:>5.1f}%")
        return "\n".join(lines)
