"""``Chrono``: the training loop's clock: training time apart from compiling, evaluating and checkpointing.

Like scenic's ``Chrono`` and Flax's ``ReportProgress.timed``: the loop marks what is not training
(``with chrono.paused():``, or ``with chrono.timed("evaluate"):`` to also add it to a phase's total),
:meth:`Chrono.start` starts the clock and each :meth:`Chrono.lap` returns the training seconds (and tokens) since the previous lap.
"""

from __future__ import annotations

import contextlib
import time
from typing import Iterator, Optional

PHASES = ("train", "compile", "evaluate", "checkpoint")


class Chrono:
    """Seconds per phase (``seconds``) and tokens trained (``tokens``) of one run."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.tokens = 0
        self._lap_start = time.perf_counter()
        self._lap_tokens = 0
        self._excluded = 0.0  # paused seconds since the lap started
        self._depth = 0  # nested pauses count once

    @contextlib.contextmanager
    def paused(self, phase: Optional[str] = None) -> Iterator[None]:
        """Time in the block is not training time; with ``phase``, it is added to that phase's total."""
        if phase is not None and phase not in PHASES[1:]:
            raise ValueError(f"unknown phase {phase!r}; expected one of: {', '.join(PHASES[1:])}")
        start = time.perf_counter()
        self._depth += 1
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self._depth -= 1
            if phase is not None:
                self.seconds[phase] += elapsed
            if self._depth == 0:
                self._excluded += elapsed

    def timed(self, phase: str):
        """``paused(phase)``: the block's seconds go to ``phase`` (``compile``, ``evaluate``, ``checkpoint``)."""
        return self.paused(phase)

    def start(self) -> None:
        """Starts a lap here, dropping the time since the previous one (setting up is not training)."""
        self._lap_start, self._lap_tokens, self._excluded = time.perf_counter(), 0, 0.0

    def count(self, tokens: int) -> None:
        """Tokens trained in the current lap."""
        self._lap_tokens += tokens

    def lap(self) -> tuple[float, int]:
        """Training seconds and tokens since the previous lap (paused time excluded), added to the totals."""
        now = time.perf_counter()
        elapsed, tokens = now - self._lap_start - self._excluded, self._lap_tokens
        self.seconds["train"] += elapsed
        self.tokens += tokens
        self._lap_start, self._lap_tokens, self._excluded = now, 0, 0.0
        return elapsed, tokens
