"""The learning loop's store: the learner's lease, the serving pointer, attempts, exposures."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from vcsmatch.store import learner_lease as lease
from vcsmatch.store import model_registry as mr
from vcsmatch.store import recommendation_log
from vcsmatch.store.minimised import MinimisedPerson
from vcsmatch.store.recommendation_log import Exposure
from vcsmatch.store.tables import LearnerLeaseRow


def _model_dir(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "header.json").write_text(json.dumps({"version": name}))
    return d


def test_one_holder_at_a_time_across_concurrent_learners(factory: sessionmaker[Session]) -> None:
    """Eight learners asking at once: exactly one gets the lease; it can renew it, and once
    released another can take it."""
    won: list[str] = []
    barrier = threading.Barrier(8)

    def ask(name: str) -> None:
        with factory() as session:
            barrier.wait()
            if lease.acquire(session, name, 60):
                won.append(name)

    threads = [threading.Thread(target=ask, args=(f"learner-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    with factory() as session:
        assert lease.acquire(session, won[0], 60)  # its own: renewed
        assert not lease.acquire(session, "another", 60)
        lease.release(session, won[0])
        assert lease.acquire(session, "another", 60)


def test_a_crashed_learners_lease_expires(session: Session) -> None:
    """A holder that never releases loses the lease when it expires."""
    assert lease.acquire(session, "crashed", 60)
    assert not lease.acquire(session, "next", 60)
    session.execute(
        update(LearnerLeaseRow).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(1))
    )
    session.commit()
    assert lease.acquire(session, "next", 60)
    assert lease.state(session).holder == "next"


def test_new_ratings_count_from_the_last_attempt(session: Session) -> None:
    """Attempts and hand registrations move the mark new ratings are counted from."""
    from vcsmatch.features.person import Person
    from vcsmatch.store import ratings_log
    from vcsmatch.store.ratings_log import NewRating

    person = MinimisedPerson.from_person(Person(age=70, needs=["dementia"]), None)
    rows = [
        NewRating(service_id=f"s{i}", rating=4, person=person, person_reference="p")
        for i in range(5)
    ]
    ratings_log.add_ratings(session, rows, secret=b"k" * 32)
    assert lease.new_ratings(session) == 5
    newest = lease.newest_rating_id(session)
    lease.mark_attempt(session, newest - 2)
    assert lease.new_ratings(session) == 2
    assert lease.state(session).last_attempt_at is not None
    lease.mark_seen(session, newest)
    assert lease.new_ratings(session) == 0
    lease.mark_seen(session, 1)  # never moves back
    assert lease.new_ratings(session) == 0


def test_serving_pointer_rollback_and_attempts(session: Session, tmp_path: Path) -> None:
    """Registering serves the model; one registered without activation waits; a rollback
    serves an older one; every attempt is listed newest first with its figures."""
    assert mr.serving_version(session) is None
    mr.register_model(session, _model_dir(tmp_path, "m-1"), version="m-1")
    mr.register_model(session, _model_dir(tmp_path, "m-2"), version="m-2", activate=False)
    assert mr.serving_version(session) == "m-1"
    mr.activate_model(session, "m-2")
    assert mr.serving_model(session).version == "m-2"
    mr.activate_model(session, "m-1")
    assert mr.serving_version(session) == "m-1"
    mr.record_attempt(
        session,
        trigger="learner",
        decision="kept",
        reason="worse",
        candidate_version="m-3",
        serving_version="m-1",
        details={"gate": {"a": 1}},
    )
    mr.record_attempt(
        session,
        trigger="rollback",
        decision="promoted",
        reason="by hand",
        candidate_version="m-1",
        serving_version="m-2",
    )
    attempts = mr.list_attempts(session)
    assert [a.trigger for a in attempts] == ["rollback", "learner"]
    assert attempts[1].details == {"gate": {"a": 1}} and attempts[1].reason == "worse"


def test_request_and_its_exposures_commit_together(session: Session) -> None:
    """A request's exposures are stored with it, in rank order, with their propensities."""
    from vcsmatch.features.person import Person

    person = MinimisedPerson.from_person(Person(age=80), None)
    shown = [Exposure(1, "a", 0.9), Exposure(2, "b", 0.8), Exposure(3, "c", 0.5, 0.25, "explore")]
    recommendation_log.record_request(
        session, "r1", person, "m-1", ["a", "b", "c"], exposures=shown
    )
    assert recommendation_log.request_exposures(session, "r1") == shown
    frame = recommendation_log.exposures_frame(session)
    assert frame["propensity"].tolist() == [1.0, 1.0, 0.25]
    assert set(frame["model_version"]) == {"m-1"}
    assert "age" not in frame.columns
