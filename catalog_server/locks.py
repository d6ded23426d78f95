"""One sync at a time per catalog, across processes and replicas.

On PostgreSQL a session-level advisory lock (keyed by the catalog name) is held on a
connection of its own for the whole sync, so replicas and cron jobs sharing the database
never index one catalog twice at once. On SQLite, whose database lives on one machine, a
file lock beside the cache does the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock
from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    return int.from_bytes(
        hashlib.sha256(f"catalog:{name}".encode()).digest()[:8], "big", signed=True
    )


@contextmanager
def catalog_lock(session: Session, name: str, cache_dir: Path | str) -> Iterator[None]:
    """Hold the catalog's sync lock; wait for another sync of the same catalog to end."""
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(name)})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
                conn.commit()
    else:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        with FileLock(str(Path(cache_dir) / f"{name}.sync.lock")):
            yield
