"""Engines and migrations: pragmas on every connection, schema equal to the models."""

from __future__ import annotations

import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from vcsmatch.store import db
from vcsmatch.store.tables import Base


def test_sqlite_pragmas_are_set_on_every_new_connection(sqlite_url: str) -> None:
    """WAL, synchronous=FULL, a 30 s busy timeout and foreign keys hold on each connection."""
    engine = db.make_engine(sqlite_url)
    seen = []
    conns = [engine.raw_connection() for _ in range(3)]  # three distinct pool connections
    driver_ids = {id(c.driver_connection) for c in conns}
    for raw in conns:
        cur = raw.cursor()
        values = {}
        for pragma in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys"):
            cur.execute(f"PRAGMA {pragma}")
            values[pragma] = cur.fetchone()[0]
        seen.append(values)
    for raw in conns:
        raw.close()
    engine.dispose()
    assert len(driver_ids) == 3
    for values in seen:
        assert values == {
            "journal_mode": "wal",
            "synchronous": 2,  # FULL
            "busy_timeout": db.BUSY_TIMEOUT_MS,
            "foreign_keys": 1,
        }


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    """The hand-checked migration creates exactly the tables and columns tables.py declares."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)


def test_migrate_twice_is_a_no_op(engine: Engine) -> None:
    """Running migrations on a current schema changes nothing and raises nothing."""
    db.migrate(engine)
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    assert current == _head_revision()


def _head_revision() -> str:
    """The newest migration's revision id, read from the migrations folder."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(db._MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_postgres_urls_use_psycopg3() -> None:
    """A plain postgresql:// URL is routed to psycopg 3, not the absent psycopg2."""
    assert db.normalise_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_concurrent_migrations_from_several_workers_all_succeed(database_url: str) -> None:
    """Four engines (as four workers would) migrating one fresh database at once all succeed."""
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        engine = db.make_engine(database_url)
        try:
            barrier.wait()
            db.migrate(engine)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == _head_revision()
        assert db.integrity_problems(engine) == []
    finally:
        engine.dispose()


def test_integrity_check_reports_a_dangling_foreign_key(sqlite_url: str) -> None:
    """A row pointing at a missing catalogue version is reported, not ignored."""
    engine = db.make_engine(sqlite_url)
    db.migrate(engine)
    raw = sqlite3.connect(engine.url.database)  # a connection without our pragmas
    raw.execute(
        "INSERT INTO catalogue_services (version_id, position, service_id, data) "
        "VALUES (42, 0, 'x', '{}')"
    )
    raw.commit()
    raw.close()
    problems = db.integrity_problems(engine)
    engine.dispose()
    assert problems and "catalogue_services" in problems[0]
