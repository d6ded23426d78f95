"""Fixtures for the web site tests: the site-catalog fixture indexed and built, served by
a real HTTP server in a thread, and a headless chromium driven by Playwright.

Every live server comes twice: the app serving the site it stores in the database, and the
static export (`catalog-server docs build --out`) served by a plain static web server set up
as docs/deployment.md says, with only /api/, /helm/ and /v2/ passed to the app. The browser
tests run against both. Pages may not load anything from another host: the browser is
offline but for the server under test.

The browser is Debian's chromium (/usr/bin/chromium), never one Playwright downloads; on a
machine without it, or without the playwright package, the browser tests skip and say why.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import git
import pytest
from werkzeug.serving import make_server

from catalog_server.app import create_app
from catalog_server.catalogs import CatalogSource
from catalog_server.config import Settings
from catalog_server.db import db

DATA = Path(__file__).parent.parent / "data"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = Path(__file__).parent.parent.parent / "test-output" / "web"


def git_catalog(path: Path, fixture: str) -> Path:
    """A git repository at ``path`` holding the fixture catalog ``tests/data/<fixture>``."""
    shutil.copytree(DATA / fixture, path)
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "Catalog Tests")
        cfg.set_value("user", "email", "tests@example.com")
        cfg.set_value("commit", "gpgsign", "false")
    repo.git.add("-A")
    repo.git.commit("-m", "site catalog")
    return path


def index_and_build(app, settings: Settings, source: CatalogSource) -> None:
    """Index ``source`` into the app's database and bring the stored (served) site up to
    date, as ``catalog-server sync`` does."""
    from catalog_server.docs.store import update_site
    from catalog_server.indexer import sync_catalog

    with app.app_context():
        summary = sync_catalog(db.session, source, cache_dir=settings.cache_dir)
        assert summary.status == "updated", summary
        update = update_site(db.session, settings.cache_dir)
        assert update.errors == [], update.errors


@pytest.fixture
def built_site(app, settings, tmp_path) -> Path:
    """The site-catalog fixture indexed as catalog ``site``, the served site brought up to
    date, and the same site exported as static files: the folder is returned."""
    from catalog_server.docs.build import build_site

    repo = git_catalog(tmp_path / "site-catalog", "site-catalog")
    index_and_build(app, settings, CatalogSource(name="site", url=str(repo)))
    with app.app_context():
        return build_site(db.session, tmp_path / "exported-site")


@dataclass
class LiveServer:
    url: str
    settings: Settings
    exported: bool = False
    export_dir: Path | None = None  # the exported site's folder, when exported


class StaticSite:
    """A plain static web server for an exported site, set up as docs/deployment.md says: a
    folder serves its index.html (a folder without its trailing slash is redirected),
    unknown paths get 404.html, pages are sent with the content security policy (SVG files
    sandboxed), and /api/, /helm/ and /v2/ go to the app."""

    def __init__(self, root: Path, app):
        self.root, self.app = root, app

    def __call__(self, environ, start_response):
        from werkzeug.security import safe_join
        from werkzeug.utils import redirect, send_file
        from werkzeug.wrappers import Response

        from catalog_server.web import PAGE_CSP, SVG_CSP

        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
        if path.split("/")[1] in ("api", "helm", "v2"):
            return self.app(environ, start_response)
        target = safe_join(str(self.root), path.lstrip("/"))
        found = Path(target) if target else None
        if found is not None and found.is_dir():
            if not path.endswith("/"):
                return redirect(path + "/", 301)(environ, start_response)
            found = found / "index.html"
        if found is not None and found.is_file():
            response = send_file(found, environ, max_age=0)
        else:
            body = (self.root / "404.html").read_bytes()
            response = Response(body, status=404, content_type="text/html; charset=utf-8")
        svg = found is not None and found.suffix == ".svg"
        response.headers["Content-Security-Policy"] = SVG_CSP if svg else PAGE_CSP
        return response(environ, start_response)


def serve_catalog(
    tmp_path_factory, fixture: str | None, name: str, exported: bool = False
) -> Iterator[LiveServer]:
    """The app on SQLite with ``tests/data/<fixture>`` (the bundled catalog for None) indexed
    as catalog ``name`` and the site built, served over HTTP on 127.0.0.1 and a free port
    until the generator ends: by the app, or ``exported`` as static files (StaticSite)."""
    from flask_migrate import upgrade

    from catalog_server.catalogs import bundled_source
    from catalog_server.docs.build import build_site

    base = tmp_path_factory.mktemp("live")
    settings = Settings.from_env(
        {
            "CATALOG_INSTANCE_DIR": str(base / "instance"),
            "CATALOG_DATABASE_URL": f"sqlite:///{base / 'catalog.db'}",
            "CATALOG_CACHE_DIR": str(base / "cache"),
            "CATALOG_STATE_TTL": "0",
        }
    )
    app = create_app({"TESTING": True}, settings=settings)
    with app.app_context():
        upgrade()
    if fixture is None:
        source = bundled_source()
    else:
        source = CatalogSource(name=name, url=str(git_catalog(base / fixture, fixture)))
    index_and_build(app, settings, source)
    wsgi, export_dir = app, None
    if exported:
        with app.app_context():
            export_dir = build_site(db.session, base / "export")
        wsgi = StaticSite(export_dir, app)
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", settings, exported, export_dir)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


SERVED_AS = ["served", "exported"]


@pytest.fixture(scope="module", params=SERVED_AS)
def live_server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """The site-catalog fixture as catalog ``site``, served for the whole module."""
    yield from serve_catalog(tmp_path_factory, "site-catalog", "site", request.param == "exported")


@pytest.fixture(scope="module", params=SERVED_AS)
def values_server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """The values-catalog fixture (charts without questions) as catalog ``vals``."""
    yield from serve_catalog(
        tmp_path_factory, "values-catalog", "vals", request.param == "exported"
    )


@pytest.fixture(scope="module", params=SERVED_AS)
def metadata_server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """The chart-metadata fixture (Rancher and Artifact Hub annotations) as catalog ``lib``."""
    yield from serve_catalog(tmp_path_factory, "chart-metadata", "lib", request.param == "exported")


@pytest.fixture(scope="module", params=SERVED_AS)
def bundled_server(request, tmp_path_factory) -> Iterator[LiveServer]:
    """The bundled catalog (catalog/) as catalog ``library``."""
    yield from serve_catalog(tmp_path_factory, None, "library", request.param == "exported")


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through Playwright; skips when either is missing."""
    if not CHROMIUM.exists():
        reason = f"browser tests need Debian's chromium at {CHROMIUM}: apt-get install chromium"
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (pip install -e '.[browser]')")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors and CSP violations the site causes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.console_errors = []
    # The browser logs every 4xx answer; the install form's 422 is expected, not an error.
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and "status of 422" not in m.text
            and page.console_errors.append(m.text)
        ),
    )
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    # Offline but for the server under test: anything a page would load from another host
    # (a CDN, a font, an analytics script) is refused and recorded. Following a link the
    # user clicks is navigation, not a load: refused, not recorded.
    page.external_loads = []

    def offline(route, request):
        if urlsplit(request.url).hostname in ("127.0.0.1", "localhost"):
            return route.continue_()
        if not request.is_navigation_request():
            page.external_loads.append(request.url)
        return route.abort()

    context.route("**/*", offline)
    try:
        yield page
    finally:
        context.close()
    assert page.external_loads == [], "the site loads from other hosts"


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT
