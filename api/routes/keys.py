"""API key management for admins: create (the plaintext is shown once), list, revoke."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from api.deps import SessionDep, require_role
from api.json_body import ThreadValidatedRoute
from api.problems import problem_responses
from api.schemas import STRICT
from vcsmatch.store import api_keys, ratings_log
from vcsmatch.store.api_keys import ApiKeyRecord

router = APIRouter(
    prefix="/v1/keys",
    tags=["keys"],
    dependencies=[Depends(require_role("admin"))],
    route_class=ThreadValidatedRoute,
)

Role = Literal[api_keys.ROLES]  # type: ignore[valid-type]


class KeyCreate(BaseModel):
    model_config = STRICT

    role: Role
    name: str = Field(min_length=1, max_length=200, pattern=r"\S")


class KeyPublic(BaseModel):
    """A key's public facts: never its plaintext or hash."""

    id: int
    name: str
    role: Role
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    person_ratings_today: int = Field(
        default=0,
        description="Ratings carrying a person (not a request_id) stored today (UTC); capped "
        "by max_person_ratings_per_key_per_day.",
    )


class KeyCreated(KeyPublic):
    key: str = Field(description="The key itself. Shown only in this response: store it now.")


class KeyList(BaseModel):
    data: list[KeyPublic]
    count: int


def _public(record: ApiKeyRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role,
        "prefix": record.prefix,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
    }


@router.post(
    "",
    status_code=201,
    operation_id="create_key",
    summary="Create an API key (shown once)",
    responses=problem_responses(422),
)
def create_key(body: KeyCreate, session: SessionDep, request: Request) -> KeyCreated:
    plaintext, record = api_keys.create_key(session, body.role, body.name)
    request.state.n_results = 1
    return KeyCreated(key=plaintext, **_public(record))


@router.get("", operation_id="list_keys", summary="List API keys (revoked ones included)")
def list_keys(session: SessionDep, request: Request) -> KeyList:
    records = api_keys.list_keys(session)
    today = ratings_log.person_ratings_today(session, [r.id for r in records])
    request.state.n_results = len(records)
    data = [KeyPublic(**_public(r), person_ratings_today=today.get(r.id, 0)) for r in records]
    return KeyList(data=data, count=len(records))


@router.delete(
    "/{key_id}",
    operation_id="revoke_key",
    summary="Revoke an API key at once, in every worker",
    responses=problem_responses(404, 422),
)
def revoke_key(key_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep) -> KeyPublic:
    return KeyPublic(**_public(api_keys.revoke_key(session, key_id)))
