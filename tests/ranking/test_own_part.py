"""A part of one's own plugs into the hybrid without editing ``Recommender``: it is trained,
served, quoted in the reasons, saved and loaded; and a default part can be dropped and the
model still round-trips (issue 14, item 1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from own_parts import DistanceSquared, LikedShare

from vcsmatch.errors import ModelLoadError
from vcsmatch.ranking import ContentPart, Part, default_parts
from vcsmatch.ranking.part_base import part_key
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.synthetic import World

QUICK = {"parts__collaborative__n_factors": 6, "parts__collaborative__iterations": 4}


def _fitted(world: World, parts: Any, **params: Any) -> Recommender:  # noqa: ANN401
    """The hybrid with ``parts`` (and settings ``params``), fitted on ``world``."""
    model = Recommender(parts=parts, show_progress=False, n_folds=2).set_params(**params)
    return model.fit(world.catalogue, world.ratings)


def _rewrite_header(directory: Path, edit: Any) -> None:  # noqa: ANN401 - a callable
    """Change a saved header with ``edit`` and re-sign it in the manifest."""
    header = json.loads((directory / "header.json").read_text())
    edit(header)
    (directory / "header.json").write_text(json.dumps(header))
    manifest = json.loads((directory / "manifest.json").read_text())
    data = (directory / "header.json").read_bytes()
    manifest["header.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_own_parts_are_parts() -> None:
    """A ``PartBase`` subclass of a few lines satisfies the ``Part`` protocol, its features
    quoted as reasons of kind "other" unless it says otherwise."""
    for part in (LikedShare(), DistanceSquared()):
        assert isinstance(part, Part)
        assert set(part.reason_kinds.values()) == {"other"}


def test_an_own_part_is_trained_served_and_quoted(small_world: World) -> None:
    """Added beside the content part, the part's feature is a blend column with a learned
    weight, each suggestion carries its value, and the reasons quote it by name."""
    w = small_world
    model = _fitted(w, [("content", ContentPart()), ("liked", LikedShare())])
    assert model.blend_features_[-1] == "liked_share"
    part = model.named_parts_["liked"]
    assert isinstance(part, LikedShare) and part is not model.parts[1][1]
    assert part.share_.shape == (len(w.catalogue),) and part.share_.max() > 0
    assert model.blend_.weights_[:, -1].sum() > 0  # rated relevant often: more relevant
    suggestions = [s for p in w.new_people for s in model.recommend(p, top_k=5)]
    assert all("liked_share" in s.components for s in suggestions)
    quoted = [r for s in suggestions for r in s.reasons if r.kind == "other"]
    assert quoted and all(r.text == "scores well on liked share" for r in quoted)


def test_an_own_part_saves_and_loads(small_world: World, tmp_path: Path) -> None:
    """With the default parts and two of one's own, the saved model names each part's class
    and loads to identical suggestions and learned state."""
    w = small_world
    parts = [*default_parts(), ("liked", LikedShare(pseudo_count=2.0)), ("far", DistanceSquared())]
    model = _fitted(w, parts, **QUICK)
    assert {"liked_share", "distance_squared"} <= set(model.blend_features_)
    model.save(tmp_path)
    header = json.loads((tmp_path / "header.json").read_text())
    saved = dict(header["params"]["parts"])
    assert saved["liked"] == {"class": part_key(LikedShare), "params": {"pseudo_count": 2.0}}

    loaded = Recommender.load(tmp_path)
    assert loaded.get_params()["parts__liked__pseudo_count"] == 2.0
    np.testing.assert_array_equal(
        loaded.named_parts_["liked"].share_, model.named_parts_["liked"].share_
    )
    people = w.new_people
    assert loaded.recommend_batch(people) == model.recommend_batch(people)


def test_an_own_part_follows_a_new_catalogue(small_world: World) -> None:
    """``rebind`` maps the part's learned state onto a new catalogue version by service id:
    a kept service keeps its value, a service it never saw gets none."""
    w = small_world
    model = _fitted(w, [("content", ContentPart()), ("liked", LikedShare())])
    share = model.named_parts_["liked"].share_
    kept = w.catalogue.services[::-1][:40]
    moved = model.rebind(type(w.catalogue)(services=kept))
    index = w.catalogue.index()
    expected = [share[index[s.id]] for s in kept]
    np.testing.assert_array_equal(moved._bound["liked"].share_, expected)
    assert moved.recommend(w.new_people[0], top_k=5)


def test_a_model_with_an_unregistered_part_is_refused(small_world: World, tmp_path: Path) -> None:
    """Loading never imports what a file names: a part class nobody registered is refused by
    name."""
    w = small_world
    _fitted(w, [("content", ContentPart()), ("liked", LikedShare())]).save(tmp_path)

    def rename(header: dict[str, Any]) -> None:
        header["params"]["parts"][1][1]["class"] = "elsewhere.parts:Missing"

    _rewrite_header(tmp_path, rename)
    with pytest.raises(ModelLoadError, match="'elsewhere.parts:Missing' is not registered"):
        Recommender.load(tmp_path)


def test_a_dropped_default_part_round_trips(small_world: World, tmp_path: Path) -> None:
    """``parts__collaborative="drop"`` takes its features out of the blend and its state out
    of the saved model, which loads with the part still dropped and ranks identically."""
    w = small_world
    model = Recommender(show_progress=False, n_folds=2).set_params(parts__collaborative="drop")
    model.fit(w.catalogue, w.ratings)
    assert list(model.named_parts_) == ["content", "priors"]
    assert not {"group_share", "als", "need_fit"} & set(model.blend_features_)
    model.save(tmp_path)
    with np.load(tmp_path / "arrays.npz") as npz:
        assert not [k for k in npz.files if k.startswith("parts.collaborative.")]
        assert [k for k in npz.files if k.startswith("parts.priors.")]
    loaded = Recommender.load(tmp_path)
    assert loaded.get_params()["parts__collaborative"] == "drop"
    assert list(loaded.named_parts_) == ["content", "priors"]
    people = w.new_people
    assert loaded.recommend_batch(people) == model.recommend_batch(people)


def test_an_own_part_is_validated_and_may_not_shadow_a_feature(small_world: World) -> None:
    """A setting of one's own part out of range is refused at fit in its own words, and a
    part giving a feature another part gives is refused by name."""
    w = small_world
    with pytest.raises(ValueError, match="'pseudo_count' parameter of LikedShare"):
        _fitted(w, [("content", ContentPart()), ("liked", LikedShare(pseudo_count=-1))])

    class Distance(DistanceSquared):
        @property
        def feature_names(self) -> tuple[str, ...]:
            return ("distance",)

    with pytest.raises(ValueError, match="'distance' from part 'content' and from part 'd'"):
        _fitted(w, [("content", ContentPart()), ("d", Distance())])
    with pytest.raises(ValueError, match="must hold parts \\(see parts.Part\\) or 'drop'"):
        _fitted(w, [("content", ContentPart()), ("x", object())])
