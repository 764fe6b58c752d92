"""``POST /v1/referrals`` (refer the person of a request to one of its suggestions),
``PATCH /v1/referrals/{id}`` (record what became of it) and ``GET /v1/referrals`` (the
caller's own), for practitioners.

A referral belongs to the key that made its request: any other key gets a 404, as if it did not
exist. Making the same referral again (same request and service) answers 200 with the stored
one (``created: false``), so a retry never refers twice. Outcomes feed the learner
(``vcsmatch.store.referrals``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import SessionDep, SettingsDep, require_role
from api.json_body import ThreadValidatedRoute
from api.problems import problem_responses
from api.schemas import STRICT
from vcsmatch.store import referrals
from vcsmatch.store.api_keys import ApiKeyRecord
from vcsmatch.store.secrets import get_secret

router = APIRouter(prefix="/v1/referrals", tags=["referrals"], route_class=ThreadValidatedRoute)

Practitioner = Annotated[ApiKeyRecord, Depends(require_role("practitioner"))]

Status = Literal[referrals.STATUSES]  # type: ignore[valid-type]
NewStatus = Literal[referrals.STATUSES[1:]]  # type: ignore[valid-type]
DeclineReason = Literal[referrals.DECLINE_REASONS]  # type: ignore[valid-type]


class ReferralCreate(BaseModel):
    """Refer the person of a recommendation request to one of the services it suggested."""

    model_config = STRICT

    request_id: str = Field(min_length=1, max_length=64)
    service_id: str = Field(min_length=1, max_length=200)


class ReferralUpdate(BaseModel):
    """What became of a referral."""

    model_config = STRICT

    status: NewStatus
    reason: DeclineReason | None = Field(
        default=None, description="Required when `status` is `declined`; only then."
    )


class Referral(BaseModel):
    id: int
    request_id: str
    service_id: str
    team: str = Field(description="The referring key's name when the referral was made.")
    status: Status
    reason: DeclineReason | None
    created_at: dt.datetime
    updated_at: dt.datetime
    created: bool | None = Field(
        default=None, description="On POST: false when this referral had already been made."
    )


class ReferralList(BaseModel):
    count: int
    data: list[Referral]


def _public(record: referrals.ReferralRecord, created: bool | None = None) -> Referral:
    return Referral(
        id=record.id,
        request_id=record.request_id,
        service_id=record.service_id,
        team=record.team,
        status=record.status,
        reason=record.reason,
        created_at=record.created_at,
        updated_at=record.updated_at,
        created=created,
    )


@router.post(
    "",
    status_code=201,
    operation_id="create_referral",
    summary="Refer the person of a request to one of its suggestions (idempotent)",
    responses={
        200: {"description": "Already made: the stored referral.", "model": Referral},
        **problem_responses(404),
    },
)
def create_referral(
    body: ReferralCreate, key: Practitioner, session: SessionDep, response: Response
) -> Referral:
    """201 with status ``made``; 200 when it was already made; 404 for a request this key did
    not make; 422 for a service the request did not suggest."""
    record, created = referrals.make_referral(
        session,
        request_id=body.request_id,
        service_id=body.service_id,
        api_key_id=key.id,
        team=key.name,
    )
    if not created:
        response.status_code = 200
    return _public(record, created)


@router.patch(
    "/{referral_id}",
    operation_id="update_referral",
    summary="Record what became of a referral (by the key that made it)",
    responses=problem_responses(404),
)
def update_referral(
    referral_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: ReferralUpdate,
    key: Practitioner,
    session: SessionDep,
    settings: SettingsDep,
) -> Referral:
    """``made`` -> ``accepted`` | ``declined`` | ``withdrawn``; ``accepted`` -> ``attended`` |
    ``not_attended`` | ``withdrawn``. Sending the current status again changes nothing."""
    secret = get_secret(session, settings)
    record, _ = referrals.update_status(
        session,
        referral_id,
        api_key_id=key.id,
        status=body.status,
        reason=body.reason,
        secret=secret,
    )
    return _public(record)


@router.get(
    "",
    operation_id="list_referrals",
    summary="The caller's own referrals, newest first",
)
def list_referrals(
    key: Practitioner,
    session: SessionDep,
    request: Request,
    open_only: Annotated[
        bool, Query(alias="open", description="Only those still waiting for an outcome.")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> ReferralList:
    found = referrals.list_referrals(session, api_key_id=key.id, open_only=open_only, limit=limit)
    request.state.n_results = len(found)
    return ReferralList(count=len(found), data=[_public(r) for r in found])
