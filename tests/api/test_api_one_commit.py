"""One transaction and one commit per answer: what a recommendation costs the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from api_helpers import Seed
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from vcsmatch.store.db import get_engine, open_store
from vcsmatch.store.tables import AuditRow


@contextmanager
def transactions(seed: Seed) -> Iterator[list[list[str]]]:
    """The statements of each transaction the app's engine runs while the block runs (a
    PostgreSQL autocommit statement is a transaction of its own); pings left out."""
    engine = get_engine(seed.settings)
    done: list[list[str]] = []
    open_: dict[int, list[str]] = {}

    def begin(conn) -> None:  # noqa: ANN001
        open_[id(conn)] = []

    def statement(conn, cursor, sql, parameters, context, executemany) -> None:  # noqa: ANN001
        words = sql.split()
        if words[0].upper() in ("BEGIN", "PRAGMA", "SET") or words == ["SELECT", "1"]:
            return
        if id(conn) in open_:
            open_[id(conn)].append(sql)
        else:
            done.append([sql])

    def end(conn) -> None:  # noqa: ANN001
        if open_.get(id(conn)):
            done.append(open_.pop(id(conn)))
        open_.pop(id(conn), None)

    listeners = [("begin", begin), ("before_cursor_execute", statement)]
    listeners += [("commit", end), ("rollback", end)]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        yield done
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)


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
    writes = [t for t in done if any(s.lstrip().upper().startswith("INSERT") for s in t)]
    assert len(writes) == 1, done
    tables = [s.split()[2] for s in writes[0]]
    assert tables == ["recommendation_requests", "exposures", "audit_log"]
    reads = [t for t in done if t not in writes]
    assert len(reads) == 1 and "api_key_generation" in reads[0][0], reads
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
    inserted = [s.split()[2] for t in done for s in t if s.lstrip().upper().startswith("INSERT")]
    assert inserted == ["audit_log"]
    assert audit_count(shared_seed, 422) == before + 1
