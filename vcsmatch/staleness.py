"""Stale listings: a service last reviewed longer ago than ``Settings.stale_after_months`` may
have closed or moved, so it is demoted below every fresh suggestion and says why ("last
checked 14 months ago"). Applied where suggestions are served, after ranking, so every ranker
and the learner's comparisons see the same model scores.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

from vcsmatch.catalogue.model import Service
from vcsmatch.ranking.result import Reason, Suggestion


def months_since(reviewed: dt.date, today: dt.date) -> int:
    """Whole months from ``reviewed`` to ``today``."""
    months = (today.year - reviewed.year) * 12 + today.month - reviewed.month
    return months - (today.day < reviewed.day)


def stale_reason(service: Service, today: dt.date, after_months: int) -> Reason | None:
    """The reason a listing is demoted, or None while it is fresh (or has no review date:
    the catalogue did not say, so it is not held against it)."""
    reviewed = service.reviewed_on
    if reviewed is None:
        return None
    months = months_since(reviewed, today)
    if months < after_months:
        return None
    return Reason("stale", f"last checked {months} months ago", 0.0)


def demote_stale(
    suggestions: Sequence[Suggestion],
    services: Mapping[str, Service],
    *,
    today: dt.date,
    after_months: int,
) -> list[Suggestion]:
    """Fresh suggestions first in their order, then stale ones in theirs, each with its reason
    last; ranks renumbered and scores capped so they never rise down the list."""
    fresh: list[Suggestion] = []
    stale: list[Suggestion] = []
    for s in suggestions:
        service = services.get(s.service_id)
        reason = None if service is None else stale_reason(service, today, after_months)
        if reason is None:
            fresh.append(s)
        else:
            stale.append(dataclasses.replace(s, reasons=(*s.reasons, reason)))
    if not stale:
        return list(suggestions)
    out: list[Suggestion] = []
    ceiling = float("inf")
    for rank, s in enumerate([*fresh, *stale], start=1):
        ceiling = min(ceiling, s.score)
        out.append(dataclasses.replace(s, rank=rank, score=ceiling))
    return out
