"""`vcsmatch keys ...`: create, list and revoke API keys.

A new key's plaintext is printed once and never stored (only its SHA-256 is).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vcsmatch.errors import NotFoundError

keys_app = typer.Typer(name="keys", help="Create, list and revoke API keys.", no_args_is_help=True)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class RoleChoice(StrEnum):
    practitioner = "practitioner"
    front_door = "front_door"
    analyst = "analyst"
    admin = "admin"
    manager = "manager"


def _sessions():  # noqa: ANN202 - a sessionmaker; typed in vcsmatch.store.db
    from vcsmatch.settings import get_settings
    from vcsmatch.store.db import open_store

    return open_store(get_settings())


@keys_app.command()
def create(
    role: Annotated[RoleChoice, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="Who or what holds the key (e.g. a team).")],
) -> None:
    """Create a key and print it ONCE: store it now, it cannot be shown again."""
    from vcsmatch.store import api_keys

    with _sessions()() as session:
        try:
            plaintext, record = api_keys.create_key(session, role.value, name)
        except ValueError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(2) from None
    err.print(f"created key {record.id} ({record.role}, {record.name}); it is shown only once:")
    typer.echo(plaintext)


@keys_app.command("list")
def list_() -> None:
    """List keys (id, role, name, prefix, created, revoked); never their secrets."""
    from vcsmatch.store import api_keys

    with _sessions()() as session:
        keys = api_keys.list_keys(session)
    if not keys:
        err.print("no API keys yet; create one with `vcsmatch keys create`")
        return
    table = Table(show_header=True)
    for col in ("id", "role", "name", "prefix", "created (UTC)", "revoked (UTC)"):
        table.add_column(col)
    for k in keys:
        table.add_row(
            str(k.id),
            k.role,
            k.name,
            k.prefix + "…",
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )
    out.print(table)


@keys_app.command()
def revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see `keys list`).")]) -> None:
    """Revoke a key: every worker refuses it from its next request."""
    from vcsmatch.store import api_keys

    with _sessions()() as session:
        try:
            record = api_keys.revoke_key(session, key_id)
        except NotFoundError as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(1) from None
    out.print(f"revoked key {record.id} ({record.role}, {record.name})")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(keys_app, name="keys")
