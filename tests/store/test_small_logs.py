"""Audit log, recommendation log and the person-key secret."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from vcsmatch.errors import NotFoundError
from vcsmatch.settings import Settings
from vcsmatch.store import audit, recommendation_log, secrets
from vcsmatch.store.minimised import MinimisedPerson
from vcsmatch.store.tables import AuditRow


def test_audit_records_come_back_newest_first(session: Session) -> None:
    """Entries keep route template, status, latency and result count, newest first."""
    audit.record(
        session,
        key_id=1,
        method="POST",
        route_template="/v1/recommendations",
        status=200,
        latency_ms=12.5,
        n_results=10,
    )
    audit.record(
        session,
        key_id=None,
        method="GET",
        route_template="/v1/services/{service_id}",
        status=401,
        latency_ms=0.4,
    )
    newest, oldest = audit.recent(session, limit=5)
    assert (newest.route_template, newest.status, newest.key_id) == (
        "/v1/services/{service_id}",
        401,
        None,
    )
    assert (oldest.n_results, oldest.latency_ms) == (10, 12.5)
    assert len(audit.recent(session, limit=1)) == 1


def test_audit_entries_can_be_written_in_one_batch(session: Session) -> None:
    """record_many stores every buffered entry, in order, in one commit."""
    entries = [
        {
            "key_id": k,
            "method": "GET",
            "route_template": "/v1/taxonomy",
            "status": 200,
            "latency_ms": 1.0 + k,
        }
        for k in range(5)
    ]
    assert audit.record_many(session, entries) == 5
    assert audit.record_many(session, []) == 0
    assert [e.key_id for e in audit.recent(session)] == [4, 3, 2, 1, 0]


def test_audit_table_has_no_column_for_features() -> None:
    """The audit table's columns are who/what/when/outcome only: nothing personal fits."""
    assert set(AuditRow.__table__.columns.keys()) == {
        "id",
        "created_at",
        "key_id",
        "method",
        "route_template",
        "status",
        "latency_ms",
        "n_results",
    }


def test_request_log_round_trips_minimised_features(session: Session) -> None:
    """A logged request returns its minimised person, model version and suggestions."""
    person = MinimisedPerson(
        age=81, sex="male", needs=("carer-support",), latitude=52.1, longitude=-1.2
    )
    recommendation_log.record_request(session, "r-1", person, "m-3", ["a", "b"], api_key_id=4)
    got = recommendation_log.get_request(session, "r-1")
    assert got.person == person
    assert (got.model_version, got.service_ids, got.api_key_id, got.person_key) == (
        "m-3",
        ("a", "b"),
        4,
        None,
    )
    with pytest.raises(NotFoundError):
        recommendation_log.get_request(session, "r-2")
    with pytest.raises(ValueError, match="already logged"):
        recommendation_log.record_request(session, "r-1", person, "m-3", [])


def test_minimised_person_redacts_and_rounds() -> None:
    """The minimised person never prints its features and keeps 3 decimal places."""
    p = MinimisedPerson(age=70, latitude=51.123456, longitude=-0.987654)
    assert "70" not in repr(p) and "51" not in str(p)
    assert (p.latitude, p.longitude) == (51.123, -0.988)


def test_store_secret_is_made_once_and_shared(factory: sessionmaker[Session]) -> None:
    """Two sessions (two workers) get the same generated secret; settings override it."""
    with factory() as a, factory() as b:
        first = secrets.get_secret(a)
        assert len(first) == 64
        assert secrets.get_secret(b) == first
    assert secrets.get_secret(None, Settings(secret_key="operator-set")) == b"operator-set"  # type: ignore[arg-type]


def test_single_statements_commit_whether_or_not_the_session_has_a_transaction(
    factory: sessionmaker[Session],
) -> None:
    """A request logged from an idle session (own connection) and from one mid-transaction
    (joined, then committed) are both visible to another session at once."""
    person = MinimisedPerson(age=70, sex="female", needs=("dementia",))
    with factory() as s:
        recommendation_log.record_request(s, "idle", person, "m-1", ["a"])
        assert not s.in_transaction()  # the session itself was not used
        recommendation_log.get_request(s, "idle")  # opens a read transaction
        assert s.in_transaction()
        recommendation_log.record_request(s, "joined", person, "m-1", ["b"])
        entry = {"method": "GET", "route_template": "/v1/x", "status": 200, "latency_ms": 1.0}
        assert audit.record_many(s, [entry]) == 1
    with factory() as other:
        assert recommendation_log.get_request(other, "idle").service_ids == ("a",)
        assert recommendation_log.get_request(other, "joined").service_ids == ("b",)
        assert [e.route_template for e in audit.recent(other)] == ["/v1/x"]
