"""The public self-service page ``/find`` over real HTTP through the ASGI app: no key, the
description read into kinds of help to confirm, suggestions with reasons and contacts, a
per-client rate limit, and no trace of the person in any table or log."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select
from web_helpers import WebWorld, token

from api.main import create_app
from vcsmatch.settings import Settings
from vcsmatch.store.db import get_engine


def _store_dump(world: WebWorld) -> dict[str, list[str]]:
    """Every row of every table of the store, as text (binary columns left out)."""
    engine = get_engine(world.settings)
    meta = MetaData()
    meta.reflect(engine)
    out = {}
    with engine.connect() as conn:
        for name, table in meta.tables.items():
            rows = conn.execute(select(table)).all()
            out[name] = sorted(
                repr([v for v in row if not isinstance(v, bytes | memoryview)]) for row in rows
            )
    return out


def _find(client: TestClient, **fields: object) -> object:
    page = client.get("/find")
    assert page.status_code == 200
    return client.post("/find", data={"csrf_token": token(page.text), **fields})


def test_find_answers_without_a_key_and_leaves_no_trace(
    app_client: TestClient,
    web_world: WebWorld,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A description with a unique word is read into kinds of help, a unique-looking
    postcode and age get suggestions; afterwards no table has gained or changed a row, and
    neither the store nor any log holds the word or the postcode as typed."""
    app_client.cookies.clear()
    first = app_client.get("/find")
    assert first.status_code == 200
    assert "not an assessment" in first.text
    assert "adult social care front door" in first.text  # the setting's default
    assert [c.name for c in app_client.cookies.jar] == ["vcsmatch_session"]
    before = _store_dump(web_world)

    caplog.set_level(logging.DEBUG)
    sentinel = f"zorblax{uuid.uuid4().hex[:10]}"
    typed_postcode = web_world.postcode.lower().replace(" ", "")
    situation = f"My mum is lonely and isolated since dad died, {sentinel} is her cat"
    read = _find(app_client, action="interpret", situation=situation, place=typed_postcode)
    assert read.status_code == 200, read.text
    ticked = re.findall(r'name="needs" type="checkbox" value="([^"]+)" checked', read.text)
    assert "social-isolation" in ticked
    answer = _find(
        app_client,
        action="find",
        situation=situation,
        place=typed_postcode,
        age="93",
        needs=ticked,
    )
    assert answer.status_code == 200, answer.text
    assert "Services you could contact" in answer.text
    assert answer.text.count('<li class="app-result">') >= 1
    assert "Why it is suggested" in answer.text and "How to contact" in answer.text
    assert not answer.cookies  # no cookie beyond the CSRF session set on the first visit

    after = _store_dump(web_world)
    assert after == before
    everything = repr(after).casefold()
    logs = caplog.text + "".join(capfd.readouterr())
    for value in (sentinel, typed_postcode, web_world.postcode.casefold()):
        assert value not in everything
        assert value not in logs.casefold()


def test_find_by_town_and_asks_for_what_is_missing(
    app_client: TestClient, web_world: WebWorld
) -> None:
    """A town the directory knows works like a postcode; an unknown place, no age and no
    help chosen are each a GOV.UK error on the field; a missing CSRF token is refused."""
    from vcsmatch.features.towns import TownIndex
    from vcsmatch.store import catalogue_versions
    from vcsmatch.store.db import open_store

    with open_store(web_world.settings)() as session:
        _, catalogue = catalogue_versions.active_catalogue(session)
    town = next(iter(TownIndex().fit(catalogue).names_.values()))
    ok = _find(app_client, action="find", place=town.upper(), age="70", needs=["nutrition"])
    assert ok.status_code == 200 and "Services you could contact" in ok.text
    bad = _find(app_client, action="find", place="Atlantis Under The Sea")
    assert bad.status_code == 400
    for field in ("place", "age", "needs"):
        assert f'href="#{field}"' in bad.text
    assert app_client.post("/find", data={"action": "find"}).status_code == 400


def test_find_is_rate_limited_per_client(web_world: WebWorld) -> None:
    """Past the setting's searches a minute, a 429 page with Retry-After that still says how
    to reach the front door (the setting)."""
    settings = web_world.settings.model_copy(
        update={"find_rate_limit_per_minute": 2, "front_door_contact": "Ring 01234 567890."}
    )
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        statuses = [
            _find(client, action="find", place=web_world.postcode, age="70", needs=["nutrition"])
            for _ in range(3)
        ]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        assert int(statuses[2].headers["Retry-After"]) >= 1
        assert "Ring 01234 567890." in statuses[2].text
        assert "Ring 01234 567890." in statuses[0].text


def _searches(client: TestClient, world: WebWorld, forwarded: list[str]) -> list[int]:
    """One /find search per X-Forwarded-For value: the statuses."""
    sent = {"csrf_token": token(client.get("/find").text)}
    search = {"action": "find", "place": world.postcode, "age": "70", "needs": ["nutrition"]}
    return [
        client.post("/find", data={**sent, **search}, headers={"X-Forwarded-For": f}).status_code
        for f in forwarded
    ]


def test_a_spoofed_forwarded_for_does_not_escape_the_find_limit(web_world: WebWorld) -> None:
    """From a peer that is not a trusted proxy, X-Forwarded-For is ignored: a new made-up
    address each time is still the one client."""
    settings = web_world.settings.model_copy(
        update={"find_rate_limit_per_minute": 2, "trusted_proxies": ["10.0.0.5"]}
    )
    app = create_app(settings)
    with TestClient(app, base_url="http://testserver", client=("203.0.113.9", 5000)) as client:
        assert _searches(client, web_world, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) == [
            200,
            200,
            429,
        ]


def test_behind_a_trusted_proxy_two_residents_have_separate_find_limits(
    web_world: WebWorld,
) -> None:
    """Through the proxy each resident (the rightmost untrusted hop) has their own limit;
    hops a resident adds to the left do not make a new one."""
    settings = web_world.settings.model_copy(
        update={"find_rate_limit_per_minute": 2, "trusted_proxies": ["10.0.0.0/24"]}
    )
    app = create_app(settings)
    with TestClient(app, base_url="http://testserver", client=("10.0.0.5", 5000)) as client:
        first = ["198.51.100.1", "6.6.6.6, 198.51.100.1", "7.7.7.7, 198.51.100.1"]
        assert _searches(client, web_world, first) == [200, 200, 429]
        assert _searches(client, web_world, ["198.51.100.2", "198.51.100.2"]) == [200, 200]


def test_every_find_page_says_it_is_not_an_assessment_and_how_to_reach_the_front_door(
    web_world: WebWorld, tmp_path: pytest.TempPathFactory
) -> None:
    """The form, the reading, the results, a field error, the expired form, too many searches
    and the not-ready page (a store with no catalogue) each carry the warning and the front
    door contact (the setting), once."""
    from api.web.find import NOT_AN_ASSESSMENT

    contact = "Ring the front door on 01234 567890."
    update = {"find_rate_limit_per_minute": 3, "front_door_contact": contact}
    settings = web_world.settings.model_copy(update=update)
    search = {"action": "find", "place": web_world.postcode, "age": "70", "needs": ["nutrition"]}
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        form = client.get("/find")
        pages = {"form": form}
        sent = {"csrf_token": token(form.text)}
        pages["reading"] = client.post(
            "/find", data={**sent, "action": "interpret", "situation": "lonely"}
        )
        pages["results"] = client.post("/find", data={**sent, **search})
        pages["field error"] = client.post("/find", data={**sent, "action": "find"})
        pages["expired form"] = client.post("/find", data=search)
        pages["too many searches"] = client.post("/find", data={**sent, **search})
    empty = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    empty = empty.model_copy(update=update)
    with TestClient(create_app(empty), base_url="http://testserver") as client:
        form = client.get("/find")
        pages["not ready"] = client.post("/find", data={"csrf_token": token(form.text), **search})
    statuses = {name: page.status_code for name, page in pages.items()}
    assert statuses == {
        "form": 200,
        "reading": 200,
        "results": 200,
        "field error": 400,
        "expired form": 400,
        "too many searches": 429,
        "not ready": 503,
    }
    for name, page in pages.items():
        assert page.text.count(NOT_AN_ASSESSMENT) == 1, name
        assert page.text.count(contact) == 1, name
        assert 'id="front-door"' in page.text, name


def _service_name_link(html: str) -> str:
    """Where the header's service name (the page's title link) leads."""
    return re.search(r'govuk-service-navigation__service-name">\s*<a href="([^"]+)"', html).group(1)


def test_find_pages_lead_back_to_find_with_staff_sign_in_beside(web_world: WebWorld) -> None:
    """On /find, and on its expired-form and too-many-searches pages, the service name and
    "Go to the start page" lead to /find (public), with a separate "Staff sign in" link; the
    staff pages keep theirs leading to / (sign-in)."""
    settings = web_world.settings.model_copy(update={"find_rate_limit_per_minute": 1})
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        pages = [client.get("/find")]
        pages.append(client.post("/find", data={"action": "find"}))  # no CSRF token
        pages += [_find(client, action="interpret", situation="lonely") for _ in range(2)]
        assert [p.status_code for p in pages] == [200, 400, 200, 429]
        for page in pages:
            assert _service_name_link(page.text) == "/find", page.text[:300]
            assert re.search(
                r'<a class="govuk-service-navigation__link" href="/sign-in">'
                r"Staff sign in</a>",
                page.text,
            )
        for page in (pages[1], pages[3]):
            assert '<a class="govuk-link" href="/find">Go to the start page</a>' in page.text
        assert pages[3].headers["content-type"].startswith("text/html")
        assert '<h1 class="govuk-heading-l">Too many searches</h1>' in pages[3].text
        staff = client.get("/sign-in")
        assert _service_name_link(staff.text) == "/"
        assert "Staff sign in" not in staff.text


def test_find_sets_no_cookie_beyond_the_csrf_session(web_world: WebWorld) -> None:
    """Over a whole visit (the page, reading the description, a search, an error, the rate
    limit) exactly one Set-Cookie is sent: the first visit's session cookie, which carries
    only the id the CSRF token is derived from, HttpOnly and SameSite=Lax."""
    from itsdangerous import URLSafeTimedSerializer

    settings = web_world.settings.model_copy(update={"find_rate_limit_per_minute": 3})
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        first = client.get("/find")
        form = {"csrf_token": token(first.text)}
        answers = [
            client.get("/find"),
            client.post("/find", data={**form, "action": "interpret", "situation": "lonely"}),
            client.post(
                "/find",
                data={
                    **form,
                    "action": "find",
                    "place": web_world.postcode,
                    "age": "80",
                    "needs": ["social-isolation"],
                },
            ),
            client.post("/find", data={**form, "action": "find", "place": "Atlantis"}),
            client.post("/find", data={**form, "action": "find"}),
        ]
        assert [a.status_code for a in answers] == [200, 200, 200, 400, 429]
        for answer in answers:
            assert answer.headers.get_list("set-cookie") == []
        (sent,) = first.headers.get_list("set-cookie")
    name, _, rest = sent.partition("=")
    value, *attributes = (part.strip() for part in rest.split(";"))
    assert name == "vcsmatch_session"
    flags = {a.split("=")[0].casefold(): a.partition("=")[2] for a in attributes}
    assert "httponly" in flags and flags["samesite"].casefold() == "lax"
    assert flags["path"] == "/"
    _, payload = URLSafeTimedSerializer("unsigned").loads_unsafe(value.strip('"'))
    assert payload is not None and set(payload) == {"sid", "kid"} and payload["kid"] is None


def test_a_description_sent_to_find_is_read_for_confirming_first(
    app_client: TestClient, web_world: WebWorld
) -> None:
    """ "Find services" with a description and nothing ticked does not search on a reading
    the resident has not seen: it shows the kinds of help read from it, ticked, to confirm.
    Once read, unticking everything is an error on the field, not a second reading."""
    place = {"place": web_world.postcode, "age": "81"}
    situation = "Since mum died my dad is lonely and isolated"
    read = _find(app_client, action="find", situation=situation, **place)
    assert read.status_code == 200, read.text
    assert "Check the ticked boxes" in read.text
    assert "Services you could contact" not in read.text
    ticked = re.findall(r'name="needs" type="checkbox" value="([^"]+)" checked', read.text)
    assert "social-isolation" in ticked
    assert '<input type="hidden" name="read" value="1">' in read.text
    again = {"csrf_token": token(read.text), "action": "find", "read": "1", **place}
    unticked = app_client.post("/find", data={**again, "situation": situation})
    assert unticked.status_code == 400
    assert 'href="#needs"' in unticked.text and "Check the ticked boxes" not in unticked.text
    confirmed = app_client.post("/find", data={**again, "situation": situation, "needs": ticked})
    assert confirmed.status_code == 200 and "Services you could contact" in confirmed.text
