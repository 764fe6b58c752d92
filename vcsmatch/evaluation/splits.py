"""Train/test splits of a ratings training frame.

- ``split_by_person``: held-out people are new at test time (the front door's usual case: a
  person the model has never seen, known only by their features).
- ``split_by_time``: everything before a moment trains, everything after tests (what happens
  when a model trained last month meets this month's people and services).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _check_frame(frame: pd.DataFrame, name: str) -> None:
    for column in ("person_id", "service_id", "rating", "rated_at"):
        if column not in frame.columns:
            raise ValueError(f"{name} needs a training frame with a {column!r} column.")


def split_by_person(
    frame: pd.DataFrame, test_size: float = 0.2, seed: int | None = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All ratings of a random ``test_size`` share of people go to the test frame."""
    _check_frame(frame, "split_by_person")
    if not 0.0 < test_size < 1.0:
        raise ValueError(
            "The 'test_size' parameter of split_by_person must be a float in (0, 1). "
            f"Got {test_size!r} instead."
        )
    people = np.array(sorted(frame["person_id"].astype(str).unique()), dtype=object)
    rng = np.random.default_rng(seed)
    n_test = max(1, int(round(test_size * len(people)))) if len(people) > 1 else 0
    test_people = set(rng.choice(people, size=n_test, replace=False)) if n_test else set()
    in_test = frame["person_id"].astype(str).isin(test_people).to_numpy()
    return frame[~in_test].reset_index(drop=True), frame[in_test].reset_index(drop=True)


def split_by_time(
    frame: pd.DataFrame,
    cutoff: pd.Timestamp | str | None = None,
    fraction: float = 0.8,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings before ``cutoff`` train, the rest test.

    Without ``cutoff``, it is the moment before which ``fraction`` of the ratings fall.
    """
    _check_frame(frame, "split_by_time")
    times = pd.to_datetime(frame["rated_at"], utc=True)
    if cutoff is None:
        if not 0.0 < fraction < 1.0:
            raise ValueError(
                "The 'fraction' parameter of split_by_time must be a float in (0, 1). "
                f"Got {fraction!r} instead."
            )
        if len(frame) == 0:
            return frame.copy(), frame.copy()
        cutoff = times.sort_values().iloc[min(len(times) - 1, int(fraction * len(times)))]
    else:
        cutoff = pd.Timestamp(cutoff)
        cutoff = cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff.tz_convert("UTC")
    before = (times < cutoff).to_numpy()
    return frame[before].reset_index(drop=True), frame[~before].reset_index(drop=True)
