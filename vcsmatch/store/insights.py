"""Counts for managers and commissioners: referrals by week, service, need and team, services
discovered per team, and listings by months since their last review.

Only counts ever leave, and every count under ``SUPPRESS_BELOW`` is suppressed (``None``):
standard small-number disclosure control, so no row can point at one person. Needs come from
the minimised request a referral cites; no person-level row is read out of this module.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.staleness import months_since
from vcsmatch.store.tables import RecommendationRequestRow, ReferralRow

#: Counts below this are suppressed everywhere.
SUPPRESS_BELOW = 10

#: What ``referral_counts`` can group by.
GROUPINGS: tuple[str, ...] = ("week", "service", "need", "team")


def suppress(count: int) -> int | None:
    """``count``, or None when it is small enough to identify someone."""
    return count if count >= SUPPRESS_BELOW else None


@dataclass(frozen=True)
class CountRow:
    """One group's count (``None``: suppressed) and, for referrals, how many were accepted or
    attended (suppressed alike)."""

    group: str
    count: int | None
    accepted_or_attended: int | None = None


def _week(when: dt.datetime) -> str:
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def _rows(counts: Counter[str], positive: Counter[str] | None = None) -> list[CountRow]:
    return [
        CountRow(
            group,
            suppress(n),
            None if positive is None or suppress(n) is None else suppress(positive[group]),
        )
        for group, n in sorted(counts.items())
    ]


def referral_counts(session: Session, by: str) -> list[CountRow]:
    """Referrals made, grouped ``by`` one of ``GROUPINGS`` (a referral counts once per need of
    its request when grouped by need)."""
    if by not in GROUPINGS:
        raise ValueError(f"The 'by' parameter must be one of {', '.join(GROUPINGS)}. Got {by!r}.")
    stmt = select(
        ReferralRow.created_at,
        ReferralRow.service_id,
        ReferralRow.team,
        ReferralRow.status,
        RecommendationRequestRow.needs,
    ).join(
        RecommendationRequestRow,
        RecommendationRequestRow.request_id == ReferralRow.request_id,
        isouter=True,
    )
    counts: Counter[str] = Counter()
    positive: Counter[str] = Counter()
    for created_at, service_id, team, status, needs in session.execute(stmt):
        if by == "week":
            groups: Iterable[str] = [_week(created_at)]
        elif by == "service":
            groups = [service_id]
        elif by == "team":
            groups = [team]
        else:
            groups = json.loads(needs or "[]")
        for group in groups:
            counts[group] += 1
            positive[group] += status in ("accepted", "attended")
    session.rollback()
    return _rows(counts, positive)


def discovered(session: Session) -> list[CountRow]:
    """Per team and month: services referred to by that team for the first time (the case
    study's "services discovered")."""
    stmt = select(ReferralRow.team, ReferralRow.service_id, ReferralRow.created_at).order_by(
        ReferralRow.created_at
    )
    seen: set[tuple[str, str]] = set()
    counts: Counter[str] = Counter()
    for team, service_id, created_at in session.execute(stmt):
        if (team, service_id) in seen:
            continue
        seen.add((team, service_id))
        counts[f"{team} {created_at:%Y-%m}"] += 1
    session.rollback()
    return _rows(counts)


@dataclass(frozen=True)
class StaleListing:
    service_id: str
    name: str
    last_reviewed: dt.date | None
    months: int | None


def stale(catalogue: Catalogue, *, older_than_months: int, today: dt.date) -> list[StaleListing]:
    """Listings last reviewed ``older_than_months`` or more ago, or never, oldest first, for
    the directory team. Listings are not people: nothing here is suppressed."""
    out: list[StaleListing] = []
    for service in catalogue:
        reviewed = service.last_reviewed
        months = None if reviewed is None else months_since(reviewed, today)
        if months is None or months >= older_than_months:
            out.append(StaleListing(service.id, service.name, reviewed, months))
    return sorted(out, key=lambda s: (s.months is not None, -(s.months or 0), s.service_id))
