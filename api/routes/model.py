"""``GET /v1/model`` (what model is serving, and how well it did) and ``POST /v1/model/reload``.

A reload loads the newest registered model in a worker thread while requests keep being
answered by the current one, then swaps it in atomically. A model that cannot be unpacked,
loaded or asked for a recommendation is refused (409) and the current one keeps serving. With
several workers, the one that gets the request swaps at once; the others pick the model up at
their next poll of the registry (``Settings.model_poll_seconds``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import ServingDep, StateDep, require_role
from api.loading import reload_model
from api.problems import ProblemException, problem_responses
from vcsmatch.store.api_keys import ApiKeyRecord

router = APIRouter(prefix="/v1/model", tags=["model"])


class ModelPublic(BaseModel):
    version: str
    registered_at: dt.datetime | None
    trained_at: dt.datetime | None
    n_ratings: int | None = Field(description="How many ratings it was trained on.")
    fingerprint: str | None = Field(description="Fingerprint of its training data.")
    metrics: dict[str, Any] = Field(description="Offline evaluation figures from training.")
    catalogue_version: int | None
    serving_since: dt.datetime


class ReloadResult(BaseModel):
    previous_version: str | None
    version: str
    swapped: bool = Field(description="False when the newest model was already serving.")


@router.get(
    "",
    operation_id="get_model",
    summary="The serving model: version, training facts, evaluation figures",
    dependencies=[Depends(require_role("analyst", "admin"))],
)
def get_model(serving: ServingDep) -> ModelPublic:
    if serving.recommender is None or not serving.model_version:
        raise ProblemException(
            503,
            "Not ready",
            "No model is loaded yet.",
            type_="not-ready",
            headers={"Retry-After": "30"},
        )
    info = serving.model_info
    trained_at = info.get("trained_at")
    if trained_at is not None and not isinstance(trained_at, dt.datetime):
        trained_at = _as_datetime(trained_at)
    return ModelPublic(
        version=serving.model_version,
        registered_at=info.get("registered_at"),
        trained_at=trained_at,
        n_ratings=_as_int(info.get("n_ratings")),
        fingerprint=None if info.get("fingerprint") is None else str(info["fingerprint"]),
        metrics=_jsonable(info.get("metrics") or {}),
        catalogue_version=serving.catalogue_version,
        serving_since=serving.swapped_at,
    )


@router.post(
    "/reload",
    operation_id="reload_model",
    summary="Load the newest registered model and swap it in (a broken one is refused)",
    responses=problem_responses(404, 409),
)
def reload(
    state: StateDep, key: Annotated[ApiKeyRecord, Depends(require_role("admin"))]
) -> ReloadResult:
    """Runs in the threadpool: other requests are served by the current model meanwhile."""
    before = state.serving.model_version
    after = reload_model(state)  # ModelLoadError -> 409, NotFoundError -> 404
    return ReloadResult(
        previous_version=before,
        version=after.model_version or "",
        swapped=after.model_version != before,
    )


def _as_datetime(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _as_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _jsonable(value: Any) -> Any:
    """Metrics as plain JSON (numpy scalars and NaN made safe)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
