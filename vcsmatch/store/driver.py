"""The answer path's statements, run on the pool's own DBAPI connection.

Why: on the API's hot path (a recommendation's log rows, a remembered key's generation read)
SQLAlchemy's ``Connection`` and transaction machinery cost several times the statements
themselves (BENCHMARKS.md, issue 18: a key-generation read took 87 µs through
``db.single_statement``, 17 µs on the raw connection, 5 µs in plain sqlite3). So the few
statements of that path are compiled once by SQLAlchemy (its SQL, its type conversions), and
run with the DBAPI cursor of a pooled connection. What the rest of the store relies on holds:
the connection comes from, and goes back to, the engine's pool (whose ``connect`` listeners
set SQLite's pragmas); errors arrive as SQLAlchemy's exceptions (``IntegrityError``,
``OperationalError``) with parameters hidden; a lost connection is invalidated as the engine
would; and each transaction sets SQLite's ``synchronous`` level or PostgreSQL's commit setting
as ``vcsmatch.store.db`` says a log commit must (tracked in the same connection ``info`` as
``db``'s own transactions, so the two never disagree).

Statements that must not wait (``wait=False``: the event loop's own log commit and key read,
SQLite only) run on a connection of the calling thread's own instead of a pooled one: taken
from the pool once (so its ``connect`` pragmas are set), detached from it, and set once with
no busy timeout, no automatic checkpoint and the log's ``synchronous`` level. Each no-wait
statement then costs no pool checkout and no pragma round trips around it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from vcsmatch.store.db import SYNCHRONOUS_INFO, single_statement
from vcsmatch.store.tables import KeyGenerationRow

logger = logging.getLogger("vcsmatch.store")

#: Commits that skipped it before ``Driver.checkpoint_due``: a recommendation's log commit adds
#: about 20 pages to the WAL (request, exposures, audit entry and their indexes), so about as
#: often as SQLite's own threshold would run it.
CHECKPOINT_EVERY = 50
#: The store's key generation (``vcsmatch.store.key_cache``).
_GENERATION = select(KeyGenerationRow.generation).where(KeyGenerationRow.slot == 1)
#: One table's rows for ``write_log_rows``: the table and its rows as column-name mappings.
Rows = tuple[Table, Sequence[Mapping[str, Any]]]


class KeyGenerationMoved(Exception):  # noqa: N818 - a signal to re-check the key, not a fault
    """The store's key generation is not the one the caller's key was remembered at: a key
    was revoked (or created) since, so the caller must check its key again before its write."""


class WouldWait(Exception):  # noqa: N818 - a signal to retry where waiting is fine
    """A write asked not to wait (``wait=False``) would have: the store's write lock is held
    elsewhere, the pool has no idle connection, or the store is not SQLite (a server's round
    trips may stall). Nothing was written; retry the write where waiting is harmless."""


@dataclass(frozen=True)
class _Insert:
    """One compiled ``INSERT``: its SQL, its parameters' order and their type conversions."""

    sql: str
    keys: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool

    def params(self, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [
            row[k] if p is None else p(row[k])
            for k, p in zip(self.keys, self.processors, strict=True)
        ]
        return tuple(values) if self.positional else dict(zip(self.keys, values, strict=True))

    def many(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...] | dict[str, Any]]:
        """Each row's ``params``, converting a value once where every row holds that same
        object (a request's time on each of its exposure rows: the type conversion of a
        datetime was a tenth of a recommendation's log write)."""
        first = rows[0]
        shared = {
            k: p(first[k])
            for k, p in zip(self.keys, self.processors, strict=True)
            if p is not None and all(row[k] is first[k] for row in rows)
        }
        processors = [
            None if k in shared else p for k, p in zip(self.keys, self.processors, strict=True)
        ]
        out = []
        for row in rows:
            values = [
                shared[k] if k in shared else row[k] if p is None else p(row[k])
                for k, p in zip(self.keys, processors, strict=True)
            ]
            out.append(
                tuple(values) if self.positional else dict(zip(self.keys, values, strict=True))
            )
        return out


class Driver:
    """One engine's compiled statements, and the DBAPI transactions that run them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.sqlite = self.dialect.name == "sqlite"
        self._dbapi_error: type[Exception] = self.dialect.loaded_dbapi.Error
        self._inserts: dict[tuple[str, tuple[str, ...]], _Insert] = {}
        self._lock = threading.Lock()
        #: Commits since the last checkpoint that skipped SQLite's automatic one.
        self._unchecked_commits = 0
        #: Each thread's own connection for statements that must not wait (``_no_wait``).
        self._own = threading.local()
        self._own_connections: list[Any] = []
        self._generation_sql = str(
            _GENERATION.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True})
        )

    def compile_insert(self, table: Table, columns: Sequence[str]) -> _Insert:
        """``INSERT INTO table (columns)``, compiled once per column set. Every column with a
        default must be given: the default would not run here, only in SQLAlchemy's own path."""
        key = (table.name, tuple(columns))
        found = self._inserts.get(key)
        if found is not None:
            return found
        missing = [c.name for c in table.columns if c.default is not None and c.name not in columns]
        if missing:
            raise ValueError(f"{table.name}: give the defaulted columns {missing} explicitly")
        compiled = insert(table).compile(
            dialect=self.dialect, column_keys=list(columns), for_executemany=True
        )
        positional = bool(self.dialect.positional)
        keys = tuple(compiled.positiontup or ()) if positional else tuple(columns)
        processors = tuple(
            table.c[k].type.dialect_impl(self.dialect).bind_processor(self.dialect) for k in keys
        )
        found = _Insert(compiled.string, keys, processors, positional)
        with self._lock:
            self._inserts[key] = found
        return found

    @contextmanager
    def _checkout(self) -> Iterator[tuple[Any, Any]]:
        """A pooled connection and a cursor; DBAPI errors become SQLAlchemy's (parameters
        hidden), and a connection found lost is invalidated so the pool replaces it."""
        try:
            fairy = self.engine.raw_connection()
        except self._dbapi_error as exc:
            raise self._wrapped(exc, "connect", False) from exc
        cursor = None
        try:
            cursor = fairy.cursor()
            yield fairy, cursor
        except self._dbapi_error as exc:
            lost = self.dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
            if lost:
                fairy.invalidate(exc)
            raise self._wrapped(exc, "execute", lost) from exc
        finally:
            if cursor is not None:
                # A cursor of a lost connection goes with it; the pool's reset deals with it.
                with suppress(self._dbapi_error):
                    cursor.close()
            fairy.close()

    def _wrapped(self, exc: Exception, what: str, lost: bool) -> DBAPIError:
        return DBAPIError.instance(
            what,
            None,
            exc,
            self._dbapi_error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=self.dialect,
        )

    def read_generation(self, *, wait: bool = True) -> int:
        """The store's key generation, read in autocommit (no transaction round trips).

        ``wait=False``: ``WouldWait`` rather than wait (``transaction``'s rule): SQLite only,
        read with no busy timeout (a reader of a WAL database waits only in rare recoveries)."""
        if not wait:
            with self._no_wait() as cursor:
                return self.generation_in(cursor)
        with self._checkout() as (fairy, cursor):
            if self.sqlite:
                return self.generation_in(cursor)
            raw = fairy.dbapi_connection
            raw.autocommit = True
            try:
                return self.generation_in(cursor)
            finally:
                raw.autocommit = False

    def generation_in(self, cursor: Any) -> int:  # noqa: ANN401 - a DBAPI cursor
        """The key generation, read with ``cursor`` (in whatever transaction it is in)."""
        cursor.execute(self._generation_sql)
        return int(cursor.fetchone()[0])

    @contextmanager
    def transaction(self, *, log: bool, wait: bool = True) -> Iterator[_Transaction]:
        """One write transaction, committed when the block ends and rolled back if it raises.

        ``log``: it writes only log rows, whose commit need not wait for the disk
        (``vcsmatch.store.db``: SQLite ``synchronous=NORMAL``, PostgreSQL
        ``synchronous_commit = off``); otherwise it waits (SQLite ``FULL``).
        ``wait=False`` (log rows only): raise ``WouldWait`` rather than wait for a lock, so the
        event loop may try the write itself (SQLite only: its statements never leave the
        process, and with the lock taken at ``BEGIN IMMEDIATE`` nothing after it waits). Its
        commit skips SQLite's automatic checkpoint (tens of milliseconds of writing back and
        syncing, every few dozen commits), which ``checkpoint_due`` asks the caller to run
        where waiting is harmless."""
        if not wait:
            if not log:
                raise ValueError("transaction(wait=False) writes log rows only (log=True)")
            with self._no_wait() as cursor:
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield _Transaction(self, cursor)
                except BaseException:
                    cursor.connection.rollback()
                    raise
                cursor.connection.commit()
            with self._lock:
                self._unchecked_commits += 1
            return
        with self._checkout() as (fairy, cursor):
            if self.sqlite:
                level = "NORMAL" if log else "FULL"
                if fairy.info.get(SYNCHRONOUS_INFO, "FULL") != level:
                    cursor.execute(f"PRAGMA synchronous = {level}")
                    fairy.info[SYNCHRONOUS_INFO] = level
                cursor.execute("BEGIN IMMEDIATE")
            elif log:
                cursor.execute("SET LOCAL synchronous_commit = off")
            try:
                yield _Transaction(self, cursor)
            except BaseException:
                fairy.rollback()
                raise
            fairy.commit()

    def checkpoint_due(self) -> bool:
        """Whether commits that skipped SQLite's automatic checkpoint (``wait=False``) have
        added up to one that it would have run (``CHECKPOINT_EVERY`` of them)."""
        return self._unchecked_commits >= CHECKPOINT_EVERY

    def checkpoint(self) -> None:
        """A passive WAL checkpoint (it never waits for readers or writers), as SQLite's own
        automatic one; blocking: run it where waiting is harmless (a worker thread)."""
        with self._lock:
            self._unchecked_commits = 0
        try:
            with self._checkout() as (_fairy, cursor):
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.fetchall()
        except DBAPIError as exc:  # the next one, or SQLite's own, catches up
            logger.warning(
                "a WAL checkpoint failed (%s); the next one retries", type(exc.orig).__name__
            )

    @contextmanager
    def _no_wait(self) -> Iterator[Any]:
        """A cursor of this thread's own connection for statements that must not wait:
        ``WouldWait`` at once for a store that is not SQLite, or where SQLite would wait for a
        lock (``SQLITE_BUSY``); other errors as SQLAlchemy's, after which the connection is
        closed and the thread's next statement opens a fresh one."""
        if not self.sqlite:
            raise WouldWait
        connection = getattr(self._own, "connection", None)
        if connection is None:
            connection = self._own.connection = self._own_connection()
        cursor = connection.cursor()
        try:
            yield cursor
        except self._dbapi_error as exc:
            if getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                raise WouldWait from None
            if not isinstance(exc, self.dialect.loaded_dbapi.IntegrityError):
                self._own.connection = None
                with self._lock:
                    self._own_connections.remove(connection)
                with suppress(self._dbapi_error):
                    connection.close()
            raise self._wrapped(exc, "execute", False) from exc
        finally:
            with suppress(self._dbapi_error):
                cursor.close()

    def _own_connection(self) -> Any:  # noqa: ANN401 - a DBAPI connection
        """A connection out of the pool for good (``detach``), set for ``_no_wait``."""
        try:
            fairy = self.engine.raw_connection()
        except self._dbapi_error as exc:
            raise self._wrapped(exc, "connect", False) from exc
        connection = fairy.dbapi_connection
        fairy.detach()
        cursor = connection.cursor()
        try:
            cursor.execute("PRAGMA busy_timeout = 0")
            cursor.execute("PRAGMA wal_autocheckpoint = 0")
            cursor.execute("PRAGMA synchronous = NORMAL")  # it writes log rows only
        finally:
            cursor.close()
        with self._lock:
            self._own_connections.append(connection)
        return connection

    def own_connections(self) -> list[Any]:
        """The threads' own connections open now (``_no_wait``), for a caller that traces
        every statement of the engine (the tests' ``sql_capture``)."""
        with self._lock:
            return list(self._own_connections)


class _Transaction:
    """A ``Driver.transaction``'s statements."""

    def __init__(self, driver: Driver, cursor: Any) -> None:  # noqa: ANN401 - a DBAPI cursor
        self._driver = driver
        self._cursor = cursor

    def generation(self) -> int:
        """The store's key generation, as this transaction sees it."""
        return self._driver.generation_in(self._cursor)

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (one executemany for several), all with the first row's columns."""
        if not rows:
            return
        statement = self._driver.compile_insert(table, tuple(rows[0]))
        if len(rows) == 1:
            self._cursor.execute(statement.sql, statement.params(rows[0]))
        else:
            self._cursor.executemany(statement.sql, statement.many(rows))


_drivers: weakref.WeakKeyDictionary[Engine, Driver] = weakref.WeakKeyDictionary()
_drivers_lock = threading.Lock()


def driver(engine: Engine) -> Driver:
    """``engine``'s driver, made once per engine."""
    found = _drivers.get(engine)
    if found is None:
        with _drivers_lock:
            found = _drivers.get(engine)
            if found is None:
                found = _drivers[engine] = Driver(engine)
    return found


def _engine(session: Session) -> Engine | None:
    """The session's engine when it has no transaction open (so the driver may take a
    connection of its own), else None."""
    bind = session.get_bind()
    if session.in_transaction() or not isinstance(bind, Engine):
        return None
    return bind


def key_generation(session: Session) -> int:
    """The store's key generation (``vcsmatch.store.key_cache``), in the session's open
    transaction if it has one, else on a pooled connection in autocommit."""
    engine = _engine(session)
    if engine is not None:
        return driver(engine).read_generation()
    with single_statement(session, write=False) as conn:
        return int(conn.execute(_GENERATION).scalar_one())


def write_log_rows(
    session: Session,
    batches: Sequence[Rows],
    *,
    key_generation: int | None = None,
    wait: bool = True,
) -> None:
    """Insert log rows into several tables in one transaction and one log commit.

    ``key_generation``: the key generation the caller's key was remembered at; the
    transaction first reads the store's and, if it has moved, writes nothing and raises
    ``KeyGenerationMoved`` (the key check and the write in one round of the database).
    A transaction the session already has open is joined and committed instead.
    ``wait=False``: ``WouldWait`` rather than wait for a connection or a lock
    (``Driver.transaction``), and always with a transaction already open.
    """
    engine = _engine(session)
    if engine is None and not wait:
        raise WouldWait
    if engine is None:
        with single_statement(session, write=True, statements=len(batches), log=True) as conn:
            confirm = key_generation is not None
            if confirm and conn.execute(_GENERATION).scalar_one() != key_generation:
                session.rollback()
                raise KeyGenerationMoved
            for table, rows in batches:
                if rows:
                    conn.execute(insert(table), list(rows))
        return
    with driver(engine).transaction(log=True, wait=wait) as tx:
        if key_generation is not None and tx.generation() != key_generation:
            raise KeyGenerationMoved
        for table, rows in batches:
            tx.insert(table, rows)
