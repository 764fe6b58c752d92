"""Regression tests for issue 17's web findings, each named after its finding (over real HTTP
through the ASGI app; each failed on the code before the fix)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from web_helpers import WebWorld, signed_in, token

from api.main import create_app
from vcsmatch.store import api_keys
from vcsmatch.store.db import open_store
from vcsmatch.store.tables import WebSessionRow


@pytest.fixture(scope="module")
def app_client(web_world: WebWorld) -> Iterator[TestClient]:
    with TestClient(create_app(web_world.settings), base_url="http://testserver") as client:
        yield client


@pytest.fixture
def client(app_client: TestClient) -> TestClient:
    app_client.cookies.clear()
    return app_client


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
