"""The stored web site, read side: what a web process serves at ``/``.

The sync process writes the pages into the database with the index
(:mod:`catalog_server.docs.store`); web processes only read them, a row at a time, and
never run git or mkdocs. Each page is kept gzip-compressed with the sha256 of its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_server.models import SitePage, SitePart


@dataclass(frozen=True)
class StoredPage:
    path: str
    digest: str  # sha256 of the uncompressed content
    gzipped: bytes


def site_state(session: Session) -> list[tuple[Any, ...]]:
    """What the stored pages depend on, one row per part of the site: name, key and
    revision (bumped with every write of the part's pages). Empty when the site has never
    been built."""
    rows = session.execute(
        select(SitePart.name, SitePart.key, SitePart.revision).order_by(SitePart.name)
    )
    return [tuple(row) for row in rows]


def stored_page(session: Session, path: str) -> StoredPage | None:
    """The stored file at ``path`` (``index.html``, ``catalogs/lib/x/index.html``), or None."""
    row = session.execute(
        select(SitePage.digest, SitePage.content).where(SitePage.path == path)
    ).first()
    return None if row is None else StoredPage(path, row.digest, row.content)
