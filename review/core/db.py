"""Engines and sessions, built from :class:`review.core.config.Settings`.

SQLite runs in WAL mode with foreign keys enforced and a busy timeout, so that the
reviewer app and a generation job can share one file. PostgreSQL goes through psycopg 3.
:class:`Database` is what a long-running process (``review serve``) holds: the engine and,
for SQLite, the queue of this process's writers.

Example::

    engine = make_engine(Settings())
    with session_scope(engine) as session:
        session.add(Reviewer(name="ana", role="reviewer", password_hash=hash_password("pw")))
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy import URL, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from review.core.config import Settings
from review.core.errors import ReviewError


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported as given
        return url


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL points at; None for an in-memory database.

    Understands the URI form too, e.g. a read-only connection
    ``sqlite:///file:/srv/review.db?mode=ro&uri=true``.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    database = parsed.database
    if not database or database == ":memory:":
        return None
    if str(parsed.query.get("uri", "")).lower() in ("true", "1") and database.startswith("file:"):
        path = unquote(urlsplit(database).path)
        if not path or path == ":memory:" or parsed.query.get("mode") == "memory":
            return None
        return Path(path)
    return Path(database)


def make_engine(settings: Settings | str) -> Engine:
    """Create an engine for ``settings.database_url`` (or a URL string).

    Raises :class:`ReviewError` for a URL that SQLAlchemy cannot parse or whose driver is
    unknown. Connection problems surface on first use; call :func:`check_connection` to
    turn them into a clear error early.
    """
    if isinstance(settings, str):
        settings = Settings(database_url=settings)
    url = settings.database_url
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ReviewError(f"invalid database URL {url!r}: expected e.g. sqlite:///review.db "
                          "or postgresql://user@host/dbname") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(
                parsed,
                connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000,
                              "check_same_thread": False},
            )
            _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise ReviewError(f"unsupported database URL {_redact(url)}: {exc}") from None
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001 - DBAPI types
        # Let SQLAlchemy issue BEGIN itself (see below), so that write transactions
        # can be taken with BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # noqa: ANN001
        # Readers use a deferred BEGIN so that they never block writers (WAL). Writers
        # that read first ask for IMMEDIATE (see write_session): it takes the write lock
        # up front, so two writers wait on busy_timeout instead of failing on upgrade.
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def check_connection(engine: Engine) -> None:
    """Open one connection, raising :class:`ReviewError` with a readable message on failure."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ReviewError(
            f"cannot connect to database {_redact(engine.url.render_as_string(hide_password=False))}: {reason}"
        ) from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def begin_write(session: Session) -> None:
    """Start the session's transaction as a write transaction.

    On SQLite this is ``BEGIN IMMEDIATE`` (call it before the first statement of the
    transaction); on PostgreSQL it does nothing, row locks do the work there.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any exception.

    ``write=True`` starts it with :func:`begin_write`.
    """
    session = session_factory(engine)()
    try:
        if write:
            begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def finish_writes(session: Session) -> None:
    """End the writing part of a write transaction; what follows only reads.

    SQLite: commit now, so the database's single write lock is free while the rest is read
    (the session goes on in a new transaction), and let the next writer of this process in
    (see :meth:`Database.session`). PostgreSQL: nothing; reading on in the same transaction
    saves round trips, and its row locks block no reader.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.commit()
        release = session.info.pop("release_writer", None)
        if release is not None:
            release()


class Database:
    """An engine and, on SQLite, an in-process queue for writers.

    SQLite has one writer at a time. Writers of this process queue on a lock, in order,
    instead of in SQLite's busy handler, which polls with sleeps of up to 100 ms.

    Example::

        database = Database(Settings())
        with database.session(write=True) as session:
            ...
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self._sqlite_writer = threading.Lock()

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction that commits on success; ``write=True`` for one that writes.

        A write session may call :func:`finish_writes` and go on reading.
        """
        if not (write and self.engine.dialect.name == "sqlite"):
            with session_scope(self.engine, write=write) as session:
                yield session
            return
        self._sqlite_writer.acquire()
        held = [True]

        def release() -> None:
            if held[0]:
                held[0] = False
                self._sqlite_writer.release()

        try:
            with session_scope(self.engine, write=True) as session:
                session.info["release_writer"] = release
                yield session
        finally:
            release()

    def dispose(self) -> None:
        self.engine.dispose()


def insert_unless_present(session: Session, model: type, values: dict, *,
                          unique: list[str]) -> None:
    """Insert one row unless a row with the same ``unique`` columns exists (then nothing).

    ``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL, so that a rerun after an
    interruption, or two processes at once, never store a row twice; on another backend a
    plain insert, which the unique constraint still guards.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(
        session.get_bind().dialect.name)
    if insert is None:
        session.add(model(**values))
        return
    session.execute(insert(model).values(**values).on_conflict_do_nothing(index_elements=unique))


def is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` is the database going away (a restart, a dropped connection), after
    which the same transaction can simply be run again."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc.orig, psycopg.OperationalError)


def retry_on_disconnect(fn):  # noqa: ANN001, ANN201 - a decorator
    """Run ``fn`` again while the database is away, for up to 15 s (waits of 0.1 s doubling to
    2 s): a PostgreSQL restart then costs a short delay, not an error. Only for work that is
    safe to repeat (every service of the web app is: a vote sent twice is stored once, a lease
    asked twice is the same lease)."""
    from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

    return retry(retry=retry_if_exception(is_disconnect), stop=stop_after_delay(15),
                 wait=wait_exponential(multiplier=0.1, max=2), reraise=True)(fn)
