"""Catalogue versions: every import a version, activation atomic, rollback by activation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vcsmatch.catalogue.model import Catalogue
from vcsmatch.errors import NotFoundError
from vcsmatch.store import catalogue_versions as cv
from vcsmatch.store.tables import CatalogueServiceRow

MakeCatalogue = Callable[..., Catalogue]


class _Crash(Exception):
    pass


def test_empty_store_has_no_active_catalogue(
    session: Session, make_catalogue: MakeCatalogue
) -> None:
    """Before any import there is nothing to serve, and stats say so."""
    assert cv.active_catalogue(session) is None
    assert cv.active_version_id(session) is None
    assert cv.active_stats(session) is None
    assert cv.list_versions(session) == []


def test_saved_catalogue_round_trips_in_order(
    session: Session, make_catalogue: MakeCatalogue
) -> None:
    """What is saved comes back equal, in the same row order, and becomes active."""
    catalogue = make_catalogue(12)
    version_id = cv.save_catalogue(session, catalogue, source="a.json", chunk_size=5)
    found = cv.active_catalogue(session)
    assert found is not None
    assert found[0] == version_id
    assert found[1].services == catalogue.services
    assert found[1].ids() == [f"svc-{i}" for i in range(12)]


def test_each_import_is_a_new_version_and_older_ones_can_be_reactivated(
    session: Session, make_catalogue: MakeCatalogue
) -> None:
    """A second import supersedes the first; activating the first rolls back to it."""
    first = cv.save_catalogue(session, make_catalogue(3, "old"), source="old.json")
    second = cv.save_catalogue(session, make_catalogue(4, "new"), source="new.json")
    assert cv.active_catalogue(session)[1].ids()[0] == "new-0"
    versions = cv.list_versions(session)
    assert [v.id for v in versions] == [second, first]
    assert [v.active for v in versions] == [True, False]
    cv.activate_version(session, first)
    version_id, catalogue = cv.active_catalogue(session)
    assert version_id == first
    assert catalogue.ids() == ["old-0", "old-1", "old-2"]


def test_import_failing_halfway_leaves_the_previous_catalogue_active(
    session: Session, make_catalogue: MakeCatalogue
) -> None:
    """A crash after some rows were committed never serves the half-written version."""
    previous = cv.save_catalogue(session, make_catalogue(3, "good"))
    calls = []

    def crash_after_first_chunk(done: int, total: int) -> None:
        calls.append(done)
        raise _Crash("disk full")

    with pytest.raises(_Crash):
        cv.save_catalogue(
            session, make_catalogue(10, "bad"), chunk_size=4, progress=crash_after_first_chunk
        )
    assert calls == [4]  # the first chunk was committed before the crash
    assert cv.active_version_id(session) == previous
    assert cv.active_catalogue(session)[1].ids() == ["good-0", "good-1", "good-2"]
    failed = cv.list_versions(session)[0]
    assert failed.status == "failed"
    assert not failed.active
    n_rows = session.scalar(
        select(func.count())
        .select_from(CatalogueServiceRow)
        .where(CatalogueServiceRow.version_id == failed.id)
    )
    assert n_rows == 0
    with pytest.raises(NotFoundError, match="failed"):
        cv.activate_version(session, failed.id)


def test_saving_without_activation_keeps_serving_the_old_version(
    session: Session, make_catalogue: MakeCatalogue
) -> None:
    """``activate=False`` stores a ready version that is served only once activated."""
    old = cv.save_catalogue(session, make_catalogue(2, "old"))
    staged = cv.save_catalogue(session, make_catalogue(2, "staged"), activate=False)
    assert cv.active_version_id(session) == old
    assert cv.get_version(session, staged).status == "ready"
    cv.activate_version(session, staged)
    assert cv.active_version_id(session) == staged


def test_activating_an_unknown_version_is_not_found(
    session: Session, make_catalogue: MakeCatalogue
) -> None:
    """Rolling back to a version that never existed names the version."""
    with pytest.raises(NotFoundError, match="catalogue version 999"):
        cv.activate_version(session, 999)


def test_import_report_is_kept_with_its_version(
    session: Session, make_catalogue: MakeCatalogue
) -> None:
    """The import report (rejected records, unmapped terms) is stored as JSON per version."""
    report = {"rejected": [{"record_id": "x", "field": "name", "reason": "missing"}]}
    version_id = cv.save_catalogue(session, make_catalogue(1), report=report)
    assert cv.get_version(session, version_id).report == report


def test_stats_count_statuses_codes_and_places(
    session: Session, make_catalogue: MakeCatalogue
) -> None:
    """Stats of the active version count services by status, need and location."""
    cv.save_catalogue(session, make_catalogue(6))
    stats = cv.active_stats(session)
    assert stats is not None
    assert stats.n_services == 6
    assert stats.n_active == 6
    assert stats.by_need == {"dementia": 2, "social-isolation": 2, "carer-support": 2}
    assert stats.with_location == 6
    assert stats.by_delivery_mode == {"in_person": 6}


def test_the_store_keeps_what_an_hsds_import_holds(session: Session) -> None:
    """Address parts, cost options, RRULE parts and the verbatim HSDS fields come back."""
    from openreferral_schemas import EXAMPLES, require_openreferral

    from vcsmatch.catalogue.importing import import_file

    require_openreferral()
    catalogue = import_file(EXAMPLES / "service_full.json").catalogue
    cv.save_catalogue(session, catalogue, source="service_full.json")
    found = cv.active_catalogue(session)
    assert found is not None
    (stored,) = found[1].services
    assert stored == catalogue.services[0]
    assert stored.hsds_extra and stored.cost.options and stored.locations[0].addresses
