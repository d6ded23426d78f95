"""The web site in a real browser: search and filters, template pages, the install form
against the manifest API, Helm commands, hostile content kept inert, and accessibility
basics (alt text, labels, titles). Screenshots go to test-output/web/."""

from __future__ import annotations

import re

import pytest

from catalog_server import helmsdk

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def _goto(page, url: str):
    response = page.goto(url)
    assert response is not None and response.ok, url
    page.wait_for_load_state("networkidle")
    return response


def _check_accessibility(page) -> None:
    """Every page has a title, every image alt text, every form control a label."""
    assert page.title().strip()
    missing_alt = page.eval_on_selector_all(
        "img", "els => els.filter(e => !e.hasAttribute('alt')).map(e => e.outerHTML)"
    )
    assert missing_alt == []
    icons = page.eval_on_selector_all(".card-icon, .template-icon", "els => els.map(e => e.alt)")
    assert all(alt.strip() for alt in icons)
    unlabelled = page.eval_on_selector_all(
        "input, select, textarea",
        """els => els.filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length)
                 && !e.getAttribute('aria-label')).map(e => e.outerHTML)""",
    )
    assert unlabelled == []


def _visible_cards(page) -> list[str]:
    return page.eval_on_selector_all(
        "#cards .card:not([hidden]) .card-title", "els => els.map(e => e.textContent.trim())"
    )


def test_home_search_and_filters(live_server, page, output_dir):
    _goto(page, live_server.url + "/")
    assert page.title() == "Catalog"
    assert sorted(_visible_cards(page)) == ["Hostile", "Web App", "monitor"]
    _check_accessibility(page)
    page.screenshot(path=str(output_dir / "home.png"), full_page=True)

    page.fill("#search", "cache")
    assert _visible_cards(page) == ["Web App"]
    assert page.text_content("#result-count") == "1 template"
    assert "q=cache" in page.url

    page.fill("#search", "")
    page.select_option("#category", "Monitoring")
    assert _visible_cards(page) == ["monitor"]
    page.select_option("#category", "")
    page.select_option("#kind", "compose")
    assert sorted(_visible_cards(page)) == ["Hostile", "Web App"]

    page.fill("#search", "no-such-template-anywhere")
    assert _visible_cards(page) == []
    assert page.is_visible("#no-results")

    # The filters live in the address, so a filtered list can be linked to.
    _goto(page, live_server.url + "/?category=Web")
    assert _visible_cards(page) == ["Web App"]

    page.set_viewport_size({"width": 390, "height": 844})
    _goto(page, live_server.url + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the home page scrolls sideways on a phone"
    page.screenshot(path=str(output_dir / "home-phone.png"), full_page=True)
    assert page.console_errors == []


def test_template_page_readme_versions_and_install(live_server, page, output_dir):
    _goto(page, live_server.url + "/")
    page.click("text=Web App")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/catalogs/site/webapp/")
    assert page.title() == "Web App · Catalog"
    assert page.is_visible(".template-icon")
    readme = page.text_content(".readme-body")
    assert "Runs webapp behind a cache" in readme
    assert page.locator(".readme-body table").count() == 1
    versions = page.eval_on_selector_all(
        "table.versions tbody tr td:first-child a", "els => els.map(e => e.textContent)"
    )
    assert versions == ["1.1.0", "1.0.0"]
    assert "Platform Team" in page.text_content(".facts")
    assert page.locator("#upgrades").is_visible()
    assert page.locator("table.questions").count() == 3  # Image, Network, Settings
    page.wait_for_selector("#install-form fieldset legend")
    legends = page.eval_on_selector_all(
        "#install-form legend", "els => els.map(e => e.textContent)"
    )
    assert legends == ["Image", "Network", "Settings"]
    _check_accessibility(page)

    # show_if: the cache size appears only with the cache enabled.
    cache_size = page.locator('[data-variable="CACHE_SIZE"]')
    assert cache_size.is_hidden()
    page.get_by_label("Enable the cache").check()
    assert cache_size.is_visible()
    # Subquestions follow show_subquestion_if.
    cert = page.locator('[data-variable="TLS_CERT_NAME"]')
    assert cert.is_hidden()
    page.get_by_label("Serve TLS").check()
    assert cert.is_visible()
    assert page.get_by_label("Log level").evaluate("e => e.tagName") == "SELECT"
    assert page.get_by_label("Admin password").get_attribute("type") == "password"
    assert page.get_by_label("Message of the day").evaluate("e => e.tagName") == "TEXTAREA"
    assert page.get_by_label("Port").get_attribute("max") == "65535"

    # A bad answer: the API's message is shown at its field.
    page.get_by_label("Port").fill("70000")
    page.get_by_label("Cache size (MB)").fill("4")
    page.click("#render-button")
    port_error = page.locator('[data-variable="PORT"] .field-error')
    port_error.wait_for(state="visible")
    assert port_error.text_content() == "must be at most 65535"
    assert page.locator('[data-variable="CACHE_SIZE"] .field-error').text_content() == (
        "must be at least 16"
    )
    assert page.get_by_label("Port").get_attribute("aria-invalid") == "true"
    assert "failed the template's questions" in page.text_content("#form-status")

    # Fixed answers render the compose manifest.
    page.get_by_label("Port").fill("8081")
    page.get_by_label("Cache size (MB)").fill("128")
    page.get_by_label("Image tag").fill("1.1.7")
    page.click("#render-button")
    compose = page.locator('.manifest-file[data-path="docker-compose.yml"] pre')
    compose.wait_for()
    text = compose.text_content()
    assert "example/web:1.1.7" in text
    assert "8081:80" in text
    assert port_error.text_content() == ""
    paths = page.eval_on_selector_all(".manifest-file h3", "els => els.map(e => e.textContent)")
    assert ".env" in paths
    assert page.locator(".manifest-file button", has_text="Copy").count() >= 2
    with page.expect_download() as download:
        page.locator(
            '.manifest-file[data-path="docker-compose.yml"] button', has_text="Download"
        ).click()
    assert download.value.suggested_filename == "docker-compose.yml"
    page.screenshot(path=str(output_dir / "template.png"), full_page=True)

    # Another version rebuilds the form from its own questions.
    page.select_option("#install-version", "1.0.0")
    assert page.locator('[data-variable="CACHE_SIZE"]').count() == 0
    assert page.get_by_label("Image tag").input_value() == "1.0"
    assert page.console_errors == []


def test_helm_chart_page_shows_install_commands(live_server, page, output_dir):
    _goto(page, live_server.url + "/catalogs/site/charts%2Amonitor/")
    assert page.title() == "monitor · Catalog"
    commands = page.text_content("#helm-commands")
    origin = live_server.url
    assert f"helm repo add site {origin}/helm/site" in commands
    assert "helm install monitor site/monitor --version 1.0.0" in commands
    # The OCI reference names the host alone, and plain HTTP needs --plain-http.
    host = origin.removeprefix("http://")
    oci = page.text_content("#helm-oci-commands")
    assert f"helm install monitor oci://{host}/site/monitor --version 1.0.0" in oci
    assert oci.endswith(" --plain-http")
    assert "A monitoring agent" in page.text_content(".readme-body")
    _check_accessibility(page)
    # Rancher's spellings and shapes: show_subquestions_if, a list-valued enum, `!=`.
    page.wait_for_selector("#install-form legend")
    access = page.locator('[data-variable="persistence.accessModes"]')
    storage_class = page.locator('[data-variable="persistence.storageClass"]')
    assert access.is_hidden() and storage_class.is_hidden()
    page.get_by_label("Keep data").check()
    assert access.is_visible() and storage_class.is_hidden()
    page.get_by_label("Access mode").select_option(label="ReadWriteMany")
    assert storage_class.is_visible()
    if helmsdk.available():
        page.click("#render-button")
        values = page.locator('.manifest-file[data-path="values.yaml"] pre')
        values.wait_for()
        assert "accessModes:\n  - ReadWriteMany" in values.text_content()
    # The repository the commands name answers with this chart.
    index = page.request.get(origin + "/helm/site/index.yaml")
    assert index.ok and "monitor" in index.text()
    page.screenshot(path=str(output_dir / "helm-template.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    _goto(page, live_server.url + "/catalogs/site/webapp/")
    page.wait_for_selector("#install-form legend")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(output_dir / "template-phone.png"), full_page=True)


def test_hostile_readme_and_icon_stay_inert(live_server, page):
    _goto(page, live_server.url + "/catalogs/site/hostile/")
    page.wait_for_timeout(300)  # give any injected handler (onerror, onload) time to fire
    assert page.evaluate("window.__pwned === undefined")
    assert page.title() == "Hostile · Catalog"
    body = page.locator(".readme-body")
    assert "Ordinary text first" in body.text_content()
    assert body.locator("script, iframe").count() == 0
    handlers = body.evaluate(
        """root => [...root.querySelectorAll('*')].flatMap(e =>
             [...e.attributes].map(a => a.name).filter(n => n.startsWith('on') || n === 'style'))"""
    )
    assert handlers == []
    hrefs = body.evaluate(
        "root => [...root.querySelectorAll('a')].map(a => a.getAttribute('href'))"
    )
    assert not [h for h in hrefs if h and re.match(r"\s*javascript:", h, re.I)]
    # Clicking what is left of the links runs nothing.
    for link in body.locator("a").all():
        link.click(no_wait_after=True)
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned === undefined")
    # The question label and description from the catalog are text, not markup.
    page.wait_for_selector('[data-variable="GREETING"] label')
    assert "<img" in page.text_content('[data-variable="GREETING"] label')

    # The icon: shown with <img>, cleaned, and sandboxed even when opened directly.
    icon = page.locator(".template-icon")
    assert icon.get_attribute("src") == "icon.svg"
    assert icon.evaluate("e => e.complete && e.naturalWidth > 0")
    response = _goto(page, live_server.url + "/catalogs/site/hostile/icon.svg")
    assert "sandbox" in response.headers["content-security-policy"]
    assert "<script" not in response.text() and "onload" not in response.text()
    assert page.evaluate("window.__pwned === undefined")
    assert page.title() != "pwned"
    # The raw icon from the API is sandboxed too: its script cannot run.
    _goto(page, live_server.url + "/api/v1/templates/site/hostile/icon")
    assert page.evaluate("window.__pwned === undefined")


def test_unknown_page_and_docs(live_server, page, output_dir):
    response = page.goto(live_server.url + "/no/such/page")
    assert response.status == 404
    assert page.title() == "Page not found · Catalog"
    assert page.locator("link[rel=stylesheet]").evaluate("e => e.sheet !== null")
    page.console_errors.clear()  # the browser logs the 404 it was just sent
    for path, title in [
        ("/reference/lint-rules/", "Lint rules · Catalog"),
        ("/reference/api/", "API · Catalog"),
        ("/quickstart/", "Quickstart · Catalog"),
    ]:
        _goto(page, live_server.url + path)
        assert page.title() == title
        _check_accessibility(page)
    page.screenshot(path=str(output_dir / "docs.png"))
    assert page.console_errors == []
