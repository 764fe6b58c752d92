"""Server-side web sessions (issue 17, finding 7): a signed cookie alone kept working for
eight hours after sign-out; now the store says whether a session is live.

A session is live while it has not ended (sign-out), its key is not revoked (checked by the
caller on every request) and it was seen within the idle limit. Only a SHA-256 of the session
id is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vcsmatch.store.tables import WebSessionRow, utcnow

#: A live session's ``last_seen_at`` is written at most this often (not on every page).
_TOUCH_SECONDS = 60.0


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start(session: Session, sid: str, key_id: int) -> None:
    """Record a new signed-in session and commit."""
    now = utcnow()
    session.add(
        WebSessionRow(sid_sha256=_digest(sid), key_id=key_id, created_at=now, last_seen_at=now)
    )
    session.commit()


def live_key_id(session: Session, sid: str, *, idle_seconds: float) -> int | None:
    """The key id of the live session ``sid``, or None (unknown, ended or idle too long);
    refreshes its last-seen time (committed) now and then."""
    row = session.scalars(
        select(WebSessionRow).where(WebSessionRow.sid_sha256 == _digest(sid))
    ).first()
    if row is None or row.ended_at is not None:
        return None
    now = utcnow()
    idle = (now - _aware(row.last_seen_at)).total_seconds()
    if idle > idle_seconds:
        row.ended_at = now
        session.commit()
        return None
    if idle > _TOUCH_SECONDS:
        row.last_seen_at = now
        session.commit()
    return row.key_id


def end(session: Session, sid: str) -> None:
    """End the session ``sid`` (sign-out) and commit; ending an unknown one does nothing."""
    session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.sid_sha256 == _digest(sid), WebSessionRow.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    session.commit()


def end_for_key(session: Session, key_id: int) -> int:
    """End every session of ``key_id`` (its key was revoked) and commit; how many ended."""
    result = session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.key_id == key_id, WebSessionRow.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    session.commit()
    return int(result.rowcount or 0)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
