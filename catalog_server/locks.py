"""One sync at a time per catalog, across processes and replicas.

On PostgreSQL a session-level advisory lock (keyed by the catalog name) is held on a
connection of its own for the whole sync, so replicas and cron jobs sharing the database
never index one catalog twice at once. On SQLite, whose database lives on one machine, a
file lock beside the cache does the same. The stored web site has a lock of its own, so
two processes never write its shared pages (the home page) at once.
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


# The stored web site's lock; "site:" never starts a catalog's key ("catalog:<name>").
SITE_LOCK_KEY = int.from_bytes(hashlib.sha256(b"site:").digest()[:8], "big", signed=True)


@contextmanager
def catalog_lock(session: Session, name: str, cache_dir: Path | str) -> Iterator[None]:
    """Hold the catalog's sync lock; wait for another sync of the same catalog to end."""
    with _lock(session, lock_key(name), Path(cache_dir) / f"{name}.sync.lock"):
        yield


@contextmanager
def site_lock(session: Session, cache_dir: Path | str) -> Iterator[None]:
    """Hold the stored site's lock: one process at a time writes the site's pages."""
    # A name no catalog can have (catalog names are lower-case letters, digits and '-').
    with _lock(session, SITE_LOCK_KEY, Path(cache_dir) / "_site.lock"):
        yield


@contextmanager
def _lock(session: Session, key: int, lock_file: Path) -> Iterator[None]:
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
    else:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_file)):
            yield
