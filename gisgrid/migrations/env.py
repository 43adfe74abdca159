"""Alembic environment: runs on the connection gisgrid hands over (see gisgrid.store)."""

from alembic import context

from gisgrid.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
