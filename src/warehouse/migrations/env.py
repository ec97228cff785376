"""Alembic environment: runs migrations on the connection handed over by ``MetadataDB``."""

from __future__ import annotations

from alembic import context

from warehouse.db import VERSION_TABLE, Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
