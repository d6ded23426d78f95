"""The web site at /: the pages the sync process stores in the database with the index
(:mod:`catalog_server.docs.store`), served by every web process with no shared disk.

Each process keeps the pages it served in memory (:class:`PageCache`) for as long as the
stored site's token (:meth:`ServedState.site`, read at most every ``CATALOG_STATE_TTL``
seconds) is unchanged; a page's ETag is the digest of its content, so a browser
revalidates with 304 across syncs that did not change it. Pages are stored gzipped and sent
that way to clients that accept it.

The blueprint never shadows the API, the Helm repository or the OCI registry: its catch-all
route refuses paths under ``api/``, ``helm/`` and ``v2/`` (a converter), so those keep their
own 404 and 405 answers. A folder path serves its ``index.html``; a folder path without its
trailing slash is redirected, so the pages' relative links resolve; an unknown path gets the
site's ``404.html`` with status 404.

Every answer carries a content security policy: scripts only from the site itself, no
inline script, no eval, no plugins, no framing. SVG files are sandboxed on top of that, so
an icon opened directly cannot run script either.
"""

from __future__ import annotations

import gzip
import mimetypes
import threading
from collections import OrderedDict
from collections.abc import Callable

from flask import Blueprint, Response, current_app, redirect, request
from werkzeug.routing import PathConverter

from catalog_server.db import db
from catalog_server.responsecache import COMPRESSIBLE, served_state
from catalog_server.sitepages import StoredPage, stored_page

web = Blueprint("web", __name__)

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
RESERVED = ("api", "helm", "v2")
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".xml": "application/xml",
    ".gz": "application/gzip",
}
SENT_GZIPPED = (*COMPRESSIBLE, "image/svg+xml", "application/xml")


class SitePathConverter(PathConverter):
    """A path that does not start with a reserved segment (``api``, ``helm``, ``v2``)."""

    regex = r"(?!(?:" + "|".join(RESERVED) + r")(?:/|$))[^/].*?"


@web.record_once
def _register_converter(state) -> None:
    state.app.url_map.converters["sitepath"] = SitePathConverter
    state.app.extensions["page_cache"] = PageCache()


class PageCache:
    """Stored pages (and paths with none) a process has read, for one site token: a new
    token empties it. Bounded by count and bytes, least recently used first out."""

    def __init__(self, max_entries: int = 4096, max_bytes: int = 64 * 1024 * 1024):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._token: str | None = None
        self._entries: OrderedDict[str, StoredPage | None] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, token: str, path: str, load: Callable[[str], StoredPage | None]):
        """The page at ``path`` under ``token``: kept, or read with ``load`` and kept."""
        with self._lock:
            if token != self._token:
                self._token, self._entries, self._bytes = token, OrderedDict(), 0
            elif path in self._entries:
                self._entries.move_to_end(path)
                return self._entries[path]
        page = load(path)
        size = len(page.gzipped) if page else 0
        with self._lock:
            if token == self._token and path not in self._entries and size <= self.max_bytes // 8:
                self._entries[path] = page
                self._bytes += size
                while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                    _, dropped = self._entries.popitem(last=False)
                    self._bytes -= len(dropped.gzipped) if dropped else 0
        return page


def media_type(path: str) -> str:
    name = path.rpartition("/")[2].lower()
    suffix = "." + name.rpartition(".")[2] if "." in name else ""
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _with_headers(response: Response, path: str) -> Response:
    response.headers["Content-Security-Policy"] = (
        SVG_CSP if path.lower().endswith(".svg") else PAGE_CSP
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # Pages change with a sync: a browser may keep them but must ask again.
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


def _send(page: StoredPage, status: int = 200) -> Response:
    """The stored page, gzipped to clients that take it; 304 when the client holds it."""
    kind = media_type(page.path)
    compressible = kind.startswith(SENT_GZIPPED)
    gz = compressible and "gzip" in request.accept_encodings
    etag = f"{page.digest}-gz" if gz else page.digest
    if status == 200 and etag in request.if_none_match:
        response = Response(status=304)
    else:
        body = page.gzipped if gz else gzip.decompress(page.gzipped)
        response = Response(body, status=status, content_type=kind)
        if gz:
            response.headers["Content-Encoding"] = "gzip"
    if compressible:
        response.headers["Vary"] = "Accept-Encoding"
    if status == 200:
        response.set_etag(etag)
    return _with_headers(response, page.path)


def _not_built() -> Response:
    response = Response(
        "The web site has not been built yet: run `catalog-server docs build` "
        "(or `catalog-server sync`, which builds it after indexing).\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    return _with_headers(response, "")


def _page(token: str, path: str) -> StoredPage | None:
    cache: PageCache = current_app.extensions["page_cache"]
    return cache.get(token, path, lambda p: stored_page(db.session, p))


def _serve(path: str) -> Response:
    token, built = served_state().site()
    if not built:
        return _not_built()
    wanted = path + "index.html" if not path or path.endswith("/") else path
    page = _page(token, wanted)
    if page is None and path and not path.endswith("/") and _page(token, path + "/index.html"):
        query = request.query_string.decode()
        return redirect(f"/{path}/" + (f"?{query}" if query else ""), 301)
    if page is not None:
        return _send(page)
    missing = _page(token, "404.html")
    if missing is not None:
        return _send(missing, 404)
    response = Response("Not found\n", status=404, content_type="text/plain; charset=utf-8")
    return _with_headers(response, "404.html")


@web.get("/")
def home() -> Response:
    return _serve("")


@web.get("/<sitepath:path>")
def site_file(path: str) -> Response:
    return _serve(path)
