"""Building the web site: the project docs with mkdocs, the catalog pages with the layout,
and the static export.

The site has two kinds of pages. The project docs (``docs/*.md``, and the lint rule and
API references generated from the code) and the theme's files depend only on the server's
release: :func:`docs_files` builds them with a real mkdocs build, and :func:`docs_key` says
which release they belong to. The catalog pages and the home page depend on the index:
:func:`catalog_server.docs.pages.template_site` makes one template's, and
:class:`~catalog_server.docs.layout.SiteLayout` puts the theme around them, a page at a
time; :func:`layout_key` names the theme and page code they were made with.

The served site is stored in the database (:mod:`catalog_server.docs.store`);
:func:`build_site` writes the same files as a static site into a folder, for any static
web server.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from filelock import FileLock
from sqlalchemy.orm import Session

from catalog_server import queries
from catalog_server.docs.layout import (
    DOCS_DIR,
    HOME_PATH,
    MKDOCS_CONFIG,
    THEME_DIR,
    SiteLayout,
    load_mkdocs_config,
)
from catalog_server.docs.pages import SEARCH_INDEX_PATH, TemplateSite, home_site, template_site
from catalog_server.docs.reference import api_page, front_matter, lint_rules_page

PAGE_CODE_DIR = Path(__file__).resolve().parent  # the page templates and the code above

log = logging.getLogger(__name__)


class SiteBuildError(RuntimeError):
    """The site could not be built; the previous site, if any, is still in place."""


def reference_pages() -> dict[str, str]:
    """The generated reference pages, by path relative to the docs folder."""
    from catalog_server.openapi import openapi_document
    from catalog_server.validation import RULES

    return {
        "reference/lint-rules.md": lint_rules_page(RULES),
        "reference/api.md": api_page(openapi_document()),
    }


def _server_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("catalog-server")
    except PackageNotFoundError:
        return "unknown"


def _digest(*parts: str | bytes | Path) -> str:
    """sha256 over strings, bytes and every file below each folder given (sorted)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = sorted(p for p in part.rglob("*") if p.is_file()) if part.is_dir() else [part]
            for path in files:
                if path.suffix in (".pyc", ".pyo"):
                    continue
                h.update(path.relative_to(part.parent).as_posix().encode() + b"\0")
                h.update(path.read_bytes() if path.is_file() else b"(missing)")
                h.update(b"\0")
        else:
            h.update(part if isinstance(part, bytes) else part.encode())
            h.update(b"\0")
    return h.hexdigest()


@cache
def docs_key() -> str:
    """What the project docs part of the site is built from: the server's version,
    ``mkdocs.yml``, ``docs/``, the theme and the generated reference pages. Computed once
    per process: it only changes with a new release of the server."""
    pages = reference_pages()
    return _digest(
        "docs",
        _server_version(),
        MKDOCS_CONFIG,
        DOCS_DIR,
        THEME_DIR,
        *(f"{path}\n{text}" for path, text in sorted(pages.items())),
    )


@cache
def layout_key() -> str:
    """What every catalog page is made with besides the index: the server's version,
    ``mkdocs.yml`` (the nav), the theme, and the page templates and code. Computed once
    per process."""
    return _digest("layout", _server_version(), MKDOCS_CONFIG, THEME_DIR, PAGE_CODE_DIR)


def _run_mkdocs(docs_dir: Path, out_dir: Path) -> None:
    from mkdocs.commands.build import build
    from mkdocs.exceptions import MkDocsException

    try:
        build(load_mkdocs_config(docs_dir=str(docs_dir), site_dir=str(out_dir)))
    except (MkDocsException, OSError) as exc:
        raise SiteBuildError(f"mkdocs could not build the site: {exc}") from exc


def docs_files() -> dict[str, bytes]:
    """Every file of the site that does not come from the index, by path: the project docs
    and reference pages built by mkdocs, ``404.html``, and the theme's CSS, scripts and
    images. Raises SiteBuildError when mkdocs fails or the sources are missing."""
    if not MKDOCS_CONFIG.is_file():
        raise SiteBuildError(f"{MKDOCS_CONFIG} is missing: the site sources are not here")
    with tempfile.TemporaryDirectory(prefix="catalog-docs-") as folder:
        docs_dir, out_dir = Path(folder) / "docs", Path(folder) / "site"
        if DOCS_DIR.is_dir():
            shutil.copytree(DOCS_DIR, docs_dir)
        pages = {
            **reference_pages(),
            # The nav's home page comes from the index (home_site); this one is dropped.
            "index.md": front_matter("Templates", page_class="home-page"),
        }
        for rel, text in pages.items():
            target = docs_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _run_mkdocs(docs_dir, out_dir)
        return {
            path.relative_to(out_dir).as_posix(): path.read_bytes()
            for path in sorted(out_dir.rglob("*"))
            if path.is_file() and path.relative_to(out_dir).as_posix() != HOME_PATH
        }


def rendered_files(layout: SiteLayout, site: TemplateSite) -> dict[str, bytes]:
    """A template's pages with the layout around them, and its data files, by path."""
    files = dict(site.files)
    for page in site.pages:
        files[page.path] = layout.render(page).encode("utf-8")
    return files


def catalog_files(session: Session, layout: SiteLayout) -> Iterator[dict[str, bytes]]:
    """Every template's files (as :func:`rendered_files`), one template at a time, then
    the home page and the search index. Raises SiteBuildError naming a template whose
    pages cannot be made."""
    listings = []
    for catalog, slug, _ in queries.template_generations(session):
        if "~" in catalog:  # a preview (catalog_server.previews): served, never exported
            continue
        try:
            site = template_site(session, catalog, slug)
            files = rendered_files(layout, site)
        except Exception as exc:  # one template's bug must name it, not stop in a traceback
            message = f"the pages of {catalog}/{slug} could not be made: {exc!r}"
            raise SiteBuildError(message) from exc
        listings.append(site.listing)
        yield files
    home, index = home_site(listings)
    yield {home.path: layout.render(home).encode("utf-8"), SEARCH_INDEX_PATH: index}


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
    """Write the complete site, from the index, as static files into ``out_dir`` and
    return it: what the server serves at ``/``, for any static web server.

    One build runs at a time per ``out_dir`` (a lock file beside it). Raises SiteBuildError
    when the site cannot be built; ``out_dir`` then still holds the previous site.
    """
    out_dir = Path(out_dir).absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out_dir.parent / f".{out_dir.name}.lock"))
    # The scratch folder sits beside out_dir, so the final rename stays on one filesystem.
    scratch = tempfile.TemporaryDirectory(prefix=".site-build-", dir=out_dir.parent)
    with lock, scratch as folder:
        built = Path(folder) / "site"
        count = _write_files(built, docs_files())
        layout = SiteLayout()
        for files in catalog_files(session, layout):
            count += _write_files(built, files)
        _swap_in(built, out_dir)
    log.info("site written to %s (%d files)", out_dir, count)
    return out_dir


def _write_files(root: Path, files: dict[str, bytes]) -> int:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return len(files)
