"""``POST /v1/catalogue``: import a published catalogue (HSDS 3.0, Open Referral UK, Outpost)
as a new version, for admins.

The CLI's rule for real feeds: every valid record is imported and each rejected one named
(record id, field, reason); the whole import is refused only when more than ``max_invalid``
of the records are invalid (5% by default) or with ``strict``. The import is read and
checked, the search index fitted and the model rebound to it *before* the version is stored
and activated, so a refusal or any failure leaves the previous catalogue serving. Other
workers pick the new version up at their next poll.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.deps import SessionDep, StateDep, require_role
from api.loading import install_catalogue, prepare_catalogue
from api.problems import field_problem, problem_responses
from vcsmatch.catalogue import importing
from vcsmatch.store import catalogue_versions
from vcsmatch.store.api_keys import ApiKeyRecord

router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])


class CatalogueImported(BaseModel):
    version_id: int
    n_services: int
    report: dict[str, Any] = Field(
        description="What the import did: read, accepted, rejected records (id, field, reason),"
        " unmapped external terms, warnings."
    )


@router.post(
    "",
    status_code=201,
    operation_id="import_catalogue",
    summary="Import a catalogue as a new version and serve it",
    responses=problem_responses(422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The published JSON: an HSDS 3.0 / Open Referral UK page envelope, "
            "a list of service records, or an Outpost export.",
            "content": {
                "application/json": {"schema": {"type": ["object", "array"]}},
            },
        }
    },
)
async def import_catalogue(
    request: Request,
    state: StateDep,
    session: SessionDep,
    key: Annotated[ApiKeyRecord, Depends(require_role("admin"))],
    format: Annotated[  # noqa: A002 - the CLI's option is --format too
        Literal["auto", "hsds3", "oruk3", "oruk", "outpost"], Query()
    ] = "auto",
    skip_invalid: Annotated[
        bool, Query(description="Import the valid records, however many are invalid.")
    ] = False,
    max_invalid: Annotated[
        float,
        Query(
            ge=0,
            le=1,
            description="Refuse the import when more than this share of the records is "
            "invalid (0.05 is 5%); below it the valid records are imported and the rest named.",
        ),
    ] = importing.DEFAULT_MAX_INVALID,
    strict: Annotated[
        bool, Query(description="Refuse the whole import if any record is invalid.")
    ] = False,
) -> CatalogueImported:
    """Reads the raw body (the body limit for this path is ``max_catalogue_bytes``)."""
    import anyio

    raw = await request.body()
    share = 0.0 if strict else max_invalid
    return await anyio.to_thread.run_sync(
        _import, state, session, raw, format, skip_invalid and not strict, share, key.id
    )


def _import(
    state: Any,
    session: Any,
    raw: bytes,
    fmt: str,
    skip_invalid: bool,
    max_invalid: float,
    key_id: int,
) -> CatalogueImported:
    if fmt != "auto" and fmt not in importing.FORMATS:
        raise field_problem("query.format", "this server cannot import that format yet")
    result = importing.import_file(  # ImportFailed -> 422 naming the rejected records
        raw, fmt, skip_invalid=skip_invalid, max_invalid=max_invalid
    )
    if len(result.catalogue) == 0:
        # An empty feed is far likelier a broken export than a county without services.
        raise field_problem("body", "contains no services; the current catalogue is kept")
    prepared = prepare_catalogue(state, result.catalogue)
    version_id = catalogue_versions.save_catalogue(
        session, result.catalogue, source=f"api (key {key_id})", report=result.report
    )
    install_catalogue(state, version_id, prepared)
    if prepared.recommender is None:  # a first import: suggestions from this moment on
        from api.loading import refresh

        refresh(state)
    return CatalogueImported(
        version_id=version_id,
        n_services=len(result.catalogue),
        report=result.report.to_dict(),
    )
