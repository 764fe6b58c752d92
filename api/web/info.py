"""The pages every GOV.UK service links from its footer: the accessibility statement, the
privacy notice (what is stored, for how long, on what lawful basis, who can see it) and the
cookies page. Public, static, no session read: they must work for anyone, signed in or not."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.web.render import render

router = APIRouter()

#: path -> (template, title)
PAGES: dict[str, tuple[str, str]] = {
    "/accessibility": ("info_accessibility.html", "Accessibility statement"),
    "/privacy": ("info_privacy.html", "Privacy notice"),
    "/cookies": ("info_cookies.html", "Cookies"),
}


def _page(template: str, title: str):  # noqa: ANN202 - a route function
    def page() -> Response:
        return render(template, title=title)

    return page


for _path, (_template, _title) in PAGES.items():
    router.add_api_route(_path, _page(_template, _title), methods=["GET"])
