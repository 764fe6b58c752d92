"""`vcsmatch learn` and `vcsmatch model history|rollback`: the learning loop from a shell.

    vcsmatch learn --once            # one step, for cron or a Kubernetes CronJob
    vcsmatch learn                   # a dedicated learner: check every learn_check_seconds
    vcsmatch model history           # the serving model and every recent attempt
    vcsmatch model rollback VERSION  # serve an earlier registered model (every worker follows)

Exit codes of ``learn --once``: 0 when it ran or had nothing to do (not due, another learner
busy), 1 when training was refused or failed. Output names versions and counts, never a person.
"""

from __future__ import annotations

import signal
import time
from typing import Annotated

import typer
from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

model_app = typer.Typer(help="The model registry: history and rollback.", no_args_is_help=True)


def _sessions():  # noqa: ANN202 - a sessionmaker
    from vcsmatch.settings import get_settings
    from vcsmatch.store.db import open_store

    return open_store(get_settings())


def _stop_on_sigterm() -> None:
    """A stopped learner still runs its ``finally`` (releasing the lease)."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, stop)


def learn(
    once: Annotated[bool, typer.Option("--once", help="Run one step and exit.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Retrain now, even if not due (the lease still holds).")
    ] = False,
    trigger: Annotated[str, typer.Option("--trigger", hidden=True)] = "once",
) -> None:
    """Retrain from the ratings log when due, and promote the new model only through the gate."""
    from vcsmatch.learner import learn_once
    from vcsmatch.settings import get_settings

    _stop_on_sigterm()
    settings = get_settings()
    sessions = _sessions()
    if trigger not in ("once", "learner"):
        err.print("error: --trigger must be once or learner")
        raise typer.Exit(2)
    while True:
        outcome = learn_once(
            sessions,
            settings,
            trigger=trigger,
            force=force,
            progress=lambda line: err.print(line, markup=False),
        )
        out.print(f"learner: {outcome.describe()}", markup=False)
        if once:
            raise typer.Exit(1 if outcome.status in ("refused", "failed") else 0)
        force = False
        time.sleep(settings.learn_check_seconds)


@model_app.command("history")
def history(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Attempts to show.")] = 20,
) -> None:
    """The serving model, then the newest attempts: version, decision and why."""
    from vcsmatch.store import model_registry

    with _sessions()() as session:
        serving = model_registry.serving_version(session)
        attempts = model_registry.list_attempts(session, limit=limit)
        models = {m.version: m for m in model_registry.list_models(session)}
    out.print(f"serving: {serving or 'no model'}", markup=False)
    if not attempts:
        out.print("no attempts recorded yet")
    for a in attempts:
        registered = " (registered)" if a.candidate_version in models else ""
        out.print(
            f"{a.created_at:%Y-%m-%d %H:%M:%S}  {a.trigger:<8} {a.decision:<8} "
            f"{a.candidate_version or '-'}{registered}  ratings<= {a.last_rating_id}  {a.reason}",
            markup=False,
        )


@model_app.command("rollback")
def rollback(version: Annotated[str, typer.Argument(help="A registered model version.")]) -> None:
    """Serve an earlier registered model; every worker swaps it in at its next poll."""
    from vcsmatch.errors import NotFoundError
    from vcsmatch.store import model_registry

    with _sessions()() as session:
        before = model_registry.serving_version(session)
        try:
            record = model_registry.activate_model(session, version)
        except NotFoundError as error:
            err.print(f"refused: {error}", markup=False)
            raise typer.Exit(1) from None
        model_registry.record_attempt(
            session,
            trigger="rollback",
            decision="promoted",
            reason=f"rolled back by hand from {before}",
            candidate_version=record.version,
            serving_version=before,
            n_ratings=record.n_ratings,
        )
    out.print(f"serving model {record.version} (was {before})", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command()(learn)
    app.add_typer(model_app, name="model")
