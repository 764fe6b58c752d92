"""The front-door web page (GOV.UK Design System). Mounted by ``api.main``."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
