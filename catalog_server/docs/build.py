"""Build the static web site: hand-written docs, generated pages, the mkdocs theme.

:func:`build_site` copies ``docs/`` to a scratch folder, writes the generated pages into it
(catalog pages from the index, the lint rule and API references from the code), runs mkdocs
with the project's ``mkdocs.yml`` (theme, JS and CSS in ``site/``), and swaps the result
into place. Readers, the Flask blueprint or any web server, see the old site or the new one,
never a half-written one. :func:`rebuild` is what ``catalog-server sync`` calls after a
catalog changed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from filelock import FileLock
from sqlalchemy.orm import Session

from catalog_server.config import PROJECT_ROOT
from catalog_server.docs.pages import catalog_pages
from catalog_server.docs.reference import api_page, lint_rules_page

MKDOCS_CONFIG = PROJECT_ROOT / "mkdocs.yml"
DOCS_DIR = PROJECT_ROOT / "docs"

log = logging.getLogger(__name__)


class SiteBuildError(RuntimeError):
    """The site could not be built; the previous site, if any, is still in place."""


def reference_pages() -> dict[str, str]:
    """The generated reference pages, by path relative to the docs folder."""
    from catalog_server.api.openapi import openapi_document
    from catalog_server.validation import RULES

    return {
        "reference/lint-rules.md": lint_rules_page(RULES),
        "reference/api.md": api_page(openapi_document()),
    }


def write_sources(session: Session, docs_dir: Path) -> int:
    """Fill ``docs_dir`` with the hand-written docs and every generated page.

    Returns the number of generated files.
    """
    if DOCS_DIR.is_dir():
        shutil.copytree(DOCS_DIR, docs_dir, dirs_exist_ok=True)
    generated: dict[str, str | bytes] = {**reference_pages(), **catalog_pages(session)}
    for rel, content in generated.items():
        target = docs_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return len(generated)


def _run_mkdocs(docs_dir: Path, out_dir: Path) -> None:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    # mkdocs logs every page that is not in the nav (every template page) at INFO.
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    try:
        config = load_config(
            config_file=str(MKDOCS_CONFIG), docs_dir=str(docs_dir), site_dir=str(out_dir)
        )
        build(config)
    except (MkDocsException, OSError) as exc:
        raise SiteBuildError(f"mkdocs could not build the site: {exc}") from exc


def _swap_in(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``: two renames, so a reader never sees a partial site."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_site(session: Session, out_dir: Path) -> Path:
    """Build the whole site from the index into ``out_dir`` and return ``out_dir``.

    One build runs at a time per ``out_dir`` (a lock file beside it). Raises SiteBuildError
    when mkdocs fails; ``out_dir`` then still holds the previous site.
    """
    if not MKDOCS_CONFIG.is_file():
        raise SiteBuildError(f"{MKDOCS_CONFIG} is missing: the site sources are not here")
    out_dir = Path(out_dir).absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out_dir.parent / f".{out_dir.name}.lock"))
    # The scratch folder sits beside out_dir, so the final rename stays on one filesystem.
    scratch = tempfile.TemporaryDirectory(prefix=".site-build-", dir=out_dir.parent)
    with lock, scratch as folder:
        docs_dir, built = Path(folder) / "docs", Path(folder) / "site"
        count = write_sources(session, docs_dir)
        _run_mkdocs(docs_dir, built)
        _swap_in(built, out_dir)
    log.info("site built into %s (%d generated files)", out_dir, count)
    return out_dir


def rebuild(session: Session, out_dir: Path) -> Path | None:
    """Rebuild the site after a sync changed a catalog. Logs and returns None on failure:
    a site that cannot be rebuilt must not fail the sync, and the old site stays served."""
    try:
        return build_site(session, out_dir)
    except SiteBuildError as exc:
        log.error("%s", exc)
        return None
