"""The FastAPI application factory: ``create_app(settings=None)``.

``vcsmatch serve`` runs it with uvicorn (``api.main:create_app``, ``factory=True``), so every
worker builds its own app. ``lifespan`` opens and migrates the store, loads the active
catalogue and the serving model into an ``AppState`` on ``app.state.vcsmatch`` (a day-one model
when the store has a catalogue and none), polls the store for newer ones and, with
``Settings.learn_enabled``, starts the learner in a child process when a retrain is due.
Routers live in ``api/routes/``, one per resource.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import Depends, FastAPI
from fastapi.middleware import Middleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api import web
from api.deps import check_key, reject_unknown_query
from api.loading import refresh
from api.middleware import (
    DOCS_PATHS,
    AuditMiddleware,
    BodyLimitMiddleware,
    CrashGuardMiddleware,
    KeyGateMiddleware,
    SecurityHeadersMiddleware,
)
from api.problems import install_problem_handlers, problem_responses, problem_schemas
from api.ratelimit import proxy_networks
from api.routes import (
    catalogue,
    exposures,
    health,
    insights,
    keys,
    model,
    openreferral,
    ratings,
    recommendations,
    referrals,
    services,
    taxonomy,
)
from api.state import AppState
from vcsmatch import __version__
from vcsmatch.affinity import pin_this_worker
from vcsmatch.learner.process import LearnerProcess
from vcsmatch.settings import Settings, get_settings
from vcsmatch.store import audit
from vcsmatch.store.api_keys import ApiKeyRecord
from vcsmatch.store.db import open_store

logger = logging.getLogger("vcsmatch.api")

DESCRIPTION = """
Matches people to community and voluntary-sector services, learning from practitioners'
relevance ratings.

**vcsmatch supports a practitioner's decision and never makes it.** Every suggestion is for a
practitioner to check with the person; nothing acts on a suggestion automatically.

Authenticate with an API key: `Authorization: Bearer <key>`. Each operation lists the roles
that may call it under `x-roles`. Every error is an RFC 9457 problem document
(`application/problem+json`) that names the field at fault without repeating its value.
Personal features travel only in POST bodies, never in URLs.
"""

ROUTERS = (
    health.router,
    recommendations.router,
    ratings.router,
    exposures.router,
    services.router,
    taxonomy.router,
    model.router,
    catalogue.router,
    keys.router,
    referrals.router,
    insights.router,
    openreferral.router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for ``settings`` (default: ``get_settings()``, from the environment)."""
    settings = settings or get_settings()
    # The raw access log would record query strings (postcodes); the audit log replaces it.
    logging.getLogger("uvicorn.access").disabled = True

    holder: dict[str, AppState] = {}

    def write_audit(entries: list[dict[str, Any]]) -> None:
        state = holder.get("state")
        if state is None:
            return
        with state.sessions() as session:
            audit.record_many(session, entries)

    app = FastAPI(
        title="vcsmatch",
        version=__version__,
        summary="Suggest community services for a person; learn from practitioners' ratings.",
        description=DESCRIPTION,
        lifespan=_lifespan(settings, holder),
        docs_url="/docs" if settings.api_docs else None,
        redoc_url="/redoc" if settings.api_docs else None,
        middleware=[
            Middleware(
                SecurityHeadersMiddleware,
                docs_paths=DOCS_PATHS if settings.api_docs else frozenset(),
            ),
            Middleware(AuditMiddleware, writer=write_audit),
            Middleware(CrashGuardMiddleware),
            Middleware(
                KeyGateMiddleware,
                verify=_key_verifier(holder),
                max_failures_per_minute=settings.max_failed_key_checks_per_minute,
                trusted_proxies=proxy_networks(settings.trusted_proxies),
                recall=_key_recaller(holder),
                confirmed_by_route=recommendations.CONFIRMS_KEY | services.CONFIRMS_KEY,
            ),
            Middleware(
                BodyLimitMiddleware,
                max_bytes=settings.max_body_bytes,
                max_depth=settings.max_json_depth,
                timeout_seconds=settings.body_timeout_seconds,
                large_paths={"/v1/catalogue": settings.max_catalogue_bytes},
            ),
        ],
    )
    # Routes read the same settings the middleware was built with (api.deps.app_settings).
    app.state.settings = settings
    install_problem_handlers(app)
    for router in ROUTERS:
        _document_errors(router.routes)  # idempotent: routers are module-level
        app.include_router(router, dependencies=[Depends(reject_unknown_query)])
    app.include_router(web.router)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


def serve_app() -> FastAPI:
    """The app as each ``vcsmatch serve`` worker runs it: the worker keeps to a CPU of its own
    (``vcsmatch.affinity``, unless ``Settings.worker_cpu_affinity`` is ``off``), then
    ``create_app()``. Not done in ``create_app``: an app built in a test or a notebook must
    not pin the process that built it."""
    settings = get_settings()
    if settings.worker_cpu_affinity == "auto":
        pin_this_worker()
    return create_app(settings)


def _key_verifier(holder: dict[str, AppState]) -> Callable[[str], Any]:
    """``KeyGateMiddleware``'s check: the live key record for a plaintext, or None (also
    before the store is open). A database outage propagates as a problem 503."""

    async def verify(plaintext: str) -> ApiKeyRecord | None:
        state = holder.get("state")
        if state is None:
            return None
        return await anyio.to_thread.run_sync(check_key, state, plaintext)

    return verify


def _key_recaller(
    holder: dict[str, AppState],
) -> Callable[[str], tuple[ApiKeyRecord, int] | None]:
    """``KeyGateMiddleware``'s recall: a key this worker remembers and the key generation it
    was remembered at, from memory alone."""

    def recall(plaintext: str) -> tuple[ApiKeyRecord, int] | None:
        state = holder.get("state")
        return None if state is None else state.key_cache.recall(plaintext)

    return recall


def _lifespan(settings: Settings, holder: dict[str, AppState]) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sessions = await anyio.to_thread.run_sync(open_store, settings)
        state = AppState(settings, sessions)
        app.state.vcsmatch = state
        holder["state"] = state
        try:
            await anyio.to_thread.run_sync(refresh, state)
        except Exception as exc:  # noqa: BLE001 - start anyway; /ready says what is missing
            logger.warning("initial load failed: %s", type(exc).__name__)
        learner = LearnerProcess(settings, sessions) if settings.learn_enabled else None
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_poll, state)
            if learner is not None:
                tasks.start_soon(_learn, learner)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                if learner is not None:
                    learner.stop()
        holder.pop("state", None)
        sessions.kw["bind"].dispose()  # close this app's pooled connections

    return lifespan


async def _poll(state: AppState) -> None:
    """Every ``model_poll_seconds``, pick up a newer catalogue or model from the store."""
    while True:
        await anyio.sleep(state.settings.model_poll_seconds)
        try:
            await anyio.to_thread.run_sync(refresh, state)
        except Exception as exc:  # noqa: BLE001 - a failed poll is retried at the next one
            logger.warning("refresh failed: %s", type(exc).__name__)


async def _learn(learner: LearnerProcess) -> None:
    """Every ``learn_check_seconds``, start the learner in a child process if a retrain is due
    (``vcsmatch.learner.process``): training never runs in this worker."""
    while True:
        await anyio.sleep(learner.settings.learn_check_seconds)
        try:
            await anyio.to_thread.run_sync(learner.tick)
        except Exception as exc:  # noqa: BLE001 - a failed check is retried at the next one
            logger.warning("learner check failed: %s", type(exc).__name__)


def route_roles(route: APIRoute) -> tuple[str, ...] | None:
    """The roles ``require_role`` admits on ``route`` (None when the route needs no key)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        roles = getattr(dep.call, "roles", None)
        if roles is not None:
            return tuple(roles)
        stack.extend(dep.dependencies)
    return None


def _document_errors(routes: list[BaseRoute]) -> None:
    """Declare in OpenAPI every problem status each operation can answer, derived from what
    the route actually depends on: its roles (401, 403, 429), parameters (422), body (400,
    408, 413, 422); every operation can meet a database outage (503)."""
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        statuses: set[int] = {503} if route.path != "/health" else set()
        roles = route_roles(route)
        if roles is not None:
            statuses |= {401, 403, 429}
            route.openapi_extra = {**(route.openapi_extra or {}), "x-roles": list(roles)}
        has_body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})
        if route.dependant.path_params or route.dependant.query_params or has_body:
            statuses.add(422)
        if route.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            statuses |= {400, 408, 413}  # BodyLimitMiddleware reads every such body
        for status, spec in problem_responses(*sorted(statuses)).items():
            route.responses.setdefault(status, spec)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(problem_schemas())
            # FastAPI's default validation schemas are never sent: problems replace them.
            for name in ("HTTPValidationError", "ValidationError"):
                schema["components"]["schemas"].pop(name, None)
            _local_times(schema)
            _server_limits(schema, app.state.settings)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


#: Opening hours are local wall-clock times ("14:00:00"); JSON Schema's ``time`` format is
#: RFC 3339's full-time, which demands a UTC offset, so a client validating against it would
#: reject every schedule. The document says what is actually sent.
_LOCAL_TIME = {
    "type": "string",
    "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$",
    "description": "Local time of day, HH:MM[:SS].",
}


def _local_times(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            node.pop("format")
            node.update(_LOCAL_TIME)
        for value in node.values():
            _local_times(value)
    elif isinstance(node, list):
        for value in node:
            _local_times(value)


def _server_limits(schema: dict[str, Any], settings: Settings) -> None:
    """Declare the limits this server enforces (issue 17, finding 6): ``top_k`` and ``size``
    are validated up to 1000 but refused above ``max_top_k`` / ``max_page_size``."""
    bodies = schema.get("components", {}).get("schemas", {})
    top_k = bodies.get("RecommendationRequest", {}).get("properties", {}).get("top_k")
    if top_k is not None:
        top_k["maximum"] = settings.max_top_k
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter.get("name") == "size":
                    parameter.setdefault("schema", {})["maximum"] = settings.max_page_size
