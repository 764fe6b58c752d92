"""Catalogue versions: every import is a new version; one is active; rollback is activation.

``save_catalogue`` writes a ``pending`` version in short chunked transactions (so ratings keep
flowing on SQLite while a big catalogue is stored), then, in one final transaction, marks it
``ready`` and points ``active_catalogue`` at it. A failure or crash before that last step leaves
the previous version active; the half-written version is marked ``failed`` (or stays
``pending`` after a crash) and is never served.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from vcsmatch.catalogue.model import Catalogue, Service
from vcsmatch.errors import NotFoundError
from vcsmatch.store.db import begin_write
from vcsmatch.store.tables import (
    ActiveCatalogueRow,
    CatalogueServiceRow,
    CatalogueVersionRow,
    utcnow,
)

ACTIVE_SLOT = 1


@dataclass(frozen=True)
class CatalogueVersion:
    id: int
    created_at: dt.datetime
    source: str | None
    status: str
    n_services: int
    active: bool
    report: dict[str, Any] | None


@dataclass(frozen=True)
class CatalogueStats:
    version_id: int
    n_services: int
    n_active: int
    by_status: dict[str, int]
    by_need: dict[str, int]
    by_activity: dict[str, int]
    by_delivery_mode: dict[str, int]
    with_location: int
    with_service_area: int
    n_unmapped_terms: int


def report_to_json(report: object | None) -> str | None:
    """Any import report (``ImportReport.to_dict``, pydantic, dataclass, dict) as JSON."""
    if report is None:
        return None
    if callable(getattr(report, "to_dict", None)):
        data = report.to_dict()  # type: ignore[attr-defined]
    elif hasattr(report, "model_dump"):
        data = report.model_dump(mode="json")
    elif dataclasses.is_dataclass(report) and not isinstance(report, type):
        data = dataclasses.asdict(report)
    elif isinstance(report, dict):
        data = report
    else:
        data = {"summary": str(report)}
    return json.dumps(data, default=str)


def _active_id(session: Session) -> int | None:
    return session.scalar(
        select(ActiveCatalogueRow.version_id).where(ActiveCatalogueRow.slot == ACTIVE_SLOT)
    )


def _version(row: CatalogueVersionRow, active_id: int | None) -> CatalogueVersion:
    return CatalogueVersion(
        id=row.id,
        created_at=row.created_at,
        source=row.source,
        status=row.status,
        n_services=row.n_services,
        active=row.id == active_id,
        report=json.loads(row.report_json) if row.report_json else None,
    )


def save_catalogue(
    session: Session,
    catalogue: Catalogue,
    *,
    source: str | None = None,
    report: object | None = None,
    activate: bool = True,
    chunk_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Store ``catalogue`` as a new version and (by default) make it active; returns its id.

    ``progress(done, total)`` is called after each chunk of services is committed.
    """
    if chunk_size < 1:
        raise ValueError(f"The 'chunk_size' parameter must be a positive int. Got {chunk_size}.")
    source = source if source is not None else catalogue.source
    begin_write(session)
    version = CatalogueVersionRow(
        source=(source or None) and source[:500],
        status="pending",
        n_services=len(catalogue),
        report_json=report_to_json(report),
    )
    session.add(version)
    session.commit()
    version_id = version.id
    total = len(catalogue)
    try:
        for start in range(0, total, chunk_size):
            begin_write(session)
            chunk = catalogue.services[start : start + chunk_size]
            session.add_all(
                CatalogueServiceRow(
                    version_id=version_id,
                    position=start + i,
                    service_id=service.id,
                    data=service.model_dump_json(exclude_defaults=True),
                )
                for i, service in enumerate(chunk)
            )
            session.commit()
            if progress is not None:
                progress(min(start + chunk_size, total), total)
        begin_write(session)
        session.execute(
            update(CatalogueVersionRow)
            .where(CatalogueVersionRow.id == version_id)
            .values(status="ready")
        )
        if activate:
            _point_at(session, version_id)
        session.commit()
    except BaseException:
        session.rollback()
        _mark_failed(session, version_id)
        raise
    return version_id


def _mark_failed(session: Session, version_id: int) -> None:
    """Best effort: drop a half-written version's rows and mark it failed."""
    try:
        begin_write(session)
        session.execute(
            delete(CatalogueServiceRow).where(CatalogueServiceRow.version_id == version_id)
        )
        session.execute(
            update(CatalogueVersionRow)
            .where(CatalogueVersionRow.id == version_id)
            .values(status="failed")
        )
        session.commit()
    except Exception:  # noqa: BLE001 - the original error matters more; 'pending' is never served
        session.rollback()


def _point_at(session: Session, version_id: int) -> None:
    updated = session.execute(
        update(ActiveCatalogueRow)
        .where(ActiveCatalogueRow.slot == ACTIVE_SLOT)
        .values(version_id=version_id, activated_at=utcnow())
    ).rowcount
    if not updated:  # the migration inserts the slot; recreate it if someone deleted it
        session.add(
            ActiveCatalogueRow(slot=ACTIVE_SLOT, version_id=version_id, activated_at=utcnow())
        )


def activate_version(session: Session, version_id: int) -> CatalogueVersion:
    """Serve ``version_id`` from now on (a rollback is activating an older version)."""
    begin_write(session)
    row = session.get(CatalogueVersionRow, version_id)
    if row is None or row.status != "ready":
        session.rollback()
        state = "does not exist" if row is None else f"is {row.status}, not ready"
        raise NotFoundError(f"catalogue version {version_id} {state}")
    _point_at(session, version_id)
    session.commit()
    return _version(row, version_id)


def active_version_id(session: Session) -> int | None:
    """The id of the version being served (cheap: for polling), or None when empty."""
    return _active_id(session)


def load_version(session: Session, version_id: int) -> Catalogue:
    """The catalogue stored as ``version_id``, in its original order."""
    row = session.get(CatalogueVersionRow, version_id)
    if row is None or row.status != "ready":
        raise NotFoundError(f"catalogue version {version_id} does not exist or is not ready")
    data = session.scalars(
        select(CatalogueServiceRow.data)
        .where(CatalogueServiceRow.version_id == version_id)
        .order_by(CatalogueServiceRow.position)
    )
    services = [Service.model_validate_json(d) for d in data]
    return Catalogue(services=services, source=row.source)


def active_catalogue(session: Session) -> tuple[int, Catalogue] | None:
    """``(version_id, catalogue)`` being served, or None when nothing was imported yet."""
    version_id = _active_id(session)
    if version_id is None:
        return None
    return version_id, load_version(session, version_id)


def list_versions(session: Session) -> list[CatalogueVersion]:
    """Every version, newest first, with which one is active."""
    active_id = _active_id(session)
    rows = session.scalars(select(CatalogueVersionRow).order_by(CatalogueVersionRow.id.desc()))
    return [_version(r, active_id) for r in rows]


def get_version(session: Session, version_id: int) -> CatalogueVersion:
    row = session.get(CatalogueVersionRow, version_id)
    if row is None:
        raise NotFoundError(f"catalogue version {version_id} does not exist")
    return _version(row, _active_id(session))


def count_versions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CatalogueVersionRow)) or 0


def catalogue_stats(catalogue: Catalogue, version_id: int) -> CatalogueStats:
    """Counts an operator checks after an import: statuses, codes, modes, places."""
    needs: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for s in catalogue:
        statuses[s.status] += 1
        needs.update(s.all_needs)
        activities.update(s.all_activities)
        modes.update(s.delivery_modes)
    return CatalogueStats(
        version_id=version_id,
        n_services=len(catalogue),
        n_active=statuses.get("active", 0),
        by_status=dict(statuses.most_common()),
        by_need=dict(needs.most_common()),
        by_activity=dict(activities.most_common()),
        by_delivery_mode=dict(modes.most_common()),
        with_location=sum(
            1 for s in catalogue if any(loc.latitude is not None for loc in s.locations)
        ),
        with_service_area=sum(1 for s in catalogue if s.service_areas),
        n_unmapped_terms=sum(len(s.unmapped_terms) for s in catalogue),
    )


def active_stats(session: Session) -> CatalogueStats | None:
    """Stats of the active version, or None when the store holds no catalogue."""
    found = active_catalogue(session)
    if found is None:
        return None
    version_id, catalogue = found
    return catalogue_stats(catalogue, version_id)
