"""Catalogue search: ranked, typo- and synonym-tolerant text, hard filters, paging."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vcsmatch.catalogue.model import (
    Catalogue,
    Cost,
    Eligibility,
    Location,
    Schedule,
    Service,
    ServiceArea,
)
from vcsmatch.errors import NotFittedError, NotFoundError, UnknownCodeError
from vcsmatch.features.geo import haversine_km
from vcsmatch.search import CatalogueSearch, SearchQuery, tokenize

#: A point in Hackney (E5) the hand-built services sit around.
HOME = (51.5560, -0.0560)


def _square(lat: float, lon: float, half: float) -> dict:
    """A GeoJSON square around a point (GeoJSON order: lon, lat)."""
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _at(lat: float, lon: float) -> list[Location]:
    return [Location(latitude=lat, longitude=lon)]


CATALOGUE = Catalogue(
    services=[
        Service(
            id="memory-cafe",
            name="Clapton Memory Café",
            description="A friendly dementia café for people living with memory loss and "
            "their carers. Tea, music and a chat.",
            organisation="Hackney Dementia Alliance",
            needs=["dementia", "social-isolation"],
            activities=["music"],
            delivery_modes=["in_person"],
            locations=_at(51.5580, -0.0550),
            schedules=[Schedule(weekdays=["TU"])],
            cost=Cost(free=True),
        ),
        Service(
            id="befriending",
            name="Good Neighbours Befriending",
            description="A volunteer visits or rings you every week for a cup of tea.",
            organisation="Good Neighbours",
            needs=["social-isolation"],
            delivery_modes=["home_visit", "phone"],
            cost=Cost(free=True),
            schedules=[Schedule(weekdays=["MO", "TH"])],
        ),
        Service(
            id="walking-women",
            name="Women's Walking Group",
            description="Gentle walks in the park, all paces welcome.",
            needs=["physical-activity"],
            activities=["walking"],
            eligibility=Eligibility(sex="female"),
            delivery_modes=["in_person"],
            locations=_at(51.5700, -0.0900),
            schedules=[Schedule(weekdays=["SA"])],
            cost=Cost(free=True),
        ),
        Service(
            id="lunch-club",
            name="Over 65s Lunch Club",
            description="A hot two-course lunch and good company.",
            needs=["nutrition", "social-isolation"],
            eligibility=Eligibility(min_age=65),
            delivery_modes=["in_person"],
            locations=_at(51.5500, -0.0600),
            schedules=[Schedule(weekdays=["MO", "WE", "FR"])],
            cost=Cost(free=False, description="£4.50 a meal"),
        ),
        Service(
            id="carers-centre",
            name="Hertfordshire Carers Centre",
            description="Advice, breaks and groups for unpaid carers.",
            needs=["carer-support"],
            delivery_modes=["in_person"],
            locations=_at(51.7500, -0.3400),
            cost=Cost(free=True),
        ),
        Service(
            id="closed-dementia-group",
            name="Dementia Support Group",
            description="A peer support group for people with dementia.",
            status="inactive",
            needs=["dementia"],
            delivery_modes=["in_person"],
            locations=_at(51.5561, -0.0561),
        ),
        Service(
            id="digital-dropin",
            name="Tablet Help Online",
            description="Learn to use a tablet and make video calls, from home.",
            needs=["digital-inclusion"],
            delivery_modes=["online"],
            cost=Cost(free=True),
        ),
        Service(
            id="handyperson",
            name="Handyperson Service",
            description="Small repairs and grab rails fitted in your home.",
            needs=["home-safety"],
            delivery_modes=["home_visit"],
            service_areas=[ServiceArea(name="Hackney", geometry=_square(*HOME, 0.05))],
        ),
        Service(
            id="two-sites",
            name="Community Garden Project",
            description="Grow vegetables with neighbours at our two gardens.",
            activities=["gardening"],
            inferred_needs=["social-isolation"],
            delivery_modes=["in_person"],
            locations=[
                Location(latitude=51.9000, longitude=-0.5000),
                Location(latitude=51.5600, longitude=-0.0500),
            ],
        ),
    ]
)


@pytest.fixture(scope="module")
def index() -> CatalogueSearch:
    return CatalogueSearch().fit(CATALOGUE)


def _ids(page) -> list[str]:
    return [h.service.id for h in page.contents]


def test_typo_in_free_text_still_finds_the_dementia_cafe(index: CatalogueSearch) -> None:
    """ "demntia cafe" ranks the memory café first and says how it read the typo."""
    page = index.search(SearchQuery(text="demntia cafe"))
    assert _ids(page)[0] == "memory-cafe"
    assert page.corrections == {"demntia": "dementia"}
    top = page.contents[0]
    assert set(top.matched_terms) == {"dementia", "cafe"}
    assert any('you typed "demntia"' in w for w in top.why)


def test_synonym_lonely_finds_befriending_that_never_says_lonely(index: CatalogueSearch) -> None:
    """ "lonely" reaches services tagged social-isolation through the taxonomy's synonyms."""
    assert "lonely" not in CATALOGUE.get("befriending").description.lower()
    page = index.search(SearchQuery(text="lonely"))
    ids = _ids(page)
    assert "befriending" in ids and "lunch-club" in ids
    assert "carers-centre" not in ids and "digital-dropin" not in ids
    assert page.implied_needs == ("social-isolation",)
    hit = next(h for h in page.contents if h.service.id == "befriending")
    assert hit.matched_needs == ("social-isolation",)


def test_published_codes_outrank_inferred_ones(index: CatalogueSearch) -> None:
    """A service that publishes a need ranks above one whose need was only inferred."""
    ids = _ids(index.search(SearchQuery(needs=("social-isolation",), size=50)))
    assert set(ids) == {"memory-cafe", "befriending", "lunch-club", "two-sites"}
    assert ids[-1] == "two-sites"


def test_text_that_matches_nothing_returns_an_empty_page(index: CatalogueSearch) -> None:
    """Words no service uses give no results rather than the whole catalogue."""
    page = index.search(SearchQuery(text="xylophone zeppelin"))
    assert (page.total_items, page.total_pages, page.contents) == (0, 0, [])


def test_inactive_services_are_hidden_unless_asked_for(index: CatalogueSearch) -> None:
    """Active only is the default; turning it off shows closed services too."""
    assert "closed-dementia-group" not in _ids(index.search(SearchQuery(text="dementia")))
    shown = _ids(index.search(SearchQuery(text="dementia", active_only=False)))
    assert "closed-dementia-group" in shown


def test_need_filter_keeps_only_services_with_that_need(index: CatalogueSearch) -> None:
    """needs=("dementia",) returns exactly the active services carrying the code."""
    page = index.search(SearchQuery(needs=("dementia",)))
    assert _ids(page) == ["memory-cafe"]
    assert page.contents[0].matched_needs == ("dementia",)


def test_unknown_need_code_is_refused_by_name(index: CatalogueSearch) -> None:
    """A code outside the taxonomy raises UnknownCodeError naming the code."""
    with pytest.raises(UnknownCodeError, match="no-such-need"):
        index.search(SearchQuery(needs=("no-such-need",)))


def test_location_search_is_nearest_first_within_radius(index: CatalogueSearch) -> None:
    """With only a location, in-radius services come nearest first with true distances."""
    page = index.search(SearchQuery(latitude=HOME[0], longitude=HOME[1], radius_km=5, size=50))
    ids = _ids(page)
    assert "carers-centre" not in ids  # ~25 km away
    located = [h for h in page.contents if h.distance_km is not None and h.distance_km <= 5]
    assert [h.distance_km for h in located] == sorted(h.distance_km for h in located)
    cafe = next(h for h in page.contents if h.service.id == "memory-cafe")
    assert cafe.distance_km == pytest.approx(haversine_km(*HOME, 51.5580, -0.0550), rel=1e-6)


def test_service_with_two_sites_is_measured_to_the_nearer(index: CatalogueSearch) -> None:
    """A service with a far and a near location matches at the near one, listed once."""
    page = index.search(SearchQuery(latitude=HOME[0], longitude=HOME[1], radius_km=2, size=50))
    hits = [h for h in page.contents if h.service.id == "two-sites"]
    assert len(hits) == 1 and hits[0].distance_km < 1


def test_remote_services_included_only_when_flagged(index: CatalogueSearch) -> None:
    """Online and phone services reach everyone unless include_remote is off."""
    near = dict(latitude=HOME[0], longitude=HOME[1], radius_km=1)
    assert {"digital-dropin", "befriending"} <= set(_ids(index.search(SearchQuery(**near))))
    ids = _ids(index.search(SearchQuery(**near, include_remote=False)))
    assert "digital-dropin" not in ids and "befriending" not in ids


def test_service_area_covers_a_point_without_any_location(index: CatalogueSearch) -> None:
    """A home-visit service with a declared area matches inside it and not outside."""
    inside = index.search(SearchQuery(latitude=HOME[0], longitude=HOME[1], radius_km=1))
    assert "handyperson" in _ids(inside)
    outside = index.search(SearchQuery(latitude=52.2, longitude=0.12, radius_km=1))
    assert "handyperson" not in _ids(outside)


def test_age_filter_and_fact(index: CatalogueSearch) -> None:
    """Age 40 excludes the over-65s lunch club; age 70 keeps it and says why."""
    assert "lunch-club" not in _ids(index.search(SearchQuery(text="lunch", age=40)))
    hit = index.search(SearchQuery(text="lunch", age=70)).contents[0]
    assert hit.service.id == "lunch-club"
    assert "age 70 is within 65 and over" in hit.facts


def test_sex_filter_excludes_single_sex_services_for_others(index: CatalogueSearch) -> None:
    """A women-only group is hidden for a man and shown for a woman."""
    assert "walking-women" not in _ids(index.search(SearchQuery(text="walking", sex="male")))
    assert _ids(index.search(SearchQuery(text="walking", sex="female"))) == ["walking-women"]


def test_mode_free_and_weekday_filters(index: CatalogueSearch) -> None:
    """Delivery mode, free only and open-on-a-day each narrow to the right services."""
    assert set(_ids(index.search(SearchQuery(delivery_modes=("phone", "online"))))) == {
        "befriending",
        "digital-dropin",
    }
    free = set(_ids(index.search(SearchQuery(free_only=True, size=50))))
    assert "lunch-club" not in free and "memory-cafe" in free
    assert _ids(index.search(SearchQuery(open_on="TU"))) == ["memory-cafe"]


def test_pages_partition_the_full_ordering(index: CatalogueSearch) -> None:
    """Pages of 2 are consecutive slices of one full ordering, with a consistent envelope."""
    q = dict(latitude=HOME[0], longitude=HOME[1], radius_km=10)
    full = _ids(index.search(SearchQuery(**q, size=100)))
    pages = [index.search(SearchQuery(**q, size=2, page=p)) for p in (1, 2, 3, 4, 5)]
    assert all(p.total_items == len(full) for p in pages)
    assert pages[0].total_pages == -(-len(full) // 2)
    assert sum((_ids(p) for p in pages), []) == full
    past = index.search(SearchQuery(**q, size=2, page=99))
    assert past.contents == [] and past.page_number == 99


def test_query_validation_names_the_field() -> None:
    """Impossible ages and half a coordinate are refused before searching."""
    with pytest.raises(ValidationError, match="age"):
        SearchQuery(age=300)
    with pytest.raises(ValidationError, match="latitude and longitude"):
        SearchQuery(latitude=51.5)


def test_unfitted_search_raises_not_fitted() -> None:
    """Searching before fit is a NotFittedError, as for every vcsmatch model."""
    with pytest.raises(NotFittedError):
        CatalogueSearch().search(SearchQuery(text="tea"))


def test_get_returns_service_or_not_found(index: CatalogueSearch) -> None:
    """get() finds a service by id and raises NotFoundError for an unknown one."""
    assert index.get("handyperson").name == "Handyperson Service"
    with pytest.raises(NotFoundError):
        index.get("nope")


def test_page_serialises_to_the_hsds_envelope(index: CatalogueSearch) -> None:
    """to_dict() carries the envelope fields and JSON-ready hits."""
    d = index.search(SearchQuery(text="tea", size=1)).to_dict()
    assert {"total_items", "total_pages", "page_number", "size", "contents"} <= set(d)
    assert d["contents"][0]["service"]["id"]


queries = st.fixed_dictionaries(
    {
        "text": st.sampled_from([None, "tea", "lonely", "demntia", "walk", "lunch club"]),
        "needs": st.sampled_from([(), ("dementia",), ("social-isolation", "nutrition")]),
        "age": st.one_of(st.none(), st.integers(0, 120)),
        "sex": st.sampled_from([None, "female", "male", "another"]),
        "free_only": st.booleans(),
        "open_on": st.sampled_from([None, "MO", "TU", "SA"]),
        "active_only": st.booleans(),
        "size": st.integers(1, 20),
    },
    optional={"latitude": st.just(HOME[0])},
).map(lambda d: SearchQuery(**d, longitude=HOME[1] if "latitude" in d else None))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=queries)
def test_every_hit_satisfies_every_filter(index: CatalogueSearch, q: SearchQuery) -> None:
    """No query ever returns an ineligible, closed, paid or wrong-day service it filtered out."""
    page = index.search(q)
    assert len(page.contents) <= q.size
    for hit in page.contents:
        s = hit.service
        e = s.eligibility
        if q.age is not None:
            assert (e.min_age or 0) <= q.age <= (e.max_age if e.max_age is not None else 999)
        if q.sex in ("female", "male"):
            assert e.sex in (None, q.sex)
        if q.free_only:
            assert s.cost.free is True
        if q.active_only:
            assert s.is_active
        if q.open_on:
            assert any(q.open_on in sch.weekdays for sch in s.schedules)
        if q.needs:
            assert set(q.needs) & set(s.all_needs)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=80))
def test_any_text_searches_without_error(index: CatalogueSearch, text: str) -> None:
    """Arbitrary typed text (punctuation, accents, emoji, stop words) never raises."""
    page = index.search(SearchQuery(text=text, size=5))
    assert page.total_items >= len(page.contents)
    if tokenize(text):  # words search; text of stop words alone lists like no text
        assert all(h.score > 0 for h in page.contents)


def test_empty_catalogue_answers_empty_pages() -> None:
    """A catalogue with no services fits and answers every kind of query with nothing."""
    index = CatalogueSearch().fit(Catalogue(services=[]))
    for q in (
        SearchQuery(),
        SearchQuery(text="lunch"),
        SearchQuery(latitude=HOME[0], longitude=HOME[1]),
        SearchQuery(needs=("dementia",)),
    ):
        page = index.search(q)
        assert (page.total_items, page.contents) == (0, [])


@pytest.fixture(scope="module")
def county():
    from vcsmatch.synthetic import make_world

    world = make_world(n_services=400, n_people=20, n_new_people=0, seed=5)
    return world, CatalogueSearch().fit(world.catalogue)


def test_synthetic_county_typo_and_synonym_queries(county) -> None:
    """On the synthetic county, "demntia cafe" tops with dementia services and "lonely"
    with social-isolation ones."""
    world, index = county
    top = index.search(SearchQuery(text="demntia cafe", size=5)).contents
    assert top and all("dementia" in h.service.all_needs for h in top)
    lonely = index.search(SearchQuery(text="lonely", size=10)).contents
    assert lonely and all("social-isolation" in h.service.all_needs for h in lonely)


def test_synthetic_county_radius_is_exact(county) -> None:
    """Every located hit within a radius is truly within it, and none inside is missed."""
    world, index = county
    p = next(x for x in world.people if x.latitude is not None)
    page = index.search(
        SearchQuery(latitude=p.latitude, longitude=p.longitude, radius_km=8, size=1000)
    )
    got = {h.service.id for h in page.contents}
    for s in world.catalogue.services:
        if not s.is_active or not s.locations:
            continue
        d = min(
            haversine_km(p.latitude, p.longitude, loc.latitude, loc.longitude)
            for loc in s.locations
        )
        if d <= 8 - 1e-6:
            assert s.id in got
    for h in page.contents:
        if h.distance_km is not None and not h.service.reaches_remotely:
            assert h.distance_km <= 8 + 1e-6 or h.service.service_areas


def test_open_on_ignores_schedules_not_in_force() -> None:
    """A schedule that ended, or has not started, does not make a service open that day."""
    import datetime as dt

    today = dt.date.today()
    services = [
        Service(
            id="ended",
            name="Old Tuesday Club",
            schedules=[Schedule(weekdays=["TU"], valid_to=today - dt.timedelta(days=1))],
        ),
        Service(
            id="future",
            name="New Tuesday Club",
            schedules=[Schedule(weekdays=["TU"], valid_from=today + dt.timedelta(days=30))],
        ),
        Service(
            id="now",
            name="Tuesday Club",
            schedules=[Schedule(weekdays=["TU"], valid_from=today - dt.timedelta(days=30))],
        ),
        Service(id="daily", name="Daily Call", schedules=[Schedule(freq="DAILY")]),
    ]
    index = CatalogueSearch().fit(Catalogue(services=services))
    assert {h.service.id for h in index.search(SearchQuery(open_on="TU")).contents} == {
        "now",
        "daily",
    }
