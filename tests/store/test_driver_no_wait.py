"""``Driver.transaction(wait=False)``: a write the event loop may try, which never waits.

The API logs an ordinary recommendation on the event loop when the store can take it at once
(``api.routes.recommendations.log_without_waiting``); these tests hold SQLite's write lock from
another connection, as a second worker or an import would, and check that such a write gives
way at once, writes nothing, and leaves the connection as patient as before.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sql_capture import checkouts
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from vcsmatch.store import recommendation_log
from vcsmatch.store.db import BUSY_TIMEOUT_MS
from vcsmatch.store.driver import CHECKPOINT_EVERY, WouldWait, driver
from vcsmatch.store.minimised import MinimisedPerson
from vcsmatch.store.tables import RecommendationRequestRow


def log(session: Session, request_id: str, *, wait: bool) -> None:
    recommendation_log.record_request(
        session, request_id, MinimisedPerson(age=70), "m1", ["a"], wait=wait
    )


def logged(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(RecommendationRequestRow))


def test_a_write_that_may_not_wait_gives_way_to_a_held_lock_and_writes_nothing(
    engine: Engine,
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the event loop only writes to SQLite itself")
    other = sqlite3.connect(make_url(engine.url).database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a second worker's write in progress
    try:
        with Session(engine) as session, pytest.raises(WouldWait):
            log(session, "r1", wait=False)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert logged(engine) == 0
    # The connection waits as long as ever for the next writer that may wait.
    with driver(engine)._checkout() as (_fairy, cursor):
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == BUSY_TIMEOUT_MS
    with Session(engine) as session:
        log(session, "r1", wait=False)  # free again: written at once
    assert logged(engine) == 1


def test_a_write_that_may_not_wait_is_written_when_the_store_is_free(engine: Engine) -> None:
    """SQLite: written on the spot. PostgreSQL (round trips to a server): always given way."""
    with Session(engine) as session:
        if engine.dialect.name == "sqlite":
            log(session, "r2", wait=False)
        else:
            with pytest.raises(WouldWait):
                log(session, "r2", wait=False)
            log(session, "r2", wait=True)
    assert logged(engine) == 1


def test_a_write_that_may_not_wait_gives_way_inside_an_open_transaction(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(select(1))  # the session has a transaction open: it would be joined
        with pytest.raises(WouldWait):
            log(session, "r3", wait=False)
    assert logged(engine) == 0


def test_commits_that_skip_the_automatic_checkpoint_ask_for_one(engine: Engine) -> None:
    """A commit on the event loop leaves SQLite's checkpoint (writing the WAL back, syncing)
    to a thread: after ``CHECKPOINT_EVERY`` of them one is due, and it writes the WAL back."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no WAL checkpoint for the caller to run")
    store = driver(engine)
    store.checkpoint()  # the migrations' pages written back
    with Session(engine) as session:
        for i in range(CHECKPOINT_EVERY):
            assert not store.checkpoint_due()
            log(session, f"c{i}", wait=False)
    assert store.checkpoint_due()
    assert in_database_file(engine) == 0  # all in the WAL still
    store.checkpoint()
    assert not store.checkpoint_due()
    assert in_database_file(engine) == CHECKPOINT_EVERY  # written back


def in_database_file(engine: Engine) -> int:
    """Requests logged in the database file itself, the WAL left out (an immutable reader
    never looks at it)."""
    path = make_url(engine.url).database
    other = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return other.execute("SELECT count(*) FROM recommendation_requests").fetchone()[0]
    finally:
        other.close()


def test_a_write_that_may_not_wait_runs_its_statements_alone(engine: Engine) -> None:
    """On the thread's own connection: no pool checkout, no pragma before or after it, only
    the transaction's own statements; another thread gets a connection of its own."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the event loop only writes to SQLite itself")
    with Session(engine) as session:
        log(session, "s0", wait=False)  # this thread's connection is made (its pragmas set)
    with checkouts(engine) as done, Session(engine) as session:
        log(session, "s1", wait=False)
    (only,) = [c.statements for c in done if c.statements]
    words = [" ".join(sql.split()[:2]).upper() for sql in only]
    assert words[0] == "BEGIN IMMEDIATE" and words[-1] == "COMMIT", only
    assert {w.split()[0] for w in words[1:-1]} == {"INSERT"}, only
    assert len(driver(engine).own_connections()) == 1

    def elsewhere() -> None:
        with Session(engine) as session:
            log(session, "s2", wait=False)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert len(driver(engine).own_connections()) == 2
    assert logged(engine) == 3
