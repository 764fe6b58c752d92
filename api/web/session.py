"""Web sign-in sessions and CSRF tokens, without ever putting the API key in the browser.

Signing in checks the API key once (``vcsmatch.store.api_keys.verify_key``) and then forgets
it: the browser holds only a session cookie naming a random session id and the key's *id*,
signed with a key derived from the store's secret (so every worker, and every machine
sharing the database, accepts it). A signed-in session also lives in the store
(``vcsmatch.store.web_sessions``): it ends at sign-out, after idle time and at key
revocation, so a copy of the cookie stops working with it. On every request the key id is
checked against the store, so revoking the key ends its web sessions at once, everywhere.
The cookie is HttpOnly, SameSite=Lax, Secure when the page is served over https, and lasts
at most eight hours.

Every form carries a CSRF token, an HMAC of the session id: a page on another site cannot
read it, so it cannot forge a form post (SameSite=Lax already stops most such posts; the
token covers older browsers and same-site attackers). Visitors who have not signed in get an
anonymous session too, so the sign-in form itself is protected (login CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from vcsmatch.store import api_keys, web_sessions
from vcsmatch.store.api_keys import ApiKeyRecord
from vcsmatch.store.secrets import get_secret

COOKIE_NAME = "vcsmatch_session"
#: A working day: a front-door shift signs in once.
MAX_AGE_SECONDS = 8 * 3600
CSRF_FIELD = "csrf_token"
#: Roles that may use the web page at all.
WEB_ROLES: tuple[str, ...] = ("practitioner", "front_door", "manager")


@dataclass(frozen=True)
class WebSession:
    """The browser's session: anonymous (``key`` is None) or signed in with a live key."""

    sid: str
    key: ApiKeyRecord | None
    csrf_token: str

    @property
    def signed_in(self) -> bool:
        return self.key is not None

    @property
    def role(self) -> str | None:
        return self.key.role if self.key else None


def _signing_key(request: Request, db: Session) -> bytes:
    """A key for web sessions only, derived from the store secret (cached on the app)."""
    cached = getattr(request.app.state, "vcsmatch_web_key", None)
    if cached is None:
        settings = request.app.state.vcsmatch.settings
        secret = get_secret(db, settings)
        db.rollback()
        cached = hmac.new(secret, b"vcsmatch web sessions v1", hashlib.sha256).digest()
        request.app.state.vcsmatch_web_key = cached
    return cached


def _serializer(key: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="vcsmatch-web-session")


def _csrf_for(key: bytes, sid: str) -> str:
    return hmac.new(key, b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()


def _live_key(db: Session, key_id: int) -> ApiKeyRecord | None:
    for record in api_keys.list_keys(db):
        if record.id == key_id:
            return None if record.revoked else record
    return None


def read_session(request: Request, db: Session) -> WebSession | None:
    """The request's session, or None when it has no valid cookie.

    A session whose key was revoked (or whose role may not use the page) comes back
    anonymous, keeping its id so its CSRF token still fits the form on the page.
    """
    raw = request.cookies.get(COOKIE_NAME)
    if not raw or len(raw) > 512:
        return None
    key = _signing_key(request, db)
    try:
        data = _serializer(key).loads(raw, max_age=MAX_AGE_SECONDS)
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
        return None
    sid = data["sid"]
    record = None
    kid = data.get("kid")
    if isinstance(kid, int):
        # The store, not the cookie, says whether the session is live (ended at sign-out,
        # after idle time, at key revocation): a copied cookie dies with its session.
        idle = request.app.state.vcsmatch.settings.web_session_idle_seconds
        if web_sessions.live_key_id(db, sid, idle_seconds=idle) != kid:
            kid = None
    if isinstance(kid, int):
        record = _live_key(db, kid)
        db.rollback()
        if record is not None and record.role not in WEB_ROLES:
            record = None
    return WebSession(sid=sid, key=record, csrf_token=_csrf_for(key, sid))


def new_session(request: Request, db: Session, key: ApiKeyRecord | None) -> tuple[WebSession, str]:
    """A fresh session (a new id: signing in never reuses the anonymous one) and the cookie
    value to send with ``set_cookie``."""
    signing = _signing_key(request, db)
    sid = secrets.token_urlsafe(24)
    if key is not None:
        web_sessions.start(db, sid, key.id)
    value = _serializer(signing).dumps({"sid": sid, "kid": key.id if key else None})
    return WebSession(sid=sid, key=key, csrf_token=_csrf_for(signing, sid)), value


def set_cookie(request: Request, response: Response, value: str) -> None:
    """Send the session cookie: HttpOnly, SameSite=Lax, Secure over https."""
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=MAX_AGE_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def end_session(
    request: Request, response: Response, db: Session, session: WebSession | None
) -> None:
    """End the session in the store and clear the cookie (the same attributes, so every
    browser drops it)."""
    if session is not None:
        web_sessions.end(db, session.sid)
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def csrf_ok(session: WebSession | None, submitted: object) -> bool:
    """Whether a form's token is this session's (constant-time)."""
    if session is None or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(session.csrf_token, submitted)
