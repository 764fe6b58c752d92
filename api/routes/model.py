"""``GET /v1/model`` (what model is serving, how well it did, the learner's settings and the
recent attempts to replace it) and ``POST /v1/model/reload``.

A reload loads the store's serving model (the newest registration, the learner's latest
promotion or a rollback) in a worker thread while requests keep being
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

from api.deps import ServingDep, SessionDep, SettingsDep, StateDep, require_role
from api.loading import reload_model
from api.problems import not_ready, problem_responses
from vcsmatch.store import learner_lease, model_registry
from vcsmatch.store.api_keys import ApiKeyRecord

router = APIRouter(prefix="/v1/model", tags=["model"])

#: Attempts ``GET /v1/model`` lists.
HISTORY = 20


class AttemptPublic(BaseModel):
    """One attempt: by the learner, by hand, a day-one model or a rollback."""

    at: dt.datetime
    trigger: str = Field(description="learner, once, manual, day-one or rollback.")
    candidate_version: str | None
    serving_version: str | None = Field(description="What was serving when it was decided.")
    decision: str = Field(description="promoted, kept, refused or failed.")
    reason: str
    n_ratings: int
    last_rating_id: int | None = Field(
        description="It learned from the stored ratings with ids up to this one."
    )
    seconds: float | None
    figures: dict[str, Any] = Field(description="Both models' figures from the promotion gate.")


class LearningPublic(BaseModel):
    enabled: bool
    min_new_ratings: int
    interval_seconds: float
    new_ratings: int = Field(description="Ratings stored since the last attempt.")
    last_attempt_at: dt.datetime | None
    training: bool = Field(description="A learner holds the store's lease: a retrain is under way.")
    explore_share: float


class ModelPublic(BaseModel):
    version: str
    registered_at: dt.datetime | None
    trained_at: dt.datetime | None
    n_ratings: int | None = Field(description="How many ratings it was trained on.")
    fingerprint: str | None = Field(description="Fingerprint of its training data.")
    metrics: dict[str, Any] = Field(description="Offline evaluation figures from training.")
    catalogue_version: int | None
    serving_since: dt.datetime
    learning: LearningPublic
    history: list[AttemptPublic] = Field(
        description="The newest attempts to replace the serving model, newest first."
    )


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
def get_model(serving: ServingDep, session: SessionDep, settings: SettingsDep) -> ModelPublic:
    if serving.recommender is None or not serving.model_version:
        raise not_ready("No model is loaded yet.")
    info = serving.model_info
    lease = learner_lease.state(session)
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
        learning=LearningPublic(
            enabled=settings.learn_enabled,
            min_new_ratings=settings.learn_min_new_ratings,
            interval_seconds=settings.learn_interval_seconds,
            new_ratings=learner_lease.new_ratings(session),
            last_attempt_at=lease.last_attempt_at,
            training=lease.holder is not None
            and lease.expires_at is not None
            and lease.expires_at > dt.datetime.now(dt.UTC),
            explore_share=settings.explore_share,
        ),
        history=[
            AttemptPublic(
                at=a.created_at,
                trigger=a.trigger,
                candidate_version=a.candidate_version,
                serving_version=a.serving_version,
                decision=a.decision,
                reason=a.reason,
                n_ratings=a.n_ratings,
                last_rating_id=a.last_rating_id,
                seconds=a.seconds,
                figures=_jsonable(a.details.get("gate", {})),
            )
            for a in model_registry.list_attempts(session, limit=HISTORY)
        ],
    )


@router.post(
    "/reload",
    operation_id="reload_model",
    summary="Load the store's serving model now and swap it in (a broken one is refused)",
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
