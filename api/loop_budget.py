"""Whether a request's CPU work may run on the event loop instead of hopping to a thread.

A worker thread running Python keeps the GIL for up to ``sys.getswitchinterval()`` (5 ms by
default) before the event loop may run again. Work that costs less than that therefore holds
the loop no longer when it runs on the loop than when it runs in a thread, and it saves the hop:
two GIL handoffs, and at 16 requests in flight the threads and the loop trading the GIL back
and forth (BENCHMARKS.md, issue 18: about 30% less server CPU per recommendation).

Work that may block (a database lock, an online geocoder) never runs on the loop, whatever it
costs: only the CPU-bound part of an answer is offered to a ``LoopBudget``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class LoopBudget:
    """A running estimate of one kind of work's CPU seconds, against the loop's budget.

    ``fits()`` says whether the next piece of work is expected to cost at most ``budget_s``
    (default: the interpreter's switch interval); ``timed(fn)`` runs ``fn`` and adds its CPU
    time (the calling thread's) to the estimate, on the loop or in a thread alike, so a slower
    catalogue or model moves the work off the loop within a few requests, and back.
    """

    def __init__(self, budget_s: float | None = None, weight: float = 0.2) -> None:
        if budget_s is not None and not budget_s >= 0:
            raise ValueError(
                f"The 'budget_s' parameter of LoopBudget must be a non-negative number. "
                f"Got {budget_s!r} instead."
            )
        if not 0 < weight <= 1:
            raise ValueError(
                f"The 'weight' parameter of LoopBudget must be in (0, 1]. Got {weight!r} instead."
            )
        self.budget_s = sys.getswitchinterval() if budget_s is None else budget_s
        self.weight = weight
        #: Exponentially weighted mean CPU seconds of the work timed so far (0 until then).
        self.estimate_s = 0.0

    def fits(self) -> bool:
        return self.estimate_s <= self.budget_s

    def add(self, seconds: float) -> None:
        self.estimate_s += self.weight * (seconds - self.estimate_s)

    def timed(self, fn: Callable[[], T]) -> T:
        started = time.thread_time()
        try:
            return fn()
        finally:
            self.add(time.thread_time() - started)
