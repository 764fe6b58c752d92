"""Hostile and broken form input never makes the web page fail: every answer is a page
(200, 303 or a 4xx with an error summary), never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_helpers import WebWorld, signed_in

from api.main import create_app

FIELDS = ("text", "need", "postcode", "radius", "age", "mode", "open_on", "free_only", "page")
PERSON_FIELDS = ("postcode", "age", "sex", "needs", "strengths", "situation", "action")
values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["²", "٣", "-1", "1e9", "99999999999999999999", "E5 8AA", "IP4", "\x00"]),
    st.lists(st.text(max_size=10), max_size=3),
)


@pytest.fixture(scope="module")
def signed(web_world: WebWorld) -> Iterator[tuple[TestClient, str]]:
    settings_ = web_world.settings.model_copy(update={"rate_limit_per_minute": 100_000})
    with TestClient(create_app(settings_), base_url="http://testserver") as client:
        yield client, signed_in(client, web_world.practitioner_key)


fuzz = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fuzz
@given(form=st.dictionaries(st.sampled_from(FIELDS), values, max_size=len(FIELDS)))
def test_search_form_never_fails(signed: tuple[TestClient, str], form: dict) -> None:
    """Any mix of search fields answers 200 or 400, never a server error."""
    client, csrf = signed
    answer = client.post("/search", data=form | {"csrf_token": csrf})
    assert answer.status_code in (200, 400)
    if answer.status_code == 400:
        assert "govuk-error-summary" in answer.text


@fuzz
@given(form=st.dictionaries(st.sampled_from(PERSON_FIELDS), values, max_size=len(PERSON_FIELDS)))
def test_suggest_form_never_fails(signed: tuple[TestClient, str], form: dict) -> None:
    """Any mix of person fields answers a page or a redirect, never a server error."""
    client, csrf = signed
    answer = client.post("/suggest", data=form | {"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code in (200, 303, 400)
