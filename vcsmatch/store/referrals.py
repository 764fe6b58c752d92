"""Referrals: a practitioner refers a person to one suggested service, and records what became of
it (accepted, declined with a reason, attended, not attended, withdrawn).

A referral names the recommendation request and one of the services it suggested; only the key
that made the request may refer from it, and only that key sees or updates the referral (for
any other key it does not exist). One referral per (request, service): making it again returns
the same referral, so a retry never refers twice.

Outcomes are relevance evidence for the learner. An outcome that says something about fit
(``OUTCOME_RATING``) is written, in the same commit as the status change, as a row of the ratings
log with the request's minimised person and ``referral_id`` set, so the learner, ``vcsmatch
train --from-store`` and the export all see it; ``ratings_log.ratings_frame`` lets the newest
outcome of a suggestion stand in for any practitioner rating of that same suggestion (it is the
stronger evidence). No new personal data is stored: the person's features are the request's.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vcsmatch.errors import DataError, NotFoundError
from vcsmatch.store.db import begin_write
from vcsmatch.store.recommendation_log import may_cite
from vcsmatch.store.secrets import person_key as keyed_hash
from vcsmatch.store.tables import (
    REFERRAL_STATUSES,
    RatingRow,
    RecommendationRequestRow,
    ReferralRow,
    utcnow,
)

STATUSES = REFERRAL_STATUSES

#: Why a service or the person declined. Only ``not_suitable`` is evidence against relevance:
#: a full waiting list or a missed phone call says nothing about fit.
DECLINE_REASONS: tuple[str, ...] = (
    "not_suitable",
    "not_eligible",
    "no_capacity",
    "person_declined",
    "no_contact",
    "other",
)

#: Where a referral may go next; the others are final.
NEXT: dict[str, tuple[str, ...]] = {
    "made": ("accepted", "declined", "withdrawn"),
    "accepted": ("attended", "not_attended", "withdrawn"),
}

#: Open referrals still wait for an outcome.
OPEN_STATUSES: tuple[str, ...] = tuple(NEXT)

#: The rating (1..5) an outcome stands for in the training frame; outcomes not listed say
#: nothing about fit. ``declined`` counts only with the reason ``not_suitable``.
OUTCOME_RATING: dict[str, int] = {"accepted": 5, "attended": 5, "declined": 1}


class NotTheOwner(NotFoundError):
    """The referral or request exists but belongs to another key: to the caller it does not."""


@dataclass(frozen=True)
class ReferralRecord:
    id: int
    request_id: str
    service_id: str
    api_key_id: int
    team: str
    status: str
    reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


def _record(row: ReferralRow) -> ReferralRecord:
    return ReferralRecord(
        id=row.id,
        request_id=row.request_id,
        service_id=row.service_id,
        api_key_id=row.api_key_id,
        team=row.team,
        status=row.status,
        reason=row.reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _existing(session: Session, request_id: str, service_id: str) -> ReferralRow | None:
    return session.scalars(
        select(ReferralRow).where(
            ReferralRow.request_id == request_id, ReferralRow.service_id == service_id
        )
    ).first()


def make_referral(
    session: Session, *, request_id: str, service_id: str, api_key_id: int, team: str
) -> tuple[ReferralRecord, bool]:
    """Refer the person of ``request_id`` to ``service_id``; returns ``(referral, created)``.

    Raises ``NotTheOwner`` when the request is unknown or another key's, and ``DataError``
    (field ``service_id``) when the request did not suggest that service.
    """
    request = session.get(RecommendationRequestRow, request_id)
    # The citing rule's one home (recommendation_log.may_cite); a referral tells the two
    # failures apart: another key's request is 404, a service it did not suggest is 422.
    if request is None or not may_cite(api_key_id, None, made_by=request.api_key_id, suggested=()):
        session.rollback()
        raise NotTheOwner(f"no recommendation request {request_id!r} made with this key")
    suggested = json.loads(request.service_ids)
    if not may_cite(api_key_id, service_id, made_by=request.api_key_id, suggested=suggested):
        session.rollback()
        raise DataError(
            f"referral for request {request_id}",
            None,
            "service_id",
            "is not one of the services this request suggested",
        )
    existing = _existing(session, request_id, service_id)
    if existing is not None:
        session.rollback()
        return _record(existing), False
    now = utcnow()
    begin_write(session)
    row = ReferralRow(
        request_id=request_id,
        service_id=service_id,
        api_key_id=api_key_id,
        team=team,
        status="made",
        created_at=now,
        updated_at=now,
    )
    try:
        session.add(row)
        session.commit()
    except IntegrityError:  # the same referral made concurrently: it is this one
        session.rollback()
        existing = _existing(session, request_id, service_id)
        session.rollback()
        if existing is None:
            raise
        return _record(existing), False
    return _record(row), True


def get_referral(session: Session, referral_id: int, *, api_key_id: int) -> ReferralRecord:
    """The caller's referral; ``NotTheOwner`` when it is unknown or another key's."""
    row = session.get(ReferralRow, referral_id)
    session.rollback()
    if row is None or row.api_key_id != api_key_id:
        raise NotTheOwner(f"no referral {referral_id} made with this key")
    return _record(row)


def update_status(
    session: Session,
    referral_id: int,
    *,
    api_key_id: int,
    status: str,
    reason: str | None = None,
    secret: bytes,
) -> tuple[ReferralRecord, bool]:
    """Move the caller's referral to ``status``; returns ``(referral, changed)``.

    Sending the status it already has (and the same reason) changes nothing, so a retry is
    harmless. ``secret`` is the person-key secret (``secrets.get_secret``): an outcome of a
    request made without a person reference keys its person as a rating of it would. Raises
    ``NotTheOwner``, or ``DataError`` naming ``status`` or ``reason``.
    """
    where = f"referral {referral_id}"
    if status not in STATUSES or status == "made":
        raise DataError(where, None, "status", f"must be one of {', '.join(STATUSES[1:])}")
    if status == "declined":
        if reason not in DECLINE_REASONS:
            raise DataError(where, None, "reason", f"must be one of {', '.join(DECLINE_REASONS)}")
    elif reason is not None:
        raise DataError(where, None, "reason", "is given only when the status is declined")
    begin_write(session)
    try:
        row = session.get(ReferralRow, referral_id)
        if row is None or row.api_key_id != api_key_id:
            raise NotTheOwner(f"no referral {referral_id} made with this key")
        if row.status == status and row.reason == reason:
            record = _record(row)
            session.rollback()
            return record, False
        if status not in NEXT.get(row.status, ()):
            allowed = ", ".join(NEXT.get(row.status, ())) or "nothing (it is final)"
            raise DataError(where, None, "status", f"a {row.status} referral can move to {allowed}")
        now = utcnow()
        row.status, row.reason, row.updated_at = status, reason, now
        evidence = outcome_evidence(session, row, now, secret)
        if evidence is not None:
            session.add(evidence)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return _record(row), True


def outcome_evidence(
    session: Session, referral: ReferralRow, when: dt.datetime, secret: bytes
) -> RatingRow | None:
    """The ratings-log row an outcome stands for, with the request's minimised person (None
    when the outcome says nothing about fit)."""
    rating = OUTCOME_RATING.get(referral.status)
    if rating is None or (referral.status == "declined" and referral.reason != "not_suitable"):
        return None
    request = session.get(RecommendationRequestRow, referral.request_id)
    if request is None:  # requests are never deleted; kept for type narrowing
        return None
    person_key = request.person_key or keyed_hash(secret, "request:" + request.request_id)
    return RatingRow(
        idempotency_key=None,
        body_sha256="",
        person_key=person_key,
        request_id=referral.request_id,
        service_id=referral.service_id,
        rating=rating,
        comment_codes=json.dumps(["referred"]),
        practitioner_id=None,
        api_key_id=referral.api_key_id,
        age=request.age,
        sex=request.sex,
        needs=request.needs,
        strengths=request.strengths,
        latitude=request.latitude,
        longitude=request.longitude,
        rated_at=when,
        created_at=when,
        referral_id=referral.id,
    )


def list_referrals(
    session: Session, *, api_key_id: int, open_only: bool = False, limit: int = 500
) -> list[ReferralRecord]:
    """The caller's referrals, newest first."""
    stmt = select(ReferralRow).where(ReferralRow.api_key_id == api_key_id)
    if open_only:
        stmt = stmt.where(ReferralRow.status.in_(OPEN_STATUSES))
    rows = session.scalars(stmt.order_by(ReferralRow.id.desc()).limit(limit)).all()
    session.rollback()
    return [_record(r) for r in rows]
