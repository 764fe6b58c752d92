"""What a worker serves: one catalogue version, its search index and one model, swapped as one.

Requests read ``AppState.serving`` once and use that snapshot throughout, so a swap in the
middle of a request never mixes an old model with a new catalogue. Loading (minutes of
unpacking or fitting a search index) happens outside the lock; only the swap of the reference
takes it, so requests never wait for a reload and none fails or drops during one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import anyio
import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from api.loop_budget import LoopBudget
from api.ratelimit import RateLimiter
from vcsmatch.catalogue.model import Catalogue
from vcsmatch.features.geo import service_points
from vcsmatch.settings import Settings
from vcsmatch.store.db import get_engine
from vcsmatch.store.driver import Driver, driver
from vcsmatch.store.key_cache import KeyCache

logger = logging.getLogger("vcsmatch.api")

#: Worker threads that may rank at once, per worker process. Ranking holds the GIL nearly all
#: the time, so more threads add no throughput; at 16 requests in flight they only trade the
#: GIL back and forth (benchmarks/api.py, 1 worker, four paired runs on a loaded machine: 5-50%
#: more server CPU per recommendation with anyio's default 40 threads than with 3).
RANKING_THREADS = 3


@dataclass(frozen=True)
class Serving:
    """An immutable snapshot of what answers requests right now."""

    catalogue: Catalogue | None = None
    catalogue_version: int | None = None
    #: ``vcsmatch.search.CatalogueSearch`` fitted on ``catalogue``.
    search: Any | None = None
    #: ``vcsmatch.ranking.Recommender`` bound to ``catalogue``.
    recommender: Any | None = None
    model_version: str | None = None
    #: Registry facts about the model (created when, n ratings, metrics).
    model_info: dict[str, Any] = field(default_factory=dict)
    swapped_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def ready(self) -> bool:
        return self.catalogue is not None and self.recommender is not None

    @cached_property
    def service_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Latitudes and longitudes of every located service (for the outside-the-area
        warning): built once per snapshot."""
        if self.catalogue is None:
            return np.empty(0), np.empty(0)
        lats, lons, _ = service_points(self.catalogue)
        return lats, lons

    @cached_property
    def service_rows(self) -> dict[str, int]:
        """Service id -> row in ``catalogue``: built once per snapshot, not once per request."""
        return self.catalogue.index() if self.catalogue is not None else {}


class AppState:
    """Held on ``app.state.vcsmatch``: settings, sessions, the rate limiter and the snapshot."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
        #: API keys this worker has verified; revocations anywhere reach it at once.
        self.key_cache = KeyCache()
        self._serving = Serving()
        self._swap_lock = threading.Lock()
        #: Held for a whole load-validate-swap, so two reloads never race each other.
        self.reload_lock = threading.Lock()
        #: Held by a request-time refresh (``api.loading.ensure_ready``), so only one runs.
        self.refresh_lock = threading.Lock()
        #: Model versions that failed to load; polling skips them (a reload retries).
        self.refused_models: set[str] = set()
        self._ranking_limiter: anyio.CapacityLimiter | None = None
        #: The CPU cost of ranking an ordinary recommendation: run on the event loop while it
        #: fits the loop's budget (``api.loop_budget``), in a ranking thread otherwise.
        self.ranking_budget = LoopBudget()
        #: The same for a catalogue search (``GET /v1/services``).
        self.search_budget = LoopBudget()

    @cached_property
    def store(self) -> Driver:
        """The store's driver (``vcsmatch.store.driver``), looked up once, not per request."""
        return driver(get_engine(self.settings))

    @property
    def ranking_limiter(self) -> anyio.CapacityLimiter:
        """Bounds the threads ranking at once (``RANKING_THREADS``); made on first use, in the
        event loop that serves this state."""
        if self._ranking_limiter is None:
            self._ranking_limiter = anyio.CapacityLimiter(RANKING_THREADS)
        return self._ranking_limiter

    @property
    def serving(self) -> Serving:
        """The current snapshot (reading a reference is atomic; no lock needed)."""
        return self._serving

    def swap(self, **changes: Any) -> Serving:
        """Replace some of the snapshot's parts at once and return the new snapshot."""
        with self._swap_lock:
            self._serving = replace(self._serving, swapped_at=dt.datetime.now(dt.UTC), **changes)
            return self._serving
