"""The store's tables (SQLAlchemy 2 declarative). Migrations in ``migrations/versions`` mirror them.

Only the store's own modules touch these classes; everyone else calls the functions of
``catalogue_versions``, ``ratings_log``, ``recommendation_log``, ``model_registry``,
``api_keys``, ``audit`` and ``secrets``, which return plain records.

Personal data: ``ratings`` and ``recommendation_requests`` hold only the features the model
needs (age, sex, need and strength codes, location rounded to ~100 m) and a keyed hash of the
caller's person reference; never the reference, a postcode or free text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CatalogueVersionRow(Base):
    """One import. ``status``: ``pending`` while rows are written, then ``ready`` or ``failed``."""

    __tablename__ = "catalogue_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    n_services: Mapped[int] = mapped_column(Integer, default=0)
    #: The import report as JSON (rejected records, unmapped terms): names records, not people.
    report_json: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("status IN ('pending', 'ready', 'failed')", name="status"),)


class CatalogueServiceRow(Base):
    """One service of one version, as the pydantic ``Service`` model's JSON."""

    __tablename__ = "catalogue_services"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("catalogue_versions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[str] = mapped_column(String(200))
    data: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("version_id", "service_id"),)


class ActiveCatalogueRow(Base):
    """A single row (``slot`` = 1) pointing at the version being served."""

    __tablename__ = "active_catalogue"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_versions.id"))
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RatingRow(Base):
    """One practitioner's relevance rating, append-only."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: Unique per API key (issue 17, finding 3): another key reusing it neither collides with
    #: nor learns of this one.
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    #: SHA-256 of the rating's content, to tell a retry from a conflicting reuse of a key.
    body_sha256: Mapped[str] = mapped_column(String(64))
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(200), index=True)
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment_codes: Mapped[str] = mapped_column(Text, default="[]")
    practitioner_id: Mapped[str | None] = mapped_column(String(200))
    api_key_id: Mapped[int | None] = mapped_column(Integer)
    #: The idempotency key's scope: the API key's id, 0 for a local import without one (a
    #: unique constraint never treats two NULLs as equal, so api_key_id cannot serve).
    key_scope: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    age: Mapped[int | None] = mapped_column(SmallInteger)
    sex: Mapped[str] = mapped_column(String(16), default="not_recorded")
    needs: Mapped[str] = mapped_column(Text, default="[]")
    strengths: Mapped[str] = mapped_column(Text, default="[]")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    rated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Set when the row is a referral outcome's evidence (``vcsmatch.store.referrals``).
    referral_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        UniqueConstraint("key_scope", "idempotency_key"),
    )


class RecommendationRequestRow(Base):
    """What a recommendation was made for, minimised, so a rating can cite its request id."""

    __tablename__ = "recommendation_requests"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    person_key: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(100))
    service_ids: Mapped[str] = mapped_column(Text, default="[]")
    api_key_id: Mapped[int | None] = mapped_column(Integer)
    age: Mapped[int | None] = mapped_column(SmallInteger)
    sex: Mapped[str] = mapped_column(String(16), default="not_recorded")
    needs: Mapped[str] = mapped_column(Text, default="[]")
    strengths: Mapped[str] = mapped_column(Text, default="[]")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    #: The postcode's outward code ("IP4"), for the gaps insight; never the full postcode.
    district: Mapped[str | None] = mapped_column(String(8))


class ModelRow(Base):
    """A trained model directory, as a tar.gz blob shared by every worker and machine."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    n_ratings: Mapped[int] = mapped_column(Integer, default=0)
    metrics_json: Mapped[str] = mapped_column(Text, default="{}")
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class ApiKeyRow(Base):
    """An API key, stored only as the SHA-256 of its plaintext."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the key, so an operator can tell keys apart in ``keys list``.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        CheckConstraint(
            "role IN ('practitioner', 'front_door', 'analyst', 'admin', 'manager')", name="role"
        ),
    )


class KeyGenerationRow(Base):
    """A single row (``slot`` = 1) counting the changes to ``api_keys`` that can stop a key
    working (revocations). Workers keep the keys they have verified in memory and read only this
    counter per request: when it moved, they forget them all (``vcsmatch.store.key_cache``)."""

    __tablename__ = "api_key_generation"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditRow(Base):
    """Who called what, when, with what outcome. Never a person's features."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    key_id: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(10))
    route_template: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(SmallInteger)
    latency_ms: Mapped[float] = mapped_column(Float)
    n_results: Mapped[int | None] = mapped_column(Integer)


class StoreSecretRow(Base):
    """Secrets the store generates once so every worker agrees (the person-key secret)."""

    __tablename__ = "store_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExposureRow(Base):
    """One suggestion shown: which request, at which rank, with what score, and the probability
    that the serving policy showed it there (1 for a ranked slot; the drawn probability for an
    exploration slot). No person's features: those are the request's, minimised."""

    __tablename__ = "exposures"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    rank: Mapped[int] = mapped_column(SmallInteger)
    service_id: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)
    propensity: Mapped[float] = mapped_column(Float)
    #: ``ranked`` (the model's own order) or ``explore`` (an exploration slot).
    slot: Mapped[str] = mapped_column(String(16), default="ranked")

    __table_args__ = (
        CheckConstraint("propensity > 0 AND propensity <= 1", name="propensity_range"),
        CheckConstraint("slot IN ('ranked', 'explore')", name="slot"),
    )


class ActiveModelRow(Base):
    """A single row (``slot`` = 1) naming the model version every worker serves (None: the
    newest registered one, as stores made before the learning loop behave)."""

    __tablename__ = "active_model"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str | None] = mapped_column(String(100))
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ModelAttemptRow(Base):
    """One attempt to replace the serving model (by the learner, by hand, or a rollback): what
    it learned from, both models' figures, the decision and why."""

    __tablename__ = "model_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: ``learner`` (automatic), ``once`` (``vcsmatch learn --once``), ``manual`` (``train
    #: --register``), ``day-one`` (no ratings yet), ``rollback``.
    trigger: Mapped[str] = mapped_column(String(16))
    candidate_version: Mapped[str | None] = mapped_column(String(100))
    serving_version: Mapped[str | None] = mapped_column(String(100))
    #: ``promoted``, ``kept`` (the serving model stays), ``refused`` (untrusted data), ``failed``.
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    n_ratings: Mapped[int] = mapped_column(Integer, default=0)
    #: The ratings it learned from: every stored rating with an id up to this one (less the
    #: excluded keys named in ``details_json``).
    last_rating_id: Mapped[int | None] = mapped_column(BigInteger)
    seconds: Mapped[float | None] = mapped_column(Float)
    #: Both models' figures, the held-out split and any exclusions, as JSON (counts only).
    details_json: Mapped[str] = mapped_column(Text, default="{}")


class LearnerLeaseRow(Base):
    """The learner's lease (a single row, ``name`` = ``learner``): exactly one learner per
    store, across workers and machines; a crashed holder's lease expires at ``expires_at``.
    Also when the last attempt started and the newest rating it saw."""

    __tablename__ = "learner_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_rating_id: Mapped[int] = mapped_column(BigInteger, default=0)


class WebSessionRow(Base):
    """A signed-in web session, kept server-side (issue 17, finding 7): the cookie names it,
    and it ends at sign-out, after ``web_session_idle_seconds`` or when its key is revoked.
    ``sid_sha256`` is a hash of the session id, so the table holds nothing a cookie could be
    made from."""

    __tablename__ = "web_sessions"

    sid_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


#: A referral's statuses: ``made`` first, then what the service and the person did.
REFERRAL_STATUSES: tuple[str, ...] = (
    "made",
    "accepted",
    "declined",
    "attended",
    "not_attended",
    "withdrawn",
)


class ReferralRow(Base):
    """A practitioner's referral of one suggestion (a request id and one of its service ids)
    and what became of it. No personal data: the person's features stay on the request."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(200))
    api_key_id: Mapped[int] = mapped_column(Integer, index=True)
    #: The referring key's name when the referral was made (keys are issued per team).
    team: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="made")
    #: A decline's reason code (``vcsmatch.store.referrals.DECLINE_REASONS``).
    reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("request_id", "service_id"),
        CheckConstraint(
            "status IN ('made', 'accepted', 'declined', 'attended', 'not_attended', 'withdrawn')",
            name="status",
        ),
    )
