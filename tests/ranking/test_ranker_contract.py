"""The contract every ranker honours, run against the hybrid (whole and with each part off)
and every baseline, as implicit's recommender_base_test does for its models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import people as people_strategy

from vcsmatch.errors import ModelLoadError, NotFittedError
from vcsmatch.features.eligibility import EligibilityFilter
from vcsmatch.features.location import locate
from vcsmatch.ranking.base import Ranker
from vcsmatch.ranking.baselines import (
    ContentOnly,
    GlobalPopularity,
    GroupMeanRating,
    GroupPopularity,
    NearestServices,
)
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.synthetic import World
from vcsmatch.taxonomy import load_taxonomy

RANKERS: dict[str, Any] = {
    "hybrid": lambda: Recommender(show_progress=False),
    "hybrid-day-one": lambda: Recommender(show_progress=False),  # fitted on no ratings
    "no-content": lambda: Recommender(show_progress=False).set_params(parts__content="drop"),
    "no-collaborative": lambda: Recommender(show_progress=False).set_params(
        parts__collaborative="drop"
    ),
    "no-priors": lambda: Recommender(show_progress=False).set_params(parts__priors="drop"),
    "no-diversity": lambda: Recommender(use_diversity=False, show_progress=False),
    "no-als": lambda: Recommender(show_progress=False).set_params(parts__collaborative__als=False),
    # each part alone: the contract holds for every part, not only for the whole
    "only-content": lambda: Recommender(show_progress=False).set_params(
        parts__collaborative="drop", parts__priors="drop"
    ),
    "only-collaborative": lambda: Recommender(show_progress=False).set_params(
        parts__content="drop", parts__priors="drop"
    ),
    "only-priors": lambda: Recommender(show_progress=False).set_params(
        parts__content="drop", parts__collaborative="drop"
    ),
    "nearest": NearestServices,
    "content-only": ContentOnly,
    "global-popularity": GlobalPopularity,
    "group-popularity": GroupPopularity,
    "sex-mean-rating": GroupMeanRating,
    "group-mean-rating": lambda: GroupMeanRating(group="age_band_sex"),
}

_fitted: dict[str, Any] = {}


def fitted(name: str, world: World) -> Any:
    """Each ranker fitted once per session on the small world."""
    if name not in _fitted:
        ratings = world.ratings.iloc[:0] if name == "hybrid-day-one" else world.ratings
        _fitted[name] = RANKERS[name]().fit(world.catalogue, ratings)
    return _fitted[name]


def _comparable(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters with each part by its class (its settings are their own deep keys)."""
    return {
        k: type(v).__name__ if hasattr(v, "get_params") else v
        for k, v in params.items()
        if k != "parts"
    }


@pytest.mark.parametrize("name", RANKERS)
def test_batch_equals_single(name: str, small_world: World) -> None:
    """recommend_batch gives exactly what one recommend call per person gives."""
    model = fitted(name, small_world)
    people = small_world.new_people[:8]
    batch = model.recommend_batch(people, top_k=5)
    assert batch == [model.recommend(p, top_k=5) for p in people]
    assert any(batch)


@pytest.mark.parametrize("name", RANKERS)
def test_never_ineligible(name: str, small_world: World) -> None:
    """No suggestion breaks an eligibility rule for the person it is made for."""
    model = fitted(name, small_world)
    rules = EligibilityFilter().fit(small_world.catalogue)
    index = small_world.catalogue.index()
    for p in small_world.new_people:
        allowed = rules.check(p, locate(p)).eligible
        for s in model.recommend(p, top_k=10):
            assert allowed[index[s.service_id]], s.service_id


@pytest.mark.parametrize("name", RANKERS)
def test_scores_never_rise_and_top_k_honoured(name: str, small_world: World) -> None:
    """Scores never rise down the list, ranks count from 1, ids are distinct, k is a cap."""
    model = fitted(name, small_world)
    for k in (1, 3, 10):
        for p in small_world.new_people[:6]:
            recs = model.recommend(p, top_k=k)
            assert len(recs) <= k
            assert [s.rank for s in recs] == list(range(1, len(recs) + 1))
            assert len({s.service_id for s in recs}) == len(recs)
            scores = [s.score for s in recs]
            assert all(a >= b for a, b in zip(scores, scores[1:], strict=False)), scores
            assert all(s.reasons for s in recs)


@pytest.mark.parametrize("name", RANKERS)
@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_top_k_must_be_positive_int(name: str, bad: object, small_world: World) -> None:
    """A bad top_k is refused with a scikit-learn style message naming the value."""
    model = fitted(name, small_world)
    with pytest.raises(
        ValueError,
        match=r"The 'top_k' parameter of recommend must be a "
        r"positive int\. Got .* instead\.",
    ):
        model.recommend(small_world.new_people[0], top_k=bad)


@pytest.mark.parametrize("name", RANKERS)
def test_unfitted_use_raises(name: str, small_world: World) -> None:
    """Using a ranker before fit raises NotFittedError."""
    with pytest.raises(NotFittedError):
        RANKERS[name]().recommend(small_world.new_people[0])


def test_every_ranker_is_a_ranker() -> None:
    """Every ranker, baselines included, subclasses the one base (fit, recommend, batch,
    save, load)."""
    for make in RANKERS.values():
        assert isinstance(make(), Ranker)


@pytest.mark.parametrize("name", RANKERS)
def test_save_load_round_trip(name: str, small_world: World, tmp_path: Path) -> None:
    """A saved model loads back, through its class or the base, to identical rankings,
    parameters and fingerprint."""
    model = fitted(name, small_world)
    if isinstance(model, Recommender):
        model.metrics_ = {"true_ndcg@10": 0.5}
    model.save(tmp_path / "m")
    loaded = type(model).load(tmp_path / "m")
    assert type(loaded) is type(model)
    assert type(Ranker.load(tmp_path / "m")) is type(model)
    assert _comparable(loaded.get_params()) == _comparable(model.get_params())
    assert loaded.fingerprint_ == model.fingerprint_
    if isinstance(model, Recommender):
        assert loaded.version_ == model.version_
        assert loaded.metrics_ == {"true_ndcg@10": 0.5}
    people = _with_needs(small_world)
    assert loaded.recommend_batch(people) == model.recommend_batch(people)


def test_a_model_of_another_class_is_refused(small_world: World, tmp_path: Path) -> None:
    """Loading a saved baseline as the hybrid (or the reverse) is refused, not half-loaded."""
    fitted("group-popularity", small_world).save(tmp_path / "g")
    with pytest.raises(ModelLoadError, match="a GroupPopularity model, not a Recommender"):
        Recommender.load(tmp_path / "g")
    fitted("hybrid", small_world).save(tmp_path / "h")
    with pytest.raises(ModelLoadError, match="a Recommender model, not a GroupPopularity"):
        GroupPopularity.load(tmp_path / "h")


@pytest.mark.parametrize(
    ("make", "param"),
    [
        (lambda: NearestServices(default_radius_km=0), "default_radius_km"),
        (lambda: ContentOnly(default_radius_km=-5.0), "default_radius_km"),
        (lambda: GlobalPopularity(default_radius_km="far"), "default_radius_km"),
        (lambda: GroupPopularity(shrinkage=-1.0), "shrinkage"),
    ],
)
def test_baseline_bad_parameter_is_a_value_error(make: Any, param: str, small_world: World) -> None:
    """A baseline's bad parameter is refused at fit with a ValueError naming it and its value."""
    with pytest.raises(ValueError, match=rf"The '{param}' parameter of \w+ must be .* Got .*"):
        make().fit(small_world.catalogue, small_world.ratings)


@pytest.mark.parametrize("make", [GlobalPopularity, GroupPopularity])
def test_baseline_that_learns_needs_ratings(make: Any, small_world: World) -> None:
    """A baseline that learns from ratings, fitted without them, raises a ValueError."""
    with pytest.raises(ValueError, match=r"The 'ratings' parameter of \w+\.fit"):
        make().fit(small_world.catalogue, None)


@pytest.mark.parametrize("victim", ["arrays.npz", "header.json", "catalogue.json"])
@pytest.mark.parametrize("damage", ["truncate", "tamper", "delete"])
def test_damaged_model_is_refused(
    victim: str, damage: str, small_world: World, tmp_path: Path
) -> None:
    """A truncated, edited or missing model file raises ModelLoadError naming the file."""
    fitted("hybrid", small_world).save(tmp_path)
    path = tmp_path / victim
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "tamper":
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
    else:
        path.unlink()
    with pytest.raises(ModelLoadError, match=victim):
        Recommender.load(tmp_path)


def test_missing_manifest_is_refused(small_world: World, tmp_path: Path) -> None:
    """A directory without its manifest cannot be trusted."""
    fitted("hybrid", small_world).save(tmp_path)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(ModelLoadError, match="manifest.json"):
        Recommender.load(tmp_path)


_NEEDS = load_taxonomy().need_codes


@pytest.mark.parametrize("name", ["hybrid", "group-popularity"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    p=people_strategy(),
    needs=st.lists(st.sampled_from(_NEEDS), max_size=3, unique=True),
    radius=st.one_of(st.none(), st.floats(min_value=0.5, max_value=60)),
)
def test_property_no_ineligible_suggestion(
    name: str, p: Any, needs: list[str], radius: float | None, small_world: World
) -> None:
    """For any person, every suggestion is eligible and reaches them."""
    person = p.model_copy(update={"needs": needs, "max_distance_km": radius})
    model = fitted(name, small_world)
    allowed = model.candidates_.eligibility_.check(person, locate(person)).eligible
    index = small_world.catalogue.index()
    recs = model.recommend(person, top_k=10)
    assert all(allowed[index[s.service_id]] for s in recs)
    limit = radius or model.default_radius_km
    assert all(s.distance_km is None or s.distance_km <= limit + 1e-6 for s in recs)
    assert np.all(np.diff([s.score for s in recs]) <= 1e-12)


def test_model_of_an_older_format_asks_for_retraining(small_world: World, tmp_path: Path) -> None:
    """A model saved by an older vcsmatch (format 1, before the rating factorisation) is
    refused with a message to retrain, not half-loaded."""
    import hashlib
    import json

    fitted("hybrid", small_world).save(tmp_path)
    header = json.loads((tmp_path / "header.json").read_text())
    header["format_version"] = 1
    (tmp_path / "header.json").write_text(json.dumps(header))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    data = (tmp_path / "header.json").read_bytes()
    manifest["header.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="older than this vcsmatch reads.*retrain"):
        Recommender.load(tmp_path)


def _with_needs(world: World) -> list[Any]:
    """The new people, and each again with the needs that specialist services list second
    (mental wellbeing) but without the specialist need itself."""
    people = list(world.new_people)
    people += [p.model_copy(update={"needs": ["mental-wellbeing"]}) for p in world.new_people]
    return people


@pytest.mark.parametrize("name", RANKERS)
def test_no_specialist_service_without_its_need(name: str, small_world: World) -> None:
    """A specialist service (domestic abuse, alcohol and drugs) is never suggested to a person
    without its need, however its ratings by such people went; it is to one with the need."""
    from vcsmatch.features.specialist import SpecialistServices

    model = fitted(name, small_world)
    special = SpecialistServices().fit(small_world.catalogue)
    assert special.specialist_.any()
    index = small_world.catalogue.index()
    n_catalogue = len(small_world.catalogue)
    for p in _with_needs(small_world):
        allowed = special.allowed(p.needs)
        for s in model.recommend(p, top_k=n_catalogue):
            assert allowed[index[s.service_id]], (s.service_id, p.needs)
    row = int(np.flatnonzero(special.specialist_)[0])
    need = str(special.need_[row])
    person = small_world.new_people[0].model_copy(update={"needs": [need]})
    suggested = {s.service_id for s in model.recommend(person, top_k=n_catalogue)}
    assert any(special.need_[index[sid]] == need for sid in suggested)
