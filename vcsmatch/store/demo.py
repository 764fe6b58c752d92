"""Demo data: fill an empty store with the shipped sample so ``vcsmatch serve --demo`` is useful.

Each step runs only when its part of the store is empty, so calling it again (or after a crash
halfway) finishes the job without duplicating anything: the sample catalogue
(``catalogue/sample/services.json``, HSDS 3.0), the sample ratings (``people.csv`` +
``ratings.csv``, keyed by idempotency keys so a rerun stores each once), the sample referrals
and their outcomes (``referrals.csv``, when present: each as the request it cites, made with a
key per team, its outcome in the ratings log as a status change would put it, dated as the
file says, so the managers' dashboard has something to show) and a ``Recommender`` trained on
the store's ratings and registered in the model registry.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from vcsmatch.paths import SAMPLE_DIR
from vcsmatch.settings import Settings
from vcsmatch.store import catalogue_versions, learner_lease, model_registry, ratings_log, secrets
from vcsmatch.store.minimised import MinimisedPerson
from vcsmatch.store.ratings_log import NewRating
from vcsmatch.store.tables import RecommendationRequestRow, ReferralRow

SAMPLE_SERVICES = SAMPLE_DIR / "services.json"
SAMPLE_PEOPLE = SAMPLE_DIR / "people.csv"
SAMPLE_RATINGS = SAMPLE_DIR / "ratings.csv"
SAMPLE_REFERRALS = SAMPLE_DIR / "referrals.csv"


@dataclass(frozen=True)
class DemoData:
    """What the store holds after ``ensure_demo_data``, and what this call added."""

    catalogue_version: int | None
    n_services: int
    n_ratings: int
    model_version: str | None
    added: tuple[str, ...]

    def describe(self) -> str:
        did = f"loaded {', '.join(self.added)}" if self.added else "store already loaded"
        return (
            f"demo: {did}; catalogue version {self.catalogue_version} "
            f"({self.n_services} services), {self.n_ratings} ratings, "
            f"model {self.model_version}"
        )


def ensure_demo_data(
    session_factory: sessionmaker[Session],
    settings: Settings,
    *,
    sample_dir: Path | None = None,
    show_progress: bool = True,
) -> DemoData:
    """Load whichever of catalogue, ratings and model the store lacks, from the sample."""
    folder = SAMPLE_DIR if sample_dir is None else sample_dir
    services_path, people_path, ratings_path, referrals_path = (
        folder / name for name in ("services.json", "people.csv", "ratings.csv", "referrals.csv")
    )
    added: list[str] = []
    with session_factory() as session:
        found = catalogue_versions.active_catalogue(session)
        if found is None:
            from vcsmatch.catalogue.importing import import_file

            result = import_file(services_path, "hsds3", progress=show_progress)
            version_id = catalogue_versions.save_catalogue(
                session,
                result.catalogue,
                source="sample: " + services_path.name,
                report=result.report,
            )
            found = (version_id, result.catalogue)
            added.append("the sample catalogue")
        version_id, catalogue = found

        if ratings_log.count_ratings(session) == 0:
            from vcsmatch.files import read_people, read_ratings

            people = read_people(people_path)
            frame = read_ratings(ratings_path, people, catalogue)
            secret = secrets.get_secret(session, settings)
            new = [_rating_of(i, row) for i, row in enumerate(frame.itertuples(index=False))]
            for start in range(0, len(new), 1000):
                ratings_log.add_ratings(session, new[start : start + 1000], secret=secret)
            added.append("the sample ratings")

        if referrals_path.exists() and session.scalar(select(func.count(ReferralRow.id))) == 0:
            _load_referrals(session, settings, people_path, referrals_path)
            added.append("the sample referrals")

        model_version = model_registry.latest_version(session)
        if model_version is None:
            from vcsmatch.ranking.recommender import Recommender

            training = ratings_log.ratings_frame(session, with_ids=True)
            newest = int(training["rating_id"].max()) if len(training) else 0
            model = Recommender(show_progress=show_progress).fit(
                catalogue, training.drop(columns=["rating_id", "request_id"])
            )
            model_version = model_registry.register_trained(session, model)
            learner_lease.mark_seen(session, newest)  # the learner starts from these
            added.append("a model trained on them")
        return DemoData(
            catalogue_version=version_id,
            n_services=len(catalogue),
            n_ratings=ratings_log.count_ratings(session),
            model_version=model_version,
            added=tuple(added),
        )


def _load_referrals(
    session: Session, settings: Settings, people_path: Path, referrals_path: Path
) -> None:
    """Each referral of ``referrals.csv`` as the logged request it cites (the person
    minimised, the postcode's district), a referral by its team's key at the status the file
    gives, and its outcome's ratings-log row (``referrals.outcome_evidence``, the rule's one
    home), dated as the file says. One transaction: the store's one-commit-per-call paths
    took a minute for the sample's 1,200."""
    import json

    import pandas as pd

    from vcsmatch.features.location import locate, outward_code
    from vcsmatch.files import read_people
    from vcsmatch.store import api_keys, referrals

    people = {p.reference: p for p in read_people(people_path)}
    table = pd.read_csv(referrals_path, dtype=str, keep_default_na=False)
    secret = secrets.get_secret(session, settings)
    teams = {
        team: api_keys.create_key(session, "practitioner", f"{team} (demo)")[1].id
        for team in sorted(set(table["team"]))
    }
    for i, row in enumerate(table.itertuples(index=False)):
        if row.status not in referrals.STATUSES:
            raise ValueError(f"{referrals_path.name} row {i + 2}: status {row.status!r}")
        person = people[row.person_id]
        when = dt.datetime.fromisoformat(row.referred_at)
        minimised = MinimisedPerson.from_person(person, locate(person, settings=settings))
        request_id = f"demo-referral-{i}"
        session.add(
            RecommendationRequestRow(
                request_id=request_id,
                created_at=when,
                service_ids=json.dumps([row.service_id]),
                api_key_id=teams[row.team],
                district=outward_code(person.postcode) if person.postcode else None,
                **minimised.to_columns(),
            )
        )
        referral = ReferralRow(
            request_id=request_id,
            service_id=row.service_id,
            api_key_id=teams[row.team],
            team=f"{row.team} (demo)",
            status=row.status,
            reason=(row.reason or None) if row.status == "declined" else None,
            created_at=when,
            updated_at=when,
        )
        session.add(referral)
        session.flush()  # the referral's id, for its evidence
        evidence = referrals.outcome_evidence(session, referral, when, secret)
        if evidence is not None:
            session.add(evidence)
    session.commit()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _rating_of(index: int, row: Any) -> NewRating:
    """One training-frame row as a rating whose person reference is the sample's person id."""
    lat = None if _missing(row.latitude) else float(row.latitude)
    lon = None if _missing(row.longitude) else float(row.longitude)
    rated_at = row.rated_at
    if hasattr(rated_at, "to_pydatetime"):
        rated_at = (
            None if _missing(rated_at) or str(rated_at) == "NaT" else rated_at.to_pydatetime()
        )
    if isinstance(rated_at, dt.datetime) and rated_at.tzinfo is None:
        rated_at = rated_at.replace(tzinfo=dt.UTC)
    return NewRating(
        service_id=str(row.service_id),
        rating=int(row.rating),
        person=MinimisedPerson(
            age=None if _missing(row.age) else int(row.age),
            sex=str(row.sex) if not _missing(row.sex) else "not_recorded",
            needs=tuple(row.needs or ()),
            strengths=tuple(row.strengths or ()),
            latitude=lat if lon is not None else None,
            longitude=lon if lat is not None else None,
        ),
        person_reference=str(row.person_id),
        practitioner_id=None if _missing(row.practitioner_id) else str(row.practitioner_id),
        idempotency_key=f"sample-rating-{index}",
        rated_at=rated_at if isinstance(rated_at, dt.datetime) else None,
    )
