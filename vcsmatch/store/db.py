"""Engines, sessions and migrations: the one place that knows which database we talk to.

SQLite (the default) is configured on *every* new connection, because its pragmas are
per-connection: WAL (readers never block the writer), ``synchronous=FULL`` (an acknowledged
commit survives power loss, not only a crash), a 30 s busy timeout and foreign keys on.
pysqlite's own transaction handling is switched off and we emit ``BEGIN`` ourselves, so that
store functions that write can start with ``BEGIN IMMEDIATE`` (see ``begin_write``): a
deferred transaction that reads first and then writes can fail at once with "database is
locked" when another writer committed in between, whatever the busy timeout.

What a commit must survive, per table. A **rating** (``ratings``; also catalogue versions,
models, keys, secrets and the learner's records) is acknowledged only once its commit is on
disk: it survives a SIGKILL of the server and a power cut (SQLite ``synchronous=FULL``, which
in WAL mode syncs the log at every commit; PostgreSQL's default ``synchronous_commit = on``).
The **logs** (``recommendation_requests``, ``exposures``, ``audit_log``) are written in
transactions marked ``LOG_COMMIT``, whose commit does not wait for the disk: SQLite
``synchronous=NORMAL`` (set on the connection before ``BEGIN``; a WAL commit then survives a
SIGKILL of any process, and only a power cut or OS crash can lose the last few), PostgreSQL
``SET LOCAL synchronous_commit = off`` (the row is committed and visible at once; a crash of the
database server, not of ours, can lose the last ~0.6 s of them). What a rating that cites a
request needs of the request log still holds: the rating reads the request row, so the request
committed first, and both databases write their log in order, so the rating's synced commit
carries every earlier commit to disk with it. A lost log row can only be one that no
acknowledged rating cites (an exposure or audit entry of the last moments before a power cut).

PostgreSQL is reached through psycopg 3 with ``pool_pre_ping`` so a restarted server costs a
reconnect, not an error, and a pool of ``PG_POOL_SIZE`` connections. Every engine hides
statement parameters (``hide_parameters``) and the values of fetched rows from SQLAlchemy's
log: they are people's features, and would otherwise appear in its log (at INFO and DEBUG)
and in its exception messages.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from vcsmatch.settings import Settings

#: SQLite's busy timeout: how long a connection waits for a lock before giving up.
BUSY_TIMEOUT_MS = 30_000
#: PostgreSQL connections each engine keeps open (SQLAlchemy's default is 5, plus 10 overflow
#: connections that are closed as soon as they are returned). An API worker runs up to 40
#: thread-pool jobs at once; at 16 requests in flight more than 5 were often checked out, so
#: connections were opened and closed all the time (a new server process each time: about
#: 2.5 ms of PostgreSQL CPU per recommendation in benchmarks/api.py, against 0.6 ms with 20).
PG_POOL_SIZE = 20

_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Execution option marking a transaction that writes only logs (module docstring: its
#: commit does not wait for the disk). ``single_statement(..., log=True)`` sets it.
LOG_COMMIT = "vcsmatch_log_commit"
#: Execution option marking a SQLite transaction that only reads: it commits nothing, so it
#: keeps whatever ``synchronous`` level the connection has instead of setting its own (a
#: recommendation's key check would otherwise switch its connection to FULL and its log
#: transaction back to NORMAL: two statements per answer for nothing).
READ_ONLY = "vcsmatch_read_only"
#: Connection ``info`` key: the SQLite ``synchronous`` level the connection has now (a pragma
#: outlives the transaction that set it), shared with ``vcsmatch.store.driver``.
SYNCHRONOUS_INFO = "vcsmatch_synchronous"
#: Arbitrary constant naming the PostgreSQL advisory lock that serialises migrations.
_PG_MIGRATION_LOCK = 0x7C5_3A7C


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A configured engine for ``url`` (SQLite file or PostgreSQL)."""
    url = normalise_url(url)
    parsed = make_url(url)
    # Statement parameters are people's (minimised) features and keyed hashes: keep them out of
    # SQLAlchemy's statement log and out of the text of its exceptions.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", PG_POOL_SIZE)
    return create_engine(url, **kwargs)


def _enable_wal(cursor: Any) -> None:
    """Switch the database to WAL. Connections opening a fresh database at once (workers
    starting together) can find it locked while another switches it, and SQLite does not wait
    on the busy timeout for this pragma, so retry until that timeout has passed."""
    import sqlite3
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _enable_wal(cur)
            cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        # Every transaction sets its own level (a pragma outlives the transaction that set
        # it): FULL unless it writes only logs. Not transactional, so tracking it is exact.
        level = "NORMAL" if options.get(LOG_COMMIT) else "FULL"
        info = conn.connection.info
        if not options.get(READ_ONLY) and info.get(SYNCHRONOUS_INFO, "FULL") != level:
            conn.exec_driver_sql(f"PRAGMA synchronous = {level}")
            info[SYNCHRONOUS_INFO] = level
        mode = options.get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for ``engine``; objects stay readable after commit (they are plain records)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def begin_write(session: Session) -> None:
    """Start ``session``'s next transaction as a writer: ``BEGIN IMMEDIATE`` on SQLite.

    Taking the write lock up front means the busy timeout applies, so concurrent writers queue
    instead of failing. A read-only transaction the session already has open is ended first.
    """
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            return  # caller has pending work; keep it in the same transaction
        session.commit()
    if is_sqlite(session):
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    else:
        session.connection()


def begin_single(session: Session, *, write: bool) -> None:
    """Start ``session``'s next unit of work, which is one SQL statement.

    PostgreSQL runs it in autocommit: the statement is its own transaction, so no ``BEGIN`` and
    ``COMMIT`` round trips (``session.commit()`` then only returns the connection, whose
    isolation level the pool resets). A transaction the session already has is joined instead.
    SQLite: a write begins ``IMMEDIATE`` (``begin_write``), a read as usual.
    """
    if is_sqlite(session):
        if write:
            begin_write(session)
    elif not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


_autocommit_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _autocommit(engine: Engine) -> Engine:
    """``engine`` with autocommit connections (same pool), made once per engine."""
    found = _autocommit_engines.get(engine)
    if found is None:
        found = _autocommit_engines[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


@contextmanager
def single_statement(
    session: Session, *, write: bool, statements: int = 1, log: bool = False
) -> Iterator[Connection]:
    """A connection for one SQL statement that is its own unit of work, committed on exit.

    When ``session`` has no transaction open, the statement bypasses the session: it runs on a
    connection of its own straight from the engine's pool, as a Core statement, so none of the
    ORM's unit-of-work machinery runs (in benchmarks/api.py that machinery cost more CPU than
    the statements themselves). PostgreSQL runs it in autocommit (no ``BEGIN``/``COMMIT``
    round trips); SQLite in a short transaction, ``BEGIN IMMEDIATE`` for a write, committed
    when the block ends. A transaction the session already has is joined instead, and
    committed on exit for a write, as the store's functions always do.

    ``statements`` > 1: the block runs that many statements, which must commit together, so on
    PostgreSQL they share one transaction instead of autocommitting one by one.

    ``log``: the block writes only log rows (``LOG_COMMIT``, module docstring), so its commit
    does not wait for the disk; on PostgreSQL that takes a transaction (``SET LOCAL``). A
    transaction the session already has keeps its own level.
    """
    bind = session.get_bind()
    if session.in_transaction() or not isinstance(bind, Engine):
        begin_single(session, write=write)
        yield session.connection()
        if write:
            session.commit()
        return
    if bind.dialect.name == "sqlite":
        with bind.connect() as conn:
            if write:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE", **{LOG_COMMIT: log})
            else:
                conn = conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn
        return
    if write and log:
        with bind.begin() as conn:
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            yield conn
        return
    if statements > 1:
        with bind.begin() as conn:
            yield conn
        return
    with _autocommit(bind).connect() as conn:
        yield conn


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic ``upgrade head``).

    Safe to call from several processes at once: SQLite serialises on ``BEGIN IMMEDIATE``,
    PostgreSQL on an advisory lock; the later callers find the schema current.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS_DIR))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


def integrity_problems(engine: Engine) -> list[str]:
    """What the database's own consistency check reports; empty when it is sound.

    SQLite: ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``. PostgreSQL checks its
    pages itself (and the server refuses corrupt ones), so this only confirms it answers.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
            problems = [r for r in rows if r != "ok"]
            problems += [
                f"foreign key violation in {r[0]} row {r[1]} -> {r[2]}"
                for r in conn.exec_driver_sql("PRAGMA foreign_key_check")
            ]
            return problems
        conn.exec_driver_sql("SELECT 1")
        return []


class _HideRowValues(logging.Filter):
    """SQLAlchemy's DEBUG log prints every row it fetches (``Row %r``): people's features and
    keyed hashes. The record stays (a row was fetched); its values go."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Row %r":
            record.args = ("<values hidden>",)
        return True


# Engines log through this logger (``echo`` unset); with ``hide_parameters`` no level of
# SQLAlchemy's logging shows a stored value.
logging.getLogger("sqlalchemy.engine.Engine").addFilter(_HideRowValues())

_engines: dict[str, Engine] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


def get_engine(settings: Settings) -> Engine:
    """The process's engine for ``settings``' database, created once per URL."""
    url = normalise_url(settings.resolved_database_url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def open_store(settings: Settings) -> sessionmaker[Session]:
    """Engine + migrations (once per URL per process) + a session factory: what faces need."""
    engine = get_engine(settings)
    url = str(engine.url)
    if url not in _migrated:
        migrate(engine)
        _migrated.add(url)
    return session_factory(engine)


def dispose_engines() -> None:
    """Close every cached engine (tests, and ``serve`` before forking workers)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _migrated.clear()
