"""Apply ``sql/NNN_name.sql`` in order, once each, recorded in ``schema_migrations``.

Each file runs in its own transaction under an advisory lock, so two processes migrating at once
serialize, and a file that fails leaves the database at the previous version.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from fyplake.config import REPO_ROOT

logger = logging.getLogger(__name__)

SQL_DIR = REPO_ROOT / "sql"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x667970  # "fyp"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} is not named NNN_lower_snake.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {sql_dir}")
    return found


def migrate(dsn: str, sql_dir: Path = SQL_DIR) -> list[Migration]:
    """Apply pending migrations; returns those applied now (empty when up to date)."""
    import psycopg

    applied_now: list[Migration] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version     INTEGER PRIMARY KEY,
                       name        TEXT NOT NULL,
                       checksum    TEXT NOT NULL,
                       applied_at  TIMESTAMPTZ NOT NULL DEFAULT now())"""
            )
            done = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
            for mig in discover(sql_dir):
                if mig.version in done:
                    if done[mig.version] != mig.checksum:
                        logger.warning("migration %s changed after it was applied", mig.path.name)
                    continue
                with conn.transaction():
                    conn.execute(mig.path.read_text())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (mig.version, mig.name, mig.checksum),
                    )
                logger.info("applied migration %s", mig.path.name)
                applied_now.append(mig)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def current_version(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0
