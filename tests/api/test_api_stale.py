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
