"""Errors: RFC 9457 problems that name the field, never echo the value, never a 500; limits."""

from __future__ import annotations

import json
import logging

import anyio
import pytest
from api_helpers import Seed
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.middleware import BodyLimitMiddleware, json_depth
from vcsmatch.store.db import open_store
from vcsmatch.store.tables import AuditRow

SENTINEL_REFERENCE = "SENTINEL-REF-5501"
SENTINEL_TEXT = "SENTINELTEXT lonely widow"
SENTINEL_NEED = "sentinelneed-zq"
SENTINEL_AGE = 987654


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"]
    return body


def test_problem_bodies_never_repeat_personal_values(
    shared_client: TestClient, shared_seed: Seed, caplog: pytest.LogCaptureFixture
) -> None:
    """Sentinels in every personal field, through success and error paths, appear in no error
    body, no log line and no audit record."""
    caplog.set_level(logging.DEBUG)
    headers = shared_seed.auth("practitioner")
    sentinel_postcode = "ZZ99 9ZZ"
    bodies = [
        {
            "reference": SENTINEL_REFERENCE,
            "needs_text": SENTINEL_TEXT,
            "postcode": sentinel_postcode,
        },
        {"reference": SENTINEL_REFERENCE, "needs": [SENTINEL_NEED]},
        {"reference": SENTINEL_REFERENCE, "strengths": [SENTINEL_NEED]},
        {"reference": SENTINEL_REFERENCE, "age": SENTINEL_AGE},
        {"reference": SENTINEL_REFERENCE, "latitude": 95.123456, "longitude": 1.0},
        {"reference": SENTINEL_REFERENCE * 20},
        {"reference": SENTINEL_REFERENCE, "postcode": "SENTINELPC12"},
        {"reference": SENTINEL_REFERENCE, "sex": "SENTINELSEX"},
        {"reference": SENTINEL_REFERENCE, "needs_text": SENTINEL_TEXT, "age": 81},  # succeeds
    ]
    errors: list[str] = []
    for body in bodies:
        response = shared_client.post("/v1/recommendations", json=body, headers=headers)
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            problem = is_problem(response, 422)
            assert problem["errors"] and all(e["field"] for e in problem["errors"])
            errors.append(response.text)
        rating = {"person": body, "service_id": "svc-SENTINEL", "rating": 9}
        response = shared_client.post("/v1/ratings", json=rating, headers=headers)
        errors.append(is_problem(response, 422) and response.text)
    search = shared_client.get(
        "/v1/services", params={"postcode": sentinel_postcode}, headers=headers
    )
    errors.append(is_problem(search, 422) and search.text)
    assert len(errors) >= 17

    with open_store(shared_seed.settings)() as session:
        audit = [
            json.dumps({c.name: str(getattr(r, c.name)) for c in AuditRow.__table__.columns})
            for r in session.scalars(select(AuditRow))
        ]
    # The test's own HTTP client logs each URL it requests; only the server's records count.
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logs = [r.getMessage() for r in server] + [str(r.exc_info) for r in server]
    haystacks = {"error bodies": errors, "audit": audit, "logs": logs}
    for sentinel in (
        SENTINEL_REFERENCE,
        "SENTINELTEXT",
        SENTINEL_NEED,
        str(SENTINEL_AGE),
        "95.123456",
        "ZZ99",
        "SENTINELPC12",
        "SENTINELSEX",
    ):
        for where, texts in haystacks.items():
            assert not any(sentinel in t for t in texts), (sentinel, where)
    assert any('"route_template": "/v1/services"' in a for a in audit)


def test_validation_problem_lists_each_field(shared_client: TestClient, shared_seed: Seed) -> None:
    """Several bad fields come back as several errors, each with the field's path."""
    response = shared_client.post(
        "/v1/recommendations",
        json={"age": -1, "sex": "x", "top_k": 0, "unknown_field": 1},
        headers=shared_seed.auth("practitioner"),
    )
    problem = is_problem(response, 422)
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"body.age", "body.sex", "body.top_k", "body.unknown_field"}
    assert problem["type"] == "/problems/validation"
    assert problem["instance"] == "/v1/recommendations"


def test_malformed_json_is_a_problem(shared_client: TestClient, shared_seed: Seed) -> None:
    """Broken JSON and a non-object body are 422 problems, not 500s."""
    headers = {**shared_seed.auth("practitioner"), "content-type": "application/json"}
    for raw in (b"{not json", b"[1, 2", b'"just a string"', b"\xff\xfe\x00"):
        response = shared_client.post("/v1/recommendations", content=raw, headers=headers)
        assert response.status_code in (400, 422), raw
        assert response.headers["content-type"] == "application/problem+json"


def test_unknown_paths_and_methods_are_problems(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """404 and 405 from routing are problem documents too (under /v1/ a key comes first)."""
    is_problem(shared_client.get("/v1/nothing-here"), 401)
    is_problem(shared_client.get("/v1/nothing-here", headers=shared_seed.auth("analyst")), 404)
    is_problem(shared_client.delete("/health"), 405)


def test_unknown_service_is_404(shared_client: TestClient, shared_seed: Seed) -> None:
    """A service id that is not in the catalogue is a 404 problem."""
    response = shared_client.get(
        "/v1/services/no-such-service", headers=shared_seed.auth("front_door")
    )
    is_problem(response, 404)


def test_security_headers_on_every_kind_of_response(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """Success, 401, 404, 413 and 422 answers all carry CSP, frame denial and no-sniff."""
    big = b"{" + b" " * (shared_seed.settings.max_body_bytes + 1) + b"}"
    responses = [
        shared_client.get("/health"),
        shared_client.get("/v1/taxonomy"),
        shared_client.get("/v1/nothing"),
        shared_client.post("/v1/recommendations", content=big),
        shared_client.get("/v1/taxonomy", headers=shared_seed.auth("admin")),
        shared_client.post(
            "/v1/recommendations", json={"age": -1}, headers=shared_seed.auth("practitioner")
        ),
    ]
    for r in responses:
        assert r.headers["x-frame-options"] == "DENY", r.request.url
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "no-referrer"


def test_oversized_body_is_413_by_header_and_by_counting(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """A body over max_body_bytes is refused whether it declares its length or streams it."""
    limit = shared_seed.settings.max_body_bytes
    headers = {**shared_seed.auth("practitioner"), "content-type": "application/json"}
    declared = shared_client.post(
        "/v1/recommendations", content=b"[" + b"0," * (limit // 2) + b"0]", headers=headers
    )
    is_problem(declared, 413)

    def chunks():
        for _ in range(limit // 10_000 + 2):
            yield b" " * 10_000

    streamed = shared_client.post("/v1/recommendations", content=chunks(), headers=headers)
    assert "content-length" not in streamed.request.headers
    is_problem(streamed, 413)


def test_deeply_nested_json_is_refused_before_parsing(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """JSON nested past max_json_depth is a 400 problem, even deep enough to crash a parser."""
    headers = {**shared_seed.auth("practitioner"), "content-type": "application/json"}
    deep = b'{"needs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    problem = is_problem(shared_client.post("/v1/ratings", content=deep, headers=headers), 400)
    assert "nested" in problem["detail"]


def test_json_depth_ignores_brackets_inside_strings() -> None:
    """Brackets in strings (escaped quotes included) do not count towards nesting."""
    assert json_depth(b"{}") == 1
    assert json_depth(b'{"a": [[1]]}') == 3
    assert json_depth(b'{"a": "[[[[[["}') == 1
    assert json_depth(b'{"a": "x\\"[[[[", "b": [1]}') == 2
    assert json_depth(b'{"a": "x\\\\", "b": [[1]]}') == 3
    assert json_depth(json.dumps({"k": [[["[" * 50]]]}).encode()) == 4


def test_slow_client_is_cut_off_with_408() -> None:
    """A body trickling in slower than body_timeout_seconds gets 408, and the app never runs."""
    reached: list[bool] = []

    async def app(scope, receive, send) -> None:  # pragma: no cover - must not be reached
        reached.append(True)

    middleware = BodyLimitMiddleware(app, max_bytes=1000, max_depth=10, timeout_seconds=0.2)
    sent: list[dict] = []

    async def receive() -> dict:
        await anyio.sleep(0.15)
        return {"type": "http.request", "body": b" ", "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/ratings", "headers": []}
    anyio.run(middleware, scope, receive, send)
    assert sent[0]["status"] == 408 and not reached


def test_a_bug_becomes_a_bare_500_problem(fresh_seed: Seed, start_app) -> None:
    """An unexpected exception answers a problem 500 that reveals nothing of the request."""
    client = start_app(fresh_seed.settings)

    def broken() -> None:
        raise RuntimeError("SENTINEL-SECRET-DETAIL")

    client.app.add_api_route("/v1/broken", broken, methods=["GET"])
    response = client.get("/v1/broken", headers=fresh_seed.auth("analyst"))
    problem = is_problem(response, 500)
    assert "SENTINEL" not in response.text and "Traceback" not in response.text
    assert problem["title"] == "Internal Server Error"
