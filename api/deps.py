"""Dependencies shared by the routes, as ``Annotated`` aliases (FastAPI's "Bigger Applications").

- ``SettingsDep``: the settings ``create_app`` was given (default ``get_settings()``).
- ``StateDep``: the worker's ``AppState``; ``ServingDep``: its snapshot for this request.
- ``SessionDep``: a database session, closed after the response.
- ``CurrentKey``: the verified API key (401 otherwise), rate-limited per key (429).
- ``require_role(*roles)``: the one role check (403 otherwise); routes list it in
  ``dependencies=``; ``api.main`` reads the roles back into the OpenAPI document.
- Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in the
  thread pool, and each hop there costs more CPU than the dependency itself.
- ``reject_unknown_query``: a query parameter the operation does not take is a 422, so a
  typo (``need=`` for ``needs=``) never silently returns unfiltered results.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.direct_route import FALLBACK, direct_form
from api.middleware import KEY_UNCONFIRMED, bearer_token
from api.problems import ProblemException, field_problem
from api.state import AppState, Serving
from vcsmatch.settings import Settings
from vcsmatch.store import api_keys
from vcsmatch.store.api_keys import ApiKeyRecord
from vcsmatch.store.driver import WouldWait

#: Which roles may do what is decided per route; see docs/api.md for the table and why admin
#: does not imply the other roles.
ROLES: tuple[str, ...] = api_keys.ROLES


async def app_settings(request: Request) -> Settings:
    """The settings this app was built with (``create_app(settings)``).

    Read from the app rather than through ``dependency_overrides``: FastAPI re-inspects every
    sub-dependency's signature on each request when overrides are set (8-11% of a worker's CPU
    in BENCHMARKS.md's profile).
    """
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


async def get_state(request: Request) -> AppState:
    """The ``AppState`` that ``lifespan`` put on the app."""
    return request.app.state.vcsmatch


StateDep = Annotated[AppState, Depends(get_state)]


async def get_serving(state: StateDep) -> Serving:
    """One snapshot per request, so a swap mid-request never mixes model and catalogue."""
    return state.serving


ServingDep = Annotated[Serving, Depends(get_serving)]


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    """A session for this request, closed (and any open transaction rolled back) afterwards.

    Making one does no I/O, and neither does closing one whose work has committed (the store's
    functions commit before they return), so both happen on the event loop; only a session left
    in a transaction is closed in a worker thread (its rollback is a round trip).
    """
    session = state.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key: `Authorization: Bearer vcs_...` (create one with `vcsmatch keys`).",
)


def unauthorized(detail: str) -> ProblemException:
    return ProblemException(
        401, "Unauthorized", detail, type_="unauthorized", headers={"WWW-Authenticate": "Bearer"}
    )


async def get_current_key(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKeyRecord:
    """The caller's live API key, checked against the store on every request (so revoking a
    key takes effect at once in every worker: ``vcsmatch.store.key_cache``, one read of the
    key generation for a key this worker knows), then charged one token of its rate limit.

    ``async``, and without a session of its own: ``api.middleware.KeyGateMiddleware`` has
    checked the key of every ``/v1/`` request already, so this only reads its record from the
    request state; a plain ``def`` would cost a thread-pool round trip per request for that.
    """
    record: ApiKeyRecord | None = getattr(request.state, "api_key", None)
    if record is None:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise unauthorized("Send an API key as `Authorization: Bearer <key>`.")
        record = await anyio.to_thread.run_sync(check_key, state, credentials.credentials)
    if record is None:
        raise unauthorized("The API key is unknown or has been revoked.")
    return charged(request, state, record)


def charged(request: Request, state: AppState, record: ApiKeyRecord) -> ApiKeyRecord:
    """``record``, once one token of its rate limit is charged (429 when none is left)."""
    request.state.key_id = record.id
    wait = state.rate_limiter.acquire(record.id)
    if wait > 0:
        raise ProblemException(
            429,
            "Too Many Requests",
            f"This API key may send {state.settings.rate_limit_per_minute} requests a minute.",
            type_="rate-limited",
            headers={"Retry-After": state.rate_limiter.retry_after(wait)},
        )
    return record


CurrentKey = Annotated[ApiKeyRecord, Depends(get_current_key)]


def check_key(state: AppState, plaintext: str | None) -> ApiKeyRecord | None:
    """The live key for ``plaintext`` or None, on a session of its own (blocking: run it in a
    worker thread). The one key check ``KeyGateMiddleware`` and the routes share."""
    with state.sessions() as session:
        return state.key_cache.verify(session, plaintext)


def recalled_generation(request: Request) -> int | None:
    """The key generation at which ``KeyGateMiddleware`` recalled this request's key from
    memory, or None when the key was checked against the store."""
    generation: int | None = request.scope.get("state", {}).get(KEY_UNCONFIRMED)
    return generation


def check_recalled_key(request: Request, state: AppState) -> None:
    """Verify, in the route's worker thread, a key ``KeyGateMiddleware`` only recalled from
    memory (on the paths a route lists for it), before the route does anything else: 401 if
    it has been revoked since. One read of the key generation, as in the middleware, without
    a thread-pool hop of its own."""
    if recalled_generation(request) is None:
        return
    if check_key(state, bearer_token(request.scope)) is None:
        raise unauthorized("The API key is unknown or has been revoked.")


def recalled_key_holds(request: Request, state: AppState) -> bool:
    """Whether the key ``KeyGateMiddleware`` recalled from memory still holds, read without
    waiting, so the event loop may read it itself: True when nothing was recalled (the
    middleware checked the store) or the store's key generation is still the one recalled;
    False when that read would wait (``driver.WouldWait``) or the generation has moved, and
    ``check_recalled_key``, in a worker thread, decides."""
    generation = recalled_generation(request)
    if generation is None:
        return True
    try:
        return state.store.read_generation(wait=False) == generation
    except WouldWait:
        return False


def require_role(*roles: str) -> Callable[..., ApiKeyRecord]:
    """A dependency admitting only keys whose role is one of ``roles`` (403 otherwise).

    The returned callable carries ``roles`` so ``api.main`` can document each operation's
    roles (``x-roles``) and its 401/403 answers from the dependency itself.
    """
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"require_role needs roles from {ROLES}; got {sorted(unknown)}")

    def admitted(key: ApiKeyRecord) -> ApiKeyRecord:
        if key.role not in roles:
            raise ProblemException(
                403,
                "Forbidden",
                f"A {key.role} key may not use this operation; it needs: {', '.join(roles)}.",
                type_="forbidden",
            )
        return key

    async def direct(request: Request) -> ApiKeyRecord:
        # The key KeyGateMiddleware checked (or recalled) for this request; without one,
        # FastAPI's path (get_current_key) reads the credentials and answers.
        record: ApiKeyRecord | None = getattr(request.state, "api_key", None)
        if record is None:
            return FALLBACK
        return admitted(charged(request, request.app.state.vcsmatch, record))

    @direct_form(direct)
    async def check_role(key: CurrentKey) -> ApiKeyRecord:
        return admitted(key)

    check_role.roles = roles  # type: ignore[attr-defined]
    return check_role


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters ``route`` declares, its dependencies' included (cached per route;
    routes live as long as the process)."""
    cached = _QUERY_NAMES.get(id(route))
    if cached is not None:
        return cached
    names: set[str] = set()
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        names.update(field.alias for field in dependant.query_params)
        stack.extend(dependant.dependencies)
    _QUERY_NAMES[id(route)] = frozenset(names)
    return _QUERY_NAMES[id(route)]


async def reject_unknown_query(request: Request) -> None:
    """422 when the query string holds a parameter the operation does not declare.

    The problem lists the parameters the operation takes, not the ones sent: names typed into
    a query string are not safe to repeat.
    """
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    allowed = _query_names(route)
    unknown = sum(1 for name in request.query_params if name not in allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "no query parameters"
        raise field_problem(
            "query", f"{unknown} unknown parameter(s); this operation takes: {takes}"
        )
