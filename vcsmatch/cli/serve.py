"""`vcsmatch serve`: run the API (and its web page) with uvicorn.

uvicorn builds the app in each worker from ``api.main:serve_app`` (``factory=True``), which
keeps the worker to a CPU of its own first (``vcsmatch.affinity``). Its
access log is switched off: it would record URLs and query strings; the API keeps an audit log
(route template, status, latency, key id) instead.
"""

from __future__ import annotations

import errno
import inspect
import signal
import socket
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
    """Serve the ranking API and web page (the API's OpenAPI document: /openapi.json)."""
    import uvicorn

    from vcsmatch.cli.http_limits import protocol
    from vcsmatch.errors import VcsmatchError
    from vcsmatch.settings import get_settings
    from vcsmatch.store import api_keys
    from vcsmatch.store.db import dispose_engines, open_store

    settings = get_settings()
    url = f"http://{host}:{port}"
    # Before anything is stored or printed: a busy port fails here, with the way out.
    if (problem := listen_problem(host, port)) is not None:
        err.print(problem, markup=False)
        raise typer.Exit(1)
    sessions = open_store(settings)  # migrate once here, before workers start
    demo_key_id: int | None = None
    if demo:
        from vcsmatch.store.demo import ensure_demo_data

        try:
            summary = ensure_demo_data(sessions, settings)
        except (VcsmatchError, OSError, ImportError) as exc:
            err.print(f"demo data could not be loaded: {exc}", markup=False)
            raise typer.Exit(1) from None
        err.print(summary.describe())
    from vcsmatch.learner import ensure_day_one

    day_one = ensure_day_one(sessions, settings)
    if day_one is not None:
        err.print(f"no model yet: serving day-one model {day_one} (content and eligibility only)")
    if settings.learn_enabled:
        err.print(
            f"learning: retrains by itself after {settings.learn_min_new_ratings} new ratings "
            f"and {settings.learn_interval_seconds:g} s (VCSMATCH_LEARN_ENABLED=false stops it)"
        )
    if demo:  # last before serving: a start that fails before it mints no key
        with sessions() as session:
            plaintext, record = api_keys.create_key(session, "practitioner", "demo practitioner")
        demo_key_id = record.id
        err.print(
            f"demo practitioner key (shown once, revoked when this server stops): {plaintext}"
        )
    dispose_engines()  # workers open their own connections
    docs = f"API docs: {url}/docs" if settings.api_docs else f"OpenAPI: {url}/openapi.json"
    err.print(f"vcsmatch serving at {url}  ({docs})")
    options: dict[str, object] = {}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        # uvicorn kills a worker that does not answer its supervisor within 5 s; importing
        # scikit-learn and loading a model on a busy machine takes longer than that.
        options["timeout_worker_healthcheck"] = WORKER_STARTUP_SECONDS
    # uvicorn re-raises the SIGTERM that stopped it once it has shut down; by default that
    # would end this process before the demo key is revoked, so it becomes an exit instead.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run(
            "api.main:serve_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            proxy_headers=False,
            # uvloop when installed (a dependency on Linux and macOS), else asyncio's own loop.
            loop="auto",
            # Request headers get the same deadline as bodies (slow or idle clients are cut off
            # with a 408 problem) and h11's size limit; see vcsmatch/cli/http_limits.py.
            http=protocol(settings.http_parser),
            **options,  # type: ignore[arg-type]
        )
    finally:
        if demo_key_id is not None:  # each start's demo key ends with it
            with open_store(settings)() as session:
                api_keys.revoke_key(session, demo_key_id)
            dispose_engines()
            err.print("demo practitioner key revoked")


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def listen_problem(host: str, port: int) -> str | None:
    """Why this process cannot listen on ``host:port`` (a port in use: say ``--port``), or None.

    Bound the way uvicorn binds (``SO_REUSEADDR``), then closed at once.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is already in use (another vcsmatch serve?): stop "
                    f"it, or choose another port, for example --port {port + 1}"
                )
            return f"cannot listen on {host}:{port}: {exc.strerror or type(exc).__name__}"
    return None


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command()(serve)
