"""Runtime settings, from ``VCSMATCH_*`` environment variables.

``get_settings()`` is the one way to read them; it is cached, and tests override it (FastAPI's
``app.dependency_overrides[get_settings]``) or call ``get_settings.cache_clear()`` after
changing the environment. Nothing builds settings at import time.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vcsmatch.paths import REPO_ROOT

DEFAULT_DATA_DIR = REPO_ROOT / "var"


class Settings(BaseSettings):
    """Everything an operator can set. Defaults run the service on an embedded SQLite file."""

    model_config = SettingsConfigDict(env_prefix="VCSMATCH_", extra="ignore")

    #: Where local state lives (SQLite file, postcode overrides, model cache).
    data_dir: Path = DEFAULT_DATA_DIR
    #: SQLAlchemy URL; empty means ``sqlite:///<data_dir>/vcsmatch.db``.
    database_url: str = ""
    #: Secret for keyed hashes of person references. Empty: generated once and kept in the store.
    secret_key: str = ""
    #: Largest request body the API accepts, in bytes.
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    #: Requests per minute allowed for one API key.
    rate_limit_per_minute: int = Field(default=600, gt=0)
    #: A listing last reviewed longer ago than this is stale: demoted and flagged (issue 16).
    stale_after_months: int = Field(default=12, gt=0)
    max_top_k: int = Field(default=100, gt=0)
    max_page_size: int = Field(default=100, gt=0)
    #: Largest catalogue import body (``POST /v1/catalogue``), in bytes.
    max_catalogue_bytes: int = Field(default=50_000_000, gt=0)
    #: Deepest JSON nesting the API parses (deeper bodies are refused before parsing).
    max_json_depth: int = Field(default=32, gt=0)
    #: Most ratings one ``POST /v1/ratings`` batch may carry.
    max_ratings_per_request: int = Field(default=1000, gt=0)
    #: Seconds a client may take to send its whole request body (slow clients are cut off).
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    #: The HTTP/1.1 parser ``vcsmatch serve`` runs: ``auto`` is httptools (C) when installed,
    #: else h11 (pure Python); both with the same header limits (``vcsmatch.cli.http_limits``).
    http_parser: Literal["auto", "httptools", "h11"] = "auto"
    #: ``auto``: each ``vcsmatch serve`` worker keeps to a CPU of its own while the machine has
    #: one to spare (``vcsmatch.affinity``); ``off``: the kernel moves workers freely.
    worker_cpu_affinity: Literal["auto", "off"] = "auto"
    #: Radius for in-person candidates when the person gives no travel preference.
    default_radius_km: float = Field(default=15.0, gt=0)
    #: Online geocoding of addresses that are not postcodes (geopy); off by default.
    geocoder_enabled: bool = False
    geocoder_user_agent: str = "vcsmatch"
    #: How often each worker checks the model registry for a newer model, in seconds.
    model_poll_seconds: float = Field(default=5.0, gt=0)
    #: The learner: ``vcsmatch serve`` retrains by itself when at least
    #: ``learn_min_new_ratings`` ratings arrived and ``learn_interval_seconds`` passed since the
    #: last attempt (``vcsmatch learn --once`` runs the same step for an external scheduler).
    learn_enabled: bool = True
    learn_min_new_ratings: int = Field(default=200, ge=1)
    learn_interval_seconds: float = Field(default=3600.0, ge=0)
    #: How often each worker asks the store whether a retrain is due (a cheap read).
    learn_check_seconds: float = Field(default=5.0, gt=0)
    #: How long the learner's lease lasts without renewal: a crashed learner's lease expires.
    learn_lease_seconds: float = Field(default=900.0, gt=0)
    #: Share of the newest ratings (at most) held out by time for the promotion gate.
    learn_holdout_share: float = Field(default=0.3, gt=0, lt=1)
    #: Share of suggestion slots (below the top three) given to services with little rating
    #: evidence, drawn at random with the probability logged; 0 switches exploration off.
    explore_share: float = Field(default=0.1, ge=0, le=1)
    #: A service rated fewer times than this counts as having little evidence.
    explore_max_ratings: int = Field(default=5, ge=1)

    #: The public self-service page ``/find`` (issue 16): how a resident reaches the council's
    #: adult social care front door, shown on every page of it; and how many searches one
    #: client address may make a minute.
    front_door_contact: str = (
        "Contact your council's adult social care front door: its phone number and online "
        "form are on the council's website."
    )
    find_rate_limit_per_minute: int = Field(default=20, gt=0)

    #: A signed-in web session ends after this many idle seconds (issue 17, finding 7).
    web_session_idle_seconds: float = Field(default=1800.0, gt=0)

    #: Most ratings carrying a person (not a request_id) one API key may store per UTC day
    #: (issue 17, finding 4): made-up people cannot flood the training data.
    max_person_ratings_per_key_per_day: int = Field(default=2000, gt=0)
    #: API key ids whose ratings the learner leaves out (a key found flooding), e.g. "[7, 9]".
    learn_exclude_key_ids: list[int] = Field(default_factory=list)

    #: Failed API key checks one client address may make a minute before it gets 429s for
    #: the rest of that minute (issue 17, finding 9: guessing keys is throttled).
    max_failed_key_checks_per_minute: int = Field(default=30, gt=0)
    #: Reverse proxies (addresses or CIDR networks) whose ``X-Forwarded-For`` is believed, e.g.
    #: ``10.0.0.5, 10.1.0.0/16`` (or a JSON list). The per-address limits above and on
    #: ``/find`` then go by the rightmost hop that is not one of them; from any other peer the
    #: header is ignored. Empty (the default): the connecting address (``api.ratelimit``).
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)

    #: Serve the interactive API docs (``/docs``, ``/redoc``). Off by default: they load
    #: Swagger UI from a CDN and need ``unsafe-inline`` scripts, which the session's origin
    #: should not allow (issue 17, finding 9). ``/openapi.json`` is always served.
    api_docs: bool = False

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        """A comma-separated list from the environment (a JSON list works too)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'vcsmatch.db'}"


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
