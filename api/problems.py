"""Every error the API returns is an RFC 9457 problem document (``application/problem+json``).

One place turns every failure into a problem: FastAPI's validation errors (rewritten so they
name the field and the rule but never repeat the value sent, since values are often a
person's special-category data), Starlette's HTTP errors (404 for unknown paths, 405), the
library's own errors (``vcsmatch.errors``, so ``vcsmatch/`` never imports FastAPI), database
outages (503) and, as a last resort for true bugs, a bare 500 that says nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DatabaseError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from vcsmatch import errors as lib

logger = logging.getLogger("vcsmatch.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Problem types are relative URIs documented in docs/api.md (RFC 9457 allows "about:blank").
TYPE_BASE = "/problems/"


class FieldError(BaseModel):
    """What was wrong with one field (the field's path and the rule it broke, never its value)."""

    field: str = Field(examples=["body.age"])
    message: str = Field(examples=["Input should be less than or equal to 120"])


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = Field(default="about:blank", examples=["/problems/validation"])
    title: str = Field(examples=["Request is not valid"])
    status: int = Field(ge=400, le=599, examples=[422])
    detail: str | None = None
    instance: str | None = Field(default=None, description="The path the request was sent to.")
    errors: list[FieldError] | None = None


class ProblemException(Exception):
    """Raised by routes and dependencies to answer with a specific problem."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.type_ = type_
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})
        super().__init__(title)


def field_problem(field: str, message: str, *, status: int = 422) -> ProblemException:
    """A validation problem about one field, for checks that pydantic cannot express."""
    return ProblemException(
        status,
        "Request is not valid",
        f"{field}: {message}",
        type_="validation",
        errors=[FieldError(field=field, message=message)],
    )


def not_ready(detail: str) -> ProblemException:
    """503: what the answer needs (a model, a catalogue) is not loaded yet; retry shortly."""
    return ProblemException(
        503, "Not ready", detail, type_="not-ready", headers={"Retry-After": "30"}
    )


def problem_response(
    request: Request | None,
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type_: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Build the problem response; ``instance`` is the request path (never the query string)."""
    body = Problem(
        type=TYPE_BASE + type_ if type_ else "about:blank",
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        errors=list(errors) if errors else None,
    )
    return ProblemJSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        headers=dict(headers or {}),
    )


class ProblemJSONResponse(JSONResponse):
    """A problem document, rendered as ASCII JSON (non-ASCII characters as ``\\u`` escapes).

    A problem may quote a record id from an imported feed; JSON lets a feed carry a lone
    surrogate (``"\\ud800"``), which cannot be encoded as UTF-8, so rendering it the default
    way raised a UnicodeEncodeError and turned a 422 into a 500.
    """

    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode("ascii")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring ``statuses`` as problem documents."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def problem_schemas() -> dict[str, Any]:
    """``Problem`` and ``FieldError`` as OpenAPI component schemas (``api.main`` adds them)."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}


_DESCRIPTIONS = {
    400: "The request is malformed (for example JSON nested too deeply).",
    408: "The request body arrived too slowly.",
    401: "No API key, or an unknown or revoked one.",
    403: "The API key's role may not use this operation.",
    404: "No such resource.",
    409: "The request conflicts with what is stored (idempotency key reused, model refused).",
    413: "The request body is larger than the configured limit.",
    422: "A field is missing or breaks a rule; `errors` names each field.",
    429: "This API key sent too many requests; retry after `Retry-After` seconds.",
    503: "The database, catalogue or model is unavailable; retry later.",
}


# --- validation errors -------------------------------------------------------------------------

#: Wrappers pydantic puts in ``loc``; they are not field names.
_LOC_NOISE = {"function-after", "function-before", "function-wrap", "function-plain"}
#: Prefix of the ``Tag``s our tagged-union bodies use, dropped from field paths.
UNION_TAG_PREFIX = "variant:"


def _field_path(loc: Sequence[Any]) -> str:
    parts = [
        str(p) for p in loc if str(p) not in _LOC_NOISE and not str(p).startswith(UNION_TAG_PREFIX)
    ]
    return ".".join(parts) or "body"


def _safe_message(error: Mapping[str, Any]) -> str:
    """Pydantic's message, unless it would repeat the value sent (custom validators may)."""
    message = str(error.get("msg", "is not valid"))
    if error.get("type") == "json_invalid":
        return "is not valid JSON"
    value = error.get("input")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
        if text and len(text) >= 2 and text in message:
            return "is not valid"
    return message


#: Most field errors one problem lists; the detail still counts them all. A body with
#: thousands of unknown keys gets a short answer, built in time linear in its size.
MAX_REPORTED_ERRORS = 50


def validation_errors(
    raw: Sequence[Mapping[str, Any]], limit: int = MAX_REPORTED_ERRORS
) -> tuple[list[FieldError], int]:
    """Turn pydantic/FastAPI error dicts into field errors without any input values.

    Returns the first ``limit`` distinct errors and how many distinct errors there were.
    Duplicates are found with a set (one pass): a list membership test made a body with
    4,000 unknown keys take seconds on the event loop (finding 1 of issue 17).
    """
    out: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for error in raw:
        key = (_field_path(error.get("loc", ())), _safe_message(error))
        if key in seen:
            continue
        seen.add(key)
        if len(out) < limit:
            out.append(FieldError(field=key[0], message=key[1]))
    return out, len(seen)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors, total = validation_errors(exc.errors())
    fields = ", ".join(e.field for e in errors[:5])
    shown = "" if total == len(errors) else f" (the first {len(errors)} are listed)"
    return problem_response(
        request,
        422,
        "Request is not valid",
        f"{total} field(s) are not valid{shown}: {fields}",
        type_="validation",
        errors=errors,
    )


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API): an HTML answer serves it better than JSON."""
    if request.url.path.startswith("/v1/"):
        return False
    return "text/html" in request.headers.get("accept", "")


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and wants_html(request):
        from api.web.render import render  # the web page's templates (imported when needed)

        return render(
            "message.html",
            404,
            title="Page not found",
            message="If you typed the web address, check it is correct.",
        )
    detail = exc.detail if isinstance(exc.detail, str) else None
    if detail == HTTPStatus(exc.status_code).phrase:
        detail = None
    return problem_response(request, exc.status_code, detail=detail, headers=exc.headers)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemException)
    return problem_response(
        request,
        exc.status,
        exc.title,
        exc.detail,
        type_=exc.type_,
        errors=exc.errors,
        headers=exc.headers,
    )


# --- library errors ----------------------------------------------------------------------------


def library_problem(exc: lib.VcsmatchError) -> ProblemException:
    """Map one of vcsmatch's own errors to a 4xx/503 problem, without personal values.

    The messages of ``PostcodeError`` and ``UnknownCodeError`` quote the value the caller
    sent; these are rebuilt from the error's attributes so the value is never repeated.
    """
    if isinstance(exc, lib.PostcodeError):
        return field_problem("postcode", f"postcode {exc.reason}")
    if isinstance(exc, lib.UnknownCodeError):
        kind = {"need": "needs", "strength": "strengths", "activity": "activities"}.get(
            exc.kind, exc.kind
        )
        return field_problem(kind, f"contains a code that is not in the {exc.kind} taxonomy")
    if isinstance(exc, lib.NotFoundError):
        return ProblemException(404, "Not found", str(exc), type_="not-found")
    if isinstance(exc, lib.ImportFailed):
        return ProblemException(
            422,
            "Import refused",
            str(exc),
            type_="import-failed",
            errors=_report_errors(exc.report),
        )
    if isinstance(exc, lib.CatalogueError):
        field = f"{exc.record_id or '?'}.{exc.field}"
        return ProblemException(
            422,
            "Catalogue record is not valid",
            str(exc),
            type_="catalogue",
            errors=[FieldError(field=field, message=exc.reason)],
        )
    if isinstance(exc, lib.DataError):
        return field_problem(exc.field, exc.reason)
    if isinstance(exc, lib.ModelLoadError):
        return ProblemException(409, "Model refused", str(exc), type_="model-refused")
    if isinstance(exc, lib.NotFittedError):
        return ProblemException(
            503,
            "No model loaded",
            "No trained model is serving yet; train and register one (vcsmatch train).",
            type_="not-ready",
            headers={"Retry-After": "30"},
        )
    # Any other library error is about the request, but its message is not known to be free of
    # personal values: say what kind of error it was, not what it said.
    return ProblemException(422, "Request could not be processed", type(exc).__name__)


def _report_errors(report: object, limit: int = 100) -> list[FieldError]:
    """Field errors from an ``ImportReport``'s rejected records (record id + field + reason)."""
    rejected = getattr(report, "rejected", None) or getattr(report, "errors", None) or []
    out: list[FieldError] = []
    for item in list(rejected)[:limit]:
        record = getattr(item, "record_id", None) or "?"
        field = getattr(item, "field", None) or "?"
        reason = getattr(item, "reason", None) or "is not valid"
        out.append(FieldError(field=f"{record}.{field}", message=str(reason)))
    return out


async def _on_library_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, lib.VcsmatchError)
    return await _on_problem(request, library_problem(exc))


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """Database unreachable (refused, server gone, pool exhausted, SQLite busy too long): 503.

    Any other database error is a bug (a constraint we should have checked first): bare 500.
    """
    down = (
        isinstance(exc, OperationalError | InterfaceError | PoolTimeout)
        or type(exc) is DatabaseError  # the driver's generic error: unreadable file, server gone
        or getattr(exc, "connection_invalidated", False)
    )
    logger.warning("database error on %s: %s", _route_of(request), type(exc).__name__)
    if not down:
        return problem_response(request, 500, detail="An unexpected error occurred.")
    return problem_response(
        request,
        503,
        "Service unavailable",
        "The database is not reachable; retry later.",
        type_="unavailable",
        headers={"Retry-After": "5"},
    )


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "<unrouted>"


def install_problem_handlers(app: FastAPI) -> None:
    """Register every handler above on ``app`` (replacing FastAPI's defaults)."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(ProblemException, _on_problem)
    app.add_exception_handler(lib.VcsmatchError, _on_library_error)
    # Connection refused, server gone, pool exhausted, SQLite busy past its timeout: 503.
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(PoolTimeout, _on_database_error)
