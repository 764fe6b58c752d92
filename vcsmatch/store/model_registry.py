"""The model registry: trained model directories kept in the database, so every worker and
machine that shares the database shares the models.

``register_model`` packs a directory (what ``Recommender.save`` wrote) into a tar.gz blob and
records its SHA-256. ``materialise`` unpacks a record into a local cache, refusing a blob whose
hash does not match (``ModelLoadError``): a tampered or truncated model never gets loaded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from vcsmatch.errors import ModelLoadError, NotFoundError
from vcsmatch.store.db import begin_write
from vcsmatch.store.tables import ActiveModelRow, ModelAttemptRow, ModelRow, utcnow

_MARKER = ".vcsmatch-sha256"


@dataclass(frozen=True)
class ModelRecord:
    """A registered model. ``blob`` is empty in summaries (``list_models``)."""

    id: int
    version: str
    created_at: dt.datetime
    sha256: str
    size_bytes: int
    n_ratings: int
    metrics: dict[str, Any]
    blob: bytes = field(default=b"", repr=False)


def _record(row: ModelRow, *, with_blob: bool) -> ModelRecord:
    return ModelRecord(
        id=row.id,
        version=row.version,
        created_at=row.created_at,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        n_ratings=row.n_ratings,
        metrics=json.loads(row.metrics_json),
        blob=row.blob if with_blob else b"",
    )


def pack_directory(directory: Path) -> bytes:
    """A deterministic-enough tar.gz of ``directory``'s files (names relative to it)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NotFoundError(f"model directory {directory} does not exist")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(directory).as_posix())
    return buf.getvalue()


def register_model(
    session: Session,
    directory: Path | str,
    *,
    metrics: dict[str, Any] | None = None,
    n_ratings: int = 0,
    version: str | None = None,
    activate: bool = True,
) -> str:
    """Store the model in ``directory``; returns its version (given, or made from time + hash).

    ``activate``: make it the serving model in the same commit (what a person registering a
    model by hand means); the learner registers first and activates only after its gate.
    """
    blob = pack_directory(Path(directory))
    digest = hashlib.sha256(blob).hexdigest()
    if version is None:
        version = f"{utcnow():%Y%m%dT%H%M%SZ}-{digest[:8]}"
    if not version or len(version) > 100:
        raise ValueError("The 'version' parameter must be 1 to 100 characters.")
    begin_write(session)
    if session.scalar(select(ModelRow.id).where(ModelRow.version == version)) is not None:
        session.rollback()
        raise ValueError(f"model version {version!r} is already registered")
    session.add(
        ModelRow(
            version=version,
            sha256=digest,
            size_bytes=len(blob),
            n_ratings=int(n_ratings),
            metrics_json=json.dumps(metrics or {}, default=_jsonable),
            blob=blob,
        )
    )
    if activate:
        _point_at(session, version)
    session.commit()
    return version


def register_trained(
    session: Session,
    model: Any,
    *,
    activate: bool = True,
    metrics: dict[str, Any] | None = None,
) -> str:
    """Save a fitted model (anything with ``save(directory)``, ``version_``, ``metrics_`` and
    ``n_ratings_``, as ``Recommender``) and register it under its own version."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "model"
        model.save(directory)
        return register_model(
            session,
            directory,
            metrics=dict(metrics if metrics is not None else getattr(model, "metrics_", {}) or {}),
            n_ratings=int(getattr(model, "n_ratings_", 0)),
            version=getattr(model, "version_", None),
            activate=activate,
        )


def _point_at(session: Session, version: str) -> None:
    session.execute(
        update(ActiveModelRow)
        .where(ActiveModelRow.slot == 1)
        .values(version=version, activated_at=utcnow())
    )


def activate_model(session: Session, version: str) -> ModelRecord:
    """Serve ``version`` from now on (every worker picks it up at its next poll): a rollback,
    or the learner's promotion. Raises ``NotFoundError`` for an unknown version."""
    begin_write(session)
    row = session.scalars(select(ModelRow).where(ModelRow.version == version)).first()
    if row is None:
        session.rollback()
        raise NotFoundError(f"no model with version {version!r}")
    record = _record(row, with_blob=False)
    _point_at(session, version)
    session.commit()
    return record


def serving_version(session: Session) -> str | None:
    """The version every worker should serve: the active pointer, or (a store whose pointer
    was never set) the newest registered model. Reads no blob (workers poll it)."""
    pointed = session.scalar(select(ActiveModelRow.version).where(ActiveModelRow.slot == 1))
    return pointed if pointed is not None else latest_version(session)


def serving_model(session: Session) -> ModelRecord | None:
    """The serving model (``serving_version``), blob included, or None."""
    version = serving_version(session)
    return None if version is None else get_model(session, version)


@dataclass(frozen=True)
class Attempt:
    """One recorded attempt to replace the serving model (``ModelAttemptRow``)."""

    id: int
    created_at: dt.datetime
    trigger: str
    candidate_version: str | None
    serving_version: str | None
    decision: str
    reason: str
    fingerprint: str | None
    n_ratings: int
    last_rating_id: int | None
    seconds: float | None
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["created_at"] = self.created_at.isoformat()
        return out


ATTEMPT_TRIGGERS = ("learner", "once", "manual", "day-one", "rollback")
ATTEMPT_DECISIONS = ("promoted", "kept", "refused", "failed")


def record_attempt(
    session: Session,
    *,
    trigger: str,
    decision: str,
    reason: str,
    candidate_version: str | None = None,
    serving_version: str | None = None,
    fingerprint: str | None = None,
    n_ratings: int = 0,
    last_rating_id: int | None = None,
    seconds: float | None = None,
    details: dict[str, Any] | None = None,
) -> Attempt:
    """Append one attempt to the registry's history and commit."""
    if trigger not in ATTEMPT_TRIGGERS:
        raise ValueError(f"The 'trigger' parameter must be one of {ATTEMPT_TRIGGERS}.")
    if decision not in ATTEMPT_DECISIONS:
        raise ValueError(f"The 'decision' parameter must be one of {ATTEMPT_DECISIONS}.")
    row = ModelAttemptRow(
        trigger=trigger,
        candidate_version=candidate_version,
        serving_version=serving_version,
        decision=decision,
        reason=reason,
        fingerprint=fingerprint,
        n_ratings=int(n_ratings),
        last_rating_id=last_rating_id,
        seconds=seconds,
        details_json=json.dumps(details or {}, default=_jsonable),
    )
    begin_write(session)
    session.add(row)
    session.commit()
    return _attempt(row)


def _attempt(row: ModelAttemptRow) -> Attempt:
    return Attempt(
        id=row.id,
        created_at=row.created_at,
        trigger=row.trigger,
        candidate_version=row.candidate_version,
        serving_version=row.serving_version,
        decision=row.decision,
        reason=row.reason,
        fingerprint=row.fingerprint,
        n_ratings=row.n_ratings,
        last_rating_id=row.last_rating_id,
        seconds=row.seconds,
        details=json.loads(row.details_json or "{}"),
    )


def list_attempts(session: Session, limit: int = 20) -> list[Attempt]:
    """The newest attempts first."""
    rows = session.scalars(select(ModelAttemptRow).order_by(ModelAttemptRow.id.desc()).limit(limit))
    return [_attempt(r) for r in rows]


def latest_version(session: Session) -> str | None:
    """The newest model's version, without reading its blob (for workers' polling)."""
    return session.scalar(select(ModelRow.version).order_by(ModelRow.id.desc()).limit(1))


def latest_model(session: Session) -> ModelRecord | None:
    """The newest registered model, blob included, or None."""
    row = session.scalars(select(ModelRow).order_by(ModelRow.id.desc()).limit(1)).first()
    return None if row is None else _record(row, with_blob=True)


def get_model(session: Session, version: str) -> ModelRecord:
    row = session.scalars(select(ModelRow).where(ModelRow.version == version)).first()
    if row is None:
        raise NotFoundError(f"no model with version {version!r}")
    return _record(row, with_blob=True)


def list_models(session: Session) -> list[ModelRecord]:
    """Every model, newest first, without blobs."""
    rows = session.execute(
        select(
            ModelRow.id,
            ModelRow.version,
            ModelRow.created_at,
            ModelRow.sha256,
            ModelRow.size_bytes,
            ModelRow.n_ratings,
            ModelRow.metrics_json,
        ).order_by(ModelRow.id.desc())
    )
    return [
        ModelRecord(
            id=r.id,
            version=r.version,
            created_at=r.created_at,
            sha256=r.sha256,
            size_bytes=r.size_bytes,
            n_ratings=r.n_ratings,
            metrics=json.loads(r.metrics_json),
        )
        for r in rows
    ]


def count_models(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ModelRow)) or 0


def materialise(record: ModelRecord, cache_dir: Path | str) -> Path:
    """Unpack ``record`` to ``cache_dir/<version>/`` (reused when already there) and return it.

    Raises ``ModelLoadError`` when the blob's hash does not match the registry's or the archive
    is unreadable. Several workers may call this at once: each unpacks into a private temporary
    directory and renames it into place.
    """
    if not record.blob:
        raise ModelLoadError(f"model {record.version}: record holds no blob (use latest_model)")
    cache_dir = Path(cache_dir)
    target = cache_dir / _safe_name(record.version)
    marker = target / _MARKER
    if _is_complete(marker, record.sha256):
        return target
    if hashlib.sha256(record.blob).hexdigest() != record.sha256:
        raise ModelLoadError(
            f"model {record.version}: stored archive does not match its SHA-256; refusing it"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{_safe_name(record.version)}-", dir=cache_dir))
    try:
        try:
            with tarfile.open(fileobj=io.BytesIO(record.blob), mode="r:gz") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ModelLoadError(f"model {record.version}: archive unreadable: {exc}") from exc
        (tmp / _MARKER).write_text(record.sha256)
        with _cache_lock(cache_dir):
            # check-then-swap under the lock: without it a worker could see no marker, another
            # could rename its complete copy into place and start loading from it, and the
            # first would then set that copy aside as stale and delete it mid-load
            if _is_complete(marker, record.sha256):
                return target  # another worker's complete copy may be in use: never delete it
            if target.exists():  # an incomplete or stale copy: set it aside
                stale = Path(
                    tempfile.mkdtemp(prefix=f".{_safe_name(record.version)}-old-", dir=cache_dir)
                )
                os.replace(target, stale / "copy")
                shutil.rmtree(stale, ignore_errors=True)
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _is_complete(marker: Path, sha256: str) -> bool:
    """Whether a cache copy's marker says it was wholly unpacked from the archive ``sha256``."""
    return marker.is_file() and marker.read_text().strip() == sha256


@contextlib.contextmanager
def _cache_lock(cache_dir: Path) -> Iterator[None]:
    """An exclusive lock on the cache directory itself, across threads and worker processes
    (each call opens its own descriptor, so flock excludes threads too); it leaves no file."""
    descriptor = os.open(cache_dir, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _jsonable(value: Any) -> Any:
    """numpy scalars and the like become floats; anything else its text."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _safe_name(version: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in version)
