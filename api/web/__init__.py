"""The front-door web page (GOV.UK Design System), mounted by ``api.main``.

Server-rendered forms that work without JavaScript: sign in with an API key, search the
catalogue, read a service, and (practitioners) get and rate suggestions for a person. See
``pages.py`` and ``suggest.py`` for the routes, ``session.py`` for sign-in and CSRF.
"""

from fastapi import APIRouter

from api.web import find, info, insights, pages, referrals, suggest

router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
router.include_router(suggest.router)
router.include_router(info.router)
router.include_router(referrals.router)
router.include_router(insights.router)
router.include_router(find.router)

__all__ = ["router"]
