"""The hybrid learns what the ratings plant, still ranks new services on content, covers each
need, and explains itself from what drove each score."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from ranking_worlds import catalogue, person, ratings_frame, service

from vcsmatch.errors import DataError
from vcsmatch.evaluation.metrics import gain, ndcg_at_k
from vcsmatch.ranking.baselines import ContentOnly, NearestServices
from vcsmatch.ranking.recommender import Recommender
from vcsmatch.ranking.validation import fingerprint
from vcsmatch.synthetic import World


def _raters(n: int, **kw: object) -> list:
    return [person(age=60 + (i % 30), **kw) for i in range(n)]


def _hybrid(**kw: object) -> Recommender:
    return Recommender(show_progress=False, n_folds=2, **kw)


def _rank(recs: list, sid: str) -> int:
    return next(s.rank for s in recs if s.service_id == sid)


def test_planted_quality_rises_above_same_content_twin() -> None:
    """Of two services alike in content and place, the one rated relevant ranks first."""
    good = service("good-club", needs=("social-isolation",), km_north=0.6)
    twin = service("twin-club", needs=("social-isolation",), km_north=0.5)
    other = service("other", needs=("money-advice",), km_north=0.4)
    cat = catalogue(good, twin, other)
    rows = []
    for i, p in enumerate(_raters(60)):
        rows += [(f"p{i}", "good-club", 5 if i % 6 else 3, p), (f"p{i}", "twin-club", 2, p)]
        rows.append((f"p{i}", "other", 1 + (i % 2), p))
    model = _hybrid().fit(cat, ratings_frame(rows))
    recs = model.recommend(person(age=72), top_k=3)
    assert _rank(recs, "good-club") < _rank(recs, "twin-club")
    # content alone cannot tell them apart except by distance, which favours the twin
    content = ContentOnly().fit(cat).recommend(person(age=72), top_k=3)
    assert _rank(content, "twin-club") < _rank(content, "good-club")


def test_group_specific_preference_is_learned() -> None:
    """Men rate the shed relevant and women the craft club: a new man and a new woman get
    opposite orders of two services with the same content."""
    shed = service("shed", needs=("social-isolation",), km_north=0.5)
    craft = service("craft", needs=("social-isolation",), km_north=0.5)
    cat = catalogue(shed, craft)
    rows = []
    for i in range(80):
        sex = "male" if i % 2 else "female"
        p = person(age=66 + i % 10, sex=sex)
        rows += [
            (f"p{i}", "shed", 5 if sex == "male" else 2, p),
            (f"p{i}", "craft", 2 if sex == "male" else 5, p),
        ]
    model = _hybrid(use_diversity=False).fit(cat, ratings_frame(rows))
    man = model.recommend(person(age=70, sex="male"), top_k=2)
    woman = model.recommend(person(age=70, sex="female"), top_k=2)
    assert [s.service_id for s in man] == ["shed", "craft"]
    assert [s.service_id for s in woman] == ["craft", "shed"]


def test_new_service_ranks_on_content(small_world: World) -> None:
    """After a rebind, a new unrated service that meets the person's need is suggested, says
    it is new, and ranks above a new one meeting no need."""
    model = _hybrid().fit(small_world.catalogue, small_world.ratings)
    p = person(age=75, needs=["carer-support"], sex="female")
    fits = service("new-carers-hub", needs=("carer-support",), km_north=0.3)
    misfit = service("new-bike-repair", needs=(), activities=("diy-woodwork",), km_north=0.3)
    grown = small_world.catalogue.model_copy(
        update={"services": [*small_world.catalogue.services, fits, misfit]}
    )
    rebound = model.rebind(grown)
    recs = rebound.recommend(p, top_k=10)
    ids = [s.service_id for s in recs]
    assert "new-carers-hub" in ids
    assert "new-bike-repair" not in ids[: ids.index("new-carers-hub") + 1]
    new = next(s for s in recs if s.service_id == "new-carers-hub")
    assert any(r.kind == "new_service" for r in new.reasons)
    assert any(r.text == "meets need: carer support" for r in new.reasons)
    # the original model is untouched by the rebind
    assert "new-carers-hub" not in [s.service_id for s in model.recommend(p, top_k=10)]


def test_rebind_to_catalogue_sharing_no_service_id(tmp_path: Path) -> None:
    """A model rebound to a catalogue with none of its training services ranks every one on
    content, and survives a save and load with the same suggestions."""
    cat = catalogue(
        service("club", needs=("social-isolation",)), service("advice", needs=("money-advice",))
    )
    rows = [
        (f"p{i}", "club" if i % 2 else "advice", 5 if i % 3 else 2, p)
        for i, p in enumerate(_raters(40))
    ]
    model = _hybrid().fit(cat, ratings_frame(rows))
    fresh = catalogue(
        service("new-club", needs=("social-isolation",), km_north=0.8),
        service("new-advice", needs=("money-advice",), km_north=0.2),
    )
    rebound = model.rebind(fresh)
    recs = rebound.recommend(person(), top_k=2)
    # nearer but meeting no need of the person: content puts it second
    assert [s.service_id for s in recs] == ["new-club", "new-advice"]
    assert all(any(r.kind == "new_service" for r in s.reasons) for s in recs)
    loaded = Recommender.load(rebound.save(tmp_path / "model"))
    again = loaded.recommend(person(), top_k=2)
    assert [(s.service_id, s.score) for s in again] == [(s.service_id, s.score) for s in recs]


def test_diversity_covers_each_need() -> None:
    """With two needs, the top three hold a service for each, not three for the first."""
    many = [service(f"lunch-{i}", needs=("nutrition",), km_north=0.2 + i * 0.1) for i in range(6)]
    rare = service("money-help", needs=("money-advice",), km_north=3.0)
    cat = catalogue(*many, rare)
    rows = []
    for i, p in enumerate(_raters(40, needs=["nutrition", "money-advice"])):
        for s in many:
            rows.append((f"p{i}", s.id, 5 if (i + int(s.id[-1])) % 3 else 3, p))
        rows.append((f"p{i}", "money-help", 5 if i % 3 else 3, p))
    frame = ratings_frame(rows)
    target = person(needs=["nutrition", "money-advice"])
    diverse = _hybrid().fit(cat, frame).recommend(target, top_k=3)
    plain = _hybrid(use_diversity=False).fit(cat, frame).recommend(target, top_k=3)
    assert "money-help" in [s.service_id for s in diverse]
    assert "money-help" not in [s.service_id for s in plain]


def test_reasons_follow_the_contributions(small_world: World) -> None:
    """Each suggestion's reasons are sorted by weight (after the ``off_need`` lead of one that
    meets none of the person's needs) and sum, per part, to the blend's contribution of that
    part; a need reason names a need the service meets."""
    model = _hybrid().fit(small_world.catalogue, small_world.ratings)
    index = small_world.catalogue.index()
    for p in small_world.new_people[:10]:
        for s in model.recommend(p, top_k=5):
            weights = [r.weight for r in s.reasons if r.kind != "off_need"]
            assert weights == sorted(weights, reverse=True)
            assert all(r.kind != "off_need" for r in s.reasons[1:])
            names = model.blend_.feature_names_
            x = np.array([s.components[n] for n in names])
            contrib = dict(zip(names, model.blend_.contributions(x), strict=True))
            need_total = sum(contrib[n] for n in ("needs", "main_need", "any_need"))
            need_reasons = [r for r in s.reasons if r.kind == "need"]
            if need_reasons:
                assert sum(r.weight for r in need_reasons) == pytest.approx(need_total)
                service_needs = set(small_world.catalogue.services[index[s.service_id]].all_needs)
                for r in need_reasons:
                    assert any(
                        model.taxonomy_.label("need", c).lower() in r.text for c in service_needs
                    )
            elif need_total > 0:
                pytest.fail("a positive need contribution gave no need reason")


def test_collaborative_reason_quotes_group_and_count() -> None:
    """A service rated relevant for a group says so with the group in words and the count."""
    memory = service("memory-cafe", needs=("dementia",), km_north=0.5)
    plain = service("plain", needs=("dementia",), km_north=0.5)
    cat = catalogue(memory, plain)
    rows = []
    for i in range(30):
        p = person(age=70, needs=["dementia"])
        rows += [(f"p{i}", "memory-cafe", 5, p), (f"p{i}", "plain", 2, p)]
    model = _hybrid().fit(cat, ratings_frame(rows))
    top = model.recommend(person(age=68, needs=["dementia"]), top_k=1)[0]
    assert top.service_id == "memory-cafe"
    texts = [r.text for r in top.reasons if r.kind == "collaborative"]
    assert texts == [
        "rated relevant by practitioners for people aged 65 to 79 with dementia and memory "
        "(30 of 30 ratings)"
    ]


def test_beats_nearest_and_content_on_a_small_world(small_world: World) -> None:
    """On new people of the small world, true NDCG@10 beats nearest-services and content."""
    index = small_world.catalogue.index()

    def ndcg(model: object) -> float:
        values = []
        for i, p in enumerate(small_world.new_people):
            truth = small_world.new_relevance[i]
            gains = {sid: float(gain(truth[j])) for sid, j in index.items() if truth[j] >= 3}
            ranked = [s.service_id for s in model.recommend(p, top_k=10)]  # type: ignore[attr-defined]
            v = ndcg_at_k(ranked, gains, 10)
            if v is not None:
                values.append(v)
        return float(np.mean(values))

    w = small_world
    hybrid = ndcg(_hybrid().fit(w.catalogue, w.ratings))
    assert hybrid > 1.5 * ndcg(NearestServices().fit(w.catalogue))
    assert hybrid > ndcg(ContentOnly().fit(w.catalogue))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f.assign(rating=7), "rating"),
        (lambda f: f.assign(service_id="no-such-service"), "service_id"),
        (lambda f: f.drop(columns=["sex"]), "sex"),
    ],
)
def test_fit_refuses_untrustworthy_ratings(change: object, field: str) -> None:
    """Ratings out of range, unknown services or missing columns raise DataError naming the
    field (no rows at all is a day-one model: tests/ranking/test_day_one_and_exploration.py)."""
    cat = catalogue(service("a", needs=("dementia",)))
    frame = ratings_frame([("p1", "a", 5, person()), ("p2", "a", 2, person())])
    with pytest.raises(DataError) as info:
        _hybrid().fit(cat, change(frame))  # type: ignore[operator]
    assert info.value.field == field


def test_bad_parameters_are_refused() -> None:
    """Parameters are checked at fit with messages naming the parameter and value."""
    cat = catalogue(service("a", needs=("dementia",)))
    frame = ratings_frame([("p1", "a", 5, person()), ("p2", "a", 2, person())])
    with pytest.raises(ValueError, match="'n_folds' parameter of Recommender must be an int"):
        Recommender(n_folds=1, show_progress=False).fit(cat, frame)
    with pytest.raises(ValueError, match="must keep at least one part"):
        Recommender(show_progress=False).set_params(
            parts__content="drop", parts__collaborative="drop", parts__priors="drop"
        ).fit(cat, frame)
    with pytest.raises(ValueError, match="'n_factors' parameter of CollaborativePart"):
        Recommender(show_progress=False).set_params(parts__collaborative__n_factors=0).fit(
            cat, frame
        )
    with pytest.raises(ValueError, match="no part named 'als'"):
        Recommender().set_params(parts__als__n_factors=4)
    with pytest.raises(ValueError, match="'max_training_rows' parameter of Recommender"):
        Recommender(max_training_rows=10, show_progress=False).fit(cat, frame)
    with pytest.raises(ValueError, match="'fold_training_rows' parameter of Recommender"):
        Recommender(fold_training_rows=10, show_progress=False).fit(cat, frame)


def test_training_rows_cap_bounds_the_blend(small_world: World) -> None:
    """With ``max_training_rows`` below the data, the blend fits on at most that many rows
    and the model still ranks its people's services."""
    w = small_world
    full = _hybrid(max_training_rows=None).fit(w.catalogue, w.ratings)
    capped = _hybrid(max_training_rows=1000).fit(w.catalogue, w.ratings)
    assert full.n_blend_rows_ > 1000 >= capped.n_blend_rows_ > 0
    assert capped.n_ratings_ == full.n_ratings_ == len(w.ratings)
    someone = w.new_people[0]
    assert len(capped.recommend(someone, top_k=5)) == len(full.recommend(someone, top_k=5))


def test_fold_cap_changes_only_the_out_of_fold_fits(small_world: World) -> None:
    """``fold_training_rows`` below the data changes the blend (its out-of-fold features come
    from models fitted on fewer rows) but not the final parts, which keep
    ``max_training_rows``."""
    w = small_world
    uncapped = _hybrid(max_training_rows=None, fold_training_rows=None)
    uncapped.fit(w.catalogue, w.ratings)
    folds_capped = _hybrid(max_training_rows=None, fold_training_rows=1000)
    folds_capped.fit(w.catalogue, w.ratings)
    assert len(w.ratings) > 2000
    capped_part = folds_capped.named_parts_["collaborative"]
    uncapped_part = uncapped.named_parts_["collaborative"]
    np.testing.assert_array_equal(capped_part.taste_.weights_, uncapped_part.taste_.weights_)
    np.testing.assert_array_equal(
        capped_part.ratings_model_.item_factors_, uncapped_part.ratings_model_.item_factors_
    )
    assert not np.array_equal(folds_capped.blend_.coef_, uncapped.blend_.coef_)


def test_one_class_ratings_fall_back_to_content() -> None:
    """When every rating is relevant there is nothing to contrast: the blend falls back to
    fixed weights and still ranks the need-meeting service first."""
    cat = catalogue(
        service("meets", needs=("dementia",), km_north=1.0),
        service("misses", needs=("housing",), km_north=0.2),
    )
    frame = ratings_frame([(f"p{i}", "misses", 5, person()) for i in range(5)])
    model = _hybrid().fit(cat, frame)
    assert not model.blend_.learned_
    recs = model.recommend(person(needs=["dementia"]), top_k=2)
    assert recs[0].service_id == "meets"


def test_person_without_location_gets_remote_and_home_visits() -> None:
    """Someone with no location is offered online, phone and home-visit services only."""
    cat = catalogue(
        service("hall", needs=("dementia",)),
        service("web", needs=("dementia",), modes=("online",)),
        service("call", needs=("dementia",), modes=("phone",)),
        service("visit", needs=("dementia",), modes=("home_visit",)),
    )
    frame = ratings_frame([("p1", "hall", 5, person()), ("p2", "web", 2, person())])
    model = _hybrid().fit(cat, frame)
    recs = model.recommend(person(latitude=None, longitude=None, needs=["dementia"]), top_k=10)
    assert sorted(s.service_id for s in recs) == ["call", "visit", "web"]
    assert all(s.distance_km is None for s in recs)


def test_fit_records_provenance(small_world: World) -> None:
    """fit records the fingerprint of the frame (order-independent), counts and a version."""
    w = small_world
    model = _hybrid().fit(w.catalogue, w.ratings)
    shuffled = w.ratings.sample(frac=1.0, random_state=1)
    again = _hybrid().fit(w.catalogue, shuffled)
    assert model.fingerprint_ == again.fingerprint_
    assert model.n_ratings_ == len(w.ratings)
    assert model.version_.endswith(model.fingerprint_[:8])
    assert model.trained_at_.utcoffset() == dt.timedelta(0)
    assert model.metrics_ == {}


def test_fingerprint_changes_with_any_value(small_world: World) -> None:
    """The training fingerprint ignores row order but changes when one rating changes."""
    frame = small_world.ratings.reset_index(drop=True)
    changed = frame.copy()
    changed.loc[0, "rating"] = 1 if frame.loc[0, "rating"] != 1 else 2
    shuffled = frame.sample(frac=1.0, random_state=3)
    assert fingerprint(shuffled) == fingerprint(frame)
    assert fingerprint(changed) != fingerprint(frame)


def test_fast_person_encoding_matches_person_features(small_world: World) -> None:
    """The recommender's own encoding of a person equals PersonFeatures.transform's row."""
    model = _hybrid().fit(small_world.catalogue, small_world.ratings)
    extra = [person(latitude=None, longitude=None, age=None, needs=[], strengths=["music"])]
    for p in [*small_world.new_people, *extra]:
        expected = model.person_features_.transform([p]).toarray()
        assert np.array_equal(model._person_x(p), expected)


def test_negatives_fill_in_only_where_the_log_lacks_them() -> None:
    """With ``negatives_per_rating=None`` a log of mostly non-relevant ratings (what an old
    tool showed) gets no sampled negatives, and a log of mostly relevant ones (what people
    chose to rate) gets unrated services as negatives for the blend."""
    cat = catalogue(*(service(f"s{j}", needs=("social-isolation",)) for j in range(6)))
    shown = [(f"p{i}", f"s{j}", 5 if j == 0 else 1, person()) for i in range(30) for j in range(6)]
    chosen = [
        (f"p{i}", f"s{(i + j) % 6}", 5 if j else 2, person()) for i in range(30) for j in range(3)
    ]
    assert _hybrid().fit(cat, ratings_frame(shown)).n_blend_rows_ == len(shown)
    auto = _hybrid().fit(cat, ratings_frame(chosen))
    assert auto.n_blend_rows_ == 2 * len(chosen)  # each person's 3 unrated services
    none = _hybrid(negatives_per_rating=0.0).fit(cat, ratings_frame(chosen))
    assert none.n_blend_rows_ == len(chosen)


def test_need_a_listing_over_claims_is_found_out_and_explained() -> None:
    """Two clubs list both isolation and carer support. Practitioners rate the nearer one
    relevant for isolated people but not for carers (its listing over-claims), the farther one
    relevant for both. A new carer gets the farther one first, with a reason naming carer
    support and the ratings behind it; for a new isolated person the gap is far smaller."""
    claims = service("claims", needs=("social-isolation", "carer-support"), km_north=0.3)
    honest = service("honest", needs=("social-isolation", "carer-support"), km_north=2.0)
    cat = catalogue(claims, honest)
    rows = []
    for i in range(120):
        need = "carer-support" if i % 2 else "social-isolation"
        p = person(age=60 + i % 25, needs=[need])
        carer = need == "carer-support"
        rows += [
            (f"p{i}", "claims", (1 + i % 2) if carer else (4 + i % 2), p),
            (f"p{i}", "honest", 4 + i % 2, p),
        ]
    model = _hybrid(use_diversity=False).fit(cat, ratings_frame(rows))
    carer_recs = model.recommend(person(age=70, needs=["carer-support"]), top_k=2)
    assert [s.service_id for s in carer_recs] == ["honest", "claims"]
    evidence = [r for r in carer_recs[0].reasons if r.kind == "need_evidence"]
    assert evidence and "carer support" in evidence[0].text
    assert evidence[0].text.endswith("ratings)")
    # for isolation the nearer club is as good as its listing: its deficit is the carers'
    lonely_recs = model.recommend(person(age=70, needs=["social-isolation"]), top_k=2)

    def deficit(recs: list) -> float:
        rel = {s.service_id: s.components["relevance"] for s in recs}
        return rel["honest"] - rel["claims"]

    assert deficit(carer_recs) > 2 * deficit(lonely_recs)
