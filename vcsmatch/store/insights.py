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

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

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


def window(
    since: dt.date | None, until: dt.date | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The instants from which and before which rows count: ``since`` and ``until`` are whole
    UTC days, both included (None: no bound). Raises ValueError when ``since`` is after
    ``until``."""
    if since is not None and until is not None and since > until:
        raise ValueError(f"The 'since' date ({since}) is after the 'until' date ({until}).")
    start = None if since is None else dt.datetime.combine(since, dt.time(), dt.UTC)
    end = None if until is None else dt.datetime.combine(until, dt.time(), dt.UTC)
    return start, None if end is None else end + dt.timedelta(days=1)


def _within(
    stmt: Select[Any],
    column: InstrumentedAttribute[dt.datetime],
    since: dt.date | None,
    until: dt.date | None,
) -> Select[Any]:
    """``stmt`` kept to rows whose ``column`` falls in ``window(since, until)``."""
    start, end = window(since, until)
    if start is not None:
        stmt = stmt.where(column >= start)
    if end is not None:
        stmt = stmt.where(column < end)
    return stmt


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


def referral_counts(
    session: Session, by: str, *, since: dt.date | None = None, until: dt.date | None = None
) -> list[CountRow]:
    """Referrals made (from ``since`` to ``until``, UTC days, included), grouped ``by`` one of
    ``GROUPINGS`` (a referral counts once per need of its request when grouped by need)."""
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
    stmt = _within(stmt, ReferralRow.created_at, since, until)
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


def discovered(
    session: Session, *, since: dt.date | None = None, until: dt.date | None = None
) -> list[CountRow]:
    """Per team and month: services referred to by that team for the first time (the case
    study's "services discovered"), counted in the months from ``since`` to ``until`` (a
    service first referred to before ``since`` is not discovered again)."""
    stmt = select(ReferralRow.team, ReferralRow.service_id, ReferralRow.created_at).order_by(
        ReferralRow.created_at
    )
    start, _ = window(since, until)
    seen: set[tuple[str, str]] = set()
    counts: Counter[str] = Counter()
    for team, service_id, created_at in session.execute(
        _within(stmt, ReferralRow.created_at, None, until)
    ):
        if (team, service_id) in seen:
            continue
        seen.add((team, service_id))
        if start is None or created_at >= start:
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
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[GapRow]:
    """Demand against provision per (need, district) from the request log. ``recommender``
    is the serving model: its ``candidates_`` decide eligibility and reach exactly as the
    suggestions did. Flagged where at least ``high_demand_at`` requests asked and the median
    requester could reach at most ``thin_at_most`` services meeting the need. Only requests
    made from ``since`` to ``until`` (UTC days, included) count.

    The candidates are counted for all requests at once (``CandidateFinder.count_meeting``),
    not found one request at a time: a log holds tens of thousands."""
    if high_demand_at < SUPPRESS_BELOW:
        raise ValueError(
            f"The 'high_demand_at' parameter must be at least {SUPPRESS_BELOW}. "
            f"Got {high_demand_at} instead."
        )
    if thin_at_most < 0:
        raise ValueError(
            f"The 'thin_at_most' parameter must be 0 or more. Got {thin_at_most} instead."
        )
    requests, relevant = logged_requests(session, since=since, until=until)
    asked = {need for r in requests for need in r.person.needs}
    services = list(recommender.catalogue_)
    meets = {
        need: np.fromiter((need in s.all_needs for s in services), dtype=bool, count=len(services))
        for need in asked
    }
    reach = recommender.candidates_.count_meeting(
        [r.person for r in requests],
        [r.location for r in requests],
        float(recommender.default_radius_km),
        meets,
    )
    return gap_rows(
        requests, relevant, reach, high_demand_at=high_demand_at, thin_at_most=thin_at_most
    )


@dataclass(frozen=True)
class LoggedRequest:
    """One logged recommendation request as the gaps insight reads it: the minimised person
    (age, sex, needs) and home, and the postcode district."""

    request_id: str
    district: str | None
    person: Person
    location: tuple[float, float] | None


def logged_requests(
    session: Session, *, since: dt.date | None = None, until: dt.date | None = None
) -> tuple[list[LoggedRequest], set[str]]:
    """The requests made from ``since`` to ``until`` (UTC days, included), and the ids of
    every request a suggestion of which was rated relevant."""
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
    rows = session.execute(_within(stmt, RecommendationRequestRow.created_at, since, until)).all()
    session.rollback()
    people: dict[tuple[Any, ...], Person] = {}  # many requests share age, sex and needs
    requests = []
    for request_id, district, age, sex, needs_json, lat, lon in rows:
        key = (age, sex, needs_json)
        if key not in people:
            people[key] = Person(age=age, sex=sex, needs=json.loads(needs_json or "[]"))
        location = None if lat is None or lon is None else (lat, lon)
        requests.append(LoggedRequest(request_id, district, people[key], location))
    return requests, relevant


def gap_rows(
    requests: list[LoggedRequest],
    relevant: set[str],
    reach: list[dict[str, int]],
    *,
    high_demand_at: int,
    thin_at_most: int,
) -> list[GapRow]:
    """``gaps``'s rows from the requests, the relevant ones' ids, and per request the number
    of its candidates meeting each of its needs."""
    demand: Counter[tuple[str, str]] = Counter()
    unmet: Counter[tuple[str, str]] = Counter()
    provision: dict[tuple[str, str], list[int]] = {}
    for request, in_reach in zip(requests, reach, strict=True):
        for need in request.person.needs:
            group = (need, request.district or NO_DISTRICT)
            demand[group] += 1
            unmet[group] += request.request_id not in relevant
            provision.setdefault(group, []).append(in_reach[need])
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
        reviewed = service.reviewed_on
        months = None if reviewed is None else months_since(reviewed, today)
        if months is None or months >= older_than_months:
            out.append(StaleListing(service.id, service.name, reviewed, months))
    return sorted(out, key=lambda s: (s.months is not None, -(s.months or 0), s.service_id))
