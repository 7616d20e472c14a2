"""Create or upgrade the database schema with the Alembic migrations (``review init``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine


def migrations_dir() -> Path:
    """The ``migrations/`` folder, installed as a package beside ``review``."""
    import migrations

    return Path(migrations.__file__).resolve().parent


def alembic_config(engine: Engine | None = None):  # noqa: ANN201 - alembic.config.Config
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if engine is not None:
        # Alembic's config is a ConfigParser: a literal % (percent-encoded passwords, paths)
        # must be doubled or it is read as interpolation syntax.
        url = engine.url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_head(engine: Engine) -> str | None:
    """Apply every pending migration; return the revision the database is now at."""
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
