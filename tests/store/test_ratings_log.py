"""The ratings log: training-frame shape, idempotency, keyed person hash, concurrent writers."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from vcsmatch.errors import DataError, NotFoundError
from vcsmatch.ratings import TRAINING_COLUMNS
from vcsmatch.store import ratings_log as rl
from vcsmatch.store import recommendation_log, secrets
from vcsmatch.store.minimised import MinimisedPerson
from vcsmatch.store.ratings_log import IdempotencyConflict, NewRating

SECRET = b"test-secret"
PERSON = MinimisedPerson(
    age=72,
    sex="female",
    needs=("dementia", "social-isolation"),
    strengths=("gardening",),
    latitude=51.454513,
    longitude=-0.978130,
)


def _rating(**overrides: object) -> NewRating:
    fields: dict[str, object] = {
        "service_id": "svc-1",
        "rating": 5,
        "person": PERSON,
        "person_reference": "CASE-0001",
        "idempotency_key": "idem-1",
    }
    fields.update(overrides)
    return NewRating(**fields)  # type: ignore[arg-type]


def test_ratings_frame_has_the_training_columns_and_types(session: Session) -> None:
    """The log reads back as the training frame every ranker's fit takes."""
    rated_at = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.UTC)
    rl.add_ratings(
        session,
        [
            _rating(rated_at=rated_at, practitioner_id="p-7", comment_codes=("referred",)),
            _rating(
                idempotency_key=None,
                person=MinimisedPerson(),
                person_reference="CASE-2",
                service_id="svc-2",
                rating=1,
            ),
        ],
        secret=SECRET,
    )
    frame = rl.ratings_frame(session)
    assert tuple(frame.columns) == TRAINING_COLUMNS
    first, second = frame.iloc[0], frame.iloc[1]
    assert first.person_id == secrets.person_key(SECRET, "CASE-0001")
    assert (first.service_id, first.rating, first.practitioner_id) == ("svc-1", 5, "p-7")
    assert first.rated_at == pd.Timestamp(rated_at)
    assert str(frame.rated_at.dtype).endswith("UTC]")
    assert first.age == 72.0
    assert first.needs == ("dementia", "social-isolation")
    assert first.strengths == ("gardening",)
    assert (first.latitude, first.longitude) == (51.455, -0.978)  # rounded to 3 dp
    assert np.isnan(second.age) and np.isnan(second.latitude)
    assert second.sex == "not_recorded" and second.needs == ()
    assert frame.rating.dtype == np.int64 and frame.age.dtype == np.float64


def test_same_idempotency_key_stores_once(session: Session) -> None:
    """A retried rating returns the stored row instead of storing a second one."""
    [(first, created)] = rl.add_ratings(session, [_rating()], secret=SECRET)
    [(again, created_again)] = rl.add_ratings(session, [_rating()], secret=SECRET)
    assert created and not created_again
    assert again.id == first.id
    assert rl.count_ratings(session) == 1


def test_idempotency_key_reused_for_a_different_rating_is_refused(session: Session) -> None:
    """Reusing a key with a different body raises and stores nothing of that batch."""
    rl.add_ratings(session, [_rating()], secret=SECRET)
    batch = [_rating(idempotency_key="idem-2"), _rating(rating=2)]
    with pytest.raises(IdempotencyConflict, match="idem-1"):
        rl.add_ratings(session, batch, secret=SECRET)
    assert rl.count_ratings(session) == 1
    assert [r.idempotency_key for r in rl.list_ratings(session)] == ["idem-1"]


def test_invalid_rating_in_a_batch_stores_none_and_names_the_field(session: Session) -> None:
    """A rating out of 1..5 or an unknown comment code refuses the batch, naming the field."""
    with pytest.raises(DataError, match="'rating'"):
        rl.add_ratings(session, [_rating(idempotency_key="ok"), _rating(rating=6)], secret=SECRET)
    with pytest.raises(DataError, match="'comment_codes'"):
        rl.add_ratings(session, [_rating(comment_codes=("liked",))], secret=SECRET)
    with pytest.raises(DataError, match="'person'"):
        rl.add_ratings(session, [_rating(person=None)], secret=SECRET)
    assert rl.count_ratings(session) == 0


def test_person_reference_is_stored_only_as_its_keyed_hash(
    session: Session, engine: Engine
) -> None:
    """No column of any table holds the reference; the person key is its HMAC-SHA256."""
    reference = "SENTINEL-REF-93817"
    recommendation_log.record_request(
        session, "req-1", PERSON, "m1", ["svc-1"], person_reference=reference, secret=SECRET
    )
    [(record, _)] = rl.add_ratings(session, [_rating(person_reference=reference)], secret=SECRET)
    expected = hmac.new(SECRET, reference.encode(), hashlib.sha256).hexdigest()
    assert record.person_key == expected
    assert rl.ratings_frame(session).person_id.tolist() == [expected]
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                assert not any(reference in str(value) for value in row), table


def test_same_reference_under_another_secret_gives_another_key() -> None:
    """Without the secret, a person key cannot be recomputed from a guessed reference."""
    assert secrets.person_key(b"a", "CASE-1") != secrets.person_key(b"b", "CASE-1")
    assert secrets.person_key(b"a", "CASE-1") == secrets.person_key(b"a", "CASE-1")


def test_rating_citing_a_request_takes_its_features_and_person(session: Session) -> None:
    """A rating that gives only the request id is stored with that request's features."""
    recommendation_log.record_request(
        session,
        "req-9",
        PERSON,
        "m1",
        ["svc-1", "svc-2"],
        person_reference="CASE-9",
        secret=SECRET,
    )
    [(record, _)] = rl.add_ratings(
        session,
        [NewRating(service_id="svc-2", rating=4, request_id="req-9", idempotency_key="k")],
        secret=SECRET,
    )
    assert record.person == PERSON
    assert record.person_key == secrets.person_key(SECRET, "CASE-9")
    with pytest.raises(NotFoundError, match="req-404"):
        rl.add_ratings(
            session,
            [NewRating(service_id="svc-2", rating=4, request_id="req-404")],
            secret=SECRET,
        )
    assert rl.count_ratings(session) == 1


def test_retry_without_any_reference_is_still_idempotent(session: Session) -> None:
    """With no reference or request, the idempotency key still keys the same person."""
    rating = _rating(person_reference=None)
    rl.add_ratings(session, [rating], secret=SECRET)
    [(_, created)] = rl.add_ratings(session, [rating], secret=SECRET)
    assert not created and rl.count_ratings(session) == 1


def test_since_keeps_only_later_ratings(session: Session) -> None:
    """``since`` filters on when a rating was stored."""
    rl.add_ratings(session, [_rating(idempotency_key="a")], secret=SECRET)
    cut = dt.datetime.now(dt.UTC)
    rl.add_ratings(session, [_rating(idempotency_key="b", service_id="svc-9")], secret=SECRET)
    assert rl.ratings_frame(session, since=cut).service_id.tolist() == ["svc-9"]
    assert len(rl.ratings_frame(session)) == 2


def test_concurrent_writers_never_fail_and_store_each_key_once(
    factory: sessionmaker[Session],
) -> None:
    """Eight threads writing at once, half their keys shared, all succeed; each key stored once."""
    n_threads, per_thread = 8, 25
    errors: list[BaseException] = []
    created_counts: list[int] = []
    barrier = threading.Barrier(n_threads)

    def writer(t: int) -> None:
        created = 0
        try:
            barrier.wait()
            with factory() as s:
                for i in range(per_thread):
                    # even i: a key every thread sends (a retry storm); odd i: this thread's own
                    key = f"shared-{i}" if i % 2 == 0 else f"t{t}-{i}"
                    [(_, was_created)] = rl.add_ratings(
                        s,
                        [_rating(idempotency_key=key, person_reference=f"CASE-{i}")],
                        secret=SECRET,
                    )
                    created += was_created
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        created_counts.append(created)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    n_shared = (per_thread + 1) // 2
    n_own = n_threads * (per_thread // 2)
    with factory() as s:
        assert rl.count_ratings(s) == n_shared + n_own
    assert sum(created_counts) == n_shared + n_own


def test_a_key_repeated_within_one_batch_stores_once(session: Session) -> None:
    """The same rating twice in one batch is stored once; the second reports not created."""
    results = rl.add_ratings(
        session, [_rating(), _rating(), _rating(idempotency_key="x")], secret=SECRET
    )
    assert [created for _, created in results] == [True, False, True]
    assert results[0][0].id == results[1][0].id
    assert rl.count_ratings(session) == 2
    with pytest.raises(IdempotencyConflict):
        rl.add_ratings(
            session,
            [_rating(idempotency_key="y"), _rating(idempotency_key="y", rating=1)],
            secret=SECRET,
        )
    assert rl.count_ratings(session) == 2
    assert rl.add_ratings(session, [], secret=SECRET) == []
