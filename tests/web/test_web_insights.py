"""The managers' dashboard over real HTTP through the ASGI app: manager keys only, the same
counts as ``/v1/insights`` with small ones suppressed, a chart and a table for each."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_helpers import WebWorld, make_referrals, new_key, signed_in, token


def test_dashboard_shows_the_insights_to_managers_only(
    app_client: TestClient, web_world: WebWorld
) -> None:
    """A manager signs in onto the dashboard; 12 referrals by one team show as 12, split by
    service they are suppressed; each insight has a chart and a table; a practitioner gets
    403 and a signed-out browser the sign-in page."""
    team = "insights web team"
    practitioner = new_key(web_world, "practitioner", team)
    manager = new_key(web_world, "manager", "insights web manager")
    make_referrals(app_client, practitioner, web_world.postcode, 12)

    app_client.cookies.clear()
    assert app_client.get("/insights", follow_redirects=False).headers["location"] == "/sign-in"
    signed_in(app_client, web_world.practitioner_key)
    assert app_client.get("/insights").status_code == 403

    app_client.cookies.clear()
    page = app_client.get("/sign-in")
    landed = app_client.post("/sign-in", data={"csrf_token": token(page.text), "api_key": manager})
    assert landed.status_code == 200 and landed.url.path == "/insights"
    html = app_client.get("/insights?by=team").text
    api = app_client.get(
        "/v1/insights/referrals?by=team", headers={"Authorization": f"Bearer {manager}"}
    ).json()
    mine = next(r for r in api["data"] if r["group"] == team)
    assert mine["count"] >= 12
    row = re.search(rf">{team}</th><td[^>]*>(\d+)</td>", html)
    assert row is not None and int(row.group(1)) == mine["count"]
    assert html.count("<svg") == 4 and html.count("<table") == 4
    for heading in ("Referrals", "Services discovered", "Gaps in provision", "Listings to check"):
        assert f">{heading}</h2>" in html
    by_service = app_client.get("/insights?by=service").text
    table = by_service.split('id="referrals"')[1].split('id="discovered"')[0]
    rows = app_client.get(
        "/v1/insights/referrals?by=service", headers={"Authorization": f"Bearer {manager}"}
    ).json()["data"]
    hidden = sum((r["count"] is None) + (r["accepted_or_attended"] is None) for r in rows)
    assert hidden > 0 and table.count("suppressed: </span>fewer than 10") == hidden
    assert app_client.get("/insights?by=person").status_code == 200  # unknown: by week
