"""Constants and the shared record of the web tests' world (imported by conftest and tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vcsmatch.paths import REPO_ROOT
from vcsmatch.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO_ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class WebWorld:
    """What the tests know about the store the app serves."""

    settings: Settings
    practitioner_key: str
    front_door_key: str
    analyst_key: str
    #: A postcode in the synthetic county, and a service id in the catalogue.
    postcode: str
    service_id: str


TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    return TOKEN.search(html).group(1)


def signed_in(client: Any, key: str) -> str:
    """Sign ``client`` (a TestClient) in with ``key``; returns the new session's CSRF token."""
    page = client.get("/sign-in")
    answer = client.post("/sign-in", data={"csrf_token": token(page.text), "api_key": key})
    assert answer.status_code == 200 and answer.url.path == "/search"
    return token(answer.text)


def new_key(world: WebWorld, role: str, name: str) -> str:
    """A fresh key of ``role`` in the web tests' store (its own team name)."""
    from vcsmatch.store import api_keys
    from vcsmatch.store.db import open_store

    with open_store(world.settings)() as session:
        plaintext, _ = api_keys.create_key(session, role, name)
    return plaintext


def make_referrals(client: Any, key: str, postcode: str, n: int) -> None:
    """``n`` requests over ``/v1`` (``client``: a TestClient or an httpx.Client), each
    referred to its first suggestion."""
    auth = {"Authorization": f"Bearer {key}"}
    for _ in range(n):
        answer = client.post(
            "/v1/recommendations",
            json={"postcode": postcode, "age": 75, "needs": ["social-isolation"], "top_k": 3},
            headers=auth,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        made = client.post(
            "/v1/referrals",
            json={
                "request_id": body["request_id"],
                "service_id": body["suggestions"][0]["service_id"],
            },
            headers=auth,
        )
        assert made.status_code == 201, made.text
