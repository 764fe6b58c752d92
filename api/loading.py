"""Loading what a worker serves from the store, and swapping it in without dropping a request.

- ``refresh(state)``: pick up a newer active catalogue and the store's serving model (a new
  registration, the learner's promotion or a rollback); the lifespan calls it at start and then
  every ``Settings.model_poll_seconds``, so an import, a reload or a new training reaches every
  worker (and every machine sharing the database). A store with a catalogue and no model gets
  a day-one model (``vcsmatch.learner.ensure_day_one``), so suggestions work at once.
- ``reload_model(state)``: what ``POST /v1/model/reload`` does now rather than at the next poll.
- ``install_catalogue(state, version_id, catalogue)``: fit the search index, rebind the model.

A model is loaded, bound to the serving catalogue and tried on a blank person *before* the
swap; if any step fails it is refused (``ModelLoadError``), remembered as refused so polling
does not retry it forever, and the previous model keeps serving.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.state import AppState, Serving
from vcsmatch.catalogue.model import Catalogue
from vcsmatch.errors import ModelLoadError
from vcsmatch.features.person import Person
from vcsmatch.search import CatalogueSearch
from vcsmatch.store import catalogue_versions, model_registry

logger = logging.getLogger("vcsmatch.api")


def model_cache_dir(state: AppState) -> Path:
    """Where registered models are unpacked (shared by the workers of one machine)."""
    return state.settings.data_dir / "models"


def refresh(state: AppState) -> Serving:
    """Bring the catalogue, then the model, up to what the store says is current."""
    with state.sessions() as session:
        version_id = catalogue_versions.active_version_id(session)
        catalogue = None
        if version_id is not None and version_id != state.serving.catalogue_version:
            catalogue = catalogue_versions.load_version(session, version_id)
    if catalogue is not None and version_id is not None:
        install_catalogue(state, version_id, catalogue)
    with state.sessions() as session:
        latest = model_registry.serving_version(session)
    if latest is None and state.serving.catalogue is not None:
        # a catalogue and no model (a council's first import): serve one that needs no ratings
        from vcsmatch.learner import ensure_day_one

        ensure_day_one(state.sessions, state.settings)
        with state.sessions() as session:
            latest = model_registry.serving_version(session)
    if (
        latest is not None
        and latest != state.serving.model_version
        and latest not in state.refused_models
    ):
        try:
            reload_model(state)
        except ModelLoadError as exc:
            logger.warning("model %s refused: %s", latest, exc)
    return state.serving


def ensure_ready(state: AppState) -> Serving:
    """The snapshot, refreshed from the store first when it cannot answer yet: the first
    request after a catalogue import (by the CLI, on another machine) need not wait for the
    next poll. Concurrent callers wait for one refresh instead of each running their own."""
    if state.serving.ready:
        return state.serving
    with state.refresh_lock:
        if not state.serving.ready:
            refresh(state)
    return state.serving


@dataclass(frozen=True)
class PreparedCatalogue:
    """A catalogue made ready to serve: its search index, and the model rebound to it."""

    catalogue: Catalogue
    search: Any
    recommender: Any | None
    model_version: str | None


def prepare_catalogue(state: AppState, catalogue: Catalogue) -> PreparedCatalogue:
    """Fit the search index and rebind the serving model to ``catalogue``, touching nothing
    that serves: if this raises, the previous catalogue is still the one in use."""
    search = CatalogueSearch().fit(catalogue)
    current = state.serving
    recommender = current.recommender
    if recommender is not None:
        recommender = recommender.rebind(catalogue)
    return PreparedCatalogue(catalogue, search, recommender, current.model_version)


def install_catalogue(
    state: AppState, version_id: int, prepared: PreparedCatalogue | Catalogue
) -> Serving:
    """Serve a catalogue version: swap its search index and the rebound model in at once."""
    if isinstance(prepared, Catalogue):
        prepared = prepare_catalogue(state, prepared)
    with state.reload_lock:
        # No "newer wins" check: the store's active version is the truth, and activating an
        # older version is how an operator rolls a catalogue back.
        current = state.serving
        recommender = prepared.recommender
        if current.model_version != prepared.model_version:  # a reload happened meanwhile
            recommender = current.recommender
            if recommender is not None:
                recommender = recommender.rebind(prepared.catalogue)
        logger.info(
            "serving catalogue version %s (%d services)", version_id, len(prepared.catalogue)
        )
        return state.swap(
            catalogue=prepared.catalogue,
            catalogue_version=version_id,
            search=prepared.search,
            recommender=recommender,
        )


def reload_model(state: AppState) -> Serving:
    """Load the store's serving model (``model_registry.serving_version``: the newest
    registered, the learner's latest promotion or a rollback), check it, and swap it in.

    Raises ``ModelLoadError`` (the old model keeps serving) when the model cannot be unpacked,
    loaded, bound to the catalogue or asked for a recommendation. Raises ``NotFoundError`` when
    the registry is empty.
    """
    from vcsmatch.errors import NotFoundError
    from vcsmatch.ranking.recommender import Recommender

    with state.reload_lock:
        with state.sessions() as session:
            record = model_registry.serving_model(session)
        if record is None:
            raise NotFoundError("no model is registered yet; train one with `vcsmatch train`")
        current = state.serving
        if record.version == current.model_version:
            return current
        try:
            directory = model_registry.materialise(record, model_cache_dir(state))
            model = Recommender.load(directory)
            if current.catalogue is not None:
                model = model.rebind(current.catalogue)
                model.recommend(Person(), top_k=1)  # a model that cannot answer is refused
        except ModelLoadError:
            state.refused_models.add(record.version)
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to load means "refuse it"
            state.refused_models.add(record.version)
            raise ModelLoadError(
                f"model {record.version}: could not be loaded and tried ({type(exc).__name__})"
            ) from exc
        state.refused_models.discard(record.version)
        logger.info("serving model %s", record.version)
        return state.swap(
            recommender=model, model_version=record.version, model_info=_info(record, model)
        )


def _info(record: Any, model: Any) -> dict[str, Any]:
    return {
        "version": record.version,
        "registered_at": record.created_at,
        "trained_at": getattr(model, "trained_at_", None),
        "n_ratings": getattr(model, "n_ratings_", record.n_ratings),
        "fingerprint": getattr(model, "fingerprint_", None),
        "metrics": dict(getattr(model, "metrics_", None) or record.metrics or {}),
        "sha256": record.sha256,
    }
