"""Rendering the web page: one Jinja2 environment, and the headers every page carries.

Pages are server-rendered and work without JavaScript. The content security policy allows
scripts, styles and fonts from this origin only, with no inline script or style at all (the
GOV.UK template's one inline script is moved into ``static/app.js``), so an injected
``<script>`` or ``style=`` attribute never runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from vcsmatch.taxonomy import load_taxonomy

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

WEB_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)

#: Set on every page (the API's middleware adds the same frame, sniffing and referrer
#: headers, but its CSP is for JSON; pages need this one).
#:
#: Caching: pages can hold what was typed about a person, so no shared cache may keep them
#: (``private``) and the browser must revalidate before reusing one (``no-cache``). Not
#: ``no-store``: that also bars the browser's back-forward cache, and then "Back" from a
#: service to the search results (a POST) fails with a cache miss, where a front-door worker
#: on the phone needs it most. Signing out clears the browser's cache for this site
#: (``Clear-Site-Data``), so a shared computer keeps nothing.
PAGE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": WEB_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-cache",
}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(("html",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def need_label(code: str) -> str:
    tax = load_taxonomy()
    return tax.label("need", code) if code in tax.need_codes else code


def _activity_label(code: str) -> str:
    tax = load_taxonomy()
    return tax.label("activity", code) if code in tax.strength_codes else code


def _error_for(errors: list[tuple[str, str]], field_id: str) -> str | None:
    """The message for one field out of a page's (field, message) error list."""
    return next((m for f, m in errors if f == field_id), None)


_env.globals["error_for"] = _error_for
_env.filters["need_label"] = need_label
_env.filters["activity_label"] = _activity_label


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page from ``templates/<template>`` with the page headers."""
    context.setdefault("session", None)
    context.setdefault("errors", [])
    context.setdefault("notice", None)
    html = _env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def redirect(url: str) -> RedirectResponse:
    """303 See Other (after a POST the browser GETs ``url``), with the page headers."""
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)
