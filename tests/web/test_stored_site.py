"""The served site lives in the database: what a sync rebuilds (one template's pages and the
pages that list it, not the whole site), the project docs once per release, pages removed
with their template or catalog, a template whose pages fail keeping its old ones, and how
the pages are sent (gzip, ETag, 304)."""

from __future__ import annotations

import gzip

import pytest

from catalog_server.catalogs import CatalogSource
from catalog_server.db import db
from catalog_server.docs import store
from catalog_server.docs.build import build_site


def update(app, settings, **kw):
    with app.app_context():
        return store.update_site(db.session, settings.cache_dir, **kw)


def page(client, path: str):
    response = client.get(path)
    response.close()
    return response


@pytest.fixture
def site_repo(app, settings, make_catalog_repo, sync):
    """The site-catalog fixture indexed as catalog ``site`` and its site built."""
    repo = make_catalog_repo(fixture="site-catalog")
    sync(CatalogSource(name="site", url=str(repo.path)))
    first = update(app, settings)
    assert (first.docs_built, first.templates_built, first.home_built) == (True, 3, True)
    return repo


def test_a_commit_rebuilds_its_template_and_the_pages_that_list_it(
    app, client, settings, sync, site_repo
):
    before = {path: page(client, path).headers["ETag"] for path in (
        "/catalogs/site/hostile/", "/catalogs/site/charts%2Amonitor/", "/quickstart/",
        "/css/site.css", "/catalogs/site/webapp/1.0.0/",
    )}  # fmt: skip
    config = site_repo.path / "templates/webapp/config.yml"
    config.write_text(config.read_text().replace("with a cache in front", "behind a fast cache"))
    site_repo.commit("webapp: new description")
    assert sync(CatalogSource(name="site", url=str(site_repo.path))).templates_reloaded == 1

    done = update(app, settings)
    assert (done.docs_built, done.templates_built, done.home_built) == (False, 1, True)
    assert "behind a fast cache" in page(client, "/catalogs/site/webapp/").text
    assert "behind a fast cache" in page(client, "/").text
    assert "behind a fast cache" in page(client, "/templates.json").text
    # Pages of other templates and the project docs were not rebuilt: same bytes, same ETag.
    for path, etag in before.items():
        if not path.startswith("/catalogs/site/webapp/"):
            assert page(client, path).headers["ETag"] == etag, path
    # Nothing changed since: nothing is rebuilt.
    again = update(app, settings)
    assert not again.changed


def test_a_change_that_no_card_shows_leaves_the_home_page_alone(
    app, client, settings, sync, site_repo
):
    home = page(client, "/").headers["ETag"]
    readme = site_repo.path / "templates/webapp/README.md"
    readme.write_text(readme.read_text() + "\nA line only the template page shows.\n")
    site_repo.commit("webapp: README")
    sync(CatalogSource(name="site", url=str(site_repo.path)))
    done = update(app, settings)
    assert (done.templates_built, done.home_built) == (1, False)
    assert "A line only the template page shows" in page(client, "/catalogs/site/webapp/").text
    assert page(client, "/").headers["ETag"] == home


def test_project_docs_are_built_once_per_release(
    app, client, settings, sync, site_repo, monkeypatch
):
    quickstart = page(client, "/quickstart/").headers["ETag"]
    site_repo.write({"templates/webapp/README.md": "# Web App\n\nShorter.\n"})
    site_repo.commit("webapp: README")
    sync(CatalogSource(name="site", url=str(site_repo.path)))
    assert update(app, settings).docs_built is False
    assert page(client, "/quickstart/").headers["ETag"] == quickstart

    # A new release of the server (another docs key): the docs part alone is rebuilt.
    monkeypatch.setattr(store, "docs_key", lambda: "the next release")
    done = update(app, settings)
    assert (done.docs_built, done.templates_built, done.home_built) == (True, 0, False)
    assert not update(app, settings).changed
    # Another page layout (theme, page code): every catalog page is rebuilt, once.
    monkeypatch.setattr(store, "layout_key", lambda: "another layout")
    done = update(app, settings)
    assert (done.docs_built, done.templates_built, done.home_built) == (False, 3, True)
    assert not update(app, settings).changed


def test_removed_templates_and_catalogs_lose_their_pages(
    app, client, settings, sync, site_repo, make_catalog_repo
):
    other = make_catalog_repo(fixture="values-catalog")
    sync(CatalogSource(name="vals", url=str(other.path)))
    update(app, settings)
    assert "catalogs/vals/" in page(client, "/").text

    site_repo.remove("templates/webapp")
    site_repo.commit("remove webapp")
    sync(CatalogSource(name="site", url=str(site_repo.path)))
    done = update(app, settings)
    assert (done.templates_built, done.templates_removed, done.home_built) == (0, 1, True)
    assert page(client, "/catalogs/site/webapp/").status_code == 404
    assert page(client, "/catalogs/site/webapp/1.0.0/").status_code == 404
    assert page(client, "/catalogs/site/webapp/template.json").status_code == 404
    assert "Web App" not in page(client, "/").text

    with app.app_context():
        from catalog_server.models import Catalog

        db.session.delete(db.session.query(Catalog).filter_by(name="vals").one())
        db.session.commit()
    done = update(app, settings)
    assert done.templates_removed >= 1 and done.home_built
    assert "catalogs/vals/" not in page(client, "/").text
    assert page(client, "/catalogs/site/hostile/").status_code == 200


def test_a_template_whose_pages_fail_keeps_its_last_pages(
    app, client, settings, sync, site_repo, monkeypatch
):
    for name in ("webapp", "hostile"):
        path = site_repo.path / f"templates/{name}/config.yml"
        path.write_text(path.read_text() + "\n# touched\n")
    site_repo.commit("touch two templates")
    sync(CatalogSource(name="site", url=str(site_repo.path)))
    real = store.template_site

    def flaky(session, catalog, slug):
        if slug == "hostile":
            raise RuntimeError("a page bug")
        return real(session, catalog, slug)

    monkeypatch.setattr(store, "template_site", flaky)
    done = update(app, settings)
    assert done.templates_built == 1
    assert done.errors == ["site/hostile: RuntimeError('a page bug')"]
    assert page(client, "/catalogs/site/hostile/").status_code == 200  # the last good pages


def test_pages_are_sent_gzipped_with_an_etag_and_revalidate(client, app, settings, site_repo):
    plain = client.get("/catalogs/site/webapp/")
    zipped = client.get("/catalogs/site/webapp/", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == plain.data
    assert plain.headers["Content-Type"] == "text/html; charset=utf-8"
    assert plain.headers["ETag"] != zipped.headers["ETag"]
    for answer in (plain, zipped):
        etag = answer.headers["ETag"].strip('"')
        again = client.get("/catalogs/site/webapp/", headers={
            "If-None-Match": answer.headers["ETag"], "Accept-Encoding": answer.headers.get(
                "Content-Encoding", "identity")})  # fmt: skip
        assert again.status_code == 304 and again.headers["ETag"].strip('"') == etag
    icon = client.get("/catalogs/site/webapp/icon.svg")
    assert icon.headers["Content-Type"] == "image/svg+xml" and b"<svg" in icon.data
    head = client.head("/catalogs/site/webapp/")
    assert head.status_code == 200 and head.data == b""


def test_the_export_is_the_served_site(app, client, settings, site_repo, tmp_path):
    with app.app_context():
        out = build_site(db.session, tmp_path / "export")
    exported = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "index.html" in exported and "catalogs/site/webapp/1.1.0/index.html" in exported
    footer = "built from the index on"
    for rel in exported:
        served = client.get("/" + rel)
        assert served.status_code == 200, rel
        data, mine = served.data, (out / rel).read_bytes()
        if rel.endswith(".html"):  # the build time in the footer may differ by a minute
            data, mine = (b.split(footer.encode())[0] for b in (data, mine))
        assert data == mine, rel


def test_docs_build_rebuilds_every_page_of_the_served_site(app, client, cli_env, site_repo):
    from click.testing import CliRunner

    from catalog_server.cli import main

    result = CliRunner().invoke(main, ["docs", "build"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "site rebuilt in the database: 3 templates, 0 removed" in result.output
    assert page(client, "/catalogs/site/webapp/").status_code == 200


def test_a_web_process_serves_pages_without_mkdocs_or_git(cli_env, site_repo):
    """What a web process loads to serve the site: the database, never mkdocs or git."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "from catalog_server.app import create_app\n"
        "client = create_app().test_client()\n"
        "codes = [client.get(p).status_code for p in ('/', '/catalogs/site/webapp/', "
        "'/quickstart/', '/css/site.css')]\n"
        "print(json.dumps([codes, sorted(m for m in sys.modules if m.split('.')[0] in "
        "('mkdocs', 'git', 'markdown', 'nh3'))]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=os.environ | cli_env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    codes, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert codes == [200, 200, 200, 200]
    assert loaded == []


def test_a_catalog_added_again_under_its_name_gets_its_own_pages(
    app, client, settings, sync, site_repo, make_catalog_repo
):
    from catalog_server.models import Catalog

    first = make_catalog_repo(fixture="values-catalog")
    sync(CatalogSource(name="other", url=str(first.path)))
    update(app, settings)
    before = {t["id"] for t in client.get("/api/v1/templates?catalog=other").json["items"]}
    assert page(client, "/catalogs/other/").status_code in (301, 404)  # no catalog page
    # Removed and added again from another repository before the site is updated: its
    # generations start afresh, and the pages must not be taken for current.
    with app.app_context():
        db.session.delete(db.session.query(Catalog).filter_by(name="other").one())
        db.session.commit()
    again = make_catalog_repo(fixture="site-catalog")
    sync(CatalogSource(name="other", url=str(again.path)))
    update(app, settings)
    for slug in before:
        assert page(client, f"/catalogs/other/{slug.replace('*', '%2A')}/").status_code == 404
    assert "Web App" in page(client, "/catalogs/other/webapp/").text
    assert "catalogs/other/webapp/" in page(client, "/").text
