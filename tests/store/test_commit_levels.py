"""What each commit waits for: ratings for the disk, logs not (``vcsmatch.store.db``).

Each INSERT is caught as it runs and the level of the transaction it runs in is read on the
same database connection: SQLite's ``synchronous`` pragma, PostgreSQL's ``synchronous_commit``.
The log writes run on the pool's DBAPI connection (``vcsmatch.store.driver``), past SQLAlchemy's
events, so their inserts are caught by wrapping the driver transaction's ``insert``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from vcsmatch.errors import NotFoundError
from vcsmatch.store import audit, ratings_log, recommendation_log, secrets
from vcsmatch.store.driver import _Transaction
from vcsmatch.store.minimised import MinimisedPerson
from vcsmatch.store.ratings_log import NewRating
from vcsmatch.store.recommendation_log import Exposure

#: The level each backend reports: (waits for the disk, does not).
LEVELS = {"sqlite": (2, 1), "postgresql": ("on", "off")}  # SQLite: FULL = 2, NORMAL = 1


@contextmanager
def insert_levels(engine: Engine) -> Iterator[list[tuple[str, object]]]:
    """(table, commit level) of every INSERT ``engine`` runs while the block runs, through
    SQLAlchemy or the driver."""
    seen: list[tuple[str, object]] = []
    query = "PRAGMA synchronous" if engine.dialect.name == "sqlite" else "SHOW synchronous_commit"

    def level(dbapi_cursor) -> object:  # noqa: ANN001
        return dbapi_cursor.connection.execute(query).fetchone()[0]

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith("INSERT INTO"):
            seen.append((statement.split()[2], level(cursor)))

    driver_insert = _Transaction.insert

    def insert(self: _Transaction, table, rows) -> None:  # noqa: ANN001
        driver_insert(self, table, rows)
        if rows:
            seen.append((table.name, level(self._cursor)))

    event.listen(engine, "after_cursor_execute", capture)
    _Transaction.insert = insert  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        _Transaction.insert = driver_insert  # type: ignore[method-assign]
        event.remove(engine, "after_cursor_execute", capture)


PERSON = MinimisedPerson(age=70, sex="female", needs=("dementia",), latitude=51.5, longitude=-0.1)


def test_ratings_wait_for_the_disk_and_logs_do_not(session: Session, engine: Engine) -> None:
    """Request and exposure log and audit commit without waiting for the disk; a rating that
    cites that request, written on the same pooled connections afterwards, waits for it."""
    durable, relaxed = LEVELS[engine.dialect.name]
    secret = secrets.get_secret(session)
    with insert_levels(engine) as seen:
        for round_ in range(3):  # alternate, so a level left on a pooled connection would show
            request_id = f"req-{round_}"
            recommendation_log.record_request(
                session,
                request_id,
                PERSON,
                "m-1",
                ["svc-1"],
                exposures=[Exposure(1, "svc-1", 0.5)],
            )
            entry = {"method": "POST", "route_template": "/x", "status": 200, "latency_ms": 1}
            audit.record_many(session, [entry])
            ratings_log.add_ratings(
                session, [NewRating("svc-1", 4, request_id=request_id)], secret=secret
            )
    levels = {table: set() for table, _ in seen}
    for table, level in seen:
        levels[table].add(level)
    assert levels == {
        "recommendation_requests": {relaxed},
        "exposures": {relaxed},
        "audit_log": {relaxed},
        "ratings": {durable},
    }


def test_a_log_write_inside_an_open_transaction_keeps_its_level(
    session: Session, engine: Engine
) -> None:
    """A log row written into a transaction that is already open (a rating's, say) commits
    with that transaction, at its level: the relaxed level is never imposed on other work."""
    durable, _ = LEVELS[engine.dialect.name]
    secret = secrets.get_secret(session)
    recommendation_log.record_request(session, "req-a", PERSON, "m-1", ["svc-1"])
    with insert_levels(engine) as seen:
        ratings_log.add_ratings(session, [NewRating("svc-1", 5, request_id="req-a")], secret=secret)
        session.connection()  # open a transaction, as a route with pending work would
        audit.record_many(
            session, [{"method": "GET", "route_template": "/y", "status": 200, "latency_ms": 1}]
        )
    assert sorted(seen) == [("audit_log", durable), ("ratings", durable)]


@pytest.mark.parametrize("n", [1, 5])
def test_log_transactions_are_still_atomic(session: Session, engine: Engine, n: int) -> None:
    """A request whose exposures cannot be stored leaves no request row either."""
    bad = [Exposure(i + 1, f"svc-{i}", 0.1, propensity=0.0) for i in range(n)]  # out of range
    with pytest.raises(Exception):  # noqa: B017, PT011 - the database's own check error
        recommendation_log.record_request(session, "req-x", PERSON, "m", ["svc"], exposures=bad)
    session.rollback()
    with pytest.raises(NotFoundError):
        recommendation_log.get_request(session, "req-x")


def test_reads_between_writes_leave_every_write_its_level(session: Session, engine: Engine) -> None:
    """Key checks (single-statement reads, which keep the connection's level instead of
    setting their own) between log writes and ratings change no write's level, and on SQLite
    a read sends no ``PRAGMA synchronous`` of its own."""
    from vcsmatch.store import api_keys
    from vcsmatch.store.key_cache import KeyCache

    durable, relaxed = LEVELS[engine.dialect.name]
    secret = secrets.get_secret(session)
    plaintext, _ = api_keys.create_key(session, "practitioner", "team")
    cache = KeyCache()
    pragmas: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith("PRAGMA synchronous"):
            pragmas.append(statement)

    with insert_levels(engine) as seen:
        for round_ in range(3):
            assert cache.verify(session, plaintext) is not None
            recommendation_log.record_request(session, f"req-r{round_}", PERSON, "m-1", ["svc-1"])
            event.listen(engine, "before_cursor_execute", count)
            try:
                assert cache.verify(session, plaintext) is not None
            finally:
                event.remove(engine, "before_cursor_execute", count)
            ratings_log.add_ratings(
                session, [NewRating("svc-1", 4, request_id=f"req-r{round_}")], secret=secret
            )
    assert sorted(set(seen)) == [("ratings", durable), ("recommendation_requests", relaxed)]
    assert pragmas == []
