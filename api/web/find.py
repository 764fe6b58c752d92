"""``/find``: the public self-service page. A resident or carer describes the situation in
their own words, confirms the kinds of help it reads as (the staff page's text-to-codes
reading), gives a postcode or town and an age, and gets suggestions with their reasons and
how to contact each service.

No key and no sign-in. Nothing about the person is stored or logged: the ranking model is
called directly (not the API's route, which logs the request and what it showed), no audit
entry is written, and the only cookie is the anonymous session that carries the form's CSRF
token. Searches are rate-limited per client address (``Settings.find_rate_limit_per_minute``)
in this worker's memory; behind a reverse proxy listed in ``Settings.trusted_proxies`` the
address is the resident's from ``X-Forwarded-For`` (``api.ratelimit.client_address``).
Every page says it is not an assessment and how to reach the council's front door
(``Settings.front_door_contact``). Its pages (``public``) lead back to ``/find``, not to
staff sign-in, which has its own header link.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.ratelimit import Network, RateLimiter, client_address, proxy_networks
from api.web import describe
from api.web.forms import need_options, parse_find, strength_options
from api.web.pages import expired_form, not_ready, with_form_token, with_session
from api.web.render import render
from api.web.session import CSRF_FIELD, WebSession, csrf_ok
from api.web.suggest import code_suggester
from vcsmatch.features.location import get_postcode_directory
from vcsmatch.features.towns import TownIndex
from vcsmatch.staleness import demote_stale
from vcsmatch.taxonomy import load_taxonomy

router = APIRouter()

TOP_K = 10
NOT_AN_ASSESSMENT = (
    "This is not an assessment of care and support needs, and nobody at the council sees "
    "what you type here. It lists community services you can contact yourself."
)


def _limiter(request: Request) -> tuple[RateLimiter, tuple[Network, ...]]:
    """The page's own per-address limiter (API keys have theirs), made on first use, and the
    trusted proxies whose ``X-Forwarded-For`` names the address (``Settings.trusted_proxies``)."""
    app_state = request.app.state
    made = getattr(app_state, "vcsmatch_find_limiter", None)
    if made is None:
        settings = app_state.vcsmatch.settings
        made = (
            RateLimiter(settings.find_rate_limit_per_minute),
            proxy_networks(settings.trusted_proxies),
        )
        app_state.vcsmatch_find_limiter = made
    return made


def _towns(request: Request, catalogue: Any) -> TownIndex:
    """The serving catalogue's towns, indexed once per catalogue."""
    cached = getattr(request.app.state, "vcsmatch_find_towns", None)
    if cached is None or cached[0] is not catalogue:
        cached = (catalogue, TownIndex().fit(catalogue))
        request.app.state.vcsmatch_find_towns = cached
    return cached[1]


def notice(request: Request) -> dict[str, Any]:
    """What every ``/find`` page shows (``templates/find_notice.html``), its error pages too:
    it is not an assessment, and how to reach the council's front door."""
    return {
        "not_an_assessment": NOT_AN_ASSESSMENT,
        "front_door": request.app.state.vcsmatch.settings.front_door_contact,
        "public": True,
    }


def _context(request: Request, ws: WebSession, values: dict[str, Any], **extra: Any) -> Any:
    tax = load_taxonomy()
    return {
        "session": ws,
        "values": values,
        "need_options": need_options(tax),
        "strength_options": strength_options(tax),
        "describe": describe,
        **notice(request),
        **extra,
    }


@router.get("/find")
def find_page(request: Request) -> Response:
    def work(db: Session, ws: WebSession | None) -> Response:
        return with_form_token(
            request, db, ws, lambda ws: render("find.html", **_context(request, ws, {}))
        )

    return with_session(request, work)


@router.post("/find")
async def find(request: Request) -> Response:
    form = await request.form()

    def work(db: Session, ws: WebSession | None) -> Response:
        if not csrf_ok(ws, form.get(CSRF_FIELD)):
            return expired_form(ws, **notice(request))
        limiter, proxies = _limiter(request)
        wait = limiter.acquire(client_address(request.scope, proxies))
        if wait > 0:
            page = render(
                "message.html",
                429,
                session=ws,
                title="Too many searches",
                message="You have searched many times in a short time. Wait "
                f"{limiter.retry_after(wait)} seconds, then try again.",
                **notice(request),
            )
            page.headers["Retry-After"] = limiter.retry_after(wait)
            return page
        serving = request.app.state.vcsmatch.serving
        if serving.recommender is None or serving.catalogue is None:
            return not_ready(ws, **notice(request))
        settings = request.app.state.vcsmatch.settings
        tax = load_taxonomy()
        directory = get_postcode_directory(settings)
        towns = _towns(request, serving.catalogue)
        action = form.get("action")
        unread = not form.get("read") and str(form.get("situation") or "").strip()
        if action == "find" and unread and not form.getlist("needs"):
            action = "interpret"  # described, never read, nothing ticked: read it to confirm
        if action == "interpret":
            parsed, _ = parse_find(form, tax, directory, towns.lookup, need_codes=False)
            values = parsed.values
            errors = [e for e in parsed.errors if e[0] == "situation"]
            if not values["situation"]:
                errors.append(("situation", "Describe the situation to see what help fits"))
            if errors:
                return render("find.html", 400, **_context(request, ws, values, errors=errors))
            suggester = code_suggester(request)
            needs = [s.code for s in suggester.suggest(values["situation"], kind="need")]
            strengths = [s.code for s in suggester.suggest(values["situation"], kind="strength")]
            values["needs"] = list(dict.fromkeys(values["needs"] + needs))
            values["strengths"] = list(dict.fromkeys(values["strengths"] + strengths))
            found = [tax.label("need", c) for c in needs]
            found += [tax.label("strength", c) for c in strengths]
            return render(
                "find.html", **_context(request, ws, values, interpreted=found, read=True)
            )
        parsed, person = parse_find(form, tax, directory, towns.lookup)
        if person is None:
            return render(
                "find.html", 400, **_context(request, ws, parsed.values, errors=parsed.errors)
            )
        ranked = serving.recommender.recommend(person, top_k=TOP_K)
        index = serving.service_rows
        services = {s.service_id: serving.catalogue.services[index[s.service_id]] for s in ranked}
        suggestions = demote_stale(
            ranked, services, today=dt.date.today(), after_months=settings.stale_after_months
        )
        results = [{"suggestion": s, "service": services[s.service_id]} for s in suggestions]
        return render("find.html", **_context(request, ws, parsed.values, results=results))

    return await run_in_threadpool(with_session, request, work)
