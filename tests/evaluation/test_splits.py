"""Splits by person and by time."""

from __future__ import annotations

import pandas as pd
import pytest

from vcsmatch.evaluation.splits import split_by_person, split_by_time


@pytest.fixture
def frame() -> pd.DataFrame:
    n = 40
    return pd.DataFrame(
        {
            "person_id": [f"p{i % 10}" for i in range(n)],
            "service_id": [f"s{i % 7}" for i in range(n)],
            "rating": [1 + i % 5 for i in range(n)],
            "rated_at": pd.date_range("2025-01-01", periods=n, freq="D", tz="UTC"),
        }
    )


def test_split_by_person_keeps_each_person_on_one_side(frame):
    """No person is in both halves; the test side holds about test_size of the people."""
    train, test = split_by_person(frame, test_size=0.3, seed=1)
    assert set(train["person_id"]).isdisjoint(test["person_id"])
    assert test["person_id"].nunique() == 3
    assert len(train) + len(test) == len(frame)
    again = split_by_person(frame, test_size=0.3, seed=1)[1]
    pd.testing.assert_frame_equal(test, again)


def test_split_by_person_refuses_a_bad_test_size(frame):
    """test_size must be strictly between 0 and 1."""
    with pytest.raises(ValueError, match="'test_size'"):
        split_by_person(frame, test_size=1.5)


def test_split_by_time_puts_the_past_in_training(frame):
    """Every training rating is earlier than every test rating, by fraction or by cutoff."""
    train, test = split_by_time(frame, fraction=0.75)
    assert len(train) == 30 and len(test) == 10
    assert train["rated_at"].max() < test["rated_at"].min()
    train, test = split_by_time(frame, cutoff="2025-01-11")
    assert len(train) == 10
    assert test["rated_at"].min() == pd.Timestamp("2025-01-11", tz="UTC")
