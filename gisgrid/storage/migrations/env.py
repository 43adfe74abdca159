"""Alembic environment: runs on the connection gisgrid hands over (see gisgrid.storage). Every
table is on Base.metadata, so a compare (autogenerate) sees the whole schema."""

from alembic import context

from gisgrid.storage.schema import Base, include_object

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  include_object=include_object, compare_type=True, compare_server_default=True)
with context.begin_transaction():
    context.run_migrations()
