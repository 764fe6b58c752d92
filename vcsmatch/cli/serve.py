"""`vcsmatch serve`: run the API (and its web page) with uvicorn.

uvicorn builds the app in each worker from ``api.main:create_app`` (``factory=True``). Its
access log is switched off: it would record URLs and query strings; the API keeps an audit log
(route template, status, latency, key id) instead.
"""

from __future__ import annotations

import inspect
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True, highlight=False, soft_wrap=True)

#: How long a worker may take to start (and to answer uvicorn's health check) before uvicorn
#: replaces it.
WORKER_STARTUP_SECONDS = 120


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Load the sample catalogue, ratings and a trained model into an empty store, "
            "and print a practitioner key to try it with.",
        ),
    ] = False,
) -> None:
    """Serve the ranking API and web page (see /docs for the API)."""
    import uvicorn

    from vcsmatch.cli.http_limits import PROTOCOL as HTTP_PROTOCOL
    from vcsmatch.errors import VcsmatchError
    from vcsmatch.settings import get_settings
    from vcsmatch.store import api_keys
    from vcsmatch.store.db import dispose_engines, open_store

    settings = get_settings()
    sessions = open_store(settings)  # migrate once here, before workers start
    url = f"http://{host}:{port}"
    if demo:
        from vcsmatch.store.demo import ensure_demo_data

        try:
            summary = ensure_demo_data(sessions, settings)
        except (VcsmatchError, OSError, ImportError) as exc:
            err.print(f"demo data could not be loaded: {exc}", markup=False)
            raise typer.Exit(1) from None
        err.print(summary.describe())
        with sessions() as session:
            plaintext, _ = api_keys.create_key(session, "practitioner", "demo practitioner")
        err.print(f"demo practitioner key (shown once): {plaintext}")
    from vcsmatch.learner import ensure_day_one

    day_one = ensure_day_one(sessions, settings)
    if day_one is not None:
        err.print(f"no model yet: serving day-one model {day_one} (content and eligibility only)")
    if settings.learn_enabled:
        err.print(
            f"learning: retrains by itself after {settings.learn_min_new_ratings} new ratings "
            f"and {settings.learn_interval_seconds:g} s (VCSMATCH_LEARN_ENABLED=false stops it)"
        )
    dispose_engines()  # workers open their own connections
    err.print(f"vcsmatch serving at {url}  (API docs: {url}/docs)")
    options: dict[str, object] = {}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        # uvicorn kills a worker that does not answer its supervisor within 5 s; importing
        # scikit-learn and loading a model on a busy machine takes longer than that.
        options["timeout_worker_healthcheck"] = WORKER_STARTUP_SECONDS
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        proxy_headers=False,
        # uvloop when installed (a dependency on Linux and macOS), else asyncio's own loop.
        loop="auto",
        # Request headers get the same deadline as bodies (slow or idle clients are cut off
        # with a 408 problem); see vcsmatch/cli/http_limits.py.
        http=HTTP_PROTOCOL,
        **options,  # type: ignore[arg-type]
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command()(serve)
