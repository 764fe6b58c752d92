"""The ``vcsmatch`` command. Each module here registers its own commands on the one app."""

from __future__ import annotations

import typer

from vcsmatch.cli import catalogue, keys, learning, model, postcodes, serve

app = typer.Typer(
    name="vcsmatch",
    help="Match people to community and voluntary-sector services.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Match people to community and voluntary-sector services."""


@app.command()
def version() -> None:
    """Print vcsmatch's version."""
    from vcsmatch import __version__

    typer.echo(__version__)


for _module in (catalogue, postcodes, model, learning, keys, serve):
    _module.register(app)
