"""Stale listings through the real app: beyond ``stale_after_months`` a suggestion is demoted
below every fresh one and says "last checked N months ago"."""

from __future__ import annotations

import datetime as dt

from api_helpers import Seed

from vcsmatch.staleness import months_since


def test_stale_suggestions_are_demoted_with_their_reason(fresh_seed: Seed, start_app) -> None:
    """The synthetic world's listings were reviewed in the first half of 2026; with the
    setting at 8 months some are stale: they come last, with their reason, and no score rises
    down the list."""
    after = 8
    client = start_app(fresh_seed.settings.model_copy(update={"stale_after_months": after}))
    services = {s.id: s for s in fresh_seed.world.catalogue}
    today = dt.date.today()
    seen_stale = 0
    for person in fresh_seed.world.new_people[:6]:
        body = {**person.model_dump(mode="json", exclude_none=True), "top_k": 10}
        answer = client.post(
            "/v1/recommendations", json=body, headers=fresh_seed.auth("practitioner")
        ).json()
        flags = []
        for s in answer["suggestions"]:
            months = months_since(services[s["service_id"]].last_reviewed, today)
            stale = [r["text"] for r in s["reasons"] if r["kind"] == "stale"]
            assert stale == ([f"last checked {months} months ago"] if months >= after else [])
            flags.append(bool(stale))
        assert flags == sorted(flags)  # every stale one after every fresh one
        seen_stale += sum(flags)
        scores = [s["score"] for s in answer["suggestions"]]
        assert scores == sorted(scores, reverse=True)
        assert [s["rank"] for s in answer["suggestions"]] == list(range(1, len(scores) + 1))
    assert seen_stale > 0


def test_stale_search_results_come_last_with_their_reason(fresh_seed: Seed, start_app) -> None:
    """Catalogue search with the setting at 8 months: the same matches as with staleness
    ignored (the setting at 1000), fresh ones first and stale ones after, each group in its
    own order, and each stale one says "last checked N months ago" last among its reasons."""
    services = {s.id: s for s in fresh_seed.world.catalogue}
    person = next(p for p in fresh_seed.world.new_people if p.postcode)
    url = f"/v1/services?postcode={person.postcode}&radius_km=50&size=100"
    headers = fresh_seed.auth("front_door")
    settings = fresh_seed.settings
    lenient = start_app(settings.model_copy(update={"stale_after_months": 1000}))
    plain = lenient.get(url, headers=headers).json()["contents"]
    strict = start_app(settings.model_copy(update={"stale_after_months": 8}))
    demoted = strict.get(url, headers=headers).json()["contents"]
    today = dt.date.today()

    def months(hit: dict) -> int:
        return months_since(services[hit["service"]["id"]].last_reviewed, today)

    assert sorted(h["service"]["id"] for h in plain) == sorted(h["service"]["id"] for h in demoted)
    flags = [months(h) >= 8 for h in demoted]
    assert any(flags) and not all(flags)
    assert flags == sorted(flags)
    for stale in (False, True):
        assert [h["service"]["id"] for h in demoted if (months(h) >= 8) is stale] == [
            h["service"]["id"] for h in plain if (months(h) >= 8) is stale
        ]
    for hit in demoted:
        reason = f"last checked {months(hit)} months ago"
        assert (hit["why"][-1] == reason) is (months(hit) >= 8)
        assert (
            reason
            not in next(h for h in plain if h["service"]["id"] == hit["service"]["id"])["why"]
        )
