"""The learning loop's steps, run by ``vcsmatch serve`` on its own or by ``vcsmatch learn --once``.

- ``ensure_day_one``: a store with an active catalogue and no model gets one that needs no
  ratings (``Recommender.fit`` on none: content and eligibility only), so suggestions work
  from the first request, and ratings can start to flow.
- ``learn_once``: when due (``Settings.learn_min_new_ratings`` new ratings and
  ``Settings.learn_interval_seconds`` since the last attempt), under the store's lease (one
  learner per store across workers and machines), retrain on the ratings log, judge the new
  model against the serving one on the newest ratings held out by time and on the exposure log
  (``vcsmatch.learner.gate``), and promote it only when it is not worse beyond noise. Every
  attempt is recorded in the registry with both models' figures, the decision and the ratings
  it learned from. Promotion moves the store's serving pointer; each worker picks it up at its
  next poll.

Nothing here writes a person's features anywhere: progress and records hold counts, versions
and figures only.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from vcsmatch.errors import VcsmatchError
from vcsmatch.settings import Settings
from vcsmatch.store import (
    catalogue_versions,
    learner_lease,
    model_registry,
    ratings_log,
    recommendation_log,
)
from vcsmatch.store.tables import utcnow

logger = logging.getLogger("vcsmatch.learner")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Outcome:
    """What one call did: ``status`` is ``not-due``, ``busy`` (another learner holds the
    lease), ``no-catalogue``, ``promoted``, ``kept``, ``refused`` or ``failed``."""

    status: str
    reason: str
    version: str | None = None
    attempt_id: int | None = None

    def describe(self) -> str:
        model = f" (model {self.version})" if self.version else ""
        return f"{self.status}{model}: {self.reason}"


def default_holder() -> str:
    """Who holds the lease: this machine and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def due(session: Session, settings: Settings, *, holding: bool = False) -> str | None:
    """Why a retrain is not due yet, or None when it is (a cheap read each worker polls).
    ``holding``: the caller holds the lease, so a live lease is not a reason."""
    st = learner_lease.state(session)
    now = utcnow()
    if not holding and st.holder is not None and st.expires_at is not None and st.expires_at > now:
        return "another learner is training"
    fresh = learner_lease.new_ratings(session)
    if fresh < settings.learn_min_new_ratings:
        return (
            f"{fresh} new ratings since the last attempt (needs {settings.learn_min_new_ratings})"
        )
    if st.last_attempt_at is not None:
        wait = settings.learn_interval_seconds - (now - st.last_attempt_at).total_seconds()
        if wait > 0:
            return f"the last attempt was under {settings.learn_interval_seconds:g} s ago"
    return None


def ensure_day_one(
    sessions: sessionmaker[Session], settings: Settings, *, holder: str | None = None
) -> str | None:
    """Build, register and serve a model that needs no ratings when the store has an active
    catalogue and no model at all; returns its version (None when nothing was needed, or
    another process is building it right now).

    The lease holder is unique to this call: two app instances in one process (or a worker's
    refresh and its first request) would otherwise share ``default_holder()``, both take the
    lease and both register the same day-one version."""
    holder = holder or f"{default_holder()}:{uuid.uuid4().hex[:8]}"
    with sessions() as session:
        if model_registry.serving_version(session) is not None:
            return None
        if catalogue_versions.active_version_id(session) is None:
            return None
        if not learner_lease.acquire(session, holder, settings.learn_lease_seconds):
            return None
    try:
        with sessions() as session:
            if model_registry.serving_version(session) is not None:  # built meanwhile
                return None
            active = catalogue_versions.active_catalogue(session)
            if active is None:
                return None
            started = time.perf_counter()
            model = _new_model(None).fit(active[1], _empty_frame())
            version = model_registry.register_trained(session, model)
            model_registry.record_attempt(
                session,
                trigger="day-one",
                decision="promoted",
                reason="no ratings yet: ranks on needs met, strengths matched, distance, "
                "delivery mode and eligibility until practitioners' ratings arrive",
                candidate_version=version,
                fingerprint=model.fingerprint_,
                seconds=time.perf_counter() - started,
                last_rating_id=0,
            )
            logger.info("day-one model %s serving", version)
            return version
    finally:
        with sessions() as session:
            learner_lease.release(session, holder)


def learn_once(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    trigger: str = "once",
    force: bool = False,
    holder: str | None = None,
    progress: Progress = _quiet,
) -> Outcome:
    """One step of the loop (see the module docstring). ``force`` skips the due check (the
    lease is still needed)."""
    holder = holder or default_holder()
    with sessions() as session:
        if not force:
            why = due(session, settings)
            if why is not None:
                return Outcome("not-due", why)
        if not learner_lease.acquire(session, holder, settings.learn_lease_seconds):
            return Outcome("busy", "another learner holds the lease")
    try:
        with sessions() as session:
            if not force and (why := due(session, settings, holding=True)) is not None:
                return Outcome("not-due", why)
            newest = learner_lease.newest_rating_id(session)
            learner_lease.mark_attempt(session, newest)
        try:
            return _attempt(sessions, settings, trigger, newest, holder, progress)
        except Exception as error:  # noqa: BLE001 - recorded, and the serving model stays
            reason = f"training failed ({type(error).__name__}); the serving model stays"
            logger.error("learner: %s", reason)  # no traceback: it could quote data
            with sessions() as session:
                attempt = model_registry.record_attempt(
                    session,
                    trigger=trigger,
                    decision="failed",
                    reason=reason,
                    last_rating_id=newest,
                    details={"holder": holder},
                )
            return Outcome("failed", reason, None, attempt.id)
    finally:
        with sessions() as session:
            learner_lease.release(session, holder)


def _attempt(
    sessions: sessionmaker[Session],
    settings: Settings,
    trigger: str,
    newest: int,
    holder: str,
    progress: Progress,
) -> Outcome:
    from vcsmatch.learner.gate import decide, split_newest

    started = time.perf_counter()
    with sessions() as session:
        active = catalogue_versions.active_catalogue(session)
        if active is None:
            return Outcome("no-catalogue", "the store has no active catalogue; import one first")
        catalogue = active[1]
        frame = ratings_log.ratings_frame(
            session,
            up_to_id=newest,
            with_ids=True,
            exclude_key_ids=settings.learn_exclude_key_ids,
        )
        serving_record = model_registry.serving_model(session)
        serving_attempt = _last_promoted(session, serving_record)
    record = _recorder(sessions, trigger, newest, serving_record)
    known = frame["service_id"].isin(set(catalogue.ids()))
    left_out = int((~known).sum())
    frame = frame[known].reset_index(drop=True)
    progress(
        f"{len(frame)} ratings of {frame['service_id'].nunique()} services "
        f"({left_out} of withdrawn services left out); {len(catalogue)} services"
    )
    details: dict[str, Any] = {"left_out_withdrawn": left_out, "holder": holder}
    try:
        from vcsmatch.ranking.validation import check_ratings

        check_ratings(_training(frame), catalogue, allow_empty=True)
    except (VcsmatchError, ValueError) as error:
        return record("refused", f"the ratings log cannot be trusted: {error}", None, details)

    serving = _load(serving_record, catalogue, settings)
    served_up_to = serving_attempt if serving_attempt is not None else 0
    train, held_out = split_newest(
        frame, new_after_id=served_up_to, share=settings.learn_holdout_share
    )
    details["split"] = {
        "train_ratings": len(train),
        "held_out_ratings": len(held_out),
        "held_out_people": int(held_out["person_id"].nunique()) if len(held_out) else 0,
        "serving_learned_up_to_rating": served_up_to,
    }
    progress(f"held out the newest {len(held_out)} ratings; training on {len(train)}")
    try:
        candidate = _new_model(serving).fit(catalogue, _training(train))
    except (VcsmatchError, ValueError) as error:
        return record("refused", f"training refused: {error}", None, details)
    progress(f"candidate trained in {time.perf_counter() - started:.1f}s; comparing")
    with sessions() as session:
        exposures = recommendation_log.exposures_frame(session)
    exposures = exposures[exposures["request_id"].isin(set(held_out["request_id"].dropna()))]
    decision = decide(candidate, serving, held_out, exposures)
    details["gate"] = decision.to_dict()
    progress(("promote: " if decision.promote else "keep: ") + decision.reason)
    if not decision.promote:
        return record("kept", decision.reason, candidate.version_, details)

    final = _new_model(serving).fit(catalogue, _training(frame)) if len(held_out) else candidate
    final.metrics_ = _metrics(decision)
    details["seconds_training"] = time.perf_counter() - started
    with sessions() as session:
        version = model_registry.register_trained(session, final, activate=True)
    return record("promoted", decision.reason, version, details, fingerprint=final.fingerprint_)


def _recorder(
    sessions: sessionmaker[Session], trigger: str, newest: int, serving_record: Any
) -> Callable[..., Outcome]:
    started = time.perf_counter()

    def record(
        decision: str,
        reason: str,
        version: str | None,
        details: dict[str, Any],
        *,
        fingerprint: str | None = None,
    ) -> Outcome:
        with sessions() as session:
            attempt = model_registry.record_attempt(
                session,
                trigger=trigger,
                decision=decision,
                reason=reason,
                candidate_version=version,
                serving_version=None if serving_record is None else serving_record.version,
                fingerprint=fingerprint,
                n_ratings=int(details.get("split", {}).get("train_ratings", 0))
                + int(details.get("split", {}).get("held_out_ratings", 0)),
                last_rating_id=newest,
                seconds=time.perf_counter() - started,
                details=details,
            )
        logger.info("learner: %s %s", decision, version or "")
        return Outcome(decision, reason, version, attempt.id)

    return record


def _last_promoted(session: Session, serving_record: Any) -> int | None:
    """The newest rating id the serving model learned from, when the registry knows it (a
    rollback's attempt does not say; the attempt that first promoted the version does)."""
    if serving_record is None:
        return None
    for attempt in model_registry.list_attempts(session, limit=200):
        if (
            attempt.candidate_version == serving_record.version
            and attempt.decision == "promoted"
            and attempt.last_rating_id is not None
        ):
            return attempt.last_rating_id
    return None


def _metrics(decision: Any) -> dict[str, float]:
    cand = decision.candidate
    out: dict[str, float] = {}
    if cand.rated_ndcg == cand.rated_ndcg:
        out["held_out_rated_ndcg@10"] = float(cand.rated_ndcg)
    if cand.snips.n:
        out["off_policy_gain"] = float(cand.snips.value)
    return out


def _training(frame: pd.DataFrame) -> pd.DataFrame:
    from vcsmatch.ratings import TRAINING_COLUMNS

    return frame[list(TRAINING_COLUMNS)]


def _empty_frame() -> pd.DataFrame:
    from vcsmatch.ratings import TRAINING_COLUMNS

    return pd.DataFrame({c: pd.Series(dtype=object) for c in TRAINING_COLUMNS}).astype(
        {"rating": "int64", "age": "float64", "latitude": "float64", "longitude": "float64"}
    )


def _new_model(serving: Any | None) -> Any:
    """An unfitted ranker with the serving model's parameters (an analyst's tuning carries
    over), or the defaults."""
    from vcsmatch.ranking.recommender import Recommender

    params = serving.get_params(deep=False) if isinstance(serving, Recommender) else {}
    params["show_progress"] = False
    return Recommender(**params)


def _load(record: Any, catalogue: Any, settings: Settings) -> Any | None:
    """The serving model bound to ``catalogue`` (None when there is none or it cannot load)."""
    if record is None:
        return None
    from vcsmatch.ranking.recommender import Recommender

    try:
        directory = model_registry.materialise(record, settings.data_dir / "models")
        return Recommender.load(directory).rebind(catalogue)
    except (VcsmatchError, ValueError, OSError) as error:
        logger.warning("serving model %s could not be loaded: %s", record.version, error)
        return None
