"""The learner's lease: exactly one learner per store, across workers and machines.

A learner takes the lease with one conditional ``UPDATE`` (free, expired, or already its own),
so two workers or two machines asking at once cannot both win, on SQLite and PostgreSQL alike.
The lease lasts ``seconds``; a learner that crashes simply stops renewing it and the next one
takes over when it expires. The same row remembers when the last attempt started and the newest
rating id it saw, which is what "new ratings since the last attempt" counts from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from vcsmatch.store.db import begin_write
from vcsmatch.store.tables import LearnerLeaseRow, RatingRow, utcnow

NAME = "learner"


@dataclass(frozen=True)
class LearnerState:
    """The lease row: who holds it until when, and the last attempt's start and ratings."""

    holder: str | None
    expires_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_rating_id: int


def state(session: Session) -> LearnerState:
    row = session.get(LearnerLeaseRow, NAME)
    if row is None:  # the migration inserts it; a hand-made store may lack it
        return LearnerState(None, None, None, 0)
    return LearnerState(row.holder, row.expires_at, row.last_attempt_at, int(row.last_rating_id))


def newest_rating_id(session: Session) -> int:
    return int(session.scalar(select(func.max(RatingRow.id))) or 0)


def new_ratings(session: Session) -> int:
    """Ratings stored since the last attempt (or the last model registered by hand)."""
    since = state(session).last_rating_id
    return int(
        session.scalar(select(func.count()).select_from(RatingRow).where(RatingRow.id > since)) or 0
    )


def acquire(session: Session, holder: str, seconds: float) -> bool:
    """Take (or renew) the lease for ``seconds``; True when ``holder`` now holds it."""
    now = utcnow()
    begin_write(session)
    result = session.execute(
        update(LearnerLeaseRow)
        .where(LearnerLeaseRow.name == NAME)
        .where(
            or_(
                LearnerLeaseRow.holder.is_(None),
                LearnerLeaseRow.holder == holder,
                LearnerLeaseRow.expires_at < now,
            )
        )
        .values(holder=holder, expires_at=now + dt.timedelta(seconds=seconds))
    )
    session.commit()
    return result.rowcount == 1


def release(session: Session, holder: str) -> None:
    """Give the lease up (only ``holder``'s own)."""
    begin_write(session)
    session.execute(
        update(LearnerLeaseRow)
        .where(LearnerLeaseRow.name == NAME, LearnerLeaseRow.holder == holder)
        .values(holder=None, expires_at=None)
    )
    session.commit()


def mark_attempt(session: Session, last_rating_id: int) -> None:
    """An attempt starts now, over ratings up to ``last_rating_id``."""
    begin_write(session)
    session.execute(
        update(LearnerLeaseRow)
        .where(LearnerLeaseRow.name == NAME)
        .values(last_attempt_at=utcnow(), last_rating_id=int(last_rating_id))
    )
    session.commit()


def mark_seen(session: Session, last_rating_id: int) -> None:
    """A model covering ratings up to ``last_rating_id`` was registered by hand: those
    ratings are not new to the learner (the interval clock is left alone)."""
    begin_write(session)
    session.execute(
        update(LearnerLeaseRow)
        .where(LearnerLeaseRow.name == NAME, LearnerLeaseRow.last_rating_id < int(last_rating_id))
        .values(last_rating_id=int(last_rating_id))
    )
    session.commit()
