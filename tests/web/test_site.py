"""The built site and the blueprint that serves it: pages from the index, headers, 404,
no shadowing of the API or the Helm repository, and rebuilds after a sync."""

from __future__ import annotations

import json

from click.testing import CliRunner

from catalog_server.cli import main


def fetch(client, path: str, method: str = "GET"):
    """Get ``path`` and close the answer (files are streamed; an unclosed one warns)."""
    response = client.open(path, method=method)
    response.get_data()
    response.close()
    return response


def test_site_is_built_from_the_index(built_site):
    assert (built_site / "index.html").is_file()
    assert (built_site / "404.html").is_file()
    for page in ("quickstart", "catalog-format", "questions", "deployment"):
        assert (built_site / page / "index.html").is_file(), page
    assert (built_site / "reference" / "lint-rules" / "index.html").is_file()
    assert (built_site / "reference" / "api" / "index.html").is_file()
    index = json.loads((built_site / "templates.json").read_text())
    assert sorted(t["key"] for t in index["templates"]) == [
        "site/charts*monitor", "site/hostile", "site/webapp",
    ]  # fmt: skip
    data = json.loads((built_site / "catalogs/site/webapp/template.json").read_text())
    assert [v["version"] for v in data["versions"]] == ["1.1.0", "1.0.0"]
    assert data["api"] == "/api/v1/templates/site/webapp"
    # Links are relative, so the folder can be served by any web server at any path.
    home = (built_site / "index.html").read_text()
    assert 'href="catalogs/site/webapp/"' in home
    # A chart's page lists its images (rendered, or read from values.yaml without the SDK).
    chart_page = (built_site / "catalogs/site/charts*monitor/index.html").read_text()
    assert '<section id="images"' in chart_page
    assert "<code>example/monitor:3.2.0</code>" in chart_page
    version_page = (built_site / "catalogs/site/charts*monitor/1.0.0/index.html").read_text()
    assert '<ul class="images images-found">' in version_page
    assert "<code>example/monitor:3.2.0</code>" in version_page
    assert (
        '<section id="images"' not in (built_site / "catalogs/site/webapp/index.html").read_text()
    )
    assert 'href="/' not in home and 'src="/' not in home


def test_pages_send_a_strict_content_security_policy(client, built_site):
    response = fetch(client, "/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "<script>" not in response.text  # every script is a file of the site
    page = fetch(client, "/catalogs/site/webapp/")
    assert page.status_code == 200 and "Web App" in page.text
    icon = fetch(client, "/catalogs/site/hostile/icon.svg")
    assert "sandbox" in icon.headers["Content-Security-Policy"]
    assert b"script" not in icon.data


def test_folders_redirect_and_unknown_paths_get_the_404_page(client, built_site):
    response = fetch(client, "/catalogs/site/webapp?x=1")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/catalogs/site/webapp/?x=1")
    missing = fetch(client, "/catalogs/site/nothing/here")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    assert "Content-Security-Policy" in missing.headers
    assert fetch(client, "/../../etc/passwd").status_code == 404


def test_api_and_helm_are_not_shadowed(client, built_site):
    api = fetch(client, "/api/v1/no-such-endpoint")
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"
    assert fetch(client, "/api/v1/no-such-endpoint", "POST").status_code == 404
    assert fetch(client, "/api").status_code == 404
    assert fetch(client, "/api/v1/templates").json["total"] == 3
    assert fetch(client, "/helm/site/index.yaml").status_code == 200
    assert fetch(client, "/helm/site/charts/nothing-1.0.0.tgz").status_code == 404


def test_site_not_built_yet_says_how_to_build_it(client):
    response = fetch(client, "/")
    assert response.status_code == 503
    assert "catalog-server docs build" in response.text


def test_docs_build_command(app, cli_env, tmp_path, make_catalog_repo, sync):
    from catalog_server.catalogs import CatalogSource

    repo = make_catalog_repo(fixture="site-catalog")
    sync(CatalogSource(name="site", url=str(repo.path)))
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(main, ["docs", "build", "--out", str(out)], env=cli_env)
    assert result.exit_code == 0, result.output
    assert (out / "catalogs" / "site" / "webapp" / "index.html").is_file()


def test_sync_rebuilds_the_site_when_a_catalog_changed(
    app, client, cli_env, tmp_path, make_catalog_repo
):
    repo = make_catalog_repo(fixture="site-catalog")
    sources = tmp_path / "catalogs.yml"
    sources.write_text(f"catalogs:\n  - name: site\n    url: {repo.path}\n")
    env = cli_env | {"CATALOG_SOURCES": str(sources)}
    runner = CliRunner()
    first = runner.invoke(main, ["sync"], env=env)
    assert first.exit_code == 0, first.output
    assert "web site: project docs rebuilt, 3 template(s) rebuilt" in first.output
    assert "Web App" in fetch(client, "/").text
    assert fetch(client, "/catalogs/site/hostile/").status_code == 200

    repo.remove("templates/hostile")
    repo.commit("remove hostile")
    second = runner.invoke(main, ["sync"], env=env)
    assert second.exit_code == 0, second.output
    assert "web site: 0 template(s) rebuilt, 1 removed, home page rebuilt" in second.output
    home = fetch(client, "/")
    assert "Web App" in home.text and "Hostile" not in home.text
    assert fetch(client, "/catalogs/site/hostile/").status_code == 404
    assert "site/hostile" not in fetch(client, "/templates.json").text

    third = runner.invoke(main, ["sync"], env=env)
    assert "up to date" in third.output
    assert "web site:" not in third.output  # nothing changed, nothing rebuilt
    again = client.get("/", headers={"If-None-Match": home.headers["ETag"].strip('"')})
    assert again.status_code == 304
