"""Regression tests for the outside audits of issue 17, each named after its finding.

Every test here failed on the code before the fix. ``docs/security.md`` lists each promise
with the test that keeps it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import anyio
import pytest
from api_helpers import Seed, clone
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import insert

from api.json_body import OFF_LOOP_BYTES, ThreadValidatedRoute
from api.main import ROUTERS, create_app
from api.problems import MAX_REPORTED_ERRORS
from vcsmatch.ratings import TRAINING_COLUMNS
from vcsmatch.store import api_keys, ratings_log
from vcsmatch.store.db import open_store
from vcsmatch.store.tables import RatingRow

PERSON = {"postcode": "IP4 1AA", "age": 70, "needs": ["loneliness"]}


@pytest.fixture(scope="module")
def seed(sqlite_template, world, tmp_path_factory) -> Iterator[Seed]:
    yield from clone(sqlite_template, tmp_path_factory.mktemp("hardening"), world)


@pytest.fixture(scope="module")
def client(seed: Seed) -> Iterator[TestClient]:
    with TestClient(create_app(seed.settings), raise_server_exceptions=False) as client:
        yield client


def _unknown_keys(n: int) -> bytes:
    return json.dumps({**PERSON, **{f"unknown_{i:06d}": i for i in range(n)}}).encode()


def _elapsed(client: TestClient, seed: Seed, body: bytes) -> float:
    started = time.perf_counter()
    response = client.post(
        "/v1/recommendations",
        content=body,
        headers={**seed.auth("practitioner"), "content-type": "application/json"},
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 422, response.text[:300]
    return elapsed


def test_finding1_many_unknown_keys_refused_in_linear_time(client: TestClient, seed: Seed):
    """10x the unknown keys costs about 10x at most (quadratic was 100x), and the problem lists
    at most MAX_REPORTED_ERRORS of them while counting them all."""
    small, large = _unknown_keys(400), _unknown_keys(4000)
    _elapsed(client, seed, small)  # warm up
    t_small = min(_elapsed(client, seed, small) for _ in range(3))
    t_large = min(_elapsed(client, seed, large) for _ in range(3))
    assert t_large / t_small < 15, (t_small, t_large)

    response = client.post(
        "/v1/recommendations",
        content=large,
        headers={**seed.auth("practitioner"), "content-type": "application/json"},
    )
    problem = response.json()
    assert len(problem["errors"]) == MAX_REPORTED_ERRORS
    assert problem["detail"].startswith("4000 field(s) are not valid")
    assert "unknown_000000" in problem["errors"][0]["field"]


def test_finding1_hostile_body_does_not_hold_health(client: TestClient, seed: Seed):
    """While a body of unknown keys at the size limit is refused, /health keeps answering:
    its slowest answer meanwhile stays within a small multiple of the hostile request itself
    being refused, and that request is refused within a small multiple of a same-size body
    with a single error (both measured here, in the same run)."""
    limit = seed.settings.max_body_bytes
    n = 1
    while len(_unknown_keys(n * 2)) < limit:
        n *= 2
    hostile = _unknown_keys(n)
    # A body of the same size with one error: one long value for one unknown key.
    one_error = json.dumps({**PERSON, "unknown": "x" * (len(hostile) - 80)}).encode()
    assert len(one_error) <= limit
    t_one = min(_elapsed(client, seed, one_error) for _ in range(3))

    baseline = [_health(client) for _ in range(10)]
    done = threading.Event()
    result: dict[str, float] = {}

    def send_hostile() -> None:
        result["hostile"] = _elapsed(client, seed, hostile)
        done.set()

    thread = threading.Thread(target=send_hostile, daemon=True)
    thread.start()
    during: list[float] = []
    while not done.wait(0.005):
        during.append(_health(client))
    thread.join(timeout=120)
    assert "hostile" in result
    # Linear, not a stall: the hostile body costs a bounded multiple of the one-error body.
    # Linear, not a stall: the hostile body costs a bounded multiple of the one-error body
    # (quadratic made it hours against milliseconds), and /health answered meanwhile.
    assert result["hostile"] / t_one < 300, (result["hostile"], t_one)
    assert during, "no /health answer while the hostile body was refused"
    assert statistics.median(during) < result["hostile"], (during, baseline)


def _health(client: TestClient) -> float:
    started = time.perf_counter()
    assert client.get("/health").status_code == 200
    return time.perf_counter() - started


def test_finding1_every_json_body_is_validated_off_the_event_loop_when_large():
    """Every /v1 operation with a JSON body uses the route class that validates large bodies
    in a worker thread, so a new endpoint cannot bring the stall back."""
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    with_body = [r for r in routes if r.body_field is not None]
    assert with_body
    assert [r.path for r in with_body if not isinstance(r, ThreadValidatedRoute)] == []


def _largest_hostile_body(seed: Seed) -> bytes:
    n = 1
    while len(_unknown_keys(n * 2)) < seed.settings.max_body_bytes:
        n *= 2
    return _unknown_keys(n)


def test_finding1_a_megabyte_of_unknown_keys_never_holds_the_event_loop(
    client: TestClient, seed: Seed
):
    """A body at the size limit made of unknown keys (~32,000) is refused without holding the
    event loop: a probe task on the app's own loop is never kept waiting longer than a few
    times what parsing that body's JSON alone costs (measured here, in the same run), and
    /health answers meanwhile, each time faster than the hostile request. Before the fix
    pydantic built every error on the loop: one stall of most of the request (~0.5 s)."""
    hostile = _largest_hostile_body(seed)
    parse = min(_timed(lambda: json.loads(hostile)) for _ in range(3))
    _elapsed(client, seed, hostile)  # warm up
    stalls: list[float] = []
    probing = threading.Event()
    probing.set()

    async def probe() -> None:
        last = time.perf_counter()
        while probing.is_set():
            await anyio.sleep(0.001)
            now = time.perf_counter()
            stalls.append(now - last)
            last = now

    assert client.portal is not None  # the app's loop: the client is used as a context manager
    client.portal.start_task_soon(probe)
    try:
        refused, health = [], []
        for _ in range(3):
            stalls.clear()
            done = threading.Event()

            def send_hostile(done: threading.Event = done) -> None:
                refused.append(_elapsed(client, seed, hostile))
                done.set()

            thread = threading.Thread(target=send_hostile)
            thread.start()
            while not done.wait(0.002):
                health.append(_health(client))
            thread.join()
            longest = max(stalls)
            if longest < 4 * parse + 0.01:
                break
    finally:
        probing.clear()
    assert longest < 4 * parse + 0.01, (longest, parse, refused)
    assert health and max(health) < max(refused), (health, refused)


@pytest.fixture(scope="module")
def second_practitioner(seed: Seed) -> dict[str, str]:
    """A second practitioner key (same role as the seed's), for the cross-key findings."""
    with open_store(seed.settings)() as session:
        plaintext, _ = api_keys.create_key(session, "practitioner", "second practitioner")
    return {"Authorization": f"Bearer {plaintext}"}


def _recommend(client: TestClient, seed: Seed, headers: dict[str, str]) -> dict:
    person = seed.world.new_people[0].model_dump(mode="json", exclude_none=True)
    response = client.post("/v1/recommendations", json=person, headers=headers)
    assert response.status_code == 200, response.text[:300]
    return response.json()


def test_finding2_rating_another_keys_request_is_404(
    client: TestClient, seed: Seed, second_practitioner: dict[str, str]
):
    rec = _recommend(client, seed, seed.auth("practitioner"))
    service = rec["suggestions"][0]["service_id"]
    body = {"request_id": rec["request_id"], "service_id": service, "rating": 5}
    before = _count_ratings(seed)
    stolen = client.post("/v1/ratings", json=body, headers=second_practitioner)
    unknown = client.post(
        "/v1/ratings", json={**body, "request_id": "0" * 32}, headers=second_practitioner
    )
    assert stolen.status_code == unknown.status_code == 404, stolen.text
    assert stolen.json()["detail"] == unknown.json()["detail"]  # nothing says it exists
    assert _count_ratings(seed) == before
    own = client.post("/v1/ratings", json=body, headers=seed.auth("practitioner"))
    assert own.status_code == 201, own.text


def test_finding2_rating_a_service_the_request_did_not_suggest_is_404(
    client: TestClient, seed: Seed
):
    rec = _recommend(client, seed, seed.auth("practitioner"))
    suggested = {s["service_id"] for s in rec["suggestions"]}
    other = next(s for s in seed.world.catalogue.ids() if s not in suggested)
    body = {"request_id": rec["request_id"], "service_id": other, "rating": 5}
    response = client.post("/v1/ratings", json=body, headers=seed.auth("practitioner"))
    assert response.status_code == 404, response.text


def _count_ratings(seed: Seed) -> int:
    with open_store(seed.settings)() as session:
        return ratings_log.count_ratings(session)


def test_finding3_idempotency_keys_are_scoped_per_api_key(
    client: TestClient, seed: Seed, second_practitioner: dict[str, str]
):
    """Another key reusing an idempotency key gets its own rating stored (201, a new id), not
    a 409 nor the first key's rating; each key's retry still answers with its own rating."""
    service = seed.world.catalogue.ids()[0]
    person = seed.world.new_people[1].model_dump(mode="json", exclude_none=True)
    body = {"person": person, "service_id": service, "rating": 4, "idempotency_key": "shared-1"}
    first = client.post("/v1/ratings", json=body, headers=seed.auth("practitioner"))
    other = client.post("/v1/ratings", json={**body, "rating": 2}, headers=second_practitioner)
    assert first.status_code == 201 and other.status_code == 201, other.text
    first_id, other_id = first.json()["data"][0]["id"], other.json()["data"][0]["id"]
    assert other.json()["created"] == 1 and other_id != first_id
    retry = client.post("/v1/ratings", json={**body, "rating": 2}, headers=second_practitioner)
    assert retry.json()["data"][0]["id"] == other_id and retry.json()["created"] == 0
    with open_store(seed.settings)() as session:
        assert ratings_log.get_rating(session, other_id).rating == 2


def test_finding5_no_large_body_is_read_before_an_admin_key(client: TestClient, seed: Seed):
    """A catalogue body over the normal limit is refused without a key (401, unread) and with
    a key of another role (413 at the normal limit); an admin key gets the catalogue limit."""
    big = b'{"services": [' + b" " * (seed.settings.max_body_bytes + 10) + b"]}"
    headers = {"content-type": "application/json"}
    anonymous = client.post("/v1/catalogue", content=big, headers=headers)
    assert anonymous.status_code == 401, anonymous.text[:200]
    practitioner = client.post(
        "/v1/catalogue", content=big, headers={**headers, **seed.auth("practitioner")}
    )
    assert practitioner.status_code == 413, practitioner.text[:200]
    admin = client.post("/v1/catalogue", content=big, headers={**headers, **seed.auth("admin")})
    assert admin.status_code not in (401, 413), admin.text[:200]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/v1/recommendations", {"content": b'{"age": 7', "headers": {}}),
        ("post", "/v1/ratings", {"content": b"[", "headers": {}}),
        ("get", "/v1/services?need=loneliness", {}),
        ("get", "/v1/taxonomy?unknown=1", {}),
    ],
)
def test_finding6_401_comes_before_422(client: TestClient, method, path, kwargs):
    kwargs = {
        **kwargs,
        "headers": {"content-type": "application/json", **kwargs.get("headers", {})},
    }
    for auth in ({}, {"Authorization": "Bearer vcs_not_a_key"}):
        response = getattr(client, method)(
            path, **{**kwargs, "headers": {**kwargs["headers"], **auth}}
        )
        assert response.status_code == 401, (path, response.text[:200])
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["type"] == "/problems/unauthorized"


def test_finding6_declared_limits_match_the_servers(client: TestClient, seed: Seed):
    """The OpenAPI document declares the server's own top_k and size caps, and every operation
    that can answer 422 declares it."""
    schema = client.get("/openapi.json").json()
    top_k = schema["components"]["schemas"]["RecommendationRequest"]["properties"]["top_k"]
    assert top_k["maximum"] == seed.settings.max_top_k
    size = next(
        p for p in schema["paths"]["/v1/services"]["get"]["parameters"] if p["name"] == "size"
    )
    assert size["schema"]["maximum"] == seed.settings.max_page_size
    over = client.get(
        f"/v1/services?size={seed.settings.max_page_size + 1}", headers=seed.auth("practitioner")
    )
    assert over.status_code == 422
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in operation["responses"], (method, path)


def test_finding4_daily_cap_on_ratings_that_carry_a_person(
    seed: Seed, world, tmp_path, start_app, sqlite_template
):
    """Past the per-key daily cap, ratings carrying a person are a 429 (citing a request is
    not capped); the count is in the admin's key list; the learner can leave a key out."""
    own = next(clone(sqlite_template, tmp_path, world))
    settings = own.settings.model_copy(update={"max_person_ratings_per_key_per_day": 3})
    client = start_app(settings)
    service = own.world.catalogue.ids()[0]
    person = own.world.new_people[2].model_dump(mode="json", exclude_none=True)
    batch = [{"person": person, "service_id": service, "rating": 3} for _ in range(3)]
    headers = own.auth("practitioner")
    assert client.post("/v1/ratings", json={"ratings": batch}, headers=headers).status_code == 201
    over = client.post("/v1/ratings", json=batch[0], headers=headers)
    assert over.status_code == 429 and over.json()["type"] == "/problems/daily-limit"
    rec = client.post("/v1/recommendations", json=person, headers=headers).json()
    cited = {"request_id": rec["request_id"], "service_id": rec["suggestions"][0]["service_id"]}
    assert (
        client.post("/v1/ratings", json={**cited, "rating": 4}, headers=headers).status_code == 201
    )
    keys = client.get("/v1/keys", headers=own.auth("admin")).json()["data"]
    counts = {k["role"]: k["person_ratings_today"] for k in keys}
    assert counts["practitioner"] == 3 and counts["admin"] == 0
    practitioner_id = next(k["id"] for k in keys if k["role"] == "practitioner")
    with open_store(settings)() as session:
        everything = ratings_log.ratings_frame(session)
        kept = ratings_log.ratings_frame(session, exclude_key_ids=[practitioner_id])
    assert len(everything) - len(kept) == 4


def test_finding9_failed_key_checks_are_throttled(world, tmp_path, start_app, sqlite_template):
    own = next(clone(sqlite_template, tmp_path, world))
    settings = own.settings.model_copy(update={"max_failed_key_checks_per_minute": 3})
    client = start_app(settings)
    bad = {"Authorization": "Bearer vcs_guess"}
    statuses = [client.get("/v1/taxonomy", headers=bad).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    throttled = client.get("/v1/taxonomy", headers=own.auth("analyst"))
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _add_plain_ratings(settings, n: int, service_id: str) -> None:
    """``n`` synthetic ratings written straight into the log (the export reads the table)."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "body_sha256": f"{i:064d}",
            "person_key": f"{i % 97:064x}",
            "service_id": service_id,
            "rating": 1 + i % 5,
            "rated_at": now,
            "needs": '["loneliness"]',
            "strengths": "[]",
            "age": 70,
            "latitude": 52.05,
            "longitude": 1.15,
        }
        for i in range(n)
    ]
    with open_store(settings)() as session:
        session.execute(insert(RatingRow), rows)
        session.commit()


def _export_through_asgi(client: TestClient, seed: Seed, query: bytes) -> tuple[list[int], int]:
    """Export through the app's ASGI interface, keeping only each body message's size; the
    sizes and the peak of memory traced meanwhile (every thread, the app's included)."""
    sizes: list[int] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/ratings/export",
        "raw_path": b"/v1/ratings/export",
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver"), *_raw_headers(seed.auth("analyst"))],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    received = []

    async def receive() -> dict:
        if received:  # the client stays connected: the response ends the exchange
            await anyio.sleep_forever()
        received.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200
        elif message["type"] == "http.response.body":
            sizes.append(len(message.get("body", b"")))

    async def call() -> None:
        await client.app(scope, receive, send)

    assert client.portal is not None
    tracemalloc.start()
    try:
        client.portal.call(call)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sizes, peak


def _raw_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


def test_finding9_ratings_export_streams_in_bounded_chunks(
    world, tmp_path, start_app, sqlite_template
):
    """The export (CSV and JSON) arrives in many chunks, none more than a fraction of the
    whole, and the memory traced while it is built does not grow with the log: from 5,000 to
    20,000 ratings the answer grows by megabytes, the peak by far less than a quarter of that
    (building it whole, the peak grew by more than the answer). The answers are complete."""
    own = next(clone(sqlite_template, tmp_path, world))
    client = start_app(own.settings)
    service = own.world.catalogue.ids()[0]
    measured: dict[bytes, list[tuple[int, int]]] = {b"format=csv": [], b"": []}
    for added in (5_000, 15_000):
        _add_plain_ratings(own.settings, added, service)
        for query, runs in measured.items():
            _export_through_asgi(client, own, query)  # warm up: imports, compiled statements
            sizes, peak = _export_through_asgi(client, own, query)
            assert len([s for s in sizes if s]) >= 5, sizes
            assert max(sizes) < sum(sizes) / 4, (max(sizes), sum(sizes))
            runs.append((sum(sizes), peak))
    for query, ((small, small_peak), (large, large_peak)) in measured.items():
        assert large_peak - small_peak < (large - small) / 4, (query, measured)
    n = 20_000
    exported = client.get("/v1/ratings/export", headers=own.auth("analyst")).json()
    assert exported["count"] == len(exported["data"]) == n
    assert exported["columns"] == list(TRAINING_COLUMNS)
    as_csv = client.get("/v1/ratings/export?format=csv", headers=own.auth("analyst")).text
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert len(rows) == n and rows[0]["needs"] == "loneliness"


def _script_sources(csp: str) -> list[str]:
    directives = {
        name: sources
        for name, *sources in (part.split() for part in csp.split(";") if part.strip())
    }
    return directives.get("script-src", directives.get("default-src", []))


def test_finding9_docs_need_a_setting_and_no_page_allows_a_cdn_or_inline_scripts(
    client: TestClient, seed: Seed, start_app
):
    """By default /docs and /redoc do not exist, and no answer on the session's origin (pages,
    API, the docs' paths) lets scripts come from a CDN or run inline; VCSMATCH_API_DOCS=true
    serves them, with their own looser policy on their paths only."""
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
    for path in ("/docs", "/redoc", "/openapi.json", "/health", "/", "/sign-in"):
        csp = client.get(path).headers["content-security-policy"]
        assert "'unsafe-inline'" not in _script_sources(csp), (path, csp)
        assert "https://" not in csp, (path, csp)
    with_docs = start_app(seed.settings.model_copy(update={"api_docs": True}))
    docs = with_docs.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "https://cdn.jsdelivr.net" in _script_sources(docs.headers["content-security-policy"])
    assert "https://" not in with_docs.get("/health").headers["content-security-policy"]


def test_finding10_malformed_json_names_the_body_and_the_position(client: TestClient, seed: Seed):
    """Malformed JSON is reported on the field ``body`` with the parser's reason and the
    character where it failed, not as a field called ``body.40``."""
    bad = b'{"postcode": "IP4 1AE", "age": 70 "needs": []}'
    response = client.post(
        "/v1/recommendations",
        content=bad,
        headers={**seed.auth("practitioner"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "body"
    position = bad.index(b'"needs"')
    assert error["message"] == f"is not valid JSON: Expecting ',' delimiter at character {position}"


def test_finding10_a_postcode_far_outside_the_catalogue_says_so(client: TestClient, seed: Seed):
    """A valid postcode far from every service of the (Suffolk) catalogue, SW1A 1AA, gets an
    ``outside_catalogue_area`` warning that says how far the nearest service is; a postcode
    inside the area gets none."""
    headers = seed.auth("practitioner")
    person = {"age": 70, "needs": ["social-isolation"]}
    far = client.post(
        "/v1/recommendations", json={**person, "postcode": "SW1A 1AA"}, headers=headers
    )
    near = client.post(
        "/v1/recommendations", json={**person, "postcode": "IP4 1AE"}, headers=headers
    )
    assert far.status_code == near.status_code == 200, far.text
    assert near.json()["warnings"] == []
    (warning,) = far.json()["warnings"]
    assert warning["code"] == "outside_catalogue_area"
    nearest = int(re.search(r"the nearest is about (\d+) km away", warning["message"]).group(1))
    assert nearest > 50  # Westminster to the nearest Suffolk service
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "warnings" in schema["RecommendationResponse"]["properties"]


def test_finding1_a_large_valid_body_checked_off_the_loop_is_still_accepted(
    client: TestClient, seed: Seed
):
    """A valid rating batch over OFF_LOOP_BYTES passes the worker thread's check and is
    stored whole; one unknown key in its last rating refuses the batch, naming the field."""
    person = seed.world.new_people[3].model_dump(mode="json", exclude_none=True)
    service = seed.world.catalogue.ids()[0]
    batch = [
        {
            "person": person,
            "service_id": service,
            "rating": 1 + i % 5,
            "idempotency_key": f"big-{i}",
        }
        for i in range(300)
    ]
    body = json.dumps({"ratings": batch}).encode()
    assert len(body) > OFF_LOOP_BYTES
    headers = {**seed.auth("practitioner"), "content-type": "application/json"}
    bad = json.dumps({"ratings": [*batch[:-1], {**batch[-1], "surplus": 1}]}).encode()
    refused = client.post("/v1/ratings", content=bad, headers=headers)
    assert refused.status_code == 422, refused.text[:300]
    assert refused.json()["errors"][0]["field"].endswith("299.surplus")
    before = _count_ratings(seed)
    stored = client.post("/v1/ratings", content=body, headers=headers)
    assert stored.status_code == 201, stored.text[:300]
    assert _count_ratings(seed) == before + 300
