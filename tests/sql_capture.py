"""The SQL an engine's pooled connections run, whichever path sends it.

SQLAlchemy's engine events see only statements sent through its ``Connection``; the answer
path's log writes and key-generation reads run on the pool's DBAPI connection
(``vcsmatch.store.driver``), and its no-wait statements on connections it took out of the pool
for good. So statements are caught on the DBAPI connection itself, from the pool's
``checkout`` to its ``checkin`` (the driver's own connections: for the whole block):
SQLite's trace callback (every statement SQLite runs, ``BEGIN`` and ``COMMIT`` included), and
on PostgreSQL a recording cursor class (every statement sent through a cursor; psycopg's own
``BEGIN``/``COMMIT`` are not cursor statements, so ``commit()`` calls are recorded as
``COMMIT``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

from vcsmatch.store.driver import driver


@dataclass
class Checkout:
    """The statements one checkout of a pooled connection ran, in order."""

    statements: list[str] = field(default_factory=list)

    def sql(self, *, skip: tuple[str, ...] = ("PRAGMA", "SET", "SAVEPOINT")) -> list[str]:
        """The statements, without pings and those starting with a word of ``skip``."""
        return [
            s
            for s in self.statements
            if s.split()[0].upper() not in skip and " ".join(s.split()).upper() != "SELECT 1"
        ]


def _recording_cursor(base: type[Any], into: list[str]) -> type[Any]:
    class Recording(base):  # type: ignore[misc, valid-type]
        def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            into.append(str(query))
            return super().execute(query, *args, **kwargs)

        def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            into.append(str(query))
            return super().executemany(query, *args, **kwargs)

    return Recording


@contextmanager
def checkouts(engine: Engine) -> Iterator[list[Checkout]]:
    """Every checkout of ``engine``'s pool while the block runs, with its statements.

    A connection checked out in the block and checked in after it is still restored then:
    the check-in listener stays registered when the block ends with one still out."""
    done: list[Checkout] = []
    restore: dict[int, Any] = {}
    traced: set[int] = set()

    def checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:  # noqa: ANN401
        current = Checkout()
        done.append(current)
        traced.add(id(dbapi_conn))
        if engine.dialect.name == "sqlite":
            dbapi_conn.set_trace_callback(current.statements.append)
            return
        restore[id(dbapi_conn)] = dbapi_conn.cursor_factory
        dbapi_conn.cursor_factory = _recording_cursor(dbapi_conn.cursor_factory, current.statements)
        base_commit = dbapi_conn.commit

        def commit() -> None:
            current.statements.append("COMMIT")
            base_commit()

        dbapi_conn.commit = commit

    def checkin(dbapi_conn: Any, record: Any) -> None:  # noqa: ANN401
        if dbapi_conn is not None and id(dbapi_conn) in traced:
            traced.discard(id(dbapi_conn))
            if engine.dialect.name == "sqlite":
                dbapi_conn.set_trace_callback(None)
            elif id(dbapi_conn) in restore:
                dbapi_conn.cursor_factory = restore.pop(id(dbapi_conn))
                del dbapi_conn.commit  # the instance attribute set at checkout: the class's again

    # The driver's no-wait statements run on connections of its own, out of the pool: each
    # is traced for the whole block, as one "checkout" (SQLite only has them).
    own = driver(engine).own_connections() if engine.dialect.name == "sqlite" else []
    for dbapi_conn in own:
        current = Checkout()
        done.append(current)
        dbapi_conn.set_trace_callback(current.statements.append)
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield done
    finally:
        event.remove(engine, "checkout", checkout)
        for dbapi_conn in own:
            dbapi_conn.set_trace_callback(None)
        if not traced:  # else it stays, to restore those connections when they come back
            event.remove(engine, "checkin", checkin)
