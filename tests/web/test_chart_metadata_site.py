"""What the site shows of Rancher 2 and Artifact Hub chart metadata, in a real browser:
version ranges, flags, a page per version with its changes (annotation or CHANGELOG.md,
sanitized), what changed between consecutive versions, and hidden charts left off the list
(fixture tests/data/chart-metadata, catalog ``lib``). Screenshots go to test-output/web/."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

ANNOTATED = "/catalogs/lib/charts%2Aannotated/"


def _goto(page, url: str):
    response = page.goto(url)
    assert response is not None and response.ok, url
    page.wait_for_load_state("networkidle")
    return response


def _texts(where, selector: str) -> list[str]:
    """The text of every element matching ``selector`` in a page or a locator."""
    return where.locator(selector).evaluate_all(
        "els => els.map(e => e.textContent.replace(/\\s+/g, ' ').trim())"
    )


def test_hidden_charts_are_not_listed(metadata_server, page):
    _goto(page, metadata_server.url + "/")
    titles = _texts(page, "#cards .card .card-title")
    assert "Annotated Tool" in titles and "legacy" in titles
    assert "hidden-tool" not in titles
    index = page.request.get(metadata_server.url + "/templates.json").json()
    assert "lib/charts*hidden-tool" not in [t["key"] for t in index["templates"]]
    card = page.locator(".card", has_text="Annotated Tool")
    assert _texts(card, ".badge-flag") == ["Certified: partner", "Experimental", "Featured"]
    # Its page is still built: the chart is installed by id.
    _goto(page, metadata_server.url + "/catalogs/lib/charts%2Ahidden-tool/")
    assert page.text_content("h1").strip() == "hidden-tool"
    assert page.console_errors == []


def test_template_page_shows_ranges_flags_and_changes(metadata_server, page, output_dir):
    _goto(page, metadata_server.url + ANNOTATED)
    assert page.text_content("h1").strip() == "Annotated Tool"  # catalog.cattle.io/display-name
    facts = dict(zip(_texts(page, ".facts dt"), _texts(page, ".facts dd"), strict=True))
    assert facts["Kubernetes"] == ">= 1.25.0-0 < 1.31.0-0 and >=1.21.0-0"
    assert facts["Rancher"] == ">= 2.9.0-0 < 2.11.0-0"
    rows = page.eval_on_selector_all(
        "table.versions tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))",
    )
    assert [(r[0].split()[0], r[4], r[5]) for r in rows] == [
        ("1.1.0", ">= 1.25.0-0 < 1.31.0-0 and >=1.21.0-0", ">= 2.9.0-0 < 2.11.0-0"),
        ("1.0.0", ">= 1.21.0-0 < 1.28.0-0 and >=1.21.0-0", ">= 2.6.0-0 < 2.8.0-0"),
    ]
    steps = page.locator(".change-step")
    assert steps.count() == 2
    newest = steps.nth(0)
    assert newest.locator("h3").text_content().split() == ["1.1.0", "since", "1.0.0"]
    assert _texts(newest, ".changes li") == [
        "added A dashboard for every tool Pull request 42",
        "fixed Probes wait for the database",
        "security Update the base image (CVE-2024-0001)",
    ]
    files = newest.locator(".files-changed").text_content()
    assert "2 files changed" in files
    assert "Chart.yaml (changed)" in files and "CHANGELOG.md (removed)" in files
    diff = newest.locator(".files-changed a").get_attribute("href")
    assert page.request.get(page.url + diff).ok
    oldest = steps.nth(1)
    assert "first version" in oldest.locator("h3").text_content()
    assert _texts(oldest, ".changes li") == ["Initial release"]
    page.screenshot(path=str(output_dir / "chart-metadata-template.png"), full_page=True)

    page.click("table.versions tbody tr:first-child td:first-child a")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/charts%2Aannotated/1.1.0/")
    assert page.console_errors == []


def test_version_page_shows_its_metadata(metadata_server, page, output_dir):
    _goto(page, metadata_server.url + ANNOTATED + "1.1.0/")
    assert " ".join(page.text_content("h1").split()) == "Annotated Tool 1.1.0"
    facts = dict(zip(_texts(page, ".facts dt"), _texts(page, ".facts dd"), strict=True))
    assert facts["Type"] == "cluster-tool"
    assert facts["Operating systems"] == "linux, windows"
    assert facts["Namespace"] == "cattle-annotated-system"
    assert facts["Requests"] == "CPU 250m, memory 256Mi"
    assert facts["Installs first"] == "annotated-crd (match)"
    assert facts["License"] == "Apache-2.0"
    assert facts["Signing key"].startswith("0011223344556677889900AABBCCDDEEFF001122")
    assert facts["Maintainers"] == "Tool Team <tools@example.com>"
    links = page.eval_on_selector_all(".facts .links a", "els => els.map(e => e.href)")
    assert "https://docs.example.com/annotated" in links
    assert _texts(page, "#changes .badge-change") == ["added", "fixed", "security"]
    assert "Security updates" in _texts(page, ".template-tags .badge")
    assert _texts(page, "table.images tbody td code") == [
        "registry.example.com/annotated/tool:3.1.0",
        "registry.example.com/annotated/sidecar:1.0.2",
    ]
    page.screenshot(path=str(output_dir / "chart-metadata-version.png"), full_page=True)
    assert page.console_errors == []


def test_changelog_md_is_shown_sanitized(metadata_server, page):
    _goto(page, metadata_server.url + ANNOTATED + "1.0.0/")
    changelog = page.locator("#changes .changelog")
    assert changelog.locator("strong").text_content() == "annotated"
    assert "Sanitized like a README." in changelog.text_content()
    assert changelog.locator("script").count() == 0
    # 1.0.0 also has the annotation: both are shown.
    assert _texts(page, "#changes .changes li") == ["Initial release"]
    _goto(page, metadata_server.url + "/catalogs/lib/charts%2Alegacy/1.0.0/")
    assert "This version has no change log." in page.text_content("#changes")
    assert page.console_errors == []


FILL_REQUIRED = """() => {
  for (const input of document.querySelectorAll('#install-form input, #install-form textarea')) {
    if (input.closest('[hidden]') || input.value) continue;
    if (input.type === 'password') input.value = 'correct-horse-battery';
    else if (input.getAttribute('aria-required') === 'true')
      input.value = 'https://git.example.com/an-example.git';
    input.dispatchEvent(new Event('input', {bubbles: true}));
  }
}"""


def test_the_install_form_renders_every_bundled_chart_version(bundled_server, page):
    from catalog_server import helmsdk

    if not helmsdk.available():
        pytest.skip(helmsdk.missing_message())
    from pathlib import Path

    catalog = Path(__file__).parents[2] / "catalog"
    rendered = []
    for chart in sorted(catalog.glob("charts/*")):
        _goto(page, f"{bundled_server.url}/catalogs/library/charts%2A{chart.name}/")
        page.wait_for_selector("#install-version")
        for folder in sorted(chart.iterdir()):
            page.select_option("#install-version", folder.name)
            page.evaluate(FILL_REQUIRED)
            page.click("#render-button")
            page.wait_for_function(
                "v => document.querySelector('#form-status').textContent.includes('for version '"
                " + v) || document.querySelector('#form-status').classList.contains('error')",
                arg=folder.name,
            )
            status = page.text_content("#form-status")
            assert status.startswith("Rendered") and folder.name in status, (chart.name, status)
            manifests = page.locator("#manifest article[data-path^='manifests/']").count()
            assert manifests > 0, (chart.name, folder.name)
            rendered.append((chart.name, folder.name))
    expected = sorted(
        (p.parent.parent.name, p.parent.name) for p in catalog.glob("charts/*/*/Chart.yaml")
    )
    assert sorted(rendered) == expected
    assert page.console_errors == []
