"""The managers' dashboard ``/insights``: the four insights of ``/v1/insights`` (referrals,
services discovered, gaps in provision, stale listings) as charts with a table beside each,
from the same store functions, so the page and the API cannot disagree. Counts under 10 are
suppressed here exactly as there. Manager keys only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.web.charts import bar_chart
from api.web.pages import forbidden_or_sign_in, with_session
from api.web.render import need_label as _need
from api.web.render import render
from api.web.session import WebSession
from vcsmatch.store import insights

router = APIRouter()

ROLES = ("manager",)
#: Most bars one chart draws (its table lists every row).
MAX_BARS = 20
BY_LABELS = {"week": "Week", "service": "Service", "need": "Need", "team": "Team"}


@router.get("/insights")
def insights_page(request: Request, by: str = "week") -> Response:
    def work(db: Session, ws: WebSession | None) -> Response:
        if (refused := forbidden_or_sign_in(ws, ROLES)) is not None:
            return refused
        grouping = by if by in insights.GROUPINGS else "week"
        serving = request.app.state.vcsmatch.serving
        settings = request.app.state.vcsmatch.settings
        names: dict[str, str] = {}
        if serving.catalogue is not None:
            names = {s.id: s.name for s in serving.catalogue}

        def label(group: str) -> str:
            if grouping == "service":
                return names.get(group, group)
            return _need(group) if grouping == "need" else group

        referred = insights.referral_counts(db, grouping)
        discovered = insights.discovered(db)
        gaps = [] if serving.recommender is None else insights.gaps(db, serving.recommender)
        gaps_shown = sorted(
            gaps, key=lambda g: (not g.flagged, -(g.requests or 0), g.need, g.district)
        )
        stale = (
            []
            if serving.catalogue is None
            else insights.stale(
                serving.catalogue,
                older_than_months=settings.stale_after_months,
                today=dt.date.today(),
            )
        )
        charts: dict[str, Any] = {
            "referrals": bar_chart(
                f"Referrals by {BY_LABELS[grouping].lower()}",
                [(label(r.group), r.count) for r in referred[:MAX_BARS]],
            ),
            "discovered": bar_chart(
                "Services referred to for the first time, by team and month",
                [(r.group, r.count) for r in discovered[:MAX_BARS]],
            ),
            "gaps": bar_chart(
                "Requests by need and postcode district; gaps hatched",
                [(f"{_need(g.need)}, {g.district}", g.requests) for g in gaps_shown[:MAX_BARS]],
                flagged=[g.flagged for g in gaps_shown[:MAX_BARS]],
            ),
            "stale": bar_chart(
                "Months since each listing was last checked, oldest first",
                [(s.name, s.months) for s in stale[:MAX_BARS]],
                unit=" months",
                hidden_text="never checked",
            ),
        }
        return render(
            "insights.html",
            session=ws,
            nav="insights",
            by=grouping,
            by_labels=BY_LABELS,
            label=label,
            referred=referred,
            discovered=discovered,
            gaps=gaps_shown,
            stale=stale,
            charts=charts,
            max_bars=MAX_BARS,
            suppressed_below=insights.SUPPRESS_BELOW,
            high_demand_at=insights.HIGH_DEMAND_AT,
            thin_at_most=insights.THIN_AT_MOST,
            stale_after_months=settings.stale_after_months,
        )

    return with_session(request, work)
