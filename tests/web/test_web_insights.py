"""The managers' dashboard over real HTTP through the ASGI app: manager keys only, the same
counts as ``/v1/insights`` with small ones suppressed, a chart and a table for each."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_helpers import WebWorld, make_referrals, new_key, signed_in, token

from api.main import create_app
from api.web.insights import MAX_BARS


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


def _svgs(html: str) -> dict[str, str]:
    """Each chart's SVG by its id (``chart-referrals`` ...)."""
    pattern = r'<svg role="img" aria-labelledby="(chart-\w+)-title".*?</svg>'
    return {m.group(1): m.group(0) for m in re.finditer(pattern, html, flags=re.S)}


def test_dashboard_charts_read_without_colour_and_say_what_is_hidden(
    app_client: TestClient, web_world: WebWorld
) -> None:
    """Every bar carries its figure as text; a suppressed count is written "fewer than 10"
    with no bar drawn; each chart's title is visible above it; under each table a note counts
    its hidden figures; the listings to check name each listing's directory id."""
    practitioner = new_key(web_world, "practitioner", "colourless web team")
    manager = new_key(web_world, "manager", "colourless web manager")
    make_referrals(app_client, practitioner, web_world.postcode, 11)
    few = new_key(web_world, "practitioner", "colourless small team")
    make_referrals(app_client, few, web_world.postcode, 3)
    app_client.cookies.clear()
    page = app_client.get("/sign-in")
    app_client.post("/sign-in", data={"csrf_token": token(page.text), "api_key": manager})
    html = app_client.get("/insights?by=team").text
    auth = {"Authorization": f"Bearer {manager}"}
    svgs = _svgs(html)
    assert set(svgs) == {"chart-referrals", "chart-discovered", "chart-gaps", "chart-stale"}
    for name, svg in svgs.items():
        title = re.search(r"<title[^>]*>(.*?)\. The table", svg).group(1)
        assert f'aria-hidden="true">{title}</figcaption>' in html, name
        # per bar: a label, a rect when there is a figure to draw, then the figure as text
        drawing = re.sub(r"<defs>.*?</defs>", "", svg, flags=re.S)  # the hatch pattern
        parts = re.findall(r"<(text|rect)[^>]*>([^<]*)", drawing)
        texts = [t for kind, t in parts if kind == "text"]
        assert len(texts) % 2 == 0, name
        figures = texts[1::2]
        assert all(f.strip() for f in figures), name
        drawn = [kind for kind, _ in parts].count("rect")
        hidden = sum(f.startswith(("fewer than 10", "never checked")) for f in figures)
        assert drawn == len(figures) - hidden, name
    rows = app_client.get("/v1/insights/referrals?by=team", headers=auth).json()["data"]
    chart_hidden = sum(r["count"] is None for r in rows[:MAX_BARS])
    assert chart_hidden > 0
    assert svgs["chart-referrals"].count(">fewer than 10<") == chart_hidden
    table_hidden = sum((r["count"] is None) + (r["accepted_or_attended"] is None) for r in rows)
    referrals = html.split('id="referrals"')[1].split('id="discovered"')[0]
    assert f"{table_hidden} figures in this table are hidden" in referrals
    # listings to check: with a one-month threshold the synthetic catalogue has some
    settings = web_world.settings.model_copy(update={"stale_after_months": 1})
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        page = client.get("/sign-in")
        client.post("/sign-in", data={"csrf_token": token(page.text), "api_key": manager})
        listings = client.get("/insights").text.split('id="stale"')[1]
        stale = client.get("/v1/insights/stale", headers=auth).json()["data"]
    assert stale
    for row in stale:
        assert f"<code>{row['service_id']}</code>" in listings


def test_a_gap_is_hatched_and_says_so_and_long_labels_keep_both_ends() -> None:
    from api.web.charts import LABEL_CHARS, bar_chart

    chart = bar_chart(
        "Requests",
        [("Loneliness, IP4", 40), ("Hospital discharge team (demo) 2025-03", None)],
        flagged=[True, False],
    )
    gap, hidden = chart.bars
    assert gap.flagged and gap.text == "40 (gap)" and gap.width > 0
    assert hidden.text == "fewer than 10" and hidden.width == 0
    assert len(hidden.label) == LABEL_CHARS
    assert hidden.label.startswith("Hospital") and hidden.label.endswith("2025-03")
