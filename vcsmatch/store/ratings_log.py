"""The append-only ratings log: what the ranker learns from.

Each rating keeps the minimised person (``MinimisedPerson``) and ``person_key``, a keyed hash
of the caller's person reference, never the reference. A rating may cite the recommendation
request it answers instead of resending the person's features.

Idempotency: a rating sent with an ``idempotency_key`` is stored once. Sending the same key
again with the same content returns the stored row (``created`` False); with different content
it raises ``IdempotencyConflict`` and stores nothing. ``add_ratings`` commits before it
returns, so a caller may acknowledge (HTTP 201) as soon as it returns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from vcsmatch.errors import DataError, NotFoundError, VcsmatchError
from vcsmatch.ratings import COMMENT_CODES, TRAINING_COLUMNS
from vcsmatch.store.db import begin_write
from vcsmatch.store.minimised import MinimisedPerson
from vcsmatch.store.recommendation_log import may_cite
from vcsmatch.store.secrets import person_key as keyed_hash
from vcsmatch.store.tables import RatingRow, RecommendationRequestRow, utcnow


class IdempotencyConflict(VcsmatchError, ValueError):
    """An idempotency key reused for a different rating. Names the key, not the content."""

    def __init__(self, idempotency_key: str) -> None:
        self.idempotency_key = idempotency_key
        super().__init__(
            f"idempotency key {idempotency_key!r} was already used for a different rating"
        )


@dataclass(frozen=True)
class NewRating:
    """A rating to store. Give ``person`` (features) or ``request_id`` (features from there).

    ``person_reference`` is the caller's opaque reference for the person; only its keyed hash
    is stored. Without one, the person is keyed by the request id (one request, one person) or,
    failing that, counts as a person of their own.
    """

    service_id: str
    rating: int
    person: MinimisedPerson | None = None
    request_id: str | None = None
    person_reference: str | None = None
    comment_codes: tuple[str, ...] = ()
    practitioner_id: str | None = None
    api_key_id: int | None = None
    idempotency_key: str | None = None
    rated_at: dt.datetime | None = None

    def __repr__(self) -> str:
        return f"NewRating(service_id={self.service_id!r}, <redacted>)"


@dataclass(frozen=True)
class RatingRecord:
    """A stored rating (``person_key`` is the keyed hash)."""

    id: int
    idempotency_key: str | None
    person_key: str
    request_id: str | None
    service_id: str
    rating: int
    comment_codes: tuple[str, ...]
    practitioner_id: str | None
    api_key_id: int | None
    person: MinimisedPerson = field(repr=False)
    rated_at: dt.datetime
    created_at: dt.datetime


def _record(row: RatingRow) -> RatingRecord:
    return RatingRecord(
        id=row.id,
        idempotency_key=row.idempotency_key,
        person_key=row.person_key,
        request_id=row.request_id,
        service_id=row.service_id,
        rating=row.rating,
        comment_codes=tuple(json.loads(row.comment_codes)),
        practitioner_id=row.practitioner_id,
        api_key_id=row.api_key_id,
        person=MinimisedPerson.from_row(row),
        rated_at=row.rated_at,
        created_at=row.created_at,
    )


def _validate(index: int, r: NewRating) -> None:
    where = f"rating {r.idempotency_key or index}"
    if not isinstance(r.rating, int | np.integer) or not 1 <= int(r.rating) <= 5:
        raise DataError(where, None, "rating", "must be a whole number from 1 to 5")
    if not r.service_id or len(r.service_id) > 200:
        raise DataError(where, None, "service_id", "must be 1 to 200 characters")
    unknown = [c for c in r.comment_codes if c not in COMMENT_CODES]
    if unknown:
        raise DataError(where, None, "comment_codes", f"must be among {', '.join(COMMENT_CODES)}")
    if r.person is None and r.request_id is None:
        raise DataError(where, None, "person", "give the person's features or a request_id")
    if r.idempotency_key is not None and not 1 <= len(r.idempotency_key) <= 200:
        raise DataError(where, None, "idempotency_key", "must be 1 to 200 characters")


def _body_sha256(r: NewRating, person_key: str, person: MinimisedPerson) -> str:
    body = {
        "service_id": r.service_id,
        "rating": int(r.rating),
        "person_key": person_key,
        "request_id": r.request_id,
        "comment_codes": sorted(r.comment_codes),
        "practitioner_id": r.practitioner_id,
        "person": person.to_columns(),
        "rated_at": r.rated_at.isoformat() if r.rated_at else None,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def add_ratings(
    session: Session, ratings: Sequence[NewRating], *, secret: bytes
) -> list[tuple[RatingRecord, bool]]:
    """Store ``ratings`` durably, all or none; returns ``(record, created)`` for each.

    ``secret`` is the person-key secret (``vcsmatch.store.secrets.get_secret``). Raises
    ``DataError`` naming the rating and field, ``NotFoundError`` for an unknown request id, or
    ``IdempotencyConflict``; in each case nothing of the batch is stored.
    """
    for i, r in enumerate(ratings):
        _validate(i, r)
    if not ratings:
        return []
    begin_write(session)
    try:
        try:
            results = _add_batch(session, ratings, secret)
        except IntegrityError:
            # A concurrent writer stored one of these keys after our lookup (PostgreSQL;
            # SQLite's BEGIN IMMEDIATE serialises writers). Redo row by row with savepoints.
            session.rollback()
            begin_write(session)
            results = [_add_one(session, r, secret) for r in ratings]
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return results


_IN_CHUNK = 500


def _requests_for(
    session: Session, ratings: Sequence[NewRating]
) -> dict[str, RecommendationRequestRow]:
    wanted = sorted({r.request_id for r in ratings if r.request_id is not None})
    found: dict[str, RecommendationRequestRow] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        for row in session.scalars(
            select(RecommendationRequestRow).where(RecommendationRequestRow.request_id.in_(chunk))
        ):
            found[row.request_id] = row
    for request_id in wanted:
        if request_id not in found:
            raise NotFoundError(f"no recommendation request with id {request_id!r}")
    for r in ratings:
        if r.request_id is None:
            continue
        row = found[r.request_id]
        if not may_cite(
            r.api_key_id,
            r.service_id,
            made_by=row.api_key_id,
            suggested=json.loads(row.service_ids or "[]"),
        ):
            # The same answer as for an unknown id: never confirm another key's request.
            raise NotFoundError(f"no recommendation request with id {r.request_id!r}")
    return found


def _owned_by(api_key_id: int | None) -> ColumnElement[bool]:
    """Idempotency keys are scoped per API key (issue 17, finding 3); a local import without
    a key has its own scope, 0."""
    return RatingRow.key_scope == (api_key_id or 0)


def _existing_keys(
    session: Session, keys: Sequence[tuple[int | None, str | None]]
) -> dict[str, RatingRow]:
    """The stored ratings under these (API key, idempotency key) pairs, by idempotency key
    (one batch comes from one API key)."""
    found: dict[str, RatingRow] = {}
    by_owner: dict[int | None, set[str]] = {}
    for owner, key in keys:
        if key is not None:
            by_owner.setdefault(owner, set()).add(key)
    for owner, owned in by_owner.items():
        unique = sorted(owned)
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            query = select(RatingRow).where(_owned_by(owner), RatingRow.idempotency_key.in_(chunk))
            for row in session.scalars(query):
                found[row.idempotency_key] = row  # type: ignore[index]
    return found


def _prepare(
    r: NewRating, secret: bytes, requests: dict[str, RecommendationRequestRow]
) -> dict[str, object]:
    """The row's column values (``body_sha256`` included) for one new rating."""
    person = r.person
    request_key: str | None = None
    if r.request_id is not None:
        req = requests[r.request_id]
        if person is None:
            person = MinimisedPerson.from_row(req)
        request_key = req.person_key
    if person is None:  # _validate requires person or request_id; kept for type narrowing
        raise DataError("rating", None, "person", "give the person's features or a request_id")
    if r.person_reference:
        pkey = keyed_hash(secret, r.person_reference)
    elif request_key is not None:
        pkey = request_key
    elif r.request_id is not None:
        pkey = keyed_hash(secret, "request:" + r.request_id)
    elif r.idempotency_key is not None:  # a retry must hash to the same person
        scope = "" if r.api_key_id is None else f"{r.api_key_id}:"  # keys are per API key
        pkey = keyed_hash(secret, "rating:" + scope + r.idempotency_key)
    else:
        pkey = keyed_hash(secret, "anonymous:" + uuid.uuid4().hex)
    return {
        "idempotency_key": r.idempotency_key,
        "body_sha256": _body_sha256(r, pkey, person),
        "person_key": pkey,
        "request_id": r.request_id,
        "service_id": r.service_id,
        "rating": int(r.rating),
        "comment_codes": json.dumps(list(r.comment_codes)),
        "practitioner_id": r.practitioner_id,
        "api_key_id": r.api_key_id,
        "key_scope": r.api_key_id or 0,
        "rated_at": r.rated_at or utcnow(),
        "created_at": utcnow(),
        **person.to_columns(),
    }


def _add_batch(
    session: Session, ratings: Sequence[NewRating], secret: bytes
) -> list[tuple[RatingRecord, bool]]:
    """Look every key up at once, then insert the new rows in one statement."""
    requests = _requests_for(session, ratings)
    prepared = [_prepare(r, secret, requests) for r in ratings]
    existing = _existing_keys(
        session, [(r.api_key_id, r.idempotency_key) for r in ratings if r.idempotency_key]
    )
    results: list[tuple[RatingRecord, bool] | None] = [None] * len(ratings)
    first_in_batch: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    to_insert: list[int] = []
    for i, (r, values) in enumerate(zip(ratings, prepared, strict=True)):
        key = r.idempotency_key
        body = str(values["body_sha256"])
        if key is not None:
            if key in existing:
                results[i] = (_same_or_conflict(existing[key], body, key), False)
                continue
            if key in first_in_batch:
                if prepared[first_in_batch[key]]["body_sha256"] != body:
                    raise IdempotencyConflict(key)
                repeats.append((i, first_in_batch[key]))
                continue
            first_in_batch[key] = i
        to_insert.append(i)
    if to_insert:
        rows = session.scalars(
            insert(RatingRow).returning(RatingRow, sort_by_parameter_order=True),
            [prepared[i] for i in to_insert],
        ).all()
        for i, row in zip(to_insert, rows, strict=True):
            results[i] = (_record(row), True)
    for i, first in repeats:
        record = results[first]
        results[i] = (record[0], False)  # type: ignore[index]
    return results  # type: ignore[return-value]


def _add_one(session: Session, r: NewRating, secret: bytes) -> tuple[RatingRecord, bool]:
    """One rating in its own savepoint: the slow path, used after a concurrent-key race."""
    values = _prepare(r, secret, _requests_for(session, [r]))
    body = str(values["body_sha256"])
    if r.idempotency_key is not None:
        existing = _by_key(session, r.api_key_id, r.idempotency_key)
        if existing is not None:
            return _same_or_conflict(existing, body, r.idempotency_key), False
    row = RatingRow(**values)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = _by_key(session, r.api_key_id, r.idempotency_key) if r.idempotency_key else None
        if existing is None:
            raise
        return _same_or_conflict(existing, body, r.idempotency_key), False  # type: ignore[arg-type]
    return _record(row), True


def _by_key(session: Session, api_key_id: int | None, key: str) -> RatingRow | None:
    query = select(RatingRow).where(_owned_by(api_key_id), RatingRow.idempotency_key == key)
    return session.scalars(query).first()


def _same_or_conflict(existing: RatingRow, body: str, key: str) -> RatingRecord:
    if existing.body_sha256 != body:
        raise IdempotencyConflict(key)
    return _record(existing)


def count_ratings(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(RatingRow)) or 0


def get_rating(session: Session, rating_id: int) -> RatingRecord:
    row = session.get(RatingRow, rating_id)
    if row is None:
        raise NotFoundError(f"no rating with id {rating_id}")
    return _record(row)


def list_ratings(
    session: Session, *, since: dt.datetime | None = None, limit: int | None = None
) -> list[RatingRecord]:
    """Stored ratings in the order they were stored."""
    stmt = select(RatingRow).order_by(RatingRow.id)
    if since is not None:
        stmt = stmt.where(RatingRow.created_at >= since)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_record(r) for r in session.scalars(stmt)]


def person_ratings_today(session: Session, api_key_ids: Sequence[int]) -> dict[int, int]:
    """How many ratings carrying a person (no ``request_id``) each key stored this UTC day
    (issue 17, finding 4: the daily cap counts them; admins see them in the key list)."""
    if not api_key_ids:
        return {}
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(RatingRow.api_key_id, func.count())
        .where(
            RatingRow.api_key_id.in_(list(api_key_ids)),
            RatingRow.request_id.is_(None),
            RatingRow.created_at >= midnight,
        )
        .group_by(RatingRow.api_key_id)
    ).all()
    counts = {int(key_id): 0 for key_id in api_key_ids}
    counts.update({int(key_id): int(n) for key_id, n in rows})
    return counts


def ratings_frame(
    session: Session,
    since: dt.datetime | None = None,
    *,
    up_to_id: int | None = None,
    with_ids: bool = False,
    exclude_key_ids: Sequence[int] = (),
) -> pd.DataFrame:
    """The training frame (``vcsmatch.ratings.TRAINING_COLUMNS``); ``person_id`` = person key.

    ``since`` keeps ratings stored at or after that moment; ``up_to_id`` those with a rating
    id up to it (what one model learns from); ``exclude_key_ids`` leaves out those keys'
    ratings. ``with_ids`` adds ``rating_id`` and
    ``request_id`` (the learner's split by time and its join with the exposure log).

    A referral's outcome (a row with ``referral_id``, ``vcsmatch.store.referrals``) is stronger
    evidence than a rating: the newest outcome of a suggestion stands in for every rating and
    earlier outcome of the same request and service.
    """
    stmt = _training_select(since, up_to_id, exclude_key_ids)
    rows = _outcomes_first(session.execute(stmt).all())
    frame = pd.DataFrame(
        {
            "person_id": pd.Series([r[0] for r in rows], dtype=object),
            "service_id": pd.Series([r[1] for r in rows], dtype=object),
            "rating": pd.Series([int(r[2]) for r in rows], dtype="int64"),
            "practitioner_id": pd.Series([r[3] for r in rows], dtype=object),
            "rated_at": pd.to_datetime([r[4] for r in rows], utc=True),
            "age": pd.Series(
                [np.nan if r[5] is None else float(r[5]) for r in rows], dtype="float64"
            ),
            "sex": pd.Series([r[6] for r in rows], dtype=object),
            "needs": pd.Series([tuple(json.loads(r[7])) for r in rows], dtype=object),
            "strengths": pd.Series([tuple(json.loads(r[8])) for r in rows], dtype=object),
            "latitude": pd.Series(
                [np.nan if r[9] is None else float(r[9]) for r in rows], dtype="float64"
            ),
            "longitude": pd.Series(
                [np.nan if r[10] is None else float(r[10]) for r in rows], dtype="float64"
            ),
        }
    )
    if with_ids:
        frame["rating_id"] = pd.Series([int(r[11]) for r in rows], dtype="int64")
        frame["request_id"] = pd.Series([r[12] for r in rows], dtype=object)
        return frame[[*TRAINING_COLUMNS, "rating_id", "request_id"]]
    return frame[list(TRAINING_COLUMNS)]


#: The training frame's columns as selected (``rating_id``, ``request_id`` and ``referral_id``
#: last: ``_outcomes_first`` and the streamed export read them by position).
_TRAINING_COLUMNS = (
    RatingRow.person_key,
    RatingRow.service_id,
    RatingRow.rating,
    RatingRow.practitioner_id,
    RatingRow.rated_at,
    RatingRow.age,
    RatingRow.sex,
    RatingRow.needs,
    RatingRow.strengths,
    RatingRow.latitude,
    RatingRow.longitude,
    RatingRow.id,
    RatingRow.request_id,
    RatingRow.referral_id,
)


def _training_select(
    since: dt.datetime | None, up_to_id: int | None, exclude_key_ids: Sequence[int]
) -> Select[Any]:
    stmt = select(*_TRAINING_COLUMNS).order_by(RatingRow.id)
    if since is not None:
        stmt = stmt.where(RatingRow.created_at >= since)
    if up_to_id is not None:
        stmt = stmt.where(RatingRow.id <= up_to_id)
    if exclude_key_ids:  # a key found flooding: its ratings teach nothing
        stmt = stmt.where(
            (RatingRow.api_key_id.is_(None)) | RatingRow.api_key_id.not_in(list(exclude_key_ids))
        )
    return stmt


def _newest_outcomes(rows: Iterable[Any]) -> dict[tuple[str, str], int]:
    """The id of each suggestion's newest outcome among ``rows`` (ordered by id)."""
    return {(r[-2], r[1]): r[11] for r in rows if r[-1] is not None}


def _outcomes_first(rows: Sequence[Any]) -> list[Any]:
    """``rows`` (ordered by id, ``request_id`` and ``referral_id`` last) less every rating and
    earlier outcome of a suggestion whose newest outcome is among them."""
    newest = _newest_outcomes(rows)
    if not newest:
        return list(rows)
    return [r for r in rows if newest.get((r[-2], r[1]), r[11]) == r[11]]


def iter_training_records(
    sessions: Callable[[], Session],
    since: dt.datetime | None = None,
    *,
    batch_size: int = 1000,
) -> Iterator[dict[str, Any]]:
    """The training frame's rows as records (``TRAINING_COLUMNS``), read ``batch_size`` at a
    time in id order, each batch in its own session, so memory stays bounded however long the
    log is (``GET /v1/ratings/export`` streams them; issue 17, finding 9).

    The log is read as it was when the first batch is asked for; the same outcome rule as
    ``ratings_frame`` applies (the outcomes are found first, in one narrow query).
    """
    with sessions() as session:
        up_to_id = session.scalar(select(func.max(RatingRow.id))) or 0
        outcomes = _training_select(since, up_to_id, ()).where(RatingRow.referral_id.is_not(None))
        newest = _newest_outcomes(session.execute(outcomes).all())
    after = 0
    while after < up_to_id:
        stmt = _training_select(since, up_to_id, ()).where(RatingRow.id > after)
        with sessions() as session:
            rows = session.execute(stmt.limit(batch_size)).all()
        if not rows:
            return
        after = rows[-1][11]
        for r in rows:
            if newest.get((r[-2], r[1]), r[11]) == r[11]:
                yield _training_record(r)


def _training_record(r: Any) -> dict[str, Any]:
    return {
        "person_id": r[0],
        "service_id": r[1],
        "rating": int(r[2]),
        "practitioner_id": r[3],
        "rated_at": r[4],
        "age": None if r[5] is None else float(r[5]),
        "sex": r[6],
        "needs": list(json.loads(r[7])),
        "strengths": list(json.loads(r[8])),
        "latitude": None if r[9] is None else float(r[9]),
        "longitude": None if r[10] is None else float(r[10]),
    }
