"""An ordinary request to a hot route calls its endpoint without FastAPI's dependency solving.

FastAPI solves a route's dependency tree on every request: it works out cache keys, scopes and
security schemes again, builds the bearer credentials as a model and validates the body
through its own machinery. On ``POST /v1/recommendations`` that cost about 0.3 ms of every
answer, more than the log's commit (issue 18: "no per-request dependency solving that can be
done at start"). ``direct_call`` plans once, when the route is built, how to call the endpoint
from the request alone:

- its JSON body, parsed and validated exactly as FastAPI does it (``json.loads``, then the
  body's type in Python mode);
- its ``Request`` parameter;
- ``async`` dependencies of the request alone, called as they are;
- other dependencies that carry a ``direct`` form (``direct_form``): an ``async`` function of
  the request alone that returns the dependency's value, raises the same problems the
  dependency would, or returns ``FALLBACK`` when the request is out of the ordinary.

Anything else (a body that does not parse or validate, a dependency that answers
``FALLBACK``) goes through FastAPI's own handler, so every error keeps FastAPI's shape and
the OpenAPI document is FastAPI's own. A route with any other kind of parameter or dependency
gets no plan at all.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import fastapi.routing
from fastapi import Request, Response
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
class DirectCall:
    """How to call one route's endpoint from the request (``direct_call``)."""

    endpoint: Callable[..., Awaitable[Any]]
    body_name: str
    body: TypeAdapter[Any]
    request_name: str | None
    dependencies: tuple[tuple[str | None, DirectForm], ...]

    async def __call__(self, request: Request) -> Response | None:
        """The endpoint's response, or None: the request needs FastAPI's own handler."""
        content_type = request.headers.get("content-type")
        if not content_type or not is_json_media(content_type):
            return None  # (none: FastAPI's strict default does not parse the body)
        raw = await request.body()  # already read by BodyLimitMiddleware
        if not raw:
            return None
        try:
            body = self.body.validate_python(json.loads(raw), from_attributes=True)
        except (ValueError, ValidationError):  # FastAPI reports it in its own way
            return None
        values: dict[str, Any] = {self.body_name: body}
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


def direct_call(route: APIRoute) -> DirectCall | None:
    """The plan for ``route`` (from its ``get_route_handler``), or None when its endpoint needs
    anything but a JSON body, the request and dependencies with a direct form, or does not
    return a ``Response`` itself."""
    effective = _as_included(route)
    if effective is None:
        return None
    dependant = effective.dependant
    field = effective.body_field
    endpoint = dependant.call
    if (
        field is None
        or len(dependant.body_params) != 1
        or effective._embed_body_fields  # noqa: SLF001 - FastAPI's own flag
        or _takes_more_than_the_request(dependant, but_body=True)
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
        body_name=dependant.body_params[0].name,
        body=TypeAdapter(Annotated[field.field_info.annotation, field.field_info]),
        request_name=dependant.request_param_name,
        dependencies=tuple(forms),
    )


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


def _takes_more_than_the_request(dependant: Dependant, *, but_body: bool = False) -> bool:
    """Whether ``dependant`` takes any parameter but the request (and its body)."""
    params = (
        dependant.path_params,
        dependant.query_params,
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
