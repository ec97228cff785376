"""The metadata DB: SQLAlchemy models, engine and sessions, schema migrations with Alembic.

SQLite in the data dir by default, PostgreSQL through ``WAREHOUSE_DATABASE_URL``. The schema is owned
by the Alembic migrations in ``warehouse/migrations``; :func:`upgrade_schema` brings any database to
head and is safe to call on every start. Nothing connects at import.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, Integer, String, Text, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from sqlalchemy.engine import Engine

    from warehouse.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "warehouse_alembic_version"
"""Our own Alembic version table, so that a database shared with MLflow's Alembic never clashes."""
_UPGRADE_LOCK = threading.Lock()
"""Alembic's command context lives in module globals: two threads upgrading at once corrupt it."""


def utc_now() -> dt.datetime:
    """Timezone-aware now in UTC; every timestamp the warehouse stores is UTC."""
    return dt.datetime.now(dt.UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; a naive one (as SQLite gives stored timestamps back) is taken as UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the metadata tables."""


class AliasEvent(Base):
    """One move of a registry alias: who moved it, from which version to which, and why."""

    __tablename__ = "alias_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(200), index=True)
    alias: Mapped[str] = mapped_column(String(100))
    from_version: Mapped[str | None] = mapped_column(String(50))
    to_version: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class BatchRun(Base):
    """One batch-scoring run over a population, pinned to the exact model version it used."""

    __tablename__ = "batch_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(100), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    output_uri: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    job_name: Mapped[str | None] = mapped_column(String(100), index=True)
    """The scheduled job that started the run (None for an ad-hoc run); migration 0002_scheduling."""
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """The job's fire time this run serves (None for an ad-hoc run)."""
    plan: Mapped[str] = mapped_column(Text, default="")
    """JSON of what the run pinned at start (as-of, chunking, filter, thresholds); see scheduling.executor."""


class MetadataDB:
    """Engine and session factory for one metadata database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> MetadataDB:
        """Open the database the settings name (creating the data dir for SQLite)."""
        if settings.database_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings.metadata_url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    def upgrade_schema(self) -> None:
        """Apply every pending Alembic migration on every branch (idempotent)."""
        from alembic import command

        config = _alembic_config()
        with _UPGRADE_LOCK, self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


_upgraded_urls: set[str] = set()


def connect_metadata_db(settings: Settings) -> MetadataDB:
    """The metadata DB, its schema brought to head once per process and URL (the caller disposes it)."""
    db = MetadataDB.from_settings(settings)
    with _UPGRADE_LOCK:
        upgraded = db.url in _upgraded_urls
    if not upgraded:
        db.upgrade_schema()
        with _UPGRADE_LOCK:
            _upgraded_urls.add(db.url)
    return db


@contextmanager
def open_metadata_db(settings: Settings) -> Iterator[MetadataDB]:
    """The metadata DB at the current schema for one block; its connection pool is released after."""
    db = connect_metadata_db(settings)
    try:
        yield db
    finally:
        db.dispose()


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migration_heads() -> set[str]:
    """The head revisions of the metadata schema's migrations (what an up-to-date database records)."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(_alembic_config()).get_heads())


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    # WAL lets the server read while a batch run writes; busy_timeout waits instead of failing.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]  # DB-API connection
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
