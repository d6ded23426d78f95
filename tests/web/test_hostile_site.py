"""A template whose name, description, category, maintainer (and every other field that
reaches a page) is HTML that tries to end its element, run script or navigate away: the
pages show it as text, wherever it shows, both served by the app (with its content
security policy) and served as plain static files (with none)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import serve_catalog

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

NAME = (
    '</title><script>window.pwned="name"</script><meta http-equiv="refresh" '
    'content="0;url=https://evil.example/">Evil'
)
DESCRIPTION = (
    '"><img src=x onerror="window.pwned=\'description\'">'
    '<script>window.pwned="description"</script>'
)
CATEGORY = '"></option><script>window.pwned="category"</script><a href="https://evil.example/'
MAINTAINER = (
    "<b onmouseover=\"window.pwned='maintainer'\">Mallory</b>\"'>"
    '<script>window.pwned="maintainer"</script>'
)
INJECTED = (
    "meta[http-equiv], img[src='x'], [onerror], [onmouseover], a[href^='https://evil'], "
    "a[href^='javascript'], b"
)


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> Iterator[dict[str, str]]:
    """The hostile catalog indexed and its site built and exported; served by the app, and
    the export by a bare static file server that sends no content security policy.
    Yields {"app": url, "static": url, "site": the exported folder}."""
    served = serve_catalog(tmp_path_factory, "hostile-site-catalog", "site", exported=True)
    live = next(served)
    handler = functools.partial(_QuietFiles, directory=str(live.export_dir))
    static = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=static.serve_forever, daemon=True).start()
    try:
        yield {
            "app": live.url,  # its /api/ and /helm/ go to the app; pages are the export's
            "static": f"http://127.0.0.1:{static.server_address[1]}",
            "site": str(live.export_dir),
        }
    finally:
        static.shutdown()
        static.server_close()
        served.close()


def test_no_page_holds_the_hostile_markup_unescaped(hostile_site):
    pages = list(Path(hostile_site["site"]).rglob("*.html"))
    assert len(pages) > 5
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "<script>window.pwned" not in html, page
        assert "onerror=" not in html.replace("onerror=&#34;", "").replace("onerror=&quot;", "")
        assert '<meta http-equiv="refresh"' not in html, page


def _visit(page, url: str) -> list[str]:
    """Open ``url`` with every request to another host refused; return those requests."""
    elsewhere: list[str] = []
    origin = url.split("/", 3)[:3]

    def guard(route):
        if route.request.url.split("/", 3)[:3] != origin:
            elsewhere.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", guard)
    response = page.goto(url)
    assert response is not None and response.ok, url
    page.wait_for_load_state("networkidle")
    return elsewhere


def _assert_inert(page, url: str, elsewhere: list[str]) -> None:
    assert page.url.startswith(url.split("?")[0].rstrip("/")), "the page navigated away"
    assert elsewhere == []
    assert page.evaluate("window.pwned") is None
    assert page.eval_on_selector_all(INJECTED, "els => els.map(e => e.outerHTML)") == []
    # Only the site's own scripts, from its js/ folder.
    scripts = page.eval_on_selector_all("script", "els => els.map(e => e.src)")
    origin = "/".join(url.split("/", 3)[:3])
    assert scripts and all(
        src.startswith(origin + "/js/") and src.endswith(".js") for src in scripts
    ), scripts


@pytest.mark.parametrize("served", ["app", "static"])
def test_home_page_shows_hostile_fields_as_text(hostile_site, page, served):
    url = hostile_site[served] + "/"
    elsewhere = _visit(page, url)
    _assert_inert(page, url, elsewhere)
    assert page.title() == "Catalog"
    titles = page.eval_on_selector_all(".card-title", "els => els.map(e => e.textContent)")
    assert NAME in titles
    descriptions = page.eval_on_selector_all(
        ".card-description", "els => els.map(e => e.textContent)"
    )
    assert DESCRIPTION in descriptions
    alts = page.eval_on_selector_all(".card-icon", "els => els.map(e => e.alt)")
    assert f"{NAME} icon" in alts
    options = page.eval_on_selector_all("#category option", "els => els.map(e => e.value)")
    assert CATEGORY in options
    cards = page.eval_on_selector_all(".card", "els => els.map(e => e.dataset.categories)")
    assert CATEGORY in cards


@pytest.mark.parametrize("served", ["app", "static"])
def test_template_page_shows_hostile_fields_as_text(hostile_site, page, served):
    url = hostile_site[served] + "/catalogs/site/evil/"
    elsewhere = _visit(page, url)
    _assert_inert(page, url, elsewhere)
    assert page.title() == f"{NAME} · Catalog"
    assert page.text_content("h1") == NAME
    assert page.text_content(".template-heading .lead") == DESCRIPTION
    assert page.text_content(".chip") == CATEGORY
    facts = page.eval_on_selector_all(".facts dd", "els => els.map(e => e.textContent)")
    assert MAINTAINER in facts
    assert page.locator("text=Project site").count() == 0  # a javascript: URL is no link
    chip = page.get_attribute(".chip", "href")
    assert chip.startswith("../../../?category=") and "<" not in chip
    # The questions table and the install form (built by script from template.json).
    page.wait_for_selector("#install-app label")
    labels = page.eval_on_selector_all("label", "els => els.map(e => e.textContent)")
    assert any('<script>window.pwned="label"</script>Greeting' in label for label in labels)
    table = page.text_content("table.questions")
    assert "window.pwned='question'" in table
    assert page.evaluate("window.pwned") is None


@pytest.mark.parametrize("served", ["app", "static"])
def test_chart_page_shows_hostile_fields_as_text(hostile_site, page, served):
    url = hostile_site[served] + "/catalogs/site/charts%2Aevilchart/"
    elsewhere = _visit(page, url)
    _assert_inert(page, url, elsewhere)
    lead = page.text_content(".template-heading .lead")
    assert lead == '</title><script>window.pwned="chart description"</script>'
    commands = page.text_content("#helm-commands")
    assert '"><script>window.pwned="namespace"</script>' in commands
    assert page.evaluate("window.pwned") is None
