"""Alembic environment: the URL comes from review's Settings (REVIEW_DATABASE_URL).

`review init` runs these migrations programmatically and hands over its own connection
through ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from review.core.config import Settings
from review.core.db import make_engine
from review.core.models import Base

config = context.config
target_metadata = Base.metadata


def _render_item(type_, obj, autogen_context):  # noqa: ANN001 - alembic hook signature
    # Our UTCDateTime is a plain timezone-aware DateTime in the schema.
    if type_ == "type" and obj.__class__.__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(Settings())
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; point REVIEW_DATABASE_URL at a database")
run_migrations_online()
