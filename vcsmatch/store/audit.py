"""The audit log: who called which route, when, with what status and how many results.

It replaces the web server's access log, which would record query strings. It records the
route *template* (``/v1/services/{service_id}``), never a URL, a body or a person's features.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vcsmatch.store.db import begin_write
from vcsmatch.store.driver import write_log_rows
from vcsmatch.store.tables import AuditRow, utcnow


@dataclass(frozen=True)
class AuditRecord:
    id: int
    created_at: dt.datetime
    key_id: int | None
    method: str
    route_template: str
    status: int
    latency_ms: float
    n_results: int | None


def _record(row: AuditRow) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        created_at=row.created_at,
        key_id=row.key_id,
        method=row.method,
        route_template=row.route_template,
        status=row.status,
        latency_ms=row.latency_ms,
        n_results=row.n_results,
    )


def record(
    session: Session,
    *,
    key_id: int | None,
    method: str,
    route_template: str,
    status: int,
    latency_ms: float,
    n_results: int | None = None,
) -> AuditRecord:
    """Append one entry and commit it."""
    begin_write(session)
    row = AuditRow(
        key_id=key_id,
        method=method[:10],
        route_template=route_template[:200],
        status=int(status),
        latency_ms=float(latency_ms),
        n_results=n_results,
    )
    session.add(row)
    session.commit()
    return _record(row)


def append(session: Session, entry: Mapping[str, Any]) -> None:
    """Append one entry (``record``'s keyword arguments) and commit, returning nothing."""
    record_many(session, [entry])


def columns(e: Mapping[str, Any]) -> dict[str, Any]:
    """An entry's row (every column given: ``driver.write_log_rows`` runs no defaults)."""
    return {
        "created_at": e.get("created_at") or utcnow(),
        "key_id": e.get("key_id"),
        "method": str(e["method"])[:10],
        "route_template": str(e["route_template"])[:200],
        "status": int(e["status"]),
        "latency_ms": float(e["latency_ms"]),
        "n_results": e.get("n_results"),
    }


def record_many(session: Session, entries: Sequence[Mapping[str, Any]]) -> int:
    """Append several entries (each with ``record``'s keyword arguments, plus an optional
    ``created_at``) in one commit; returns how many.

    The API's writer: its audit middleware hands over every entry that finished while the
    previous batch was being written. One INSERT (an executemany for several entries) on the
    pool's DBAPI connection (``driver.write_log_rows``) skips the ORM's unit of work and the
    ``RETURNING id`` that ``record`` needs for its result; on SQLite, one commit per batch keeps
    the audit log from competing with ratings for the write lock. A log commit
    (``db.LOG_COMMIT``): it does not wait for the disk.
    """
    if not entries:
        return 0
    write_log_rows(session, [(AuditRow.__table__, [columns(e) for e in entries])])
    return len(entries)


def recent(session: Session, limit: int = 100) -> list[AuditRecord]:
    """The newest ``limit`` entries, newest first."""
    rows = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
    return [_record(r) for r in rows]
