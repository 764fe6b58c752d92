"""Keys checked from memory: one cheap read per check, revocations seen at once everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sql_capture import checkouts
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from vcsmatch.store import api_keys, db
from vcsmatch.store.key_cache import KeyCache


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine``'s connections run while the block runs, through
    SQLAlchemy or the driver (``sql_capture``): transaction control and pings excluded."""
    sent: list[str] = []
    with checkouts(engine) as done:
        yield sent
    skip = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SET", "SAVEPOINT")
    sent += [s for c in done for s in c.sql(skip=skip)]


def test_a_remembered_key_costs_one_read_of_the_generation(
    session: Session, engine: Engine
) -> None:
    """The first check reads the key's row; later ones read only the generation counter."""
    plaintext, record = api_keys.create_key(session, "practitioner", "team")
    cache = KeyCache()
    with statements(engine) as first:
        assert cache.verify(session, plaintext) == record
    assert len(first) == 1 and "api_keys" in first[0]
    with statements(engine) as later:
        for _ in range(3):
            assert cache.verify(session, plaintext) == record
    assert len(later) == 3
    assert all("api_key_generation" in s and "api_keys " not in s for s in later)


def test_revocation_in_another_worker_stops_a_remembered_key_at_once(
    session: Session, database_url: str
) -> None:
    """A key remembered by one worker's cache is refused on its very next check once another
    engine (another worker, or the CLI) revokes it; other remembered keys keep working."""
    kept, _ = api_keys.create_key(session, "practitioner", "kept")
    doomed, doomed_record = api_keys.create_key(session, "front_door", "doomed")
    other = db.make_engine(database_url)
    cache = KeyCache()
    try:
        with db.session_factory(other)() as worker:
            assert cache.verify(worker, doomed) is not None
            assert cache.verify(worker, kept) is not None
            assert len(cache) == 2
            api_keys.revoke_key(session, doomed_record.id)
            assert cache.verify(worker, doomed) is None
            assert cache.verify(worker, kept) is not None
            assert cache.verify(worker, doomed) is None
    finally:
        other.dispose()


def test_failed_checks_cost_one_statement_and_are_not_remembered(
    session: Session, engine: Engine
) -> None:
    """An unknown key is one statement, as before, and leaves nothing in memory; malformed
    ones reach no database at all."""
    plaintext, _ = api_keys.create_key(session, "analyst", "data")
    cache = KeyCache()
    wrong = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    with statements(engine) as sent:
        for _ in range(3):
            assert cache.verify(session, wrong) is None
    assert len(sent) == 3 and len(cache) == 0
    with statements(engine) as sent:
        assert cache.verify(session, "") is None
        assert cache.verify(session, None) is None
        assert cache.verify(session, "x" * 5000) is None
    assert sent == []
    assert not any(plaintext in s or wrong in s for s in sent)


def test_revoking_moves_the_generation_once_per_revocation(session: Session) -> None:
    """Only a revocation that changes something moves the counter (revoking twice is one)."""
    cache = KeyCache()
    plaintext, record = api_keys.create_key(session, "admin", "ops")
    cache.verify(session, plaintext)
    start = cache.generation
    api_keys.revoke_key(session, record.id)
    api_keys.revoke_key(session, record.id)
    assert cache.verify(session, plaintext) is None
    assert cache.generation == start + 1


def test_an_older_read_from_a_slower_thread_is_not_remembered() -> None:
    """A record read at an older generation than the cache holds is not kept (a thread that
    read before a revocation must not put the revoked key back)."""
    cache = KeyCache()
    record = api_keys.ApiKeyRecord(1, "a", "practitioner", "vcs_ab", None, None)  # type: ignore[arg-type]
    cache._remember(6, "d1", None)
    cache._remember(5, "d2", record)
    assert len(cache) == 0 and cache.generation == 6
    cache._remember(6, "d2", record)
    assert len(cache) == 1
    cache._remember(7, "d3", None)
    assert len(cache) == 0 and cache.generation == 7


def test_the_cache_is_bounded() -> None:
    """At ``max_keys`` the cache starts again rather than growing."""
    cache = KeyCache(max_keys=2)
    record = api_keys.ApiKeyRecord(1, "a", "practitioner", "vcs_ab", None, None)  # type: ignore[arg-type]
    for digest in ("a", "b", "c"):
        cache._remember(1, digest, record)
    assert len(cache) == 1


def test_recall_answers_only_remembered_keys_and_reads_nothing(
    session: Session, engine: Engine
) -> None:
    """``recall`` (the key gate's from-memory answer) knows a key only once a check has
    verified it, never a key it has not seen, and sends no statement either way."""
    plaintext, record = api_keys.create_key(session, "practitioner", "team")
    cache = KeyCache()
    with statements(engine) as sent:
        assert cache.recall(plaintext) is None
        assert cache.recall("vcs_not-a-key") is None
    assert sent == []
    assert cache.verify(session, plaintext) == record
    with statements(engine) as sent:
        assert cache.recall(plaintext) == (record, cache.generation)
        assert cache.recall(None) is None
    assert sent == []
