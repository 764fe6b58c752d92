"""The hybrid's parts as parameters: the ``Part`` protocol, nested settings reached through
``get_params``/``set_params`` (``parts__<name>__<setting>``), swapping and dropping a part,
and models saved before parts were parameters still loading to the same rankings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.base import clone

from vcsmatch.ranking import Part, default_parts
from vcsmatch.ranking.collaborative_part import CollaborativePart
from vcsmatch.ranking.persistence import read_model, write_model
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.synthetic import World

QUICK = {"parts__collaborative__n_factors": 6, "parts__collaborative__iterations": 4}


def test_every_default_part_is_a_part() -> None:
    """Each default part satisfies the protocol, and names a reason kind for each feature and
    only its own features as evidence."""
    parts = default_parts()
    assert [name for name, _ in parts] == ["content", "collaborative", "priors"]
    for _, part in parts:
        assert isinstance(part, Part)
        assert set(part.reason_kinds) == set(part.feature_names)
        assert part.evidence_features <= set(part.feature_names)


def test_default_parts_are_fresh() -> None:
    """Tuning one model's part never tunes another model's (no shared default instances)."""
    a, b = Recommender(), Recommender()
    a.set_params(parts__collaborative__n_factors=4)
    assert b.get_params()["parts__collaborative__n_factors"] == 32
    copy = clone(a)
    copy.set_params(parts__collaborative__n_factors=5)
    assert a.get_params()["parts__collaborative__n_factors"] == 4


def test_nested_settings_reach_the_fitted_models(small_world: World) -> None:
    """``parts__collaborative__n_factors`` sets the rank of the ALS the model learns, and
    ``parts__collaborative__als=False`` takes ALS out of the blend."""
    w = small_world
    model = Recommender(show_progress=False).set_params(**QUICK)
    model.fit(w.catalogue, w.ratings)
    assert model.named_parts_["collaborative"].als_.item_factors_.shape[1] == 6
    assert "als" in model.blend_features_
    model.set_params(parts__collaborative__als=False).fit(w.catalogue, w.ratings)
    assert model.named_parts_["collaborative"].als_ is None
    assert "als" not in model.blend_features_


def test_a_part_can_be_dropped_or_swapped(small_world: World) -> None:
    """Dropping a part removes its features from the blend; swapping one in uses its
    settings; a setting of a missing or dropped part is refused by name."""
    w = small_world
    model = Recommender(show_progress=False).set_params(parts__priors="drop", **QUICK)
    model.fit(w.catalogue, w.ratings)
    assert not {"prior_lift", "quality", "rated_quality"} & set(model.blend_features_)
    assert model.recommend(w.new_people[0], top_k=5)
    model.set_params(parts__collaborative=CollaborativePart(n_factors=3, iterations=3))
    model.fit(w.catalogue, w.ratings)
    assert model.named_parts_["collaborative"].als_.item_factors_.shape[1] == 3
    with pytest.raises(ValueError, match="no part named 'als'"):
        model.set_params(parts__als__n_factors=4)
    with pytest.raises(ValueError, match="part 'priors' is dropped"):
        model.set_params(parts__priors__anything=1)


def test_bad_parts_are_refused(small_world: World) -> None:
    """A parts list of the wrong shape, or two parts of one kind, is refused at fit."""
    w = small_world
    two = [("a", CollaborativePart()), ("b", CollaborativePart())]
    for parts, message in (
        ([CollaborativePart()], "list of \\(name, part\\) pairs"),
        (two, "at most one of each"),
        ([("a", "drop")], "at least one part"),
    ):
        with pytest.raises(ValueError, match=message):
            Recommender(parts=parts, show_progress=False).fit(w.catalogue, w.ratings)  # type: ignore[arg-type]


def test_a_model_saved_with_flat_parameters_loads_the_same(
    small_world: World, tmp_path: Path
) -> None:
    """A model saved before parts were parameters (flat ``use_priors``, ``n_factors``, ...,
    in the same format version) loads with the parts those meant and ranks identically."""
    w = small_world
    model = Recommender(show_progress=False).set_params(parts__priors="drop", **QUICK)
    model.fit(w.catalogue, w.ratings)
    model.save(tmp_path / "new")
    saved = read_model(tmp_path / "new")
    params = {k: v for k, v in saved.header["params"].items() if k != "parts"}
    collaborative = model.get_params()["parts__collaborative"].get_params()
    flat = {**params, **collaborative, "use_content": True, "use_collaborative": True}
    flat.update(use_priors=False, use_als=flat.pop("als"))
    write_model(tmp_path / "old", {**saved.header, "params": flat}, saved.arrays, saved.catalogue)

    old = Recommender.load(tmp_path / "old")
    assert old.get_params()["parts__priors"] == "drop"
    assert old.get_params()["parts__collaborative__n_factors"] == 6
    people = w.new_people[:10]
    assert old.recommend_batch(people) == model.recommend_batch(people)
