"""``LoopBudget``: work moves off the event loop when it grows dear, and back when it is cheap."""

from __future__ import annotations

import time

import pytest

from api.loop_budget import LoopBudget


def spin(seconds: float) -> float:
    """Burn ``seconds`` of this thread's CPU (a sleep would cost none)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    return seconds


def test_dear_work_leaves_the_loop_and_cheap_work_comes_back() -> None:
    budget = LoopBudget(budget_s=0.002, weight=0.5)
    assert budget.fits()  # nothing measured yet: try the loop
    assert budget.timed(lambda: spin(0.02)) == 0.02  # the result passes through
    assert not budget.fits()
    assert budget.estimate_s >= 0.01
    for _ in range(12):
        budget.timed(lambda: None)
    assert budget.fits()


def test_work_that_raises_is_counted_too() -> None:
    budget = LoopBudget(budget_s=0.001, weight=1.0)

    def fail() -> None:
        spin(0.01)
        raise ValueError("bad person")

    with pytest.raises(ValueError, match="bad person"):
        budget.timed(fail)
    assert not budget.fits()


def test_the_default_budget_is_the_interpreters_switch_interval() -> None:
    import sys

    assert LoopBudget().budget_s == sys.getswitchinterval()


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"budget_s": -1}, "budget_s"), ({"weight": 0}, "weight")]
)
def test_bad_parameters_are_refused_by_name(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"The '{name}' parameter of LoopBudget"):
        LoopBudget(**kwargs)
