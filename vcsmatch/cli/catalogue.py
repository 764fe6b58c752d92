"""`vcsmatch catalogue ...`: import, validate, export, inspect and roll back catalogues.

Thin: parsing and printing only. Importing is ``vcsmatch.catalogue.importing``; storing and
activating versions is ``vcsmatch.store.catalogue_versions``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from vcsmatch.errors import ImportFailed, NotFoundError, VcsmatchError

catalogue_app = typer.Typer(
    name="catalogue",
    help="Import, validate, export and roll back the service catalogue.",
    no_args_is_help=True,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class FormatChoice(StrEnum):
    auto = "auto"
    hsds3 = "hsds3"
    oruk3 = "oruk3"
    oruk = "oruk"
    outpost = "outpost"


FileArg = Annotated[
    Path, typer.Argument(help="A JSON file, or a directory of page files.", show_default=False)
]
FormatOpt = Annotated[
    FormatChoice, typer.Option("--format", "-f", help="The file's format; auto detects it.")
]
CrosswalkOpt = Annotated[
    Path | None,
    typer.Option(help="CSV mapping the source's taxonomy terms to vcsmatch codes."),
]


def _sessions():  # noqa: ANN202 - a sessionmaker; typed in vcsmatch.store.db
    from vcsmatch.settings import get_settings
    from vcsmatch.store.db import open_store

    return open_store(get_settings())


def parse_share(text: str) -> float:
    """``5%``, ``5`` (both per cent) or ``0.05`` as a share from 0 to 1."""
    raw = text.strip().removesuffix("%")
    try:
        value = float(raw)
    except ValueError:
        raise typer.BadParameter(f"expected a share such as 5% or 0.05, got {text!r}") from None
    share = value / 100 if text.strip().endswith("%") or value > 1 else value
    if not 0 <= share <= 1:
        raise typer.BadParameter(f"expected a share from 0% to 100%, got {text!r}")
    return share


def _run_import(  # noqa: ANN202
    file: Path,
    fmt: FormatChoice,
    skip_invalid: bool,
    crosswalk: Path | None,
    max_invalid: float = 0.0,
):
    """Read ``file``; print the report and exit 1 when the import is refused."""
    from vcsmatch.catalogue.importing import import_file

    if not file.exists():
        err.print(f"error: {file} does not exist")
        raise typer.Exit(2)
    try:
        result = import_file(
            file,
            fmt.value,
            skip_invalid=skip_invalid,
            crosswalk=crosswalk,
            progress=True,
            max_invalid=max_invalid,
        )
    except ImportFailed as exc:
        report = getattr(exc, "report", None)
        if report is not None and hasattr(report, "to_text"):
            out.print(report.to_text(), markup=False)
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(1) from None
    except (VcsmatchError, ValueError, OSError) as exc:
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(1) from None
    return result


@catalogue_app.command("import")
def import_(
    file: FileArg,
    format: FormatOpt = FormatChoice.auto,  # noqa: A002 - the option is --format
    skip_invalid: Annotated[
        bool, typer.Option(help="Import the valid records and report the rest, however many.")
    ] = False,
    crosswalk: CrosswalkOpt = None,
    max_invalid: Annotated[
        str,
        typer.Option(
            help="Import the valid records and name each rejected one, unless more than this "
            "share of the records is invalid (5%, 0.05)."
        ),
    ] = "5%",
    strict: Annotated[
        bool, typer.Option(help="Refuse the whole import if any record is invalid.")
    ] = False,
) -> None:
    """Import FILE as a new catalogue version and serve it. Refused imports store nothing.

    Real feeds carry the odd bad record: by default every valid record is imported and each
    rejected one is named (record id, field, reason); the import is refused only when more
    than --max-invalid of the records are invalid, or with --strict.
    """
    from vcsmatch.store import catalogue_versions

    share = 0.0 if strict else parse_share(max_invalid)
    result = _run_import(file, format, skip_invalid and not strict, crosswalk, share)
    out.print(result.report.to_text(), markup=False)
    if len(result.catalogue) == 0:
        err.print("refused: no valid services to import; the current catalogue stays active")
        raise typer.Exit(1)
    sessions = _sessions()
    with (
        Progress(
            TextColumn("storing"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
        ) as bar,
        sessions() as session,
    ):
        task = bar.add_task("store", total=len(result.catalogue))
        version_id = catalogue_versions.save_catalogue(
            session,
            result.catalogue,
            source=str(file),
            report=result.report,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    out.print(
        f"stored as catalogue version {version_id} ({len(result.catalogue)} services); active"
    )
    from vcsmatch.learner import ensure_day_one
    from vcsmatch.settings import get_settings

    day_one = ensure_day_one(sessions, get_settings())
    if day_one is not None:
        out.print(
            f"no model yet: registered day-one model {day_one} (needs met, strengths, distance, "
            "delivery mode and eligibility); suggestions work now and it learns from ratings"
        )


@catalogue_app.command()
def validate(
    file: FileArg,
    format: FormatOpt = FormatChoice.auto,  # noqa: A002 - the option is --format
    crosswalk: CrosswalkOpt = None,
) -> None:
    """Check FILE and print the report. Stores nothing; exit code 1 when it would be refused."""
    result = _run_import(file, format, False, crosswalk)
    out.print(result.report.to_text(), markup=False)
    out.print(f"valid: {len(result.catalogue)} services would be imported")


@catalogue_app.command()
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the active catalogue as HSDS 3.0 JSON (a list of service objects)."""
    from vcsmatch.catalogue.hsds3 import write_hsds3
    from vcsmatch.store import catalogue_versions

    with _sessions()() as session:
        found = catalogue_versions.active_catalogue(session)
    if found is None:
        err.print("error: the store holds no catalogue yet; import one first")
        raise typer.Exit(1)
    version_id, catalogue = found
    if output is None:
        typer.echo(json.dumps(write_hsds3(catalogue), ensure_ascii=False, indent=2))
        return
    write_hsds3(catalogue, output)
    err.print(f"wrote {len(catalogue)} services (version {version_id}) to {output}")


@catalogue_app.command()
def stats() -> None:
    """Counts for the active catalogue: services, statuses, needs, delivery modes, places."""
    from vcsmatch.store import catalogue_versions

    with _sessions()() as session:
        s = catalogue_versions.active_stats(session)
    if s is None:
        err.print("the store holds no catalogue yet")
        raise typer.Exit(1)
    out.print(f"catalogue version {s.version_id}: {s.n_services} services, {s.n_active} active")
    out.print(
        f"with a located place: {s.with_location}; with a service area: "
        f"{s.with_service_area}; unmapped external terms: {s.n_unmapped_terms}"
    )
    for title, counts in (
        ("status", s.by_status),
        ("delivery mode", s.by_delivery_mode),
        ("need", s.by_need),
        ("activity", s.by_activity),
    ):
        table = Table(title=f"by {title}", show_header=True)
        table.add_column(title)
        table.add_column("services", justify="right")
        for key, n in counts.items():
            table.add_row(key, str(n))
        out.print(table)


@catalogue_app.command()
def versions() -> None:
    """List catalogue versions, newest first; the active one is marked with *."""
    from vcsmatch.store import catalogue_versions

    with _sessions()() as session:
        rows = catalogue_versions.list_versions(session)
    if not rows:
        err.print("no catalogue versions yet")
        return
    # plain lines, not a table: sources are long paths and operators grep this output
    for v in rows:
        out.print(
            f"{'*' if v.active else ' '} {v.id:>4}  {v.created_at:%Y-%m-%d %H:%M:%S}  "
            f"{v.status:<7}  {v.n_services:>6} services  {v.source or ''}",
            markup=False,
        )


@catalogue_app.command()
def activate(
    version: Annotated[int, typer.Argument(help="The version id (see `catalogue versions`).")],
) -> None:
    """Serve catalogue VERSION from now on (roll back or forward). Workers pick it up."""
    from vcsmatch.store import catalogue_versions

    with _sessions()() as session:
        try:
            v = catalogue_versions.activate_version(session, version)
        except NotFoundError as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(1) from None
    out.print(f"catalogue version {v.id} ({v.n_services} services) is now active")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(catalogue_app, name="catalogue")
