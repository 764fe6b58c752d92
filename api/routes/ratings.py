"""``POST /v1/ratings`` (store practitioners' relevance ratings) and
``GET /v1/ratings/export`` (the training frame, for data scientists).

A rating cites the recommendation's ``request_id`` or carries the person's features. With an
idempotency key (in the body, or the ``Idempotency-Key`` header) a retry never stores twice:
the same key and content answer with the stored rating (``created: false``), the same key with
different content is a 409. 201 is sent only after the whole batch is committed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Discriminator, Field, Tag, model_validator
from sqlalchemy.orm import Session

from api.deps import ServingDep, SessionDep, SettingsDep, StateDep, require_role
from api.json_body import ThreadValidatedRoute
from api.problems import UNION_TAG_PREFIX, ProblemException, field_problem, problem_responses
from api.schemas import STRICT, PersonIn
from vcsmatch.errors import DataError, NotFoundError
from vcsmatch.features.location import locate
from vcsmatch.features.person import Sex
from vcsmatch.ratings import COMMENT_CODES, TRAINING_COLUMNS
from vcsmatch.settings import Settings
from vcsmatch.store import ratings_log
from vcsmatch.store.api_keys import ApiKeyRecord
from vcsmatch.store.minimised import MinimisedPerson
from vcsmatch.store.ratings_log import IdempotencyConflict, NewRating
from vcsmatch.store.secrets import get_secret
from vcsmatch.taxonomy import load_taxonomy

router = APIRouter(prefix="/v1/ratings", tags=["ratings"], route_class=ThreadValidatedRoute)

#: ``Literal`` over the tuple itself, so the codes have one home (``vcsmatch.ratings``).
CommentCode = Literal[COMMENT_CODES]  # type: ignore[valid-type]

Practitioner = Annotated[ApiKeyRecord, Depends(require_role("practitioner"))]
Analyst = Annotated[ApiKeyRecord, Depends(require_role("analyst"))]


class RatingCreate(BaseModel):
    """One relevance rating of one suggested service for one person."""

    model_config = STRICT

    request_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The recommendation's request_id; then `person` may be left out.",
    )
    person: PersonIn | None = Field(
        default=None, description="The person's features, when there is no request_id."
    )
    service_id: str = Field(min_length=1, max_length=200)
    rating: int = Field(ge=1, le=5, description="1 = not relevant at all ... 5 = just right.")
    comment_codes: list[CommentCode] = Field(default_factory=list, max_length=5)
    practitioner_id: str | None = Field(default=None, max_length=200)
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Any unique string; a retry with the same key never stores twice.",
    )

    @model_validator(mode="after")
    def _person_or_request(self) -> RatingCreate:
        if self.request_id is None and self.person is None:
            raise ValueError("give request_id or person")
        return self


class RatingBatch(BaseModel):
    """Several ratings stored all together or not at all."""

    model_config = STRICT

    ratings: list[RatingCreate] = Field(min_length=1, max_length=1000)


_ONE, _BATCH = UNION_TAG_PREFIX + "one", UNION_TAG_PREFIX + "batch"


def _body_kind(value: Any) -> str:
    return _BATCH if isinstance(value, dict) and "ratings" in value else _ONE


RatingsBody = Annotated[
    Annotated[RatingCreate, Tag(_ONE)] | Annotated[RatingBatch, Tag(_BATCH)],
    Discriminator(_body_kind),
]


class RatingStored(BaseModel):
    id: int
    service_id: str
    request_id: str | None
    idempotency_key: str | None
    created: bool = Field(description="False when this key's rating was already stored.")


class RatingsStored(BaseModel):
    data: list[RatingStored]
    count: int
    created: int = Field(description="How many were newly stored (the rest were retries).")


def _within_daily_person_cap(
    session: Session, settings: Settings, key: ApiKeyRecord, items: list[RatingCreate]
) -> None:
    """429 when this batch's ratings carrying a person would take the key past its daily cap
    (issue 17, finding 4); ratings that cite a request are not capped (the request was made
    by the same key, one per person shown)."""
    carrying = sum(1 for item in items if item.request_id is None)
    if not carrying:
        return
    cap = settings.max_person_ratings_per_key_per_day
    used = ratings_log.person_ratings_today(session, [key.id])[key.id]
    session.rollback()
    if used + carrying > cap:
        raise ProblemException(
            429,
            "Daily limit reached",
            f"This API key may store {cap} ratings that carry a person (not a request_id) a "
            f"day; {used} are stored today. Cite the recommendation's request_id instead.",
            type_="daily-limit",
            headers={"Retry-After": str(_seconds_to_midnight())},
        )


def _seconds_to_midnight() -> int:
    now = dt.datetime.now(dt.UTC)
    tomorrow = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


@router.post(
    "",
    status_code=201,
    operation_id="create_ratings",
    summary="Store one rating or a batch (idempotent with a key)",
    responses=problem_responses(404, 409, 429),
)
def create_ratings(
    body: RatingsBody,
    key: Practitioner,
    serving: ServingDep,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=180,
            description="For a batch, item i without its own key gets `<key>:<i>`.",
        ),
    ] = None,
) -> RatingsStored:
    """201 once every rating in the body is durably committed (all or none)."""
    items = body.ratings if isinstance(body, RatingBatch) else [body]
    if len(items) > settings.max_ratings_per_request:
        raise field_problem("ratings", f"at most {settings.max_ratings_per_request} per request")
    catalogue = serving.catalogue
    if catalogue is None:
        raise ProblemException(
            503,
            "Not ready",
            "No catalogue is loaded yet.",
            type_="not-ready",
            headers={"Retry-After": "30"},
        )
    _within_daily_person_cap(session, settings, key, items)
    known = serving.service_rows
    taxonomy = load_taxonomy()
    new: list[NewRating] = []
    for i, item in enumerate(items):
        where = f"ratings.{i}." if isinstance(body, RatingBatch) else ""
        if item.service_id not in known:
            raise field_problem(where + "service_id", "is not a service in the catalogue")
        item_key = item.idempotency_key
        if idempotency_key is not None:
            header_key = (
                idempotency_key if not isinstance(body, RatingBatch) else (f"{idempotency_key}:{i}")
            )
            if (
                item_key is not None
                and item_key != header_key
                and not isinstance(body, RatingBatch)
            ):
                raise field_problem("idempotency_key", "differs from the Idempotency-Key header")
            item_key = item_key or header_key
        minimised = None
        reference = None
        if item.person is not None:
            taxonomy.validate("need", item.person.needs)
            taxonomy.validate("strength", item.person.strengths)
            minimised = MinimisedPerson.from_person(
                item.person, locate(item.person, settings=settings)
            )
            reference = item.person.reference
        new.append(
            NewRating(
                service_id=item.service_id,
                rating=item.rating,
                person=minimised,
                request_id=item.request_id,
                person_reference=reference,
                comment_codes=tuple(item.comment_codes),
                practitioner_id=item.practitioner_id,
                api_key_id=key.id,
                idempotency_key=item_key,
            )
        )
    try:
        stored = ratings_log.add_ratings(session, new, secret=get_secret(session, settings))
    except IdempotencyConflict as exc:
        raise ProblemException(
            409,
            "Idempotency key reused",
            "An idempotency key in this request was already used for a different rating; "
            "nothing in this request was stored.",
            type_="idempotency-conflict",
        ) from exc
    except NotFoundError as exc:
        # 404 whether the request is unknown, another key's, or did not suggest the service:
        # the answer never confirms that someone else's request exists.
        raise ProblemException(
            404,
            "Not found",
            "No recommendation request with this request_id suggested this service to this key.",
            type_="not-found",
        ) from exc
    except DataError as exc:
        raise field_problem(exc.field, exc.reason) from exc
    request.state.n_results = len(stored)
    data = [
        RatingStored(
            id=r.id,
            service_id=r.service_id,
            request_id=r.request_id,
            idempotency_key=r.idempotency_key,
            created=created,
        )
        for r, created in stored
    ]
    return RatingsStored(data=data, count=len(data), created=sum(d.created for d in data))


class TrainingRow(BaseModel):
    """One row of the training frame (``vcsmatch.ratings.TRAINING_COLUMNS``)."""

    person_id: str = Field(description="Keyed hash of the person reference; not reversible.")
    service_id: str
    rating: int
    practitioner_id: str | None
    rated_at: dt.datetime
    age: float | None
    sex: Sex
    needs: list[str]
    strengths: list[str]
    latitude: float | None
    longitude: float | None


class RatingsExport(BaseModel):
    columns: list[str] = Field(default=list(TRAINING_COLUMNS))
    count: int
    data: list[TrainingRow]


def _instant(text: str | None) -> dt.datetime | None:
    """An ISO 8601 date-time (a bare number is not one, whatever pydantic's lax mode says);
    without an offset it is read as UTC."""
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise field_problem("query.since", "is not an ISO 8601 date-time") from None
    if "T" not in text.upper() and " " not in text:
        raise field_problem("query.since", "is not an ISO 8601 date-time (no time part)")
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@router.get(
    "/export",
    operation_id="export_ratings",
    response_model=RatingsExport,
    summary="The training frame: every rating with the minimised person (analysts)",
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
            },
            "description": "JSON (default) or CSV (`format=csv`); needs/strengths `;`-separated "
            "in CSV.",
        }
    },
)
def export_ratings(
    key: Analyst,
    state: StateDep,
    request: Request,
    format: Annotated[Literal["json", "csv"], Query()] = "json",  # noqa: A002 - the API's name
    since: Annotated[
        str | None,
        Query(
            max_length=40,
            description="Only ratings stored at or after this ISO 8601 instant.",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
) -> Any:
    """Person ids are keyed hashes: they link one person's ratings, they do not identify them.

    Streamed ``EXPORT_BATCH`` ratings at a time, so a log of a million ratings is never held
    in memory whole (issue 17, finding 9); in JSON, ``count`` comes after ``data``.
    """
    records = ratings_log.iter_training_records(
        state.sessions, since=_instant(since), batch_size=EXPORT_BATCH
    )
    audit_state = request.state
    if format == "csv":
        return StreamingResponse(
            _csv_chunks(records, audit_state),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="ratings.csv"'},
        )
    return StreamingResponse(_json_chunks(records, audit_state), media_type="application/json")


#: Ratings per streamed chunk of the export (and per query behind it).
EXPORT_BATCH = 1000


def _batches(records: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) == EXPORT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _csv_chunks(records: Iterator[dict[str, Any]], audit_state: Any) -> Iterator[str]:
    count = 0
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(TRAINING_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for batch in _batches(records):
        for rec in batch:
            writer.writerow(
                {
                    **rec,
                    "rated_at": rec["rated_at"].isoformat(),
                    "needs": ";".join(rec["needs"]),
                    "strengths": ";".join(rec["strengths"]),
                    "age": "" if rec["age"] is None else int(rec["age"]),
                }
            )
        count += len(batch)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    audit_state.n_results = count
    if count == 0:
        yield buf.getvalue()  # the header alone


def _json_chunks(records: Iterator[dict[str, Any]], audit_state: Any) -> Iterator[str]:
    count = 0
    yield '{"columns":' + json.dumps(list(TRAINING_COLUMNS)) + ',"data":['
    for batch in _batches(records):
        rows = ",".join(TrainingRow.model_validate(r).model_dump_json() for r in batch)
        yield ("," if count else "") + rows
        count += len(batch)
    audit_state.n_results = count
    yield f'],"count":{count}}}'
