"""The web site at /: the static site that ``catalog-server docs build`` writes into
``Settings.site_dir``, served as files.

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

from pathlib import Path

from flask import Blueprint, Response, current_app, redirect, request, send_file
from werkzeug.routing import PathConverter
from werkzeug.security import safe_join

web = Blueprint("web", __name__)

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
RESERVED = ("api", "helm", "v2")


class SitePathConverter(PathConverter):
    """A path that does not start with a reserved segment (``api``, ``helm``, ``v2``)."""

    regex = r"(?!(?:" + "|".join(RESERVED) + r")(?:/|$))[^/].*?"


@web.record_once
def _register_converter(state) -> None:
    state.app.url_map.converters["sitepath"] = SitePathConverter


def site_dir() -> Path:
    return Path(current_app.extensions["catalog_settings"].site_dir)


def _with_headers(response: Response, path: str) -> Response:
    response.headers["Content-Security-Policy"] = (
        SVG_CSP if path.lower().endswith(".svg") else PAGE_CSP
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # Pages change with every sync: a browser may keep them but must ask again.
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


def _not_built() -> Response:
    response = Response(
        "The web site has not been built yet: run `catalog-server docs build` "
        "(or `catalog-server sync`, which builds it after indexing).\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )
    return _with_headers(response, "")


def _not_found() -> Response:
    page = site_dir() / "404.html"
    if page.is_file():
        # Read whole (it is small): a streamed file left unread would stay open.
        response = Response(page.read_bytes(), status=404, content_type="text/html; charset=utf-8")
    else:
        response = Response("Not found\n", status=404, content_type="text/plain; charset=utf-8")
    return _with_headers(response, "404.html")


def _serve(path: str) -> Response:
    root = site_dir()
    if not (root / "index.html").is_file():
        return _not_built()
    target = safe_join(str(root), path) if path else str(root)
    if target is None:
        return _not_found()
    target_path = Path(target)
    if target_path.is_dir():
        if path and not path.endswith("/"):
            query = request.query_string.decode()
            return redirect(f"/{path}/" + (f"?{query}" if query else ""), 301)
        target_path = target_path / "index.html"
    if not target_path.is_file():
        return _not_found()
    response = send_file(target_path, max_age=0, conditional=True, etag=True)
    return _with_headers(response, target_path.name)


@web.get("/")
def home() -> Response:
    return _serve("")


@web.get("/<sitepath:path>")
def site_file(path: str) -> Response:
    return _serve(path)
