"""``POST /v1/recommendations``: ranked services for one person, for a practitioner to check.

The person's features arrive in the body only (never the URL). The request is logged
minimised (``vcsmatch.store.recommendation_log``) under a ``request_id`` that ratings can cite
instead of resending the features, with what it showed (the exposure log: rank, score and the
probability the serving policy showed each suggestion) and the answer's audit entry, in one
commit that does not wait for the disk (``vcsmatch.store.db``: what each commit survives).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal

import anyio
import numpy as np
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from pydantic_core import to_json
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from api.deps import check_recalled_key, recalled_generation, require_role
from api.json_body import ThreadValidatedRoute
from api.loading import ensure_ready
from api.middleware import AUDIT_STARTED, AUDITED, audit_entry
from api.problems import ProblemException, field_problem
from api.schemas import PersonIn
from api.state import AppState, Serving
from vcsmatch.features.geo import haversine_km
from vcsmatch.features.location import district, locate
from vcsmatch.features.person import Person
from vcsmatch.ranking.exploration import Exploration
from vcsmatch.ranking.result import ReasonKind, Suggestion
from vcsmatch.settings import Settings
from vcsmatch.staleness import demote_stale
from vcsmatch.store import recommendation_log
from vcsmatch.store.api_keys import ApiKeyRecord
from vcsmatch.store.driver import Driver, KeyGenerationMoved, WouldWait
from vcsmatch.store.minimised import MinimisedPerson
from vcsmatch.store.recommendation_log import Exposure
from vcsmatch.store.secrets import get_secret
from vcsmatch.taxonomy import load_taxonomy

router = APIRouter(
    prefix="/v1/recommendations", tags=["recommendations"], route_class=ThreadValidatedRoute
)
#: Paths whose key ``KeyGateMiddleware`` may recall from memory: the route confirms it in its own
#: worker thread, in the transaction that logs its answer (one thread-pool hop and one
#: transaction per answer, key check included).
CONFIRMS_KEY = frozenset({"/v1/recommendations"})

DECISION_SUPPORT = (
    "These are suggestions to support a practitioner's decision, not a decision. Check each "
    "service's eligibility, availability and suitability with the person before referring; "
    "vcsmatch never acts on a suggestion by itself."
)


class RecommendationRequest(PersonIn):
    """The person (``vcsmatch.features.person.Person``'s fields) and how many suggestions.

    ``reference`` is your system's opaque case reference; vcsmatch keeps only a keyed hash.
    """

    top_k: int = Field(default=10, ge=1, le=1000, description="Capped by the server's max_top_k.")


class ReasonPublic(BaseModel):
    kind: ReasonKind
    text: str
    weight: float


class SuggestionPublic(BaseModel):
    rank: int = Field(ge=1)
    service_id: str
    service_name: str
    organisation: str | None
    score: float
    distance_km: float | None = Field(description="None for services that need no travel.")
    eligibility: list[str] = Field(description="Eligibility rules that were checked and met.")
    reasons: list[ReasonPublic] = Field(description="What drove the score, most important first.")


class RecommendationWarning(BaseModel):
    """Something the practitioner should know before reading the suggestions."""

    code: Literal["outside_catalogue_area"] = Field(
        description="`outside_catalogue_area`: no service of the catalogue is within the "
        "person's travel radius; the suggestions are remote or far away."
    )
    message: str


class RecommendationResponse(BaseModel):
    request_id: str = Field(description="Cite it when rating these suggestions.")
    model_version: str
    catalogue_version: int
    generated_at: dt.datetime
    decision_support: str = Field(default=DECISION_SUPPORT)
    warnings: list[RecommendationWarning] = Field(default_factory=list)
    suggestions: list[SuggestionPublic]


def travel_radius_km(serving: Serving, person: Person | MinimisedPerson) -> float:
    """How far the ranker looks for services the person travels to: their own limit, else
    the model's default (the radius its candidates come from)."""
    limit = getattr(person, "max_distance_km", None)
    return float(limit or getattr(serving.recommender, "default_radius_km", 25.0))


def area_warnings(
    serving: Serving,
    location: tuple[float, float] | None,
    radius_km: float,
    suggestions: Sequence[Suggestion] = (),
) -> list[dict[str, str]]:
    """An ``outside_catalogue_area`` warning when no located service of the catalogue is within
    ``radius_km`` of ``location`` (a valid postcode far from the directory's area would
    otherwise get remote, off-need suggestions without a word; issue 17, finding 10).
    A suggestion within the radius settles it without measuring to every service."""
    lats, lons = serving.service_points
    if location is None or len(lats) == 0:
        return []
    if any(s.distance_km is not None and s.distance_km <= radius_km for s in suggestions):
        return []
    nearest = float(np.min(haversine_km(location[0], location[1], lats, lons)))
    if nearest <= radius_km:
        return []
    message = (
        f"No service in this directory is within {radius_km:g} km of this location (the "
        f"nearest is about {nearest:.0f} km away), so these suggestions are services that "
        "work remotely or are far away. Check the postcode, or whether this directory "
        "covers the person's area."
    )
    return [{"code": "outside_catalogue_area", "message": message}]


def _public(s: Suggestion, name: str, organisation: str | None) -> dict[str, object]:
    """``SuggestionPublic``'s fields as plain values, validated with the whole response."""
    return {
        "rank": s.rank,
        "service_id": s.service_id,
        "service_name": name,
        "organisation": organisation,
        "score": float(s.score),
        "distance_km": None if s.distance_km is None else round(float(s.distance_km), 3),
        "eligibility": list(s.eligibility),
        "reasons": [{"kind": r.kind, "text": r.text, "weight": float(r.weight)} for r in s.reasons],
    }


Practitioner = Annotated[ApiKeyRecord, Depends(require_role("practitioner"))]


def exploration_policy(settings: Settings) -> Exploration | None:
    """The serving policy's exploration (``Settings.explore_share``; 0 switches it off)."""
    if settings.explore_share <= 0:
        return None
    return Exploration(share=settings.explore_share, max_ratings=settings.explore_max_ratings)


#: Larger answers always rank in a thread: their explanations cost in proportion to ``top_k``, so
#: the loop budget's estimate (of ordinary answers) does not cover them.
LOOP_TOP_K = 25


@router.post(
    "",
    operation_id="recommend",
    response_model=RecommendationResponse,
    summary="Suggest services for a person (decision support, not a decision)",
)
async def post_recommendation(
    body: RecommendationRequest, key: Practitioner, request: Request
) -> Response:
    """Ranks the serving catalogue's eligible services for the person in the body.

    Unknown need or strength codes and unknown postcodes are 422 problems that name the field
    without repeating the value.
    """
    # The state, snapshot, settings and session are taken here rather than as dependencies:
    # FastAPI solves each dependency on every request, and on this path that cost about as
    # much CPU as the log's database work (BENCHMARKS.md, issue 18).
    state: AppState = request.app.state.vcsmatch
    serving, settings = state.serving, state.settings
    # CONFIRMS_KEY: a key recalled from memory is confirmed in the transaction that logs the
    # answer (one round of the database for both); nothing is sent before it is.
    generation = recalled_generation(request)
    ordinary = body.top_k <= LOOP_TOP_K
    store = state.store
    cheap = ordinary and state.ranking_budget.fits()
    if cheap and serving.ready and store.sqlite and not settings.geocoder_enabled:
        # Pure CPU (no network) and cheap: ranked on the loop (api.loop_budget), and logged
        # there too unless the store would make it wait (then in a thread). PostgreSQL's log
        # needs a thread anyway, so there the whole answer takes that one hop, as before.
        ready = state.ranking_budget.timed(lambda: answer(body, serving, settings, request))
        payload = ready.json()
        if log_without_waiting(ready, key, state, request, generation):
            return Response(payload, media_type="application/json", background=upkeep(store))

        def log() -> None:
            log_in_own_session(ready, key, state, request, generation)

        await anyio.to_thread.run_sync(log, limiter=state.ranking_limiter)
        return Response(payload, media_type="application/json")

    def work() -> str:
        nonlocal generation
        if generation is not None and settings.geocoder_enabled:
            # The answer may send the person's address to the online geocoder: a key must be
            # confirmed before anything leaves the service, not when the answer is logged.
            check_recalled_key(request, state)
            generation = None
        rank = partial(answer, body, serving, settings, request)
        ready = state.ranking_budget.timed(rank) if ordinary else rank()
        log_in_own_session(ready, key, state, request, generation)
        return ready.json()

    # In a worker thread, as a plain ``def`` route would be, but at most RANKING_THREADS at once.
    payload = await anyio.to_thread.run_sync(work, limiter=state.ranking_limiter)
    return Response(payload, media_type="application/json")


@dataclass(frozen=True)
class Answer:
    """A recommendation ready to send, and what its log entry needs (``log_answer``)."""

    #: ``RecommendationResponse``'s fields, in its order, as plain values.
    body: dict[str, Any]
    person: Person
    location: tuple[float, float] | None
    suggestions: list[Suggestion]
    model_version: str | None

    @property
    def request_id(self) -> str:
        return str(self.body["request_id"])

    def json(self) -> bytes:
        """The answer as ``RecommendationResponse.model_dump_json`` writes it, serialised once
        without validating again what ``answer`` built from validated parts (returned as a
        model, FastAPI would validate it again as the response model before dumping it)."""
        return to_json(self.body)

    def response(self) -> RecommendationResponse:
        return RecommendationResponse.model_validate(self.body)


def answer(
    body: RecommendationRequest, serving: Serving, settings: Settings, request: Request
) -> Answer:
    """The recommendation for the person in ``body``, not yet logged: CPU work only, except a
    postcode area's first load and, with ``settings.geocoder_enabled``, an address's lookup.

    A snapshot not ready yet is refreshed first (``api.loading.ensure_ready``: the database).
    """
    if body.top_k > settings.max_top_k:
        raise field_problem("top_k", f"must be at most {settings.max_top_k}")
    if not serving.ready:  # a catalogue imported a moment ago: do not wait for the next poll
        serving = ensure_ready(request.app.state.vcsmatch)
    recommender, catalogue = serving.recommender, serving.catalogue
    if recommender is None or catalogue is None or serving.catalogue_version is None:
        raise ProblemException(
            503,
            "Not ready",
            "No catalogue or model is loaded yet.",
            type_="not-ready",
            headers={"Retry-After": "30"},
        )
    taxonomy = load_taxonomy()
    taxonomy.validate("need", body.needs)
    taxonomy.validate("strength", body.strengths)
    person = Person.model_validate(body.model_dump(exclude={"top_k"}))
    location = locate(person, settings=settings)
    if location is not None and person.latitude is None:
        # Resolve the postcode once, here; the ranker then works from coordinates.
        person = person.model_copy(update={"latitude": location[0], "longitude": location[1]})
    ranked = recommender.recommend(
        person, top_k=body.top_k, exploration=exploration_policy(settings)
    )
    index = serving.service_rows
    suggestions = demote_stale(
        ranked,
        {s.service_id: catalogue.services[index[s.service_id]] for s in ranked},
        today=dt.date.today(),
        after_months=settings.stale_after_months,
    )
    request.state.n_results = len(suggestions)
    out = []
    for s in suggestions:
        service = catalogue.services[index[s.service_id]]
        out.append(_public(s, service.name, service.organisation))
    body = {
        "request_id": uuid.uuid4().hex,
        "model_version": serving.model_version or "unknown",
        "catalogue_version": serving.catalogue_version,
        "generated_at": dt.datetime.now(dt.UTC),
        "decision_support": DECISION_SUPPORT,
        "warnings": area_warnings(
            serving, location, travel_radius_km(serving, person), suggestions
        ),
        "suggestions": out,
    }
    return Answer(body, person, location, list(suggestions), serving.model_version)


def log_answer(
    ready: Answer,
    key: ApiKeyRecord,
    session: Session,
    settings: Settings,
    request: Request,
    *,
    key_generation: int | None = None,
    wait: bool = True,
) -> None:
    """Log ``ready`` (the request minimised, its exposures and the answer's audit entry) in one
    commit. ``key_generation``: the generation the caller's key was recalled at, confirmed in
    that transaction (``driver.KeyGenerationMoved`` if it has moved: nothing is logged).
    ``wait=False``: ``driver.WouldWait`` (nothing logged) rather than wait for the store."""
    person, suggestions = ready.person, ready.suggestions
    # The answer is complete, so its audit entry (under /v1: AuditMiddleware timed it) goes in
    # the log's commit: one commit per recommendation.
    audited = AUDIT_STARTED in request.scope.get("state", {})
    recommendation_log.record_request(
        session,
        ready.request_id,
        MinimisedPerson.from_person(person, ready.location),
        ready.model_version,
        [s.service_id for s in suggestions],
        person_reference=person.reference,
        secret=get_secret(session, settings) if person.reference else None,
        api_key_id=key.id,
        exposures=[
            Exposure(
                s.rank,
                s.service_id,
                s.score,
                s.propensity,
                "explore" if s.reasons and s.reasons[0].kind == "exploration" else "ranked",
            )
            for s in suggestions
        ],
        audit_entries=[audit_entry(request.scope, 200)] if audited else (),
        district=district(person.postcode),
        key_generation=key_generation,
        wait=wait,
    )
    if audited:
        request.scope["state"][AUDITED] = True  # AuditMiddleware: already stored


def log_without_waiting(
    ready: Answer,
    key: ApiKeyRecord,
    state: AppState,
    request: Request,
    generation: int | None,
) -> bool:
    """``log_answer`` on the event loop if the store can take it at once: False (nothing
    logged) when it would wait for a lock or a connection, when the store is not SQLite, when
    a person reference needs the store's secret, or when the key's generation has moved."""
    if ready.person.reference and not state.settings.secret_key:
        return False  # the secret is read (made, the first time) from the store
    try:
        with state.sessions() as session:
            log_answer(
                ready, key, session, state.settings, request, key_generation=generation, wait=False
            )
    except (WouldWait, KeyGenerationMoved):
        return False
    return True


def upkeep(store: Driver) -> BackgroundTask | None:
    """The store's checkpoint that logs on the event loop skipped (``Driver.checkpoint_due``),
    to run in a thread once the answer is sent, when one is due."""
    return BackgroundTask(store.checkpoint) if store.checkpoint_due() else None


def log_in_own_session(
    ready: Answer,
    key: ApiKeyRecord,
    state: AppState,
    request: Request,
    generation: int | None,
) -> None:
    """``log_answer`` in a session of its own; if the recalled key's generation has moved, the
    key is checked again (401 if it was revoked) and the answer logged under the fresh check."""
    with state.sessions() as session:
        try:
            log_answer(ready, key, session, state.settings, request, key_generation=generation)
        except KeyGenerationMoved:  # a key was revoked since: is it this one?
            check_recalled_key(request, state)
            log_answer(ready, key, session, state.settings, request)


def recommend(
    body: RecommendationRequest,
    key: ApiKeyRecord,
    serving: Serving,
    session: Session,
    settings: Settings,
    request: Request,
) -> RecommendationResponse:
    """The recommendation, logged: the route's work in one call, which the web page uses."""
    ready = answer(body, serving, settings, request)
    log_answer(ready, key, session, settings, request)
    return ready.response()
