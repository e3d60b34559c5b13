"""Alembic's entry point. Migrations run on a connection that ``migrate.py`` hands over
(from the gateway's async engine, through ``run_sync``), so there is no URL or ini file to
keep in step with the gateway's settings."""

from alembic import context

from presence_gateway.adapters.sql.migrate import VERSION_TABLE
from presence_gateway.adapters.sql.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("run migrations with `presence-gateway db upgrade` (it passes the connection)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    # SQLite alters a table by copying it; alembic's batch mode does that.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
