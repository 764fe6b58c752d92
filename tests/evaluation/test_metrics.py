"""Ranking metrics on cases small enough to work out by hand."""

from __future__ import annotations

import math

import pytest

from vcsmatch.evaluation.metrics import (
    catalogue_coverage,
    dcg_at_k,
    gain,
    largest_gap,
    mean_defined,
    ndcg_at_k,
    new_service_share,
    recall_at_k,
)


def test_gain_counts_only_relevant_ratings():
    """A 5 is worth 2, a 4 worth 1, anything below 4 nothing."""
    assert [float(gain(r)) for r in (1, 3, 4, 5, 4.5)] == [0.0, 0.0, 1.0, 2.0, 1.5]


def test_dcg_discounts_by_log2_of_rank_plus_one():
    """DCG of gains (2, 1) is 2/log2(2) + 1/log2(3)."""
    assert dcg_at_k([2, 1], 10) == pytest.approx(2 + 1 / math.log2(3))
    assert dcg_at_k([2, 1, 5], 2) == pytest.approx(2 + 1 / math.log2(3))


def test_ndcg_by_hand():
    """Ranked a, b, c with gains 0, 2, 1: (2/log2 3 + 1/2) / (2 + 1/log2 3)."""
    got = ndcg_at_k(["a", "b", "c"], {"a": 0.0, "b": 2.0, "c": 1.0}, k=3)
    want = (2 / math.log2(3) + 1 / 2) / (2 + 1 / math.log2(3))
    assert got == pytest.approx(want)
    assert ndcg_at_k(["b", "c", "a"], {"a": 0.0, "b": 2.0, "c": 1.0}, k=3) == pytest.approx(1.0)


def test_ndcg_counts_relevant_items_missing_from_the_list_in_the_ideal():
    """A relevant service the ranker never suggested still raises the ideal DCG."""
    assert ndcg_at_k(["x"], {"x": 1.0, "y": 1.0}, k=1) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "z"], {"x": 1.0, "y": 1.0}, k=2) == pytest.approx(
        1.0 / (1 + 1 / math.log2(3))
    )


def test_ndcg_is_undefined_without_relevant_items():
    """A person with no relevant service cannot be scored: None, not 0 or 1."""
    assert ndcg_at_k(["a"], {"a": 0.0}, k=5) is None
    assert ndcg_at_k(["a"], {}, k=5) is None


def test_recall_caps_the_denominator_at_k():
    """2 of 3 relevant found in the top 2 scores 1 (only 2 slots); 1 of 3 in top 10 is 1/3."""
    assert recall_at_k(["a", "b"], {"a", "b", "c"}, k=2) == pytest.approx(1.0)
    assert recall_at_k(["a", "x", "y"], {"a", "b", "c"}, k=10) == pytest.approx(1 / 3)
    assert recall_at_k(["a"], set(), k=10) is None


def test_k_must_be_a_positive_int():
    """k of 0 is refused with the parameter named."""
    with pytest.raises(ValueError, match="'k' parameter"):
        ndcg_at_k(["a"], {"a": 1.0}, k=0)


def test_coverage_and_new_service_share():
    """Coverage counts distinct services; new share counts slots held by never-rated services."""
    lists = [["a", "b"], ["b", "c"], ["c", "d"]]
    assert catalogue_coverage(lists, 8) == (4, 0.5)
    assert new_service_share(lists, {"a", "b"}) == pytest.approx(3 / 6)
    assert new_service_share([], {"a"}) == 0.0


def test_largest_gap_and_mean_defined():
    """The gap is best minus worst over defined groups; undefined values are skipped."""
    assert largest_gap({"f": 0.5, "m": 0.3, "x": float("nan")}) == ("f", "m", pytest.approx(0.2))
    assert largest_gap({"f": 0.5}) is None
    assert mean_defined([1.0, None, 0.0]) == 0.5
    assert math.isnan(mean_defined([None]))
