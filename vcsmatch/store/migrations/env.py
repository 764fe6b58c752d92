"""Alembic environment. ``vcsmatch.store.db.migrate`` passes an open connection in; nothing here
reads alembic.ini or configures logging (the migrations ship inside the package)."""

from __future__ import annotations

from alembic import context

from vcsmatch.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only ``migrate(engine)`` runs these migrations
    raise RuntimeError("run migrations through vcsmatch.store.db.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
