"""Counts for managers and commissioners: referrals by week, service, need and team, services
discovered per team, gaps in provision by need and postcode district, and listings by months
since their last review.

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
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.features.person import Person
from vcsmatch.ratings import RELEVANT_AT
from vcsmatch.staleness import months_since
from vcsmatch.store.tables import RatingRow, RecommendationRequestRow, ReferralRow

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


#: The gaps insight's district for requests located without a postcode.
NO_DISTRICT = "not known"
#: Defaults of ``gaps``: demand is high from this many requests, and provision thin when the
#: median requester can reach this many services meeting the need or fewer.
HIGH_DEMAND_AT = 20
THIN_AT_MOST = 2


@dataclass(frozen=True)
class GapRow:
    """One need in one postcode district: requests asking for it, the median number of active
    services meeting it that were eligible for and within reach of each requester, and the
    requests no suggestion of which was rated relevant. Everything is ``None`` (suppressed)
    when fewer than ``SUPPRESS_BELOW`` requests asked: the provision figure comes from their
    ages and homes too."""

    need: str
    district: str
    requests: int | None
    services_in_reach: int | None
    none_relevant: int | None
    flagged: bool


def gaps(
    session: Session,
    recommender: Any,
    *,
    high_demand_at: int = HIGH_DEMAND_AT,
    thin_at_most: int = THIN_AT_MOST,
) -> list[GapRow]:
    """Demand against provision per (need, district) from the request log. ``recommender``
    is the serving model: its ``candidates_`` decide eligibility and reach exactly as the
    suggestions did. Flagged where at least ``high_demand_at`` requests asked and the median
    requester could reach at most ``thin_at_most`` services meeting the need."""
    if high_demand_at < SUPPRESS_BELOW:
        raise ValueError(
            f"The 'high_demand_at' parameter must be at least {SUPPRESS_BELOW}. "
            f"Got {high_demand_at} instead."
        )
    if thin_at_most < 0:
        raise ValueError(
            f"The 'thin_at_most' parameter must be 0 or more. Got {thin_at_most} instead."
        )
    relevant = set(
        session.scalars(
            select(RatingRow.request_id)
            .where(RatingRow.rating >= RELEVANT_AT, RatingRow.request_id.is_not(None))
            .distinct()
        )
    )
    stmt = select(
        RecommendationRequestRow.request_id,
        RecommendationRequestRow.district,
        RecommendationRequestRow.age,
        RecommendationRequestRow.sex,
        RecommendationRequestRow.needs,
        RecommendationRequestRow.latitude,
        RecommendationRequestRow.longitude,
    )
    rows = session.execute(stmt).all()
    session.rollback()
    finder = recommender.candidates_
    needs_of = [set(s.all_needs) for s in recommender.catalogue_]
    radius = float(recommender.default_radius_km)
    reach: dict[tuple[Any, ...], Counter[str]] = {}  # same features, same candidates
    demand: Counter[tuple[str, str]] = Counter()
    unmet: Counter[tuple[str, str]] = Counter()
    provision: dict[tuple[str, str], list[int]] = {}
    for request_id, district, age, sex, needs_json, lat, lon in rows:
        needs = tuple(json.loads(needs_json or "[]"))
        features = (age, sex, needs, lat, lon)
        if features not in reach:
            person = Person(age=age, sex=sex, needs=list(needs), latitude=lat, longitude=lon)
            location = None if lat is None else (lat, lon)
            found = finder.find(person, location, radius)
            reach[features] = Counter(
                need for row in found.rows.tolist() for need in needs_of[row] if need in needs
            )
        for need in needs:
            group = (need, district or NO_DISTRICT)
            demand[group] += 1
            unmet[group] += request_id not in relevant
            provision.setdefault(group, []).append(reach[features][need])
    out = []
    for (need, district), n in sorted(demand.items()):
        shown = suppress(n) is not None
        in_reach = int(median(provision[(need, district)])) if shown else None
        out.append(
            GapRow(
                need=need,
                district=district,
                requests=suppress(n),
                services_in_reach=in_reach,
                none_relevant=suppress(unmet[(need, district)]) if shown else None,
                flagged=shown
                and n >= high_demand_at
                and in_reach is not None
                and in_reach <= thin_at_most,
            )
        )
    return out


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
