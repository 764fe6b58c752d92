"""Insight endpoints on a synthetic world, for a manager key: counts only, and every count
under 10 suppressed (null), in JSON and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

from api_helpers import Seed
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from vcsmatch.staleness import months_since
from vcsmatch.store import api_keys
from vcsmatch.store.db import open_store
from vcsmatch.store.tables import RecommendationRequestRow, ReferralRow


def _manager(seed: Seed) -> dict[str, str]:
    with open_store(seed.settings)() as session:
        plaintext, _ = api_keys.create_key(session, "manager", "commissioning")
    return {"Authorization": f"Bearer {plaintext}"}


def _refer(client: TestClient, seed: Seed, n: int) -> list[str]:
    """``n`` requests, each referred to its first suggestion; returns the services referred."""
    owner = seed.auth("practitioner")
    services = []
    for i in range(n):
        person = seed.world.new_people[i % len(seed.world.new_people)]
        answer = client.post(
            "/v1/recommendations",
            json={**person.model_dump(mode="json", exclude_none=True), "top_k": 3},
            headers=owner,
        ).json()
        service_id = answer["suggestions"][0]["service_id"]
        made = client.post(
            "/v1/referrals",
            json={"request_id": answer["request_id"], "service_id": service_id},
            headers=owner,
        )
        assert made.status_code == 201, made.text
        services.append(service_id)
    return services


def test_referral_insights_count_and_suppress_small_numbers(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    manager = _manager(fresh_seed)
    assert (
        fresh_client.get(
            "/v1/insights/referrals", headers=fresh_seed.auth("practitioner")
        ).status_code
        == 403
    )
    services = _refer(fresh_client, fresh_seed, 4)
    week = fresh_client.get("/v1/insights/referrals?by=week", headers=manager).json()
    assert week["suppressed_below"] == 10
    assert [r["count"] for r in week["data"]] == [None]  # 4 referrals: too few to show

    services += _refer(fresh_client, fresh_seed, 8)
    week = fresh_client.get("/v1/insights/referrals?by=week", headers=manager).json()
    assert [r["count"] for r in week["data"]] == [12]
    team = fresh_client.get("/v1/insights/referrals?by=team", headers=manager).json()
    assert team["data"] == [
        {"group": "test practitioner", "count": 12, "accepted_or_attended": None}
    ]
    by_service = fresh_client.get("/v1/insights/referrals?by=service", headers=manager).json()
    expected = {s: services.count(s) for s in set(services)}
    for row in by_service["data"]:
        n = expected[row["group"]]
        assert row["count"] == (n if n >= 10 else None)
    by_need = fresh_client.get("/v1/insights/referrals?by=need", headers=manager).json()
    assert by_need["data"] and all(r["count"] is None or r["count"] >= 10 for r in by_need["data"])

    as_csv = fresh_client.get("/v1/insights/referrals?by=team&format=csv", headers=manager)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows == [{"group": "test practitioner", "count": "12", "accepted_or_attended": ""}]

    found = fresh_client.get("/v1/insights/discovered", headers=manager).json()
    assert all(r["count"] is None or r["count"] >= 10 for r in found["data"])
    assert fresh_client.get("/v1/insights/referrals?by=person", headers=manager).status_code == 422


def test_stale_lists_listings_beyond_the_setting(fresh_seed: Seed, start_app) -> None:
    """Listings reviewed 8 or more months ago (the setting), oldest first; the rest not."""
    client = start_app(fresh_seed.settings.model_copy(update={"stale_after_months": 8}))
    response = client.get("/v1/insights/stale", headers=_manager(fresh_seed))
    assert response.status_code == 200, response.text
    body = response.json()
    today = dt.date.today()
    expected = {
        s.id
        for s in fresh_seed.world.catalogue
        if s.last_reviewed is None or months_since(s.last_reviewed, today) >= 8
    }
    assert {r["service_id"] for r in body["data"]} == expected
    assert body["count"] == len(expected) > 0
    months = [r["months"] for r in body["data"] if r["months"] is not None]
    assert months == sorted(months, reverse=True) and all(m >= 8 for m in months)
    assert len(expected) < len(fresh_seed.world.catalogue)


def test_months_since_counts_whole_months() -> None:
    assert months_since(dt.date(2025, 10, 15), dt.date(2026, 12, 14)) == 13
    assert months_since(dt.date(2025, 10, 15), dt.date(2026, 12, 15)) == 14


def _ask(client: TestClient, seed: Seed, body: dict, top_k: int = 3) -> dict:
    answer = client.post(
        "/v1/recommendations", json={**body, "top_k": top_k}, headers=seed.auth("practitioner")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_gaps_count_demand_provision_and_unmet_per_need_and_district(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """13 requests for one need from one district: counted, with the services in reach that
    meet the need (as the API's own full ranking finds them) and the 12 requests with nothing
    rated relevant; 3 requests from another district are suppressed; only the outward code
    of a postcode is logged."""
    manager = _manager(fresh_seed)
    assert (
        fresh_client.get("/v1/insights/gaps", headers=fresh_seed.auth("analyst")).status_code == 200
    )
    assert (
        fresh_client.get("/v1/insights/gaps", headers=fresh_seed.auth("practitioner")).status_code
        == 403
    )
    world = fresh_seed.world
    with_postcode = [p for p in world.new_people if p.postcode and p.needs]
    person = with_postcode[0]
    other = next(p for p in with_postcode if p.postcode.split()[0] != person.postcode.split()[0])
    need = person.needs[0]
    body = {"postcode": person.postcode, "age": 70, "sex": "female", "needs": [need]}
    answers = [_ask(fresh_client, fresh_seed, body) for _ in range(13)]
    other_body = {"postcode": other.postcode, "age": 40, "needs": [need]}
    for _ in range(3):
        _ask(fresh_client, fresh_seed, other_body)
    practitioner = fresh_seed.auth("practitioner")
    for answer, rating in zip(answers[:2], (5, 1), strict=True):
        rated = fresh_client.post(
            "/v1/ratings",
            json={
                "request_id": answer["request_id"],
                "service_id": answer["suggestions"][0]["service_id"],
                "rating": rating,
            },
            headers=practitioner,
        )
        assert rated.status_code == 201, rated.text

    everything = _ask(fresh_client, fresh_seed, body, top_k=100)  # the 14th request; 60 services
    meets = {s.id for s in world.catalogue if need in s.all_needs}
    assert meets
    expected_reach = sum(s["service_id"] in meets for s in everything["suggestions"])

    response = fresh_client.get(
        "/v1/insights/gaps?high_demand_at=10&thin_at_most=1000", headers=manager
    )
    assert response.status_code == 200, response.text
    rows = {(r["need"], r["district"]): r for r in response.json()["data"]}
    district = person.postcode.split()[0]
    assert rows[(need, district)] == {
        "need": need,
        "district": district,
        "requests": 14,
        "services_in_reach": expected_reach,
        "none_relevant": 13,
        "flagged": True,
    }
    assert rows[(need, other.postcode.split()[0])] == {
        "need": need,
        "district": other.postcode.split()[0],
        "requests": None,
        "services_in_reach": None,
        "none_relevant": None,
        "flagged": False,
    }
    thin = fresh_client.get(
        f"/v1/insights/gaps?high_demand_at=10&thin_at_most={max(expected_reach - 1, 0)}",
        headers=manager,
    ).json()
    flagged = {(r["need"], r["district"]): r["flagged"] for r in thin["data"]}
    assert flagged[(need, district)] is (expected_reach == 0)
    not_high = fresh_client.get(
        "/v1/insights/gaps?high_demand_at=15&thin_at_most=1000", headers=manager
    ).json()
    assert not any(r["flagged"] for r in not_high["data"])

    as_csv = fresh_client.get("/v1/insights/gaps?high_demand_at=10&format=csv", headers=manager)
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {"need": need, "district": district, "requests": "14"}.items() <= next(
        r for r in table if r["district"] == district and r["need"] == need
    ).items()
    assert (
        fresh_client.get("/v1/insights/gaps?high_demand_at=3", headers=manager).status_code == 422
    )

    with open_store(fresh_seed.settings)() as session:
        stored = {
            d for (d,) in session.execute(text("SELECT district FROM recommendation_requests"))
        }
    assert stored == {district, other.postcode.split()[0]}


def test_since_and_until_keep_insights_to_a_period(
    fresh_client: TestClient, fresh_seed: Seed
) -> None:
    """22 requests for one need from one district, each referred; 11 of them (requests and
    referrals) moved to 5 March 2025. ``since``/``until`` (UTC days, both included) count
    only the period's on referrals, discovered and gaps; bad or reversed dates are 422s."""
    manager = _manager(fresh_seed)
    person = next(p for p in fresh_seed.world.new_people if p.postcode and p.needs)
    need, district = person.needs[0], person.postcode.split()[0]
    body = {"postcode": person.postcode, "age": 70, "needs": [need]}
    asked, referred = [], []
    for _ in range(22):
        answer = _ask(fresh_client, fresh_seed, body)
        made = fresh_client.post(
            "/v1/referrals",
            json={
                "request_id": answer["request_id"],
                "service_id": answer["suggestions"][0]["service_id"],
            },
            headers=fresh_seed.auth("practitioner"),
        )
        assert made.status_code == 201, made.text
        asked.append(answer["request_id"])
        referred.append(answer["suggestions"][0]["service_id"])
    then = dt.datetime(2025, 3, 5, 23, 30, tzinfo=dt.UTC)
    with open_store(fresh_seed.settings)() as session:
        for table in (RecommendationRequestRow, ReferralRow):
            session.execute(
                update(table).where(table.request_id.in_(asked[:11])).values(created_at=then)
            )
        session.commit()
    today = dt.datetime.now(dt.UTC).date().isoformat()

    def get(path: str) -> dict:
        response = fresh_client.get(path, headers=manager)
        assert response.status_code == 200, response.text
        return response.json()

    def team_count(query: str) -> int | None:
        rows = get(f"/v1/insights/referrals?by=team{query}")["data"]
        return rows[0]["count"] if rows else 0

    assert team_count("") == 22
    assert team_count(f"&since={today}") == 11
    assert team_count("&since=2025-03-05&until=2025-03-05") == 11
    assert team_count("&until=2025-03-04") == 0
    assert [r["group"] for r in get("/v1/insights/referrals?by=week&until=2025-12-31")["data"]] == [
        "2025-W10"
    ]

    def demand(query: str) -> int | None:
        path = f"/v1/insights/gaps?high_demand_at=10&thin_at_most=1000{query}"
        rows = {(r["need"], r["district"]): r for r in get(path)["data"]}
        return rows[(need, district)]["requests"] if (need, district) in rows else 0

    assert demand("") == 22
    assert demand(f"&since={today}") == 11
    assert demand("&until=2025-03-05") == 11
    assert demand("&until=2025-03-04") == 0

    months = {r["group"].rsplit(" ", 1)[1] for r in get("/v1/insights/discovered")["data"]}
    assert "2025-03" in months
    later = set(referred[11:]) - set(referred[:11])  # first referred to today
    assert bool(get(f"/v1/insights/discovered?since={today}")["data"]) is bool(later)
    march = get("/v1/insights/discovered?until=2025-03-05")["data"]
    assert [r["group"].rsplit(" ", 1)[1] for r in march] == ["2025-03"]

    for path in ("referrals", "discovered", "gaps"):
        for query in (
            "since=2025-13-01",
            "since=2025-02-30",
            "until=yesterday",
            "until=0",  # a number is not a date (a plain date parameter took it as 1970-01-01)
            "since=2025-03-06&until=2025-03-05",
        ):
            response = fresh_client.get(f"/v1/insights/{path}?{query}", headers=manager)
            assert response.status_code == 422, (path, query, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            field = response.json()["errors"][0]["field"]
            assert field in ("since", "until", "query.since", "query.until"), field
