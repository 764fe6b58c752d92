# ruff: noqa: F811 - the fixture imported from test_web_security is a test argument here
"""Regression tests for issue 17's web findings, each named after its finding (over real HTTP
through the ASGI app; each failed on the code before the fix)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from test_web_security import client  # noqa: F401 - the same fresh-browser client
from web_helpers import CHROMIUM, CHROMIUM_ARGS, WebWorld, signed_in, token

from vcsmatch.store import api_keys
from vcsmatch.store.db import open_store
from vcsmatch.store.tables import WebSessionRow


def _works(client: TestClient, cookie: str) -> bool:
    client.cookies.clear()
    client.cookies.set("vcsmatch_session", cookie)
    return client.get("/search", follow_redirects=False).status_code == 200


def test_finding7_a_copied_cookie_stops_working_at_sign_out(
    client: TestClient, web_world: WebWorld
):
    signed_in(client, web_world.front_door_key)
    copy = client.cookies.get("vcsmatch_session")
    page = client.get("/search")
    out = client.post("/sign-out", data={"csrf_token": token(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert not _works(client, copy)


def test_finding7_a_session_ends_after_idle_time(client: TestClient, web_world: WebWorld):
    signed_in(client, web_world.front_door_key)
    cookie = client.cookies.get("vcsmatch_session")
    assert _works(client, cookie)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(
        seconds=web_world.settings.web_session_idle_seconds + 60
    )
    with open_store(web_world.settings)() as session:
        session.execute(update(WebSessionRow).values(last_seen_at=long_ago))
        session.commit()
    assert not _works(client, cookie)


def test_finding7_revoking_the_key_ends_its_sessions(client: TestClient, web_world: WebWorld):
    with open_store(web_world.settings)() as session:
        plaintext, record = api_keys.create_key(session, "practitioner", "to be revoked")
    signed_in(client, plaintext)
    cookie = client.cookies.get("vcsmatch_session")
    assert _works(client, cookie)
    with open_store(web_world.settings)() as session:
        api_keys.revoke_key(session, record.id)
        ended = session.query(WebSessionRow).filter_by(key_id=record.id).all()
    assert ended and all(row.ended_at is not None for row in ended)
    assert not _works(client, cookie)


@pytest.fixture(scope="module")
def bfcache_browser(playwright_driver: Any) -> Iterator[object]:
    """Chromium with its back-forward cache ON (Playwright turns it off by default)."""
    instance = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[*CHROMIUM_ARGS, "--enable-features=BackForwardCache"],
        ignore_default_args=["--disable-back-forward-cache"],
    )
    try:
        yield instance
    finally:
        instance.close()


def test_finding8_back_after_sign_out_shows_no_personal_data(
    bfcache_browser: Any, live_server: str, web_world: WebWorld
):
    context = bfcache_browser.new_context(base_url=live_server)
    try:
        page = context.new_page()
        page.goto("/")
        page.get_by_label("API key").fill(web_world.practitioner_key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/search")
        page.get_by_role("link", name="Suggest for a person").click()
        page.get_by_label("Postcode").fill(web_world.postcode)
        page.get_by_label("Age (optional)").fill("78")
        page.get_by_label("Social isolation and loneliness").check()
        page.get_by_role("button", name="Get suggestions").click()
        page.wait_for_url(re.compile(r".*/suggestions/[0-9a-f]{32}$"))
        assert page.locator(".app-result").count() >= 1
        suggestions = page.url
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/sign-in*")
        page.go_back()
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)  # a restored page's reload has started by now
        page.wait_for_load_state("load")
        assert page.locator(".app-result").count() == 0, page.url
        assert "78" not in page.locator("main").inner_text()
        assert page.url != suggestions or "Sign in" in page.content()
    finally:
        context.close()


def test_finding9_unknown_page_is_an_html_404_for_browsers(client: TestClient):
    page = client.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    api = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


def test_finding9_static_files_are_gzipped(client: TestClient):
    plain = client.get("/static/govuk-frontend.min.js", headers={"Accept-Encoding": "identity"})
    packed = client.get("/static/govuk-frontend.min.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # httpx decodes: the same file
    assert int(packed.headers["content-length"]) < len(plain.content) / 3
    assert "accept-encoding" in packed.headers["vary"].lower()


def test_finding9_example_postcodes_in_hints_are_known() -> None:
    """Every example postcode the pages and their errors offer ("like IP4 1AE") is one the
    packaged postcode data knows: a user who types the example is not refused."""
    import re

    from vcsmatch.features.location import get_postcode_directory
    from vcsmatch.paths import REPO_ROOT

    web = REPO_ROOT / "api" / "web"
    texts = [p.read_text(encoding="utf-8") for p in (web / "templates").glob("*.html")]
    texts.append((web / "forms.py").read_text(encoding="utf-8"))
    examples = {
        m.group(1)
        for text in texts
        for m in re.finditer(r"like ([A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2})\b", text)
    }
    assert examples, "no example postcode found in the pages"
    directory = get_postcode_directory()
    for postcode in sorted(examples):
        assert directory.lookup(postcode) is not None, postcode
