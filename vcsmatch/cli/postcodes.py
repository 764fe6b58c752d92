"""`vcsmatch postcodes ...`: import a council's postcode file, look a postcode up.

Thin: parsing and printing only; the work is ``vcsmatch.features.location``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from vcsmatch.errors import DataError, PostcodeError

postcodes_app = typer.Typer(
    name="postcodes",
    help="Postcode data: import overrides (ONS Postcode Directory), look postcodes up.",
    no_args_is_help=True,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

#: Bad rows printed before "... and N more".
_SHOWN_ERRORS = 20


@postcodes_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="ONS Postcode Directory CSV (pcds, lat, long) or any CSV of postcode, "
            "latitude, longitude.",
            show_default=False,
        ),
    ],
    replace: Annotated[
        bool, typer.Option(help="Drop postcodes imported before instead of merging.")
    ] = False,
) -> None:
    """Load postcodes that override the packaged Code-Point Open data."""
    from vcsmatch.features.location import import_overrides

    if not file.is_file():
        err.print(f"error: {file} does not exist")
        raise typer.Exit(2)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(f"importing {file.name}", total=None)
        try:
            report = import_overrides(
                file, replace=replace, on_rows=lambda n: progress.advance(task, n)
            )
        except (DataError, OSError, UnicodeDecodeError) as exc:
            err.print(f"refused: {exc}", markup=False)
            raise typer.Exit(1) from None
    for error in report.rejected[:_SHOWN_ERRORS]:
        err.print(f"rejected: {error}", markup=False)
    if report.n_rejected > _SHOWN_ERRORS:
        err.print(f"... and {report.n_rejected - _SHOWN_ERRORS:,} more rejected rows")
    out.print(
        f"imported {report.accepted:,} postcodes into {report.directory}; "
        f"rejected {report.n_rejected:,}; skipped {report.skipped_terminated:,} terminated",
        markup=False,
    )
    if report.accepted == 0:
        raise typer.Exit(1)


@postcodes_app.command("lookup")
def lookup_command(
    postcode: Annotated[str, typer.Argument(help="A unit postcode or an outward code.")],
) -> None:
    """Print a postcode's latitude and longitude (outward codes: their centroid)."""
    from vcsmatch.features.location import (
        POSTCODE_ATTRIBUTION,
        get_postcode_directory,
        normalise_postcode,
    )

    try:
        key = normalise_postcode(postcode)
        lat, lon = get_postcode_directory().lookup(key)
    except PostcodeError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    typer.echo(f"{key}\t{lat:.6f}\t{lon:.6f}")  # tab-separated for scripts; rich expands tabs
    err.print(POSTCODE_ATTRIBUTION, markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(postcodes_app)
