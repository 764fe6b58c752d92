"""The front-door pages: sign in and out, search the catalogue, read one service.

Handlers read the form on the event loop, then do the work (database, search) in the
threadpool. Every POST checks the session's CSRF token. Search is a POST, not a GET: a
postcode and an age describe a person, and must not land in URLs, browser history or proxy
logs.
"""

from __future__ import annotations

import functools
import gzip
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from api.web import describe
from api.web.audit import audit_web
from api.web.forms import (
    day_options,
    mode_options,
    need_options,
    parse_search,
    radius_options,
)
from api.web.render import PAGE_HEADERS, STATIC_DIR, redirect, render
from api.web.session import (
    CSRF_FIELD,
    WEB_ROLES,
    WebSession,
    csrf_ok,
    end_session,
    new_session,
    read_session,
    set_cookie,
)
from vcsmatch.errors import NotFoundError
from vcsmatch.features.location import get_postcode_directory
from vcsmatch.store import api_keys
from vcsmatch.taxonomy import load_taxonomy

router = APIRouter(include_in_schema=False)

ROLE_NAMES = {"practitioner": "practitioner", "front_door": "front door", "manager": "manager"}


def landing(ws: WebSession) -> str:
    """Where a signed-in key starts: managers on their dashboard, everyone else on search."""
    return "/insights" if ws.role == "manager" else "/search"


def _db(request: Request) -> Any:
    return request.app.state.vcsmatch.sessions()


def _serving(request: Request) -> Any:
    return request.app.state.vcsmatch.serving


def with_session(
    request: Request, work: Callable[[Session, WebSession | None], Response]
) -> Response:
    """Run ``work`` with a database session and the browser's web session."""
    with _db(request) as db:
        return work(db, read_session(request, db))


def with_form_token(
    request: Request,
    db: Session,
    ws: WebSession | None,
    make: Callable[[WebSession], Response],
) -> Response:
    """``make(ws)`` for a page whose form needs a CSRF token: a browser without a session gets
    an anonymous one (its cookie holds only the session id the token is derived from)."""
    cookie = None
    if ws is None:
        ws, cookie = new_session(request, db, None)
    page = make(ws)
    if cookie is not None:
        set_cookie(request, page, cookie)
    return page


def forbidden_or_sign_in(ws: WebSession | None, roles: tuple[str, ...]) -> Response | None:
    """None when ``ws`` may see the page; otherwise the response to send instead."""
    if ws is None or not ws.signed_in:
        return redirect("/sign-in")
    if ws.role not in roles:
        return render(
            "message.html",
            403,
            session=ws,
            title="You cannot use this page",
            message="Your API key's role does not allow this page. Ask your administrator "
            "for a practitioner key.",
        )
    return None


def over_rate_limit(request: Request, ws: WebSession) -> Response | None:
    """Charge the key one request of its API rate limit (web actions count like API calls);
    a 429 page when it is spent."""
    state = request.app.state.vcsmatch
    wait = state.rate_limiter.acquire(ws.key.id)
    if wait <= 0:
        return None
    page = render(
        "message.html",
        429,
        session=ws,
        title="Too many requests",
        message=f"This key may make {state.settings.rate_limit_per_minute} requests a minute. "
        f"Wait {state.rate_limiter.retry_after(wait)} seconds, then try again.",
    )
    page.headers["Retry-After"] = state.rate_limiter.retry_after(wait)
    return page


def expired_form(ws: WebSession | None, *, public: bool = False, **context: Any) -> Response:
    """A POST whose CSRF token does not match: never act on it. ``public``: a page of the
    public ``/find`` (its header and links lead back there, not to staff sign-in); ``context``
    adds to the page's (``/find`` passes its notice, ``api.web.find.notice``)."""
    return render(
        "message.html",
        400,
        session=ws,
        public=public,
        title="This form has expired",
        message="For your security the form could not be sent. Go back, reload the page and "
        "try again.",
        **context,
    )


def not_ready(ws: WebSession | None, *, public: bool = False, **context: Any) -> Response:
    return render(
        "message.html",
        503,
        session=ws,
        public=public,
        title="The service directory is not loaded yet",
        message="No catalogue has been imported, or it is still loading. Try again in a minute.",
        **context,
    )


# --- sign in and out -------------------------------------------------------------------------


@router.get("/")
def home(request: Request) -> Response:
    def work(db: Session, ws: WebSession | None) -> Response:
        return redirect(landing(ws) if ws and ws.signed_in else "/sign-in")

    return with_session(request, work)


@router.get("/sign-in")
def sign_in_page(request: Request, signed_out: str | None = None) -> Response:
    def work(db: Session, ws: WebSession | None) -> Response:
        if ws and ws.signed_in:
            return redirect(landing(ws))
        return with_form_token(
            request,
            db,
            ws,
            lambda ws: render(
                "sign_in.html",
                session=None,
                csrf_token=ws.csrf_token,
                notice="You have signed out" if signed_out else None,
            ),
        )

    return with_session(request, work)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    raw_key = form.get("api_key")

    def work(db: Session, ws: WebSession | None) -> Response:
        if not csrf_ok(ws, form.get(CSRF_FIELD)):
            return expired_form(None)
        key = raw_key.strip() if isinstance(raw_key, str) else ""
        message = None
        record = None
        if not key:
            message = "Enter your API key"
        else:
            record = api_keys.verify_key(db, key)
            db.rollback()
            if record is None:
                message = "This API key is not recognised, or has been revoked"
            elif record.role not in WEB_ROLES:
                message = (
                    f"A {record.role} key cannot use this page: "
                    "sign in with a practitioner, front door or manager key"
                )
        if message is not None:
            return render(
                "sign_in.html",
                400,
                session=None,
                csrf_token=ws.csrf_token if ws else "",
                errors=[("api_key", message)],
            )
        ws, cookie = new_session(request, db, record)
        response = redirect(landing(ws))
        set_cookie(request, response, cookie)
        return response

    return await run_in_threadpool(with_session, request, work)


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    form = await request.form()

    def work(db: Session, ws: WebSession | None) -> Response:
        if ws is not None and not csrf_ok(ws, form.get(CSRF_FIELD)):
            return expired_form(ws)
        response = redirect("/sign-in?signed_out=1")
        end_session(request, response, db, ws)
        # Pages with what was typed about people may sit in this browser's cache and
        # back-forward cache: clear them (a shared computer keeps nothing after sign-out).
        response.headers["Clear-Site-Data"] = '"cache"'
        return response

    return await run_in_threadpool(with_session, request, work)


# --- search ----------------------------------------------------------------------------------


def _search_context(ws: WebSession, form: Any = None, page: Any = None) -> dict[str, Any]:
    tax = load_taxonomy()
    return {
        "session": ws,
        "nav": "search",
        "form": form,
        "values": form.values if form else {"radius": "5", "include_remote": True},
        "errors": form.errors if form else [],
        "page": page,
        "need_options": [("", "Any need")] + need_options(tax),
        "radius_options": radius_options(),
        "mode_options": mode_options(),
        "day_options": day_options(),
        "describe": describe,
    }


@router.get("/search")
def search_page(request: Request) -> Response:
    def work(db: Session, ws: WebSession | None) -> Response:
        if (refused := forbidden_or_sign_in(ws, WEB_ROLES)) is not None:
            return refused
        return render("search.html", **_search_context(ws))

    return with_session(request, work)


@router.post("/search")
async def search(request: Request) -> Response:
    form = await request.form()

    def work(db: Session, ws: WebSession | None) -> Response:
        started = time.perf_counter()
        if (refused := forbidden_or_sign_in(ws, WEB_ROLES)) is not None:
            return refused
        if not csrf_ok(ws, form.get(CSRF_FIELD)):
            return expired_form(ws)
        if (limited := over_rate_limit(request, ws)) is not None:
            return limited
        index = _serving(request).search
        if index is None:
            return not_ready(ws)
        settings = request.app.state.vcsmatch.settings
        parsed, query = parse_search(form, load_taxonomy(), get_postcode_directory(settings))
        if query is None:
            return render("search.html", 400, **_search_context(ws, parsed))
        page = index.search(query, stale_after_months=settings.stale_after_months)
        audit_web(db, ws, "POST", "/search", 200, started, page.total_items)
        return render("search.html", **_search_context(ws, parsed, page))

    return await run_in_threadpool(with_session, request, work)


@router.get("/services/{service_id}")
def service_page(request: Request, service_id: str) -> Response:
    def work(db: Session, ws: WebSession | None) -> Response:
        if (refused := forbidden_or_sign_in(ws, WEB_ROLES)) is not None:
            return refused
        index = _serving(request).search
        if index is None:
            return not_ready(ws)
        try:
            service = index.get(service_id)
        except NotFoundError:
            return render(
                "message.html",
                404,
                session=ws,
                title="Service not found",
                message="There is no service with this id in the current directory. It may "
                "have been removed in a recent update.",
            )
        return render("service.html", session=ws, nav="search", service=service, describe=describe)

    return with_session(request, work)


# --- static files ----------------------------------------------------------------------------

_STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
}


#: Text assets are sent gzipped to clients that accept it (issue 17: 190 KB became 28 KB).
_COMPRESSIBLE = {".css", ".js", ".txt", ".svg"}


@router.get("/static/{name}")
def static_file(name: str, request: Request) -> Response:
    """A built asset from ``api/web/static`` (only files that exist there, by exact name)."""
    allowed = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file()}
    path = allowed.get(name)
    if path is None or path.suffix not in _STATIC_TYPES:
        return Response("Not found", status_code=404, media_type="text/plain")
    headers = {
        "Cache-Control": "public, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"],
        "Vary": "Accept-Encoding",
    }
    if path.suffix in _COMPRESSIBLE and "gzip" in request.headers.get("accept-encoding", ""):
        body = _gzipped(path, path.stat().st_mtime_ns)
        headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=_STATIC_TYPES[path.suffix], headers=headers)
    return FileResponse(path, media_type=_STATIC_TYPES[path.suffix], headers=headers)


@functools.lru_cache(maxsize=32)
def _gzipped(path: Path, mtime_ns: int) -> bytes:
    """The file's gzip, made once per version of the file (``mtime_ns`` keys the cache)."""
    return gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
