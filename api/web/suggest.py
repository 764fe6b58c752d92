"""Suggest for a person, and rate each suggestion in one click (practitioners only).

The page calls the API's own route functions (``api.routes.recommendations.recommend`` and
``api.routes.ratings.create_ratings``) rather than copying them: a suggestion and a rating made
here are logged, minimised, validated and stored exactly as over ``/v1``.

Flow (post/redirect/get, so reloading never resubmits): ``POST /suggest`` ranks and logs the
request, then redirects to ``GET /suggestions/{request_id}``, which shows the logged services
in their logged order. Reasons are recomputed from the logged, minimised person (the model is
deterministic; its location is rounded to about 100 m, so a distance may differ by that).
Each suggestion has five rating buttons, one plain form each; with JavaScript the rating is
sent in place.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.problems import ProblemException
from api.routes.ratings import RatingCreate, create_ratings
from api.routes.recommendations import DECISION_SUPPORT, RecommendationRequest, recommend
from api.web import describe
from api.web.audit import audit_web
from api.web.forms import (
    SEX_LABELS,
    need_options,
    parse_person,
    sex_options,
    strength_options,
)
from api.web.pages import (
    expired_form,
    forbidden_or_sign_in,
    not_ready,
    over_rate_limit,
    with_session,
)
from api.web.render import PAGE_HEADERS, redirect, render
from api.web.session import CSRF_FIELD, WebSession, csrf_ok
from vcsmatch.errors import NotFoundError
from vcsmatch.features.location import get_postcode_directory
from vcsmatch.features.person import Person
from vcsmatch.features.text import CodeSuggester
from vcsmatch.ranking.exploration import EXPLORATION_REASON
from vcsmatch.ranking.result import Suggestion
from vcsmatch.store import recommendation_log
from vcsmatch.taxonomy import load_taxonomy

router = APIRouter(include_in_schema=False)

ROLES = ("practitioner",)
TOP_K = 10
RATING_LABELS: tuple[tuple[int, str], ...] = (
    (1, "Not relevant"),
    (2, "Slightly relevant"),
    (3, "Somewhat relevant"),
    (4, "Relevant"),
    (5, "Very relevant"),
)


def anchor_for(service_id: str) -> str:
    """A stable HTML id for a suggestion (service ids may hold any character)."""
    return "suggestion-" + hashlib.sha256(service_id.encode()).hexdigest()[:12]


def code_suggester(request: Request) -> CodeSuggester:
    """The app's code suggester, fitted once on first use."""
    fitted = getattr(request.app.state, "vcsmatch_code_suggester", None)
    if fitted is None:
        fitted = CodeSuggester().fit(load_taxonomy())
        request.app.state.vcsmatch_code_suggester = fitted
    return fitted


def _form_context(ws: WebSession, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    tax = load_taxonomy()
    return {
        "session": ws,
        "nav": "suggest",
        "values": values,
        "need_options": need_options(tax),
        "strength_options": strength_options(tax),
        "sex_options": sex_options(),
        "decision_support": DECISION_SUPPORT,
        **extra,
    }


@router.get("/suggest")
def suggest_page(request: Request) -> Response:
    def work(db: Session, ws: WebSession | None) -> Response:
        if (refused := forbidden_or_sign_in(ws, ROLES)) is not None:
            return refused
        return render("suggest.html", **_form_context(ws, {"sex": "not_recorded"}))

    return with_session(request, work)


@router.post("/suggest")
async def suggest(request: Request) -> Response:
    form = await request.form()

    def work(db: Session, ws: WebSession | None) -> Response:
        started = time.perf_counter()
        if (refused := forbidden_or_sign_in(ws, ROLES)) is not None:
            return refused
        if not csrf_ok(ws, form.get(CSRF_FIELD)):
            return expired_form(ws)
        if (limited := over_rate_limit(request, ws)) is not None:
            return limited
        settings = request.app.state.vcsmatch.settings
        tax = load_taxonomy()
        directory = get_postcode_directory(settings)
        if form.get("action") == "interpret":
            return _interpret(request, ws, form, tax, directory)
        parsed, person = parse_person(form, tax, directory)
        if person is None:
            return render(
                "suggest.html", 400, **_form_context(ws, parsed.values, errors=parsed.errors)
            )
        serving = request.app.state.vcsmatch.serving
        if serving.recommender is None:
            return not_ready(ws)
        body = RecommendationRequest(**person.model_dump(exclude_none=True), top_k=TOP_K)
        try:
            answer = recommend(
                body=body,
                key=ws.key,
                serving=serving,
                session=db,
                settings=settings,
                request=request,
            )
        except ProblemException as problem:
            audit_web(db, ws, "POST", "/suggest", problem.status, started)
            return render(
                "suggest.html",
                problem.status,
                **_form_context(ws, parsed.values, errors=[("postcode", problem.detail or "")]),
            )
        audit_web(db, ws, "POST", "/suggest", 200, started, len(answer.suggestions))
        return redirect(f"/suggestions/{answer.request_id}")

    return await run_in_threadpool(with_session, request, work)


def _interpret(request: Request, ws: WebSession, form: Any, tax: Any, directory: Any) -> Response:
    """Tick the needs and strengths the description suggests, for the practitioner to check."""
    parsed, _ = parse_person(form, tax, directory, need_codes=False)
    values = parsed.values
    errors = [e for e in parsed.errors if e[0] not in ("postcode",)]
    situation = values.get("situation", "")
    if not situation:
        errors.append(("situation", "Describe the situation to get suggested needs"))
        return render("suggest.html", 400, **_form_context(ws, values, errors=errors))
    suggester = code_suggester(request)
    needs = [s.code for s in suggester.suggest(situation, kind="need")]
    strengths = [s.code for s in suggester.suggest(situation, kind="strength")]
    values["needs"] = list(dict.fromkeys(values["needs"] + needs))
    values["strengths"] = list(dict.fromkeys(values["strengths"] + strengths))
    found = [tax.label("need", c) for c in needs] + [tax.label("strength", c) for c in strengths]
    return render(
        "suggest.html",
        **_form_context(ws, values, errors=errors, interpreted=found, interpreted_done=True),
    )


def _logged(db: Session, ws: WebSession, request_id: str) -> Any | None:
    """The logged request, if it exists and this key made it."""
    if len(request_id) > 64:
        return None
    try:
        record = recommendation_log.get_request(db, request_id)
    except NotFoundError:
        return None
    finally:
        db.rollback()
    return record if record.api_key_id == ws.key.id else None


@router.get("/suggestions/{request_id}")
def suggestions_page(
    request: Request, request_id: str, rated: str | None = None, stars: int | None = None
) -> Response:
    def work(db: Session, ws: WebSession | None) -> Response:
        if (refused := forbidden_or_sign_in(ws, ROLES)) is not None:
            return refused
        record = _logged(db, ws, request_id)
        if record is None:
            return render(
                "message.html",
                404,
                session=ws,
                title="Suggestions not found",
                message="These suggestions do not exist or were made with another key.",
            )
        serving = request.app.state.vcsmatch.serving
        if serving.recommender is None or serving.search is None:
            return not_ready(ws)
        p = record.person
        person = Person(
            age=p.age,
            sex=p.sex,
            needs=list(p.needs),
            strengths=list(p.strengths),
            latitude=p.latitude,
            longitude=p.longitude,
        )
        rerun = {
            s.service_id: s
            for s in serving.recommender.recommend(
                person, top_k=max(TOP_K, 2 * len(record.service_ids))
            )
        }
        explored = {
            e.service_id
            for e in recommendation_log.request_exposures(db, record.request_id)
            if e.slot == "explore"
        }
        items = []
        for rank, service_id in enumerate(record.service_ids, start=1):
            try:
                service = serving.search.get(service_id)
            except NotFoundError:
                continue  # removed from the catalogue since
            suggestion = rerun.get(service_id)
            if service_id in explored:  # drawn for an exploration slot: say so first
                suggestion = replace(
                    suggestion or Suggestion(service_id=service_id, score=0.0, rank=rank),
                    reasons=(EXPLORATION_REASON, *(suggestion.reasons if suggestion else ())),
                )
            items.append({"rank": rank, "service": service, "suggestion": suggestion})
        notice = None
        if rated and stars in dict(RATING_LABELS):
            name = next((i["service"].name for i in items if i["service"].id == rated), None)
            if name:
                notice = (
                    f"Rating saved: {name}, {dict(RATING_LABELS)[stars].lower()} ({stars} out of 5)"
                )
        return render(
            "suggestions.html",
            session=ws,
            nav="suggest",
            record=record,
            person=p,
            sex_label=SEX_LABELS.get(p.sex, p.sex),
            items=items,
            rating_labels=RATING_LABELS,
            decision_support=DECISION_SUPPORT,
            model_changed=record.model_version != serving.model_version,
            notice=notice,
            describe=describe,
            anchor_for=anchor_for,
        )

    return with_session(request, work)


@router.post("/suggestions/{request_id}/ratings")
async def rate(request: Request, request_id: str) -> Response:
    form = await request.form()
    wants_json = "application/json" in request.headers.get("accept", "")

    def answer(status: int, message: str, location: str | None = None) -> Response:
        if wants_json:
            return JSONResponse({"message": message}, status_code=status, headers=PAGE_HEADERS)
        if location is not None:
            return redirect(location)
        return render(
            "message.html", status, session=None, title="Rating not saved", message=message
        )

    def work(db: Session, ws: WebSession | None) -> Response:
        started = time.perf_counter()
        if (refused := forbidden_or_sign_in(ws, ROLES)) is not None:
            return answer(401, "Sign in again to rate.") if wants_json else refused
        if not csrf_ok(ws, form.get(CSRF_FIELD)):
            return (
                answer(400, "This form has expired: reload the page and try again.")
                if wants_json
                else expired_form(ws)
            )
        if (limited := over_rate_limit(request, ws)) is not None:
            if wants_json:
                return answer(429, "Too many requests: wait a minute, then rate again.")
            return limited
        record = _logged(db, ws, request_id)
        service_id = form.get("service_id")
        rating_raw = form.get("rating")
        if record is None or service_id not in record.service_ids:
            return answer(404, "These suggestions were not found.")
        if not (isinstance(rating_raw, str) and rating_raw in ("1", "2", "3", "4", "5")):
            return answer(400, "Choose a rating from 1 to 5.")
        rating = int(rating_raw)
        try:
            body = RatingCreate(
                request_id=request_id,
                service_id=service_id,
                rating=rating,
                # A double click stores one rating; a changed mind stores the new one.
                idempotency_key=f"web:{request_id}:{service_id}:{rating}",
            )
        except ValidationError:
            return answer(400, "Choose a rating from 1 to 5.")
        try:
            create_ratings(
                body=body,
                key=ws.key,
                serving=request.app.state.vcsmatch.serving,
                session=db,
                settings=request.app.state.vcsmatch.settings,
                request=request,
                idempotency_key=None,
            )
        except ProblemException as problem:
            audit_web(db, ws, "POST", "/suggestions/{request_id}/ratings", problem.status, started)
            return answer(problem.status, problem.detail or problem.title)
        audit_web(db, ws, "POST", "/suggestions/{request_id}/ratings", 201, started, 1)
        label = dict(RATING_LABELS)[rating].lower()
        return answer(
            201,
            f"Rating saved: {label} ({rating} out of 5)",
            f"/suggestions/{request_id}?{urlencode({'rated': service_id, 'stars': rating})}"
            f"#{anchor_for(service_id)}",
        )

    return await run_in_threadpool(with_session, request, work)
