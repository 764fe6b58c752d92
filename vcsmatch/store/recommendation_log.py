"""The recommendation log: what each recommendation was made for, minimised.

A practitioner who rates a suggestion can then cite the request id instead of resending the
person's features. Only ``MinimisedPerson`` is kept (plus the keyed hash of the reference, when
one was given), with the model version and the suggested service ids.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vcsmatch.errors import NotFoundError
from vcsmatch.store import audit
from vcsmatch.store.driver import write_log_rows
from vcsmatch.store.minimised import MinimisedPerson
from vcsmatch.store.secrets import person_key as keyed_hash
from vcsmatch.store.tables import (
    AuditRow,
    ExposureRow,
    RatingRow,
    RecommendationRequestRow,
    utcnow,
)


@dataclass(frozen=True)
class Exposure:
    """One suggestion as shown: rank, service, score and the probability the serving policy
    showed it (``Suggestion.propensity``)."""

    rank: int
    service_id: str
    score: float
    propensity: float = 1.0
    slot: str = "ranked"

    def columns(self, request_id: str, created_at: dt.datetime) -> dict[str, object]:
        return {
            "request_id": request_id,
            "created_at": created_at,
            "rank": self.rank,
            "service_id": self.service_id,
            "score": float(self.score),
            "propensity": float(self.propensity),
            "slot": self.slot,
        }


@dataclass(frozen=True)
class RequestRecord:
    request_id: str
    created_at: dt.datetime
    person_key: str | None
    model_version: str | None
    service_ids: tuple[str, ...]
    api_key_id: int | None
    person: MinimisedPerson = field(repr=False)


def _record(row: RecommendationRequestRow) -> RequestRecord:
    return RequestRecord(
        request_id=row.request_id,
        created_at=row.created_at,
        person_key=row.person_key,
        model_version=row.model_version,
        service_ids=tuple(json.loads(row.service_ids)),
        api_key_id=row.api_key_id,
        person=MinimisedPerson.from_row(row),
    )


def record_request(
    session: Session,
    request_id: str,
    person_features: MinimisedPerson,
    model_version: str | None,
    service_ids: Sequence[str],
    *,
    person_reference: str | None = None,
    secret: bytes | None = None,
    api_key_id: int | None = None,
    exposures: Sequence[Exposure] = (),
    audit_entries: Sequence[Mapping[str, Any]] = (),
    district: str | None = None,
    key_generation: int | None = None,
    wait: bool = True,
) -> RequestRecord:
    """Log one recommendation request, and what it showed (``exposures``), in one commit. The
    reference is stored only keyed-hashed. A log commit (``db.LOG_COMMIT``): it does not wait
    for the disk, and a rating citing the request carries it to disk with its own commit.

    ``secret`` is required when ``person_reference`` is given. ``audit_entries`` (the API's
    entry for this answer, ``audit.record_many``'s form) are stored in the same commit.
    ``district`` is the postcode's outward code ("IP4"), never more of it.
    ``key_generation``: the generation the caller's key was remembered at; if the store's has
    moved since, nothing is written and ``driver.KeyGenerationMoved`` is raised, so the caller
    checks its key again (the check and the log in one transaction).
    ``wait=False``: ``driver.WouldWait`` (nothing written) rather than wait for the store.
    """
    if district is not None and (" " in district or len(district) > 4):
        raise ValueError("The 'district' parameter must be an outward code, like 'IP4'.")
    if not request_id or len(request_id) > 64:
        raise ValueError("The 'request_id' parameter must be 1 to 64 characters.")
    pkey = None
    if person_reference:
        if secret is None:
            raise ValueError("record_request needs the secret to key a person reference")
        pkey = keyed_hash(secret, person_reference)
    created_at = utcnow()
    columns = {
        "request_id": request_id,
        "created_at": created_at,
        "person_key": pkey,
        "model_version": model_version,
        "service_ids": json.dumps(list(service_ids)),
        "api_key_id": api_key_id,
        "district": district,
        **person_features.to_columns(),
    }
    # The statements run on the pool's DBAPI connection (``vcsmatch.store.driver``): on the
    # API's recommendation path SQLAlchemy's machinery cost more than the statements.
    batches = [
        (RecommendationRequestRow.__table__, [columns]),
        (ExposureRow.__table__, [e.columns(request_id, created_at) for e in exposures]),
        (AuditRow.__table__, [audit.columns(e) for e in audit_entries]),
    ]
    try:
        write_log_rows(session, batches, key_generation=key_generation, wait=wait)
    except IntegrityError:
        session.rollback()
        raise ValueError(f"request id {request_id!r} is already logged") from None
    return RequestRecord(
        request_id=request_id,
        created_at=created_at,
        person_key=pkey,
        model_version=model_version,
        service_ids=tuple(service_ids),
        api_key_id=api_key_id,
        person=person_features,
    )


def get_request(session: Session, request_id: str) -> RequestRecord:
    """The logged request; raises ``NotFoundError`` when there is none."""
    row = session.get(RecommendationRequestRow, request_id)
    if row is None:
        raise NotFoundError(f"no recommendation request with id {request_id!r}")
    return _record(row)


def may_cite(
    api_key_id: int | None,
    service_id: str | None,
    *,
    made_by: int | None,
    suggested: Sequence[str],
) -> bool:
    """Whether a rating (or a referral) by ``api_key_id`` about ``service_id`` may cite a
    request made by ``made_by`` that suggested ``suggested``.

    The one home of the rule (issue 17, finding 2): a request is cited only by the key that
    made it, and only about one of its own suggestions. Callers answer 404 otherwise, so a
    caller never learns that someone else's request exists. ``api_key_id=None`` is a local,
    trusted import (the CLI), which is not tied to a key; ``service_id=None`` checks the key
    only.
    """
    if api_key_id is not None and made_by != api_key_id:
        return False
    return service_id is None or service_id in suggested


#: Columns of ``exposures_frame`` (and of ``GET /v1/exposures/export``).
EXPOSURE_COLUMNS: tuple[str, ...] = (
    "exposure_id",
    "request_id",
    "shown_at",
    "model_version",
    "rank",
    "service_id",
    "score",
    "propensity",
    "slot",
)


def exposures_frame(
    session: Session, *, after_id: int = 0, limit: int | None = None
) -> pd.DataFrame:
    """What was shown, one row per suggestion (``EXPOSURE_COLUMNS``), in the order it was
    logged, from exposure id ``after_id`` on (for paging). No person's features: join
    ratings on ``request_id`` (and ``service_id``) for outcomes."""
    stmt = (
        select(
            ExposureRow.id,
            ExposureRow.request_id,
            ExposureRow.created_at,
            RecommendationRequestRow.model_version,
            ExposureRow.rank,
            ExposureRow.service_id,
            ExposureRow.score,
            ExposureRow.propensity,
            ExposureRow.slot,
        )
        .join(
            RecommendationRequestRow,
            RecommendationRequestRow.request_id == ExposureRow.request_id,
            isouter=True,
        )
        .where(ExposureRow.id > after_id)
        .order_by(ExposureRow.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = session.execute(stmt).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(EXPOSURE_COLUMNS))
    frame["shown_at"] = pd.to_datetime(frame["shown_at"], utc=True)
    return frame.astype(
        {"exposure_id": "int64", "rank": "int64", "score": "float64", "propensity": "float64"}
    )


def with_outcomes(session: Session, exposures: pd.DataFrame) -> pd.DataFrame:
    """``exposures`` plus ``rating`` (the latest rating citing the same request and service;
    missing where the suggestion was not rated) and ``rated_at``."""
    ids = sorted(set(exposures["request_id"]))
    found: list[tuple[str, str, int, dt.datetime]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found += [
            tuple(r)
            for r in session.execute(
                select(
                    RatingRow.request_id, RatingRow.service_id, RatingRow.rating, RatingRow.rated_at
                )
                .where(RatingRow.request_id.in_(chunk))
                .order_by(RatingRow.id)
            )
        ]
    ratings = pd.DataFrame(found, columns=["request_id", "service_id", "rating", "rated_at"])
    ratings = ratings.drop_duplicates(["request_id", "service_id"], keep="last")
    out = exposures.merge(ratings, on=["request_id", "service_id"], how="left")
    out["rating"] = out["rating"].astype("Int64")
    out["rated_at"] = pd.to_datetime(out["rated_at"], utc=True)
    return out


def request_exposures(session: Session, request_id: str) -> list[Exposure]:
    """What one request showed, in rank order (empty for requests logged before the
    exposure log existed)."""
    rows = session.scalars(
        select(ExposureRow).where(ExposureRow.request_id == request_id).order_by(ExposureRow.rank)
    )
    return [Exposure(r.rank, r.service_id, r.score, r.propensity, r.slot) for r in rows]
