"""Demo data: an empty store gets the sample catalogue, ratings and a registered model, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from vcsmatch.settings import Settings
from vcsmatch.store import catalogue_versions, db, model_registry, ratings_log
from vcsmatch.store.demo import SAMPLE_PEOPLE, SAMPLE_RATINGS, SAMPLE_SERVICES, ensure_demo_data

pytestmark = pytest.mark.skipif(
    not (SAMPLE_SERVICES.exists() and SAMPLE_PEOPLE.exists() and SAMPLE_RATINGS.exists()),
    reason="catalogue/sample/{services.json,people.csv,ratings.csv} are not generated yet",
)


@pytest.fixture
def sqlite_factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    """SQLite only: training on the full sample is slow, and the store's parts are tested on
    PostgreSQL elsewhere."""
    engine = db.make_engine(sqlite_url)
    db.migrate(engine)
    yield db.session_factory(engine)
    engine.dispose()


@pytest.mark.slow
def test_demo_fills_an_empty_store_once(
    sqlite_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """First call loads all four parts; a second call adds nothing."""
    factory = sqlite_factory
    settings = Settings(data_dir=tmp_path)
    first = ensure_demo_data(factory, settings, show_progress=False)
    assert len(first.added) == 4  # catalogue, ratings, referrals, model
    assert first.n_services > 100 and first.n_ratings > 0 and first.model_version
    with factory() as session:
        assert catalogue_versions.active_version_id(session) == first.catalogue_version
        assert ratings_log.count_ratings(session) == first.n_ratings
        record = model_registry.latest_model(session)
        assert record is not None and record.n_ratings == first.n_ratings
        frame = ratings_log.ratings_frame(session)
    assert frame.person_id.str.len().eq(64).all()  # keyed hashes, not the sample's ids
    from vcsmatch.ranking.recommender import Recommender

    model = Recommender.load(model_registry.materialise(record, tmp_path / "models"))
    assert model.version_ == first.model_version
    again = ensure_demo_data(factory, settings, show_progress=False)
    assert again.added == ()
    assert again.n_ratings == first.n_ratings
    _check_referrals(factory)


def _check_referrals(sqlite_factory: sessionmaker[Session]) -> None:
    """The sample's referrals are stored at their statuses, by a key per team, with each
    request's district; outcomes that speak to fit are ratings-log rows; the insights show
    counts of 10 or more."""
    import pandas as pd
    from sqlalchemy import func, select

    from vcsmatch.store import insights
    from vcsmatch.store.demo import SAMPLE_REFERRALS
    from vcsmatch.store.tables import RatingRow, RecommendationRequestRow, ReferralRow

    table = pd.read_csv(SAMPLE_REFERRALS, dtype=str, keep_default_na=False)
    with sqlite_factory() as session:
        rows = session.execute(select(ReferralRow.status, ReferralRow.team)).all()
        assert sorted(s for s, _ in rows) == sorted(table["status"])
        assert {t for _, t in rows} == {f"{t} (demo)" for t in table["team"]}
        evidence = session.scalar(
            select(func.count(RatingRow.id)).where(RatingRow.referral_id.is_not(None))
        )
        fit = table["status"].isin(["accepted", "attended"]) | (
            (table["status"] == "declined") & (table["reason"] == "not_suitable")
        )
        assert evidence == int(fit.sum())
        districts = session.scalars(select(RecommendationRequestRow.district)).all()
        assert districts and all(d is None or " " not in d for d in districts)
        by_team = insights.referral_counts(session, "team")
        weeks = insights.referral_counts(session, "week")
    assert all(r.count is not None and r.count >= 10 for r in by_team)
    assert sum(r.count is not None for r in weeks) > 10  # spread over the log's weeks
