"""JSON request bodies are validated in a worker thread first, so no body holds the event loop.

FastAPI parses and validates a body on the event loop. A valid body costs little there, but a
body of ~32,000 unknown keys made pydantic build 32,000 error dicts (and the garbage collector
walk the heap after them): 0.7 s during which no other request on that worker was answered
(issue 17, finding 1). ``ThreadValidatedRoute`` validates any JSON body larger than
``OFF_LOOP_BYTES`` in a worker thread first, the way FastAPI would; an invalid one is refused
from there with at most ``MAX_REPORTED_ERRORS`` errors, read from pydantic's own JSON rendering
of them (one string, not one object per error). A valid body then goes to FastAPI as before,
or, for a route ``api.direct_route`` can plan, straight to its endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import anyio
from fastapi import Request, Response, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from api.direct_route import direct_call, is_json_media
from api.problems import MAX_REPORTED_ERRORS, validation_errors

#: Smaller bodies are validated on the event loop as usual: a body this size holds at most a
#: few thousand values, so its errors cost milliseconds, less than a hop to a thread.
OFF_LOOP_BYTES = 16_384

#: Raw errors read from pydantic's rendering to find ``MAX_REPORTED_ERRORS`` distinct ones.
_ERRORS_READ = 4 * MAX_REPORTED_ERRORS


class TooManyErrors(RequestValidationError):
    """A body refused in the worker thread: its first errors, and how many there were."""

    def __init__(self, errors: list[dict[str, Any]], total: int) -> None:
        super().__init__(errors)
        self.total = total


class ThreadValidatedRoute(APIRoute):
    """An ``APIRoute`` whose JSON body is validated off the event loop when it is large.

    Every ``/v1/`` router with a JSON body uses it (``APIRouter(route_class=...)``); a test
    checks that none is missed.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        field = self.body_field
        if field is None or self._embed_body_fields or _is_form(field):
            return handler
        adapter: TypeAdapter[Any] = TypeAdapter(
            Annotated[field.field_info.annotation, field.field_info]
        )
        direct = direct_call(self)

        async def validated_first(request: Request) -> Response:
            if _is_json(request.headers.get("content-type")):
                body = await request.body()  # already read by BodyLimitMiddleware
                if len(body) > OFF_LOOP_BYTES:
                    await anyio.to_thread.run_sync(check_body, adapter, body)
                elif direct is not None and (response := await direct(request)) is not None:
                    return response
            return await handler(request)

        return validated_first


def check_body(adapter: TypeAdapter[Any], body: bytes) -> None:
    """Validate ``body`` as FastAPI would (parsed JSON, then the body's type); raise
    ``TooManyErrors`` with the first errors if it is not valid. JSON that does not parse is
    left to FastAPI, which reports it in the usual way."""
    try:
        value = json.loads(body)
    except ValueError:
        return
    try:
        adapter.validate_python(value, from_attributes=True)
    except ValidationError as exc:
        raise TooManyErrors(*first_errors(exc)) from None


def first_errors(exc: ValidationError) -> tuple[list[dict[str, Any]], int]:
    """The first of ``exc``'s errors (located under ``body``, as FastAPI reports them) and how
    many there are, without turning every error into Python objects."""
    decoder = json.JSONDecoder()
    text = exc.json(include_url=False)
    raw: list[dict[str, Any]] = []
    pos = 1  # after "["
    while len(raw) < _ERRORS_READ and pos < len(text):
        while pos < len(text) and text[pos] in ", \n":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        error, pos = decoder.raw_decode(text, pos)
        raw.append({**error, "loc": ("body", *error.get("loc", ()))})
    total = exc.error_count()
    if len(raw) == total:  # all read: count them as the problem handler does, once each
        total = validation_errors(raw)[1]
    return raw, total


def _is_json(content_type: str | None) -> bool:
    # Checked without a content type too: a lenient route parses such a body as JSON.
    return not content_type or is_json_media(content_type)


def _is_form(field: Any) -> bool:
    return isinstance(field.field_info, params.Form)
