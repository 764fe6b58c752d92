"""One transaction and one commit per answer: what a recommendation costs the database."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from api_helpers import Seed
from fastapi.testclient import TestClient
from sql_capture import checkouts
from sqlalchemy import Engine, func, select

from vcsmatch.store.db import get_engine, open_store
from vcsmatch.store.tables import AuditRow


def transactions(seed: Seed) -> Iterator[list[list[str]]]:
    """The statements of each checkout of the app's pool while the block runs (through
    SQLAlchemy or the driver: ``sql_capture``), pings and level settings left out; a checkout
    that ran nothing else is left out too."""
    return _transactions(get_engine(seed.settings))


@contextmanager
def _transactions(engine: Engine) -> Iterator[list[list[str]]]:
    found: list[list[str]] = []
    with checkouts(engine) as done:
        yield found
    found += [sql for c in done if (sql := c.sql())]


def is_insert(sql: str) -> bool:
    return sql.lstrip().upper().startswith("INSERT")


def audit_count(seed: Seed, status: int) -> int:
    with open_store(seed.settings)() as session:
        return session.scalar(
            select(func.count()).select_from(AuditRow).where(AuditRow.status == status)
        )


def body(seed: Seed, i: int, **extra: object) -> dict:
    person = seed.world.new_people[i]
    return {**person.model_dump(mode="json", exclude_none=True, exclude={"reference"}), **extra}


def test_a_recommendation_is_one_write_transaction_with_its_audit_entry(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """With the key known to the worker, a recommendation reads the key generation and writes
    its request, exposures and audit entry in one transaction; the entry is stored once."""
    headers = shared_seed.auth("practitioner")
    assert shared_client.post("/v1/recommendations", json=body(shared_seed, 0), headers=headers)
    before = audit_count(shared_seed, 200)
    with transactions(shared_seed) as done:
        response = shared_client.post(
            "/v1/recommendations", json=body(shared_seed, 1), headers=headers
        )
    assert response.status_code == 200, response.text
    assert len(done) == 1, done
    (statements,) = done
    sqlite = shared_seed.settings.resolved_database_url.startswith("sqlite")
    words = [" ".join(sql.split()[:3]).upper() for sql in statements]
    body_ = [w for w in words if w not in ("BEGIN IMMEDIATE", "COMMIT")]
    assert body_[0].startswith("SELECT API_KEY_GENERATION.GENERATION"), statements
    # SQLite's trace shows each row of an executemany as a statement of its own.
    tables = [sql.split()[2] for sql in statements if is_insert(sql)]
    assert [t for t, _ in itertools.groupby(tables)] == [
        "recommendation_requests",
        "exposures",
        "audit_log",
    ]
    assert words[-1] == "COMMIT" and words.count("COMMIT") == 1, statements
    if sqlite:
        assert words[0] == "BEGIN IMMEDIATE" and words.count("BEGIN IMMEDIATE") == 1
    assert audit_count(shared_seed, 200) == before + 1


def test_an_answer_that_fails_is_audited_once_by_the_middleware(
    shared_client: TestClient, shared_seed: Seed
) -> None:
    """A refused recommendation (422) writes no request log and one audit entry, as before."""
    headers = shared_seed.auth("practitioner")
    before = audit_count(shared_seed, 422)
    with transactions(shared_seed) as done:
        response = shared_client.post(
            "/v1/recommendations", json=body(shared_seed, 2, top_k=0), headers=headers
        )
    assert response.status_code == 422
    inserted = [s.split()[2] for t in done for s in t if is_insert(s)]
    assert inserted == ["audit_log"]
    assert audit_count(shared_seed, 422) == before + 1
