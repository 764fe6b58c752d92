"""An ordinary request to a hot route calls its endpoint without FastAPI's dependency solving.

FastAPI solves a route's dependency tree on every request: it works out cache keys, scopes and
security schemes again, builds the bearer credentials as a model and validates the body and
the query through its own machinery. On ``POST /v1/recommendations`` that cost about 0.3 ms of
every answer, more than the log's commit, and on ``GET /v1/services`` with its sixteen query
parameters about a quarter of a search (issue 18: "no per-request dependency solving that can
be done at start"). ``direct_call`` plans once, when the route is built, how to call the
endpoint from the request alone:

- its JSON body, if it takes one, parsed and validated exactly as FastAPI does it
  (``json.loads``, then the body's type in Python mode);
- its query parameters, each read from the query string as FastAPI reads it (every value of a
  list parameter, the last of any other; absent or empty is the default) and validated by
  FastAPI's own field for it;
- its ``Request`` parameter;
- ``async`` dependencies of the request alone, called as they are;
- other dependencies that carry a ``direct`` form (``direct_form``): an ``async`` function of
  the request alone that returns the dependency's value, raises the same problems the
  dependency would, or returns ``FALLBACK`` when the request is out of the ordinary.

Anything else (a body that does not parse or validate, a query parameter that does not
validate, a dependency that answers ``FALLBACK``) goes through FastAPI's own handler, so every
error keeps FastAPI's shape and the OpenAPI document is FastAPI's own. A route with any other
kind of parameter or dependency (a required query parameter among them) gets no plan at all.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import fastapi.dependencies.utils as fastapi_params
import fastapi.routing
from fastapi import Request, Response
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

#: What a direct form returns when the request must go through FastAPI's own handler.
FALLBACK: Any = object()

DirectForm = Callable[[Request], Awaitable[Any]]
F = TypeVar("F", bound=Callable[..., Any])


def direct_form(form: DirectForm) -> Callable[[F], F]:
    """Mark a dependency with the ``async`` function of the request that stands in for it on
    the direct path (``FALLBACK`` from it sends the request through FastAPI)."""

    def mark(dependency: F) -> F:
        dependency.direct = form  # type: ignore[attr-defined]
        return dependency

    return mark


@dataclass(frozen=True)
class QueryParam:
    """One query parameter of a planned route: where it is read and FastAPI's field for it."""

    field: ModelField
    key: str  # its name in the query string
    many: bool  # a list: every value, not the last

    def read(self, request: Request) -> Any:  # noqa: ANN401 - the parameter's own value
        """The validated value, its default when absent, or ``FALLBACK`` (FastAPI answers)."""
        params = request.query_params
        value = params.getlist(self.key) if self.many else params.get(self.key)
        if value is None or (self.many and not value):
            return copy.deepcopy(self.field.default)  # not required (direct_call checked)
        value, errors = self.field.validate(value, {}, loc=("query", self.key))
        return FALLBACK if errors else value


@dataclass(frozen=True)
class DirectCall:
    """How to call one route's endpoint from the request (``direct_call``)."""

    endpoint: Callable[..., Awaitable[Any]]
    body_name: str | None
    body: TypeAdapter[Any] | None
    query: tuple[QueryParam, ...]
    request_name: str | None
    dependencies: tuple[tuple[str | None, DirectForm], ...]

    async def __call__(self, request: Request) -> Response | None:
        """The endpoint's response, or None: the request needs FastAPI's own handler."""
        values: dict[str, Any] = {}
        if self.body is not None and self.body_name is not None:
            content_type = request.headers.get("content-type")
            if not content_type or not is_json_media(content_type):
                return None  # (none: FastAPI's strict default does not parse the body)
            raw = await request.body()  # already read by BodyLimitMiddleware
            if not raw:
                return None
            try:
                values[self.body_name] = self.body.validate_python(
                    json.loads(raw), from_attributes=True
                )
            except (ValueError, ValidationError):  # FastAPI reports it in its own way
                return None
        for param in self.query:
            value = param.read(request)
            if value is FALLBACK:
                return None
            values[param.field.name] = value
        # In declaration order, as FastAPI runs them: the router's, then the parameters'.
        for name, form in self.dependencies:
            value = await form(request)
            if value is FALLBACK:
                return None
            if name is not None:
                values[name] = value
        if self.request_name is not None:
            values[self.request_name] = request
        response = await self.endpoint(**values)
        if not isinstance(response, Response):  # it ran: never run it again through FastAPI
            raise TypeError(f"{self.endpoint.__name__} must return a Response")
        return response


class DirectRoute(APIRoute):
    """An ``APIRoute`` whose ordinary requests call the endpoint directly (``direct_call``):
    for the hot routes without a JSON body (``api.json_body.ThreadValidatedRoute`` plans the
    ones with)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        direct = direct_call(self)
        if direct is None:
            return handler

        async def direct_first(request: Request) -> Response:
            response = await direct(request)
            return response if response is not None else await handler(request)

        return direct_first


def direct_call(route: APIRoute) -> DirectCall | None:
    """The plan for ``route`` (from its ``get_route_handler``), or None when its endpoint needs
    anything but a JSON body, plain query parameters with defaults, the request and
    dependencies with a direct form, or does not return a ``Response`` itself."""
    effective = _as_included(route)
    if effective is None:
        return None
    dependant = effective.dependant
    field = effective.body_field
    endpoint = dependant.call
    query = _query_params(dependant)
    if (
        len(dependant.body_params) > 1
        or (dependant.body_params and field is None)
        or effective._embed_body_fields  # noqa: SLF001 - FastAPI's own flag
        or query is None
        or _takes_more_than_the_request(dependant, but_body=True, but_query=True)
        or endpoint is None
        or not inspect.iscoroutinefunction(endpoint)
        or not _returns_response(endpoint)
    ):
        return None
    forms = []
    for dependency in dependant.dependencies:
        form = getattr(dependency.call, "direct", None) or _of_request_alone(dependency)
        if form is None:
            return None
        forms.append((dependency.name, form))
    return DirectCall(
        endpoint=endpoint,
        body_name=dependant.body_params[0].name if field is not None else None,
        body=(
            None
            if field is None
            else TypeAdapter(Annotated[field.field_info.annotation, field.field_info])
        ),
        query=query,
        request_name=dependant.request_param_name,
        dependencies=tuple(forms),
    )


def _query_params(dependant: Dependant) -> tuple[QueryParam, ...] | None:
    """How to read each of ``dependant``'s query parameters, or None when one is out of the
    ordinary: required, a model of parameters, JSON, validated by default, or known by more
    than one name (FastAPI's own reading of it is then the only one)."""
    aliases = getattr(fastapi_params, "_get_param_aliases", None)
    model_of = getattr(fastapi_params, "_get_param_model", None)
    is_json = getattr(fastapi_params, "_is_json_field", None)
    if not dependant.query_params:
        return ()
    if aliases is None or model_of is None or is_json is None:
        return None
    plan = []
    for field in dependant.query_params:
        info = field.field_info
        if info.is_required() or info.validate_default or model_of(field) or is_json(field):
            return None
        names = aliases(field)
        if len(names) != 1:
            return None
        many = field_annotation_is_sequence(info.annotation)
        plan.append(QueryParam(field=field, key=names[0][1], many=many))
    return tuple(plan)


def _as_included(route: APIRoute) -> Any:  # noqa: ANN401 - FastAPI's route or its context
    """``route`` as ``APIRoute.get_route_handler`` sees it: FastAPI builds the handler of an
    included route under that inclusion's context, whose dependant holds the dependencies
    ``include_router`` added (``reject_unknown_query``). None when this FastAPI does not say
    (no plan, rather than one that would skip those dependencies)."""
    context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
    if context_var is None:
        return None
    context = context_var.get()
    return context if context is not None and context.original_route is route else route


def _takes_more_than_the_request(
    dependant: Dependant, *, but_body: bool = False, but_query: bool = False
) -> bool:
    """Whether ``dependant`` takes any parameter but the request (and its body, its query)."""
    params = (
        dependant.path_params,
        [] if but_query else dependant.query_params,
        dependant.header_params,
        dependant.cookie_params,
        [] if but_body else dependant.body_params,
    )
    special = (
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    return any(params) or any(name is not None for name in special)


def _of_request_alone(dependency: Dependant) -> DirectForm | None:
    """An ``async`` dependency of the request alone, as a direct form; else None."""
    call, name = dependency.call, dependency.request_param_name
    if (
        call is None
        or name is None
        or dependency.dependencies
        or _takes_more_than_the_request(dependency)
        or not inspect.iscoroutinefunction(call)
    ):
        return None

    async def form(request: Request) -> Any:  # noqa: ANN401 - the dependency's own value
        return await call(**{name: request})

    return form


def _returns_response(endpoint: Callable[..., Any]) -> bool:
    """Whether ``endpoint`` is declared to return a ``Response`` (FastAPI would validate and
    serialise anything else against the response model, which the direct path does not)."""
    annotation = inspect.signature(endpoint, eval_str=True).return_annotation
    return isinstance(annotation, type) and issubclass(annotation, Response)


def is_json_media(content_type: str) -> bool:
    """Whether ``content_type`` is a JSON media type, as FastAPI reads it."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
