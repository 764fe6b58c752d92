"""The web page's defences, over real HTTP through the ASGI app: headers, cookies, CSRF, roles,
revocation, and what reaches the URL."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from web_helpers import WebWorld, signed_in, token

from api.main import create_app
from vcsmatch.store import api_keys, audit, ratings_log
from vcsmatch.store.db import open_store


@pytest.fixture
def client(app_client: TestClient) -> TestClient:
    """The module's client with no cookies: a new browser."""
    app_client.cookies.clear()
    return app_client


def test_pages_send_security_headers(client: TestClient) -> None:
    """Every page has a CSP without inline script or style, frame denial, no-sniff, and may
    not be kept by shared caches."""
    for path in ("/sign-in", "/static/vcsmatch.css"):
        answer = client.get(path)
        csp = answer.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
    page = client.get("/sign-in")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "private, no-cache"
    assert "<script>" not in page.text and " style=" not in page.text


def test_session_cookie_is_httponly_lax_and_secure_over_https(web_world: WebWorld) -> None:
    """The cookie is HttpOnly and SameSite=Lax always, and Secure when served over https."""
    app = create_app(web_world.settings)
    with TestClient(app, base_url="http://testserver") as plain:
        cookie = plain.get("/sign-in").headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    with TestClient(app, base_url="https://testserver") as tls:
        cookie = tls.get("/sign-in").headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie


def test_api_key_stays_on_the_server(client: TestClient, web_world: WebWorld) -> None:
    """After sign-in neither the cookie nor any URL holds the API key or its hash."""
    page = client.get("/sign-in")
    answer = client.post(
        "/sign-in",
        data={"csrf_token": token(page.text), "api_key": web_world.front_door_key},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/search"
    cookie = answer.headers["set-cookie"]
    secret = web_world.front_door_key
    assert secret not in cookie and api_keys.hash_key(secret) not in cookie
    assert secret[4:20] not in cookie


def test_sign_in_without_its_csrf_token_is_refused(client: TestClient, web_world: WebWorld) -> None:
    """A sign-in form posted from elsewhere (no token, or another session's) does nothing."""
    other = token(client.get("/sign-in").text)
    client.cookies.clear()
    client.get("/sign-in")
    for forged in ("", other):
        answer = client.post(
            "/sign-in",
            data={"csrf_token": forged, "api_key": web_world.front_door_key},
            follow_redirects=False,
        )
        assert answer.status_code == 400
        assert "set-cookie" not in answer.headers


def test_posts_without_the_session_token_change_nothing(
    client: TestClient, web_world: WebWorld
) -> None:
    """Search and rating posts without the session's CSRF token are 400 and store nothing."""
    csrf = signed_in(client, web_world.practitioner_key)
    answer = client.post("/search", data={"text": "lunch", "csrf_token": "forged"})
    assert answer.status_code == 400 and "This form has expired" in answer.text

    made = client.post(
        "/suggest",
        data={"csrf_token": csrf, "action": "suggest", "postcode": web_world.postcode}
        | {"needs": ["social-isolation"]},
        follow_redirects=False,
    )
    assert made.status_code == 303
    request_id = made.headers["location"].rsplit("/", 1)[1]
    sessions = open_store(web_world.settings)
    with sessions() as s:
        before = ratings_log.count_ratings(s)
    page = client.get(made.headers["location"])
    service_id = re.search(r'name="service_id" value="([^"]+)"', page.text).group(1)
    forged = client.post(
        f"/suggestions/{request_id}/ratings",
        data={"csrf_token": "forged", "service_id": service_id, "rating": "5"},
    )
    assert forged.status_code == 400
    with sessions() as s:
        assert ratings_log.count_ratings(s) == before


def test_revoked_key_ends_its_web_session_at_once(client: TestClient, web_world: WebWorld) -> None:
    """Revoking the key signs its browser sessions out on their next request."""
    sessions = open_store(web_world.settings)
    with sessions() as s:
        key, record = api_keys.create_key(s, "front_door", "soon revoked")
    signed_in(client, key)
    assert client.get("/search", follow_redirects=False).status_code == 200
    with sessions() as s:
        api_keys.revoke_key(s, record.id)
    answer = client.get("/search", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"


def test_tampered_cookie_is_not_a_session(client: TestClient, web_world: WebWorld) -> None:
    """A cookie whose signature does not match is ignored (sent to sign in)."""
    signed_in(client, web_world.front_door_key)
    value = client.cookies.get("vcsmatch_session")
    tampered = value[:-2] + ("AA" if value[-2:] != "AA" else "BB")
    client.cookies.clear()
    client.cookies.set("vcsmatch_session", tampered)
    assert client.get("/search", follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set("vcsmatch_session", value)  # the genuine cookie still works
    assert client.get("/search", follow_redirects=False).status_code == 200
    client.cookies.clear()
    client.cookies.set("vcsmatch_session", tampered)
    answer = client.get("/search", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"


def test_roles_outside_the_page_cannot_sign_in(client: TestClient, web_world: WebWorld) -> None:
    """An analyst key is refused with a GOV.UK error, and no session is made."""
    page = client.get("/sign-in")
    answer = client.post(
        "/sign-in", data={"csrf_token": token(page.text), "api_key": web_world.analyst_key}
    )
    assert answer.status_code == 400
    assert 'href="#api_key"' in answer.text and "cannot use this page" in answer.text
    assert client.get("/search", follow_redirects=False).status_code == 303


def test_suggestions_are_visible_only_to_the_key_that_made_them(
    client: TestClient, web_world: WebWorld
) -> None:
    """Another practitioner's key gets a 404 for someone else's suggestions."""
    csrf = signed_in(client, web_world.practitioner_key)
    made = client.post(
        "/suggest",
        data={"csrf_token": csrf, "action": "suggest", "postcode": web_world.postcode}
        | {"needs": ["nutrition"]},
        follow_redirects=False,
    )
    location = made.headers["location"]
    assert client.get(location).status_code == 200
    sessions = open_store(web_world.settings)
    with sessions() as s:
        other, _ = api_keys.create_key(s, "practitioner", "another practitioner")
    client.cookies.clear()
    signed_in(client, other)
    assert client.get(location).status_code == 404


def test_web_actions_are_audited_without_form_values(
    client: TestClient, web_world: WebWorld
) -> None:
    """A web search leaves an audit entry with the route and count, not what was typed."""
    csrf = signed_in(client, web_world.front_door_key)
    client.post("/search", data={"csrf_token": csrf, "text": "sentinel-xyz lunch"})
    sessions = open_store(web_world.settings)
    with sessions() as s:
        entry = audit.recent(s, limit=1)[0]
    assert (entry.method, entry.route_template, entry.status) == ("POST", "/search", 200)
    assert "sentinel" not in repr(entry)


def test_static_serves_only_built_files(client: TestClient) -> None:
    """Built assets come with their types; anything else under /static is a 404."""
    js = client.get("/static/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    for path in ("/static/..%2Fpages.py", "/static/missing.css", "/static/%2e%2e"):
        assert client.get(path).status_code == 404


def test_sign_out_clears_the_browser_cache(client: TestClient, web_world: WebWorld) -> None:
    """Signing out ends the cookie and tells the browser to drop cached pages of this site."""
    csrf = signed_in(client, web_world.front_door_key)
    answer = client.post("/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["clear-site-data"] == '"cache"'
    assert "max-age=0" in answer.headers["set-cookie"].lower()
    assert client.get("/search", follow_redirects=False).headers["location"] == "/sign-in"


def test_committed_assets_match_their_sources() -> None:
    """The shipped static files are the build of frontend/ (rebuild with frontend/build.sh)."""
    import json

    from vcsmatch.paths import REPO_ROOT

    static = REPO_ROOT / "api" / "web" / "static"
    src = REPO_ROOT / "frontend"
    assert (static / "app.js").read_text() == (src / "src" / "app.js").read_text()
    wanted = json.loads((src / "package.json").read_text())["devDependencies"]["govuk-frontend"]
    assert (static / "VERSION.txt").read_text().strip() == f"govuk-frontend {wanted}"
    assert "govuk-" in (static / "vcsmatch.css").read_text()[:100_000]


def test_web_actions_share_the_keys_rate_limit(web_world: WebWorld) -> None:
    """Searches from the page count against the key's per-minute limit: 429 past it."""
    settings = web_world.settings.model_copy(update={"rate_limit_per_minute": 3})
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        csrf = signed_in(client, web_world.front_door_key)
        statuses = [
            client.post("/search", data={"csrf_token": csrf, "text": "lunch"}).status_code
            for _ in range(5)
        ]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
