"""Liveness and readiness, for load balancers and orchestrators (no API key)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import StateDep
from api.problems import ProblemException, problem_responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    catalogue_version: int | None
    model_version: str | None


@router.get("/health", operation_id="health", summary="Liveness: the process answers")
async def health() -> Health:
    """Touches nothing (no database), so a slow database never gets a live worker killed."""
    return Health()


@router.get(
    "/ready",
    operation_id="ready",
    summary="Readiness: database reachable, catalogue and model loaded",
    responses=problem_responses(503),
)
def ready(state: StateDep) -> Readiness:
    """503 until this worker can answer recommendations."""
    missing: list[str] = []
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure to reach the database means "not ready"
        missing.append("database")
    serving = state.serving
    if serving.catalogue is None:
        missing.append("catalogue")
    if serving.recommender is None:
        missing.append("model")
    if missing:
        raise ProblemException(
            503,
            "Not ready",
            f"Not ready: {', '.join(missing)} unavailable.",
            type_="not-ready",
            headers={"Retry-After": "5"},
        )
    return Readiness(
        catalogue_version=serving.catalogue_version, model_version=serving.model_version
    )
