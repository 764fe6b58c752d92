"""The synthetic world: reproducible, logged under the old tool's policy, with visible plants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vcsmatch.errors import NotFoundError
from vcsmatch.features.eligibility import EligibilityFilter
from vcsmatch.features.geo import haversine_km
from vcsmatch.ratings import TRAINING_COLUMNS
from vcsmatch.synthetic import LOG_END, make_world


@pytest.fixture(scope="module")
def world():
    return make_world(n_services=150, n_people=800, n_new_people=60, seed=3)


@pytest.fixture(scope="module")
def online_world():
    return make_world(n_services=80, n_people=300, n_new_people=40, seed=4, online_only=True)


def test_same_seed_gives_the_same_world():
    """Two worlds made with the same arguments are identical; another seed differs."""
    a = make_world(n_services=40, n_people=60, n_new_people=5, seed=11)
    b = make_world(n_services=40, n_people=60, n_new_people=5, seed=11)
    c = make_world(n_services=40, n_people=60, n_new_people=5, seed=12)
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    assert a.catalogue == b.catalogue
    assert np.array_equal(a.new_relevance, b.new_relevance)
    assert not a.ratings["rating"].equals(c.ratings["rating"])


def test_ratings_frame_has_the_training_columns_and_times_span_the_log(world):
    """The frame follows vcsmatch.ratings: its columns, ratings 1-5, UTC times over 18 months."""
    r = world.ratings
    assert tuple(r.columns) == TRAINING_COLUMNS
    assert r["rating"].between(1, 5).all()
    assert str(r["rated_at"].dt.tz) == "UTC"
    span = r["rated_at"].max() - r["rated_at"].min()
    assert pd.Timedelta(days=450) < span <= pd.Timedelta(days=549)
    assert r["rated_at"].max() <= LOG_END + pd.Timedelta(hours=1)
    assert set(r["person_id"]) <= {p.reference for p in world.people}
    assert set(r["service_id"]) <= set(world.catalogue.ids())
    assert r["practitioner_id"].notna().all()


def test_every_rating_is_for_a_service_the_person_was_eligible_for(world):
    """The old tool only showed eligible services: no rating breaks an age or sex rule."""
    by_id = {s.id: s for s in world.catalogue}
    for row in world.ratings.itertuples():
        e = by_id[row.service_id].eligibility
        assert e.min_age is None or row.age >= e.min_age
        assert e.max_age is None or row.age <= e.max_age
        assert e.sex is None or row.sex not in ("female", "male") or row.sex == e.sex


def test_ratings_exist_mostly_for_nearby_services(world):
    """Ratings follow the nearest-services policy: rated services are far nearer than average."""
    cat = world.catalogue
    lat = np.array([s.locations[0].latitude if s.locations else np.nan for s in cat])
    lon = np.array([s.locations[0].longitude if s.locations else np.nan for s in cat])
    row_of = cat.index()
    r = world.ratings.dropna(subset=["latitude"])
    rows = np.array([row_of[s] for s in r["service_id"]])
    d_rated = haversine_km(
        r["latitude"].to_numpy(), r["longitude"].to_numpy(), lat[rows], lon[rows]
    )
    d_all = haversine_km(
        r["latitude"].to_numpy()[:, None], r["longitude"].to_numpy()[:, None], lat, lon
    )
    assert np.nanmedian(d_rated) < 0.5 * np.nanmedian(d_all)
    # Most services were rated by nobody or by few; the shown set is small per person.
    per_person = world.ratings.groupby("person_id").size()
    assert per_person.max() <= 20


def test_high_quality_services_get_higher_ratings(world):
    """The planted latent quality shows in the ratings: top third outscores bottom third."""
    q = dict(zip(world.catalogue.ids(), world.service_quality, strict=True))
    means = world.ratings.groupby("service_id")["rating"].mean()
    quality = means.index.map(q).to_numpy()
    hi = means[quality >= np.quantile(quality, 2 / 3)].mean()
    lo = means[quality <= np.quantile(quality, 1 / 3)].mean()
    assert hi > lo + 0.5


def test_mens_sheds_are_valued_by_isolated_men_aged_65_to_79():
    """A planted group effect: isolated men 65-79 find men's sheds more relevant than others do."""
    w = make_world(n_services=300, n_people=50, n_new_people=600, seed=5)
    sheds = [i for i, t in enumerate(w.service_types()) if t == "mens-shed"]
    assert sheds
    target, others = [], []
    for person, rel in zip(w.new_people, w.new_relevance, strict=True):
        if person.sex != "male":
            continue
        (
            target if 65 <= person.age <= 79 and "social-isolation" in person.needs else others
        ).append(rel[sheds].mean())
    assert np.mean(target) > np.mean(others) + 0.3


def test_true_relevance_is_an_expected_rating_and_1_where_ineligible(world):
    """True relevance lies in 1..5, matches new_relevance, and is 1 for ineligible services."""
    flt = EligibilityFilter().fit(world.catalogue)
    for i, person in enumerate(world.new_people[:20]):
        rel = world.true_relevance(person)
        assert np.allclose(rel, world.new_relevance[i])
        assert ((rel >= 1.0) & (rel <= 5.0)).all()
        loc = (person.latitude, person.longitude) if person.latitude is not None else None
        if loc is not None:
            ineligible = ~flt.check(person, loc).eligible
            assert (rel[ineligible] == 1.0).all()
    assert np.allclose(
        world.true_relevance(world.people[0], [3, 1]),
        world.true_relevance(world.people[0].reference)[[3, 1]],
    )


def test_true_relevance_of_a_stranger_is_refused(world):
    """A person who is not part of the world has no true relevance."""
    from vcsmatch.features.person import Person

    with pytest.raises(NotFoundError):
        world.true_relevance(Person(reference="someone-else", age=70))


def test_catalogue_is_labelled_synthetic_and_varied(world):
    """Every record says it is synthetic; the catalogue has the awkward cases a real one has."""
    services = list(world.catalogue)
    assert all("Synthetic" in s.description for s in services)
    assert all(s.organisation.endswith("(synthetic)") for s in services)
    assert any(not s.needs and not s.activities for s in services)  # text only
    assert any(not s.is_active for s in services)
    assert any(s.eligibility.sex for s in services)
    assert any(s.service_areas for s in services)
    assert any(s.reaches_remotely and not s.locations for s in services)
    assert all(
        s.locations[0].postcode[:2] in {"IP", "NR", "CO", "CB"} for s in services if s.locations
    )


def test_people_are_recorded_with_postcode_coordinates_or_neither(world):
    """People come with a postcode, coordinates, both or neither, as front doors record them."""
    kinds = {(p.postcode is not None, p.latitude is not None) for p in world.people}
    assert kinds == {(True, True), (True, False), (False, True), (False, False)}
    assert all(p.needs for p in world.people)
    assert all(18 <= p.age <= 99 for p in world.people)


def test_online_world_has_no_places(online_world):
    """The online-only world: every service online, no locations, people without location."""
    assert all(s.delivery_modes == ["online"] and not s.locations for s in online_world.catalogue)
    assert not any(p.has_location for p in online_world.people + online_world.new_people)
    r = online_world.ratings
    assert r["latitude"].isna().all()
    assert r.groupby("person_id").size().mean() > 15


def test_world_writes_the_command_line_files(world, tmp_path: Path):
    """write() produces services.json, people.csv and ratings.csv that read back unchanged."""
    from vcsmatch.catalogue.hsds3 import read_hsds3
    from vcsmatch.files import read_people, read_ratings

    paths = world.write(tmp_path)
    catalogue = read_hsds3(paths["catalogue"]).catalogue
    assert catalogue.services == world.catalogue.services
    people = read_people(paths["people"])
    assert [p.model_dump() for p in people] == [p.model_dump() for p in world.people]
    ratings = read_ratings(paths["ratings"], people, catalogue)
    pd.testing.assert_frame_equal(ratings, world.ratings, check_dtype=False)
    assert len(read_people(paths["new_people"])) == len(world.new_people)


def test_services_opened_after_the_log_have_no_ratings(world):
    """New services exist (the cold-start case) and, having opened late, were never rated."""
    new = set(world.opened_after_log())
    assert new
    assert new.isdisjoint(world.ratings["service_id"])
    rows = [i for i, sid in enumerate(world.catalogue.ids()) if sid in new]
    assert (world.new_relevance[:, rows] > 3).any()  # they can still be what someone needs


def test_ratings_are_a_noisy_function_of_true_relevance(world):
    """Practitioners' ratings track the true relevance closely but not exactly."""
    row_of = world.catalogue.index()
    active = {s.id for s in world.catalogue if s.is_active}
    sample = world.ratings[world.ratings["service_id"].isin(active)].head(1500)
    by_person = {pid: world.true_relevance(pid) for pid in sample["person_id"].unique()}
    truth = np.array(
        [
            by_person[pid][row_of[sid]]
            for pid, sid in zip(sample["person_id"], sample["service_id"], strict=True)
        ]
    )
    r = np.corrcoef(truth, sample["rating"].to_numpy())[0, 1]
    assert 0.6 < r < 0.98
    assert np.abs(truth - sample["rating"].to_numpy()).mean() > 0.2


def test_knowable_relevance_leaves_out_only_individual_taste(world):
    """The feature-only ceiling differs from true relevance, but closely follows it."""
    person = world.new_people[0]
    true, knowable = world.true_relevance(person), world.knowable_relevance(person)
    assert not np.allclose(true, knowable)
    assert np.array_equal(true == 1.0, knowable == 1.0)  # same eligibility
    assert np.corrcoef(true, knowable)[0, 1] > 0.8


def test_utility_parts_sum_to_the_knowable_relevance(world):
    """The parts of utility add up to what knowable relevance squashes (where eligible), and
    each part is what its name says: the needs part is the fixed penalty exactly where the
    service meets none of the person's true needs, quality is the service's own."""
    from vcsmatch.synthetic import UTILITY_PARTS
    from vcsmatch.synthetic._world import W_NO_NEED, _expected_rating

    for person in world.new_people[:10]:
        parts = world.utility_parts(person)
        assert tuple(parts) == UTILITY_PARTS
        total = np.sum([parts[name] for name in UTILITY_PARTS], axis=0)
        knowable = world.knowable_relevance(person)
        eligible = knowable != 1.0
        assert np.allclose(_expected_rating(total)[eligible], knowable[eligible])
        assert np.array_equal(parts["quality"], world.service_quality)
        row = world._rows[person.reference]
        meets = (world._people.needs[row] & world._services.needs).any(axis=1)
        assert np.array_equal(parts["needs"] == W_NO_NEED, ~meets)
        assert (parts["distance"] <= 0).all()
    with pytest.raises(NotFoundError):
        world.utility_parts("someone-else")


def test_ratings_exist_only_for_what_the_old_tool_showed(world):
    """Every rating is of a shown service; each located person was shown their nearest ones."""
    shown = world.impressions
    rated = world.ratings.merge(shown, on=["person_id", "service_id"], how="left")
    assert rated["rated"].eq(True).all()
    assert shown["rated"].sum() == len(world.ratings)
    assert 0.75 < shown["rated"].mean() < 0.95  # most, not all, of what was shown got rated
    # For a person with coordinates, the nearest eligible service with a place was shown.
    flt = EligibilityFilter().fit(world.catalogue)
    cat = world.catalogue
    lat = np.array([s.locations[0].latitude if s.locations else np.nan for s in cat])
    lon = np.array([s.locations[0].longitude if s.locations else np.nan for s in cat])
    by_person = shown.groupby("person_id")["service_id"].apply(set)
    ids = np.array(cat.ids())
    opened = world.opened_at().to_numpy()
    when = shown.groupby("person_id")["shown_at"].first()
    checked = 0
    for person in world.people[:80]:
        if person.latitude is None or person.reference not in by_person:
            continue
        ok = flt.check(person, (person.latitude, person.longitude)).eligible
        ok &= ~np.isnan(lat) & ~(opened > when[person.reference])
        d = np.where(ok, haversine_km(person.latitude, person.longitude, lat, lon), np.inf)
        assert ids[int(np.argmin(d))] in by_person[person.reference]
        checked += 1
    assert checked > 30


def test_referrals_come_from_ratings_and_their_outcomes_follow_the_rating(world, tmp_path):
    """Every referral is of a rated suggestion, dated when it was rated; higher ratings are
    referred more often and end attended more often; declines carry a reason, nothing else
    does; write() puts them in referrals.csv."""
    from vcsmatch.store.referrals import DECLINE_REASONS, STATUSES

    refs = world.referrals
    assert len(refs) > 0
    rated = world.ratings.set_index(["person_id", "service_id"])
    joined = refs.join(rated, on=["person_id", "service_id"], how="left")
    assert joined["rating"].notna().all()
    assert (joined["referred_at"] == joined["rated_at"]).all()
    assert set(refs["status"]) <= set(STATUSES)
    declined = refs["status"] == "declined"
    assert set(refs.loc[declined, "reason"]) <= set(DECLINE_REASONS)
    assert (refs.loc[~declined, "reason"] == "").all()
    share = joined.groupby("rating").size() / world.ratings.groupby("rating").size()
    assert share[5] > share[3] > share[1]
    attended = joined.assign(a=joined["status"] == "attended").groupby(joined["rating"] >= 4)["a"]
    assert attended.mean()[True] > attended.mean()[False]
    paths = world.write(tmp_path)
    assert len(pd.read_csv(paths["referrals"])) == len(refs)
