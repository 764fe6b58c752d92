"""Hostile and broken input, sent over real sockets to the real ``vcsmatch serve``.

``tests/api/test_api_problems.py`` checks the limits in-process (413 by header and by counting,
depth before parsing, the body deadline on the middleware alone, malformed JSON); here the same
kinds of input travel through uvicorn and its HTTP parser (httptools, and h11 for the tests
of the parser's own limits) as an attacker would send them, for every
operation the OpenAPI document lists, plus what only a socket can do: a declared length that
is never sent, slow or idle connections, header bombs and malformed request lines. Every answer
must be a problem document (``application/problem+json``), never a 5xx, and the server must
keep answering everyone else.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from reliability_server import LIVE_DEADLINE_S, LiveServer, Seeded

pytestmark = pytest.mark.slow  # a real server

#: The server's body (and, through vcsmatch.cli.http_limits, header) deadline in these tests.
DEADLINE_S = LIVE_DEADLINE_S


@pytest.fixture(scope="module")
def hostile(live_server) -> tuple[LiveServer, Seeded]:
    """The shared real server (2 workers, 2 s request deadlines) on a seeded SQLite store."""
    return live_server


@pytest.fixture(scope="module", params=["auto", "h11"])
def parsers(request, hostile) -> Iterator[LiveServer]:
    """The server with each HTTP parser (``Settings.http_parser``): the shared one with the
    default (httptools, C), and one with h11, the fallback; both keep the header limits."""
    if request.param == "auto":
        yield hostile[0]
        return
    server, seeded = hostile
    extra = {**server.extra_env, "VCSMATCH_HTTP_PARSER": "h11"}
    with LiveServer(seeded, workers=1, extra_env=extra) as h11_server:
        yield h11_server


@pytest.fixture(scope="module")
def operations(hostile) -> list[tuple[str, str, list[str], bool]]:
    """Every operation in the OpenAPI document: (method, path, roles, has a JSON body)."""
    server, _ = hostile
    schema = httpx.get(server.url + "/openapi.json", timeout=30).json()
    out = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            concrete = path.replace("{service_id}", "syn-0001").replace("{key_id}", "1")
            out.append((method.upper(), concrete, op.get("x-roles", []), "requestBody" in op))
    assert len(out) >= 10
    return out


def assert_problem(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """A problem document with one of ``statuses`` (never a 5xx, never plain text)."""
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json", response.text[:300]
    body = response.json()
    assert body["status"] == response.status_code and body["title"]
    return body


def raw_exchange(port: int, data: bytes, *, wait: float = 30.0) -> tuple[int, bytes, bytes]:
    """Send ``data`` on a fresh socket and read until the server closes: (status, head, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before reading
            sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return status, head, body


def header_value(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _auth(seeded: Seeded, roles: list[str]) -> dict[str, str]:
    return seeded.auth(roles[0]) if roles else {}


def test_declared_oversized_body_is_refused_before_it_is_sent(hostile) -> None:
    """A Content-Length over the limit is a 413 problem at once: the server never waits for it."""
    server, seeded = hostile
    request = (
        "POST /v1/recommendations HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: Bearer {seeded.keys['practitioner']}\r\n"
        "Content-Type: application/json\r\nContent-Length: 50000000000\r\n\r\n"
    ).encode()
    started = time.monotonic()
    status, head, body = raw_exchange(server.port, request, wait=DEADLINE_S * 5)
    assert status == 413, head
    assert header_value(head, b"content-type") == b"application/problem+json"
    assert json.loads(body)["status"] == 413
    assert time.monotonic() - started < DEADLINE_S, "the server waited for a body never sent"


def test_streamed_oversized_body_is_413_on_every_operation(hostile, operations) -> None:
    """A chunked body with no length, over the 1 MB limit, is a 413 problem on every POST."""
    server, seeded = hostile

    def chunks() -> Iterator[bytes]:
        for _ in range(70):  # 70 x 16 KiB: past 1 MB (the catalogue route allows 50 MB)
            yield b" " * 16_384

    for method, path, roles, _ in operations:
        if method != "POST" or path == "/v1/catalogue":
            continue
        response = httpx.post(
            server.url + path,
            content=chunks(),
            headers={**_auth(seeded, roles), "Content-Type": "application/json"},
            timeout=30,
        )
        assert_problem(response, 413)


def test_deeply_nested_json_is_400_on_every_operation(hostile, operations) -> None:
    """JSON nested 200,000 deep is a 400 problem on every operation with a body; no
    RecursionError anywhere and the server keeps answering."""
    server, seeded = hostile
    deep = b'{"needs": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    for method, path, roles, _ in operations:
        if method not in ("POST", "PUT", "PATCH"):
            continue
        response = httpx.request(
            method,
            server.url + path,
            content=deep,
            headers={**_auth(seeded, roles), "Content-Type": "application/json"},
            timeout=30,
        )
        assert_problem(response, 400)
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    assert "RecursionError" not in server.output()


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"age": 40}garbage',
        b"NaN",
        b"\x00\x01\x02\x03",
        b'"' + b"a" * 5000,
        b'{"age": 1e999999}',
        b"[" + b"1," * 100_000 + b"1]",
        b'{"age": 40, "age": "forty"}',
        b"",
        b"null",
        b"\xef\xbb\xbf[",
    ],
    ids=[
        "unclosed",
        "trailing-garbage",
        "nan",
        "binary",
        "unterminated-string",
        "huge-exponent",
        "wide-array",
        "duplicate-key",
        "empty",
        "null",
        "bom-then-broken",
    ],
)
def test_malformed_json_is_a_4xx_problem_on_every_operation(
    hostile, operations, body: bytes
) -> None:
    """Broken or senseless JSON is a 4xx problem on every operation that takes a body."""
    server, seeded = hostile
    for method, path, roles, has_body in operations:
        if not has_body:
            continue
        response = httpx.request(
            method,
            server.url + path,
            content=body,
            headers={**_auth(seeded, roles), "Content-Type": "application/json"},
            timeout=30,
        )
        assert_problem(response, 400, 422)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        None,
    ],
)
def test_wrong_content_types_are_problems(hostile, content_type: str | None) -> None:
    """A body sent as something other than JSON is a 4xx problem and nothing is stored."""
    server, seeded = hostile
    headers = seeded.auth("practitioner")
    if content_type is not None:
        headers["Content-Type"] = content_type
    for path, body in [
        ("/v1/recommendations", b"age=40&needs=social-isolation"),
        ("/v1/ratings", b"--xyz\r\nContent-Disposition: form-data; name=rating\r\n\r\n5\r\n"),
    ]:
        response = httpx.post(server.url + path, content=body, headers=headers, timeout=30)
        assert_problem(response, 400, 415, 422)


def _recommendation_fields() -> list[str]:
    return ["reference", "postcode", "needs_text", "strengths_text"]


def test_invalid_utf8_and_lone_surrogates_are_problems(hostile) -> None:
    """Bytes that are not UTF-8, and JSON escapes of lone surrogates, are 4xx problems."""
    server, seeded = hostile
    headers = {**seeded.auth("practitioner"), "Content-Type": "application/json"}
    url = server.url + "/v1/recommendations"
    for raw in (b'{"reference": "\xff\xfe"}', b'{"needs_text": "\xc0\xaf"}'):
        assert_problem(httpx.post(url, content=raw, headers=headers), 400, 422)
    for field in _recommendation_fields():
        body = b'{"%s": "\\ud800"}' % field.encode()
        assert_problem(httpx.post(url, content=body, headers=headers), 422)
    for field in ("needs", "strengths", "languages"):
        body = b'{"%s": ["\\udfff"]}' % field.encode()
        assert_problem(httpx.post(url, content=body, headers=headers), 422)
    rating = b'{"person": {"age": 40}, "service_id": "\\ud800", "rating": 3}'
    assert_problem(httpx.post(server.url + "/v1/ratings", content=rating, headers=headers), 422)
    # In the path and the query string, percent-encoded bytes that are not UTF-8.
    auth = seeded.auth("practitioner")
    assert_problem(httpx.get(server.url + "/v1/services/%FF%FE", headers=auth), 404)
    search = httpx.get(server.url + "/v1/services?q=%ED%A0%80%FF", headers=auth)
    assert search.status_code == 200
    assert_problem(httpx.get(server.url + "/v1/services?postcode=%FF", headers=auth), 422)


def test_catalogue_record_id_with_a_lone_surrogate_is_a_problem_not_a_500(hostile) -> None:
    """Regression: a catalogue record whose id is a lone surrogate made the import's problem
    response unencodable (a 500); it is a 422 problem like any other refused record."""
    server, seeded = hostile
    body = b'[{"id": "\\ud800", "name": "Lunch club"}]'
    headers = {**seeded.auth("admin"), "Content-Type": "application/json"}
    response = httpx.post(server.url + "/v1/catalogue", content=body, headers=headers, timeout=60)
    assert_problem(response, 422)


@pytest.mark.parametrize(
    ("top_k", "status"),
    [(0, 422), (-1, 422), (101, 422), (10**9, 422), (10**30, 422), (1.5, 422), ("all", 422)],
)
def test_huge_or_senseless_top_k_is_refused(hostile, top_k: object, status: int) -> None:
    """top_k outside 1..max_top_k (100) is a 422 problem naming top_k."""
    server, seeded = hostile
    response = httpx.post(
        server.url + "/v1/recommendations",
        json={"age": 70, "top_k": top_k},
        headers=seeded.auth("practitioner"),
        timeout=30,
    )
    problem = assert_problem(response, status)
    assert "top_k" in problem["detail"]


def test_top_k_at_the_limit_is_bounded_by_the_catalogue(hostile) -> None:
    """The largest allowed top_k answers at most that many suggestions."""
    server, seeded = hostile
    response = httpx.post(
        server.url + "/v1/recommendations",
        json={"age": 70, "top_k": 100},
        headers=seeded.auth("practitioner"),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert 0 < len(response.json()["suggestions"]) <= 100


@pytest.mark.parametrize(
    "query",
    [
        "size=0",
        "size=101",
        "size=1000000000",
        "size=100000000000000000000000",
        "page=0",
        "page=1000000000",
        "radius_km=1e308",
        "radius_km=nan",
        "q=" + "a" * 600,
        "&".join(["needs=social-isolation"] * 60),
    ],
)
def test_huge_page_sizes_and_queries_are_refused(hostile, query: str) -> None:
    """Page sizes past max_page_size, absurd pages, radii and lists are 422 problems."""
    server, seeded = hostile
    response = httpx.get(
        server.url + "/v1/services?" + query, headers=seeded.auth("practitioner"), timeout=30
    )
    assert_problem(response, 422)


def test_last_allowed_page_is_empty_not_an_error(hostile) -> None:
    """Paging far past the results answers an empty page (bounded work), not an error."""
    server, seeded = hostile
    response = httpx.get(
        server.url + "/v1/services?page=10000&size=100",
        headers=seeded.auth("practitioner"),
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["contents"] == []


def test_oversized_rating_batches_are_refused_whole(hostile, world) -> None:
    """A batch over max_ratings_per_request (1000) is a 422 problem and stores nothing."""
    server, seeded = hostile
    service = world.catalogue.services[0].id
    ratings = [
        {"person": {"age": 70}, "service_id": service, "rating": 3, "idempotency_key": f"b{i}"}
        for i in range(1001)
    ]
    headers = seeded.auth("practitioner")
    response = httpx.post(
        server.url + "/v1/ratings", json={"ratings": ratings}, headers=headers, timeout=60
    )
    assert_problem(response, 422)
    retry = httpx.post(
        server.url + "/v1/ratings", json={"ratings": ratings[:1]}, headers=headers, timeout=60
    )
    assert retry.status_code == 201 and retry.json()["created"] == 1, retry.text


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /health HTTP/1.1\r\nHost: t\r\nX-Bomb: " + b"a" * 1_000_000 + b"\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: t\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(50_000))
        + b"\r\n",
        b"GET /" + b"a" * 1_000_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
        b"NOT A REQUEST\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
        b"POST /v1/ratings HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["huge-header", "many-headers", "huge-url", "not-http", "bad-length", "bad-chunk"],
)
def test_malformed_requests_get_a_400_problem_and_the_server_lives(
    parsers: LiveServer, request_bytes: bytes
) -> None:
    """Requests the parser cannot take (or whose headers pass 16 KiB) are answered with a
    400 problem document and closed, with either parser."""
    server = parsers
    status, head, body = raw_exchange(server.port, request_bytes)
    assert status == 400, head[:200]
    assert header_value(head, b"content-type") == b"application/problem+json"
    assert json.loads(body)["status"] == 400
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200


def test_pipelined_oversized_headers_never_reach_the_app(parsers: LiveServer) -> None:
    """A request's head over 16 KiB pipelined behind a request still being answered: the
    first answer may arrive, the second request is never answered, and the server lives."""
    server = parsers
    seeded_key = server.seeded.keys["practitioner"]
    first = (
        "GET /v1/services?q=lunch HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: Bearer {seeded_key}\r\n\r\n"
    ).encode()
    bomb = b"GET /health HTTP/1.1\r\nHost: t\r\nX-Bomb: " + b"a" * 1_000_000 + b"\r\n\r\n"
    _, head, body = raw_exchange(server.port, first + bomb)
    answered = (head + b"\r\n\r\n" + body).count(b"HTTP/1.1 200 ")
    assert answered <= 1, head[:200]
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200


def test_body_after_an_early_answer_is_not_taken_for_headers(parsers: LiveServer) -> None:
    """A request answered before its body was read (a health check sent with a body), the
    body sent anyway, then the next request on the same connection: the body's bytes are not
    counted as the next request's head, so the next request is answered, not refused."""
    server = parsers
    body = b"{" + b" " * 100_000 + b"}"
    early = (
        b"GET /health HTTP/1.1\r\nHost: t\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(early)
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        assert received.startswith(b"HTTP/1.1 200 "), received[:200]
        assert header_value(received.partition(b"\r\n\r\n")[0], b"connection") != b"close"
        sock.sendall(body + b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        deadline = time.monotonic() + 20
        while received.count(b"HTTP/1.1 200 ") < 2 and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    assert received.count(b"HTTP/1.1 200 ") == 2, received[-300:]
    assert b"HTTP/1.1 400 " not in received


def _slow_connection(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S * 10)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return received


def _trickle(sock: socket.socket, data: bytes, every: float) -> float:
    """Send ``data`` a byte at a time; return when the server closed (seconds taken)."""
    started = time.monotonic()
    try:
        for byte in data:
            sock.sendall(bytes([byte]))
            time.sleep(every)
    except OSError:
        pass
    return time.monotonic() - started


def test_body_trickled_slower_than_the_deadline_gets_408(hostile) -> None:
    """Headers sent, then a body a byte every 0.3 s: a 408 problem at the deadline, closed."""
    server, seeded = hostile
    sock = _slow_connection(server.port)
    sock.sendall(
        (
            "POST /v1/ratings HTTP/1.1\r\nHost: t\r\n"
            f"Authorization: Bearer {seeded.keys['practitioner']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
        ).encode()
    )
    took = _trickle(sock, b" " * 200, 0.3)
    received = _read_until_closed(sock)
    sock.close()
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    assert b"application/problem+json" in received
    assert took < DEADLINE_S * 4, f"the slow body was held {took:.1f} s"


def test_headers_trickled_slower_than_the_deadline_get_408(parsers: LiveServer) -> None:
    """A request line and headers a byte every 0.25 s (slowloris): 408 problem, closed."""
    server = parsers
    sock = _slow_connection(server.port)
    took = _trickle(sock, b"GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 200, 0.25)
    received = _read_until_closed(sock)
    sock.close()
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    assert b"application/problem+json" in received
    assert took < DEADLINE_S * 4, f"the slow headers were held {took:.1f} s"


def test_idle_connections_are_closed_and_do_not_starve_others(hostile) -> None:
    """100 connections that send nothing are closed with 408 at the deadline; meanwhile and
    after, ordinary requests are answered."""
    server, seeded = hostile
    idle = [_slow_connection(server.port) for _ in range(100)]
    try:
        during = httpx.get(server.url + "/v1/taxonomy", headers=seeded.auth(), timeout=30)
        assert during.status_code == 200
        started = time.monotonic()
        answers = [_read_until_closed(sock) for sock in idle]
        took = time.monotonic() - started
    finally:
        for sock in idle:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), {a[:30] for a in answers}
    assert took < DEADLINE_S * 4
    assert httpx.get(server.url + "/ready", timeout=30).status_code == 200


def test_keep_alive_client_with_pauses_is_not_cut_off(hostile, parsers: LiveServer) -> None:
    """A well-behaved keep-alive client that pauses between requests keeps its connection:
    the header deadline counts from each request's first byte, not from the connection."""
    server, seeded = parsers, hostile[1]
    with httpx.Client(base_url=server.url, headers=seeded.auth(), timeout=30) as client:
        for _ in range(3):
            assert client.get("/v1/taxonomy").status_code == 200
            time.sleep(DEADLINE_S * 0.75)  # the sum of pauses exceeds the deadline


def test_server_output_has_no_traceback(hostile) -> None:
    """After all of the above, the server logged no traceback and no unhandled error."""
    server, _ = hostile
    output = server.output()
    assert "Traceback" not in output
    assert "unhandled" not in output
