"""Privacy: a person's features never leave the request except as the store's minimised,
keyed-hash form, and a revoked key stops working at once in every worker.

Sentinel values go into every personal field (reference, postcode, coordinates, age, need and
strength codes, free text, languages) through success and error paths of the real server (2
workers); then every line the server printed, every response body, every audit record, the
whole database and the model/readiness endpoints are searched for them.
``tests/api/test_api_problems.py::test_problem_bodies_never_repeat_personal_values`` does the
same in-process for error bodies; here the real process's own output and the stored rows are
searched too, and logs are captured at DEBUG for every logger (SQLAlchemy's included).
"""

from __future__ import annotations

import logging
import subprocess
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from reliability_server import (
    LiveServer,
    Seeded,
    request_on_fresh_connection,
    seed_store,
    vcsmatch_executable,
)
from sqlalchemy import inspect, text

from api.main import create_app
from vcsmatch.store import api_keys
from vcsmatch.store.db import dispose_engines, make_engine, open_store
from vcsmatch.store.secrets import person_key

REFERENCE = "SENTINEL-REF-Q7X2K9"
POSTCODE = "IP13 9PR"  # real (so the success path resolves it) and unusual
UNKNOWN_POSTCODE = "IP99 9QZ"  # well formed, in no postcode data
LATITUDE, LONGITUDE = 52.0876543, 1.1549876  # distinctive digits
NEEDS_TEXT = "SENTINEL-NEEDS widowed last spring zqxjv"
STRENGTHS_TEXT = "SENTINEL-STRENGTHS keen gardener zqxjw"
LANGUAGE = "sentinel-lang-zqx"
BAD_AGE = 987654321
BAD_NEED = "sentinel-need-zqx"
BAD_STRENGTH = "sentinel-strength-zqx"
BAD_SEX = "SENTINEL-SEX-ZQX"

#: Each sentinel in every form it could be written in.
SENTINELS: dict[str, tuple[str, ...]] = {
    "reference": (REFERENCE, REFERENCE.lower()),
    "postcode": (POSTCODE, POSTCODE.replace(" ", ""), POSTCODE.lower(), "IP13%209PR", "IP13+9PR"),
    "unknown postcode": (UNKNOWN_POSTCODE, UNKNOWN_POSTCODE.replace(" ", "")),
    "coordinates": ("52.0876543", "1.1549876", "52.087654", "1.154988"),
    "needs text": ("SENTINEL-NEEDS", "zqxjv", "widowed last spring"),
    "strengths text": ("SENTINEL-STRENGTHS", "zqxjw", "keen gardener"),
    "language": (LANGUAGE,),
    "invalid age": (str(BAD_AGE),),
    "invalid codes": (BAD_NEED, BAD_STRENGTH, BAD_SEX, BAD_SEX.lower()),
}


def person(**overrides: Any) -> dict[str, Any]:
    """A person carrying sentinels in every free field; valid unless overridden."""
    body: dict[str, Any] = {
        "reference": REFERENCE,
        "postcode": POSTCODE,
        "age": 83,
        "sex": "female",
        "needs": ["social-isolation", "dementia"],
        "strengths": ["gardening"],
        "needs_text": NEEDS_TEXT,
        "strengths_text": STRENGTHS_TEXT,
        "languages": [LANGUAGE],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def exercise(client: httpx.Client | TestClient, seeded: Seeded, service_id: str) -> list[str]:
    """Send the sentinels through every path; return every response body (success and error)."""
    practitioner = seeded.auth("practitioner")
    bodies: list[str] = []

    def post(path: str, body: dict[str, Any], expect: int, headers: dict[str, str]) -> None:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == expect, (path, response.status_code, response.text[:300])
        if expect >= 400:
            assert response.headers["content-type"] == "application/problem+json"
        bodies.append(response.text)

    at_coordinates = person(postcode=None, latitude=LATITUDE, longitude=LONGITUDE)
    # Success paths.
    post("/v1/recommendations", person(), 200, practitioner)
    post("/v1/recommendations", at_coordinates, 200, practitioner)
    rating = {"person": person(), "service_id": service_id, "rating": 4}
    post("/v1/ratings", {**rating, "idempotency_key": "privacy-1"}, 201, practitioner)
    post(
        "/v1/ratings",
        {"person": at_coordinates, "service_id": service_id, "rating": 2},
        201,
        practitioner,
    )
    # Error paths: each personal field invalid in turn, in recommendations and ratings.
    invalid = [
        person(age=BAD_AGE),
        person(postcode=UNKNOWN_POSTCODE),
        person(postcode="SENTINEL-PC"),
        person(needs=[BAD_NEED]),
        person(strengths=[BAD_STRENGTH]),
        person(sex=BAD_SEX),
        person(needs_text=NEEDS_TEXT * 60),  # over the 2000-character limit
        person(latitude=LATITUDE),  # latitude without longitude
        person(languages=[LANGUAGE] * 30),  # over the 20-language limit
    ]
    for body in invalid:
        post("/v1/recommendations", body, 422, practitioner)
        rating = {"person": body, "service_id": service_id, "rating": 3}
        post("/v1/ratings", rating, 422, practitioner)
    for service, stars in (("no-such-service", 3), (service_id, 9)):
        rating = {"person": person(), "service_id": service, "rating": stars}
        post("/v1/ratings", rating, 422, practitioner)
    post("/v1/recommendations", person(), 401, {})  # no key: refused before anything is read
    post("/v1/recommendations", person(), 403, seeded.auth("analyst"))  # wrong role
    # Search by place: the postcode is in the query string (the access log is off).
    for postcode, expect in ((POSTCODE, 200), (UNKNOWN_POSTCODE, 422)):
        response = client.get("/v1/services", params={"postcode": postcode}, headers=practitioner)
        assert response.status_code == expect, response.text[:300]
        bodies.append(response.text)
    # What the service says about itself: readiness, the model and its metrics.
    for path, role in (("/ready", None), ("/health", None), ("/v1/model", "analyst")):
        response = client.get(path, headers=seeded.auth(role) if role else {})
        assert response.status_code == 200, response.text[:300]
        bodies.append(response.text)
    return bodies


def find_sentinels(haystacks: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """``(sentinel kind, where, excerpt)`` for every sentinel found anywhere."""
    found = []
    for where, texts in haystacks.items():
        for text_ in texts:
            lowered = text_.lower()
            for kind, forms in SENTINELS.items():
                for form in forms:
                    at = lowered.find(form.lower())
                    if at >= 0:
                        found.append((kind, where, text_[max(0, at - 60) : at + 60]))
    return found


def _tables(tables: dict[str, list[str]]) -> dict[str, list[str]]:
    return {f"table {name}": rows for name, rows in tables.items()}


def database_texts(database_url: str) -> dict[str, list[str]]:
    """Every row of every table, each as one line of text (blobs left out)."""
    engine = make_engine(database_url)
    out: dict[str, list[str]] = {}
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                # The model archive is binary and made before any request.
                columns = "version, sha256, metrics_json" if table == "models" else "*"
                rows = conn.execute(text(f'SELECT {columns} FROM "{table}"')).all()  # noqa: S608
                out[table] = [" | ".join(str(v) for v in row) for row in rows]
    finally:
        engine.dispose()
    return out


@pytest.fixture(scope="module")
def live(live_server) -> tuple[LiveServer, Seeded]:
    """The shared real server (2 workers) on a seeded SQLite store."""
    return live_server


@pytest.mark.slow
def test_sentinels_appear_in_no_output_body_audit_or_table_of_the_real_server(live, world) -> None:
    """Through a 2-worker server: no sentinel in its stdout/stderr, any response body, the audit
    log or any table; stored ratings hold the reference only as its keyed hash."""
    server, seeded = live
    # The catalogue may mention a postcode; only what the requests add counts.
    already = find_sentinels(_tables(database_texts(seeded.database_url)))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        bodies = exercise(client, seeded, world.catalogue.services[0].id)
    time.sleep(1.0)  # audit entries are written after each response is sent
    tables = database_texts(seeded.database_url)
    haystacks = {
        "server output": server.output().splitlines(),
        "response bodies": bodies,
        **_tables(tables),
    }
    assert [hit for hit in find_sentinels(haystacks) if hit not in already] == []
    # The audit log saw every request (route template and status), and nothing else.
    audit = tables["audit_log"]
    assert sum("/v1/recommendations" in row for row in audit) >= 12
    # The ratings made for the sentinel reference carry its keyed hash, never the reference.
    engine = make_engine(seeded.database_url)
    with engine.connect() as conn:
        keys = {r[0] for r in conn.execute(text("SELECT person_key FROM ratings"))}
    engine.dispose()
    assert person_key(seeded.secret_key.encode(), REFERENCE) in keys


def test_sentinels_appear_in_no_log_record_at_debug(
    world, trained_model_dir, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """In-process, every logger at DEBUG (SQLAlchemy's statement log included): no sentinel, no
    minimised feature and no keyed hash reaches a log record."""
    data_dir = tmp_path / "data"
    seeded = seed_store(
        f"sqlite:///{data_dir / 'vcsmatch.db'}", data_dir, world.catalogue, trained_model_dir
    )
    caplog.set_level(logging.DEBUG)  # the root logger: every logger without its own level
    import sqlalchemy.engine  # noqa: F401 - its loggers exist once imported

    for name, existing in list(logging.root.manager.loggerDict.items()):
        if isinstance(existing, logging.Logger) and existing.level != logging.NOTSET:
            caplog.set_level(logging.DEBUG, logger=name)  # e.g. SQLAlchemy's own WARN default
    try:
        with TestClient(create_app(seeded.settings()), raise_server_exceptions=False) as client:
            exercise(client, seeded, world.catalogue.services[0].id)
    finally:
        dispose_engines()
    # The test's own HTTP client logs the URLs it requests; only the server side counts.
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    # SQLAlchemy logs every statement at this level: the check below has something to bite.
    assert any(r.name.startswith("sqlalchemy.engine") for r in records)
    lines = [r.getMessage() for r in records] + [
        str(r.args) for r in records if r.args
    ]  # statement parameters travel in args
    assert find_sentinels({"logs": lines}) == []
    hashed = person_key(seeded.secret_key.encode(), REFERENCE)
    assert not [line for line in lines if hashed in line], "the keyed hash was logged"
    # The stored (minimised) location: rounded to 3 decimal places, still a person's place.
    rounded = (f"{round(LATITUDE, 3)}", f"{round(LONGITUDE, 3)}")
    assert not [line for line in lines if any(r in line for r in rounded)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sqlalchemy_log_shows_no_statement_parameters_or_row_values(
    backend: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: with SQLAlchemy's loggers at INFO/DEBUG, statement parameters and fetched
    rows (people's minimised features, keyed hashes) were written to the log, and parameters
    into the text of SQLAlchemy's exceptions."""
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE people_probe (secret VARCHAR(64) PRIMARY KEY)"))
            conn.execute(text("INSERT INTO people_probe VALUES (:s)"), {"s": REFERENCE})
            assert conn.execute(text("SELECT secret FROM people_probe")).scalar() == REFERENCE
        with pytest.raises(Exception) as failure, engine.begin() as conn:  # noqa: PT011
            conn.execute(text("INSERT INTO people_probe VALUES (:s)"), {"s": REFERENCE})
    finally:
        engine.dispose()
    assert any("people_probe" in r.getMessage() for r in caplog.records)  # statements logged
    assert not [r.getMessage() for r in caplog.records if REFERENCE in r.getMessage()]
    # SQLAlchemy no longer renders the parameters into its exceptions. (PostgreSQL's own
    # DETAIL line may still quote a conflicting key; the API logs only exception types.)
    assert "SQL parameters hidden" in str(failure.value)
    if backend == "sqlite":
        assert REFERENCE not in str(failure.value)


def _answered_by_every_worker(
    server: LiveServer, headers: dict[str, str], workers: int, attempts: int = 400
) -> dict[int, set[int]]:
    """Requests on fresh connections until every worker has answered: pid -> statuses."""
    seen: dict[int, set[int]] = {}
    for _ in range(attempts):
        pid, status = request_on_fresh_connection(server, "GET", "/v1/taxonomy", headers)
        if pid is not None:
            seen.setdefault(pid, set()).add(status)
        if len(seen) >= workers:
            break
    return seen


@pytest.mark.slow
def test_revoked_key_is_refused_at_once_by_every_worker(live) -> None:
    """A key revoked with `vcsmatch keys revoke` is 401 on its very next request to each of
    the two workers (each worker reads the key from the store on every request)."""
    server, seeded = live
    with open_store(seeded.settings())() as session:
        plaintext, record = api_keys.create_key(session, "practitioner", "to be revoked")
    dispose_engines()
    headers = {"Authorization": f"Bearer {plaintext}"}
    before = _answered_by_every_worker(server, headers, workers=2)
    assert len(before) == 2, f"could not reach both workers: {before}"
    assert all(statuses == {200} for statuses in before.values()), before

    done = subprocess.run(  # noqa: S603 - our own console script
        [vcsmatch_executable(), "keys", "revoke", str(record.id)],
        env=seeded.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    after = _answered_by_every_worker(server, headers, workers=2)
    assert len(after) == 2, f"could not reach both workers: {after}"
    assert all(statuses == {401} for statuses in after.values()), after
    # Other keys are unaffected.
    others = _answered_by_every_worker(server, seeded.auth("practitioner"), workers=2)
    assert all(statuses == {200} for statuses in others.values()), others


def test_only_search_takes_person_like_fields_in_its_url(tmp_path) -> None:
    """No operation takes a person's reference or free text in its URL, and only catalogue
    search (a place and filters, never logged: the access log is off) takes any other feature
    there; recommendations and ratings carry features in their bodies."""
    from vcsmatch.features.person import Person
    from vcsmatch.settings import Settings

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'v.db'}", data_dir=tmp_path))
    personal = set(Person.model_fields)
    in_url: dict[str, set[str]] = {}
    for path, item in app.openapi()["paths"].items():
        for method, op in item.items():
            names = {p["name"] for p in op.get("parameters", []) if p["in"] in ("query", "path")}
            if names & personal:
                in_url[f"{method.upper()} {path}"] = names & personal
    # The public ORUK 3.0 feed takes a postcode (a place to search near) as its profile lists.
    assert in_url.pop("GET /openreferral/service_at_locations", set()) <= {"postcode"}
    assert set(in_url) == {"GET /v1/services"}, in_url
    assert not in_url["GET /v1/services"] & {"reference", "needs_text", "strengths_text"}
