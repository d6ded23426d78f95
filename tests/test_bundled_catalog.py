"""The bundled catalog, one test per template version, so an edit that breaks one fails CI.

Rendering through `docker compose config` and the Kubernetes schemas is in
tests/manifests/; here: strict lint, Helm's own lint, pinned images named in the READMEs,
and the upgrade paths the API lists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from catalog_server import helmsdk
from catalog_server.cli import main
from catalog_server.versions import sort_versions

CATALOG = Path(__file__).parents[1] / "catalog"
COMPOSE_VERSIONS = sorted(p.parent for p in CATALOG.glob("templates/*/*/rancher-compose.yml"))
CHART_VERSIONS = sorted(p.parent for p in CATALOG.glob("charts/*/*/Chart.yaml"))
IMAGE = re.compile(r"^\s*image:\s*[\"']?([^\s\"'#]+)", re.MULTILINE)


def ids(paths):
    return [f"{p.parent.name}/{p.name}" for p in paths]


def test_the_catalog_has_what_it_promises():
    compose = {p.parent.name for p in COMPOSE_VERSIONS}
    charts = {p.parent.name for p in CHART_VERSIONS}
    expected = {"neuvector", "prometheus", "grafana", "haproxy", "traefik", "catalog-server"}
    assert expected | {"nginx"} <= compose
    assert expected <= charts and ({"nginx", "ingress-nginx"} & charts)
    for name in compose:
        assert len([p for p in COMPOSE_VERSIONS if p.parent.name == name]) >= 2, name
    for name in charts:
        assert len([p for p in CHART_VERSIONS if p.parent.name == name]) >= 2, name


def test_strict_lint_passes():
    result = CliRunner().invoke(main, ["lint", str(CATALOG), "--strict"])
    assert result.exit_code == 0, result.output
    assert "0 errors, 0 warnings" in result.output


@pytest.mark.skipif(not helmsdk.available(), reason=helmsdk.missing_message() or "no Helm SDK")
@pytest.mark.parametrize("folder", CHART_VERSIONS, ids=ids(CHART_VERSIONS))
def test_helm_lint_passes(folder):
    findings = helmsdk.lint(folder)
    assert [f for f in findings if f["severity"] in ("error", "warning")] == []


def compose_images(folder: Path) -> list[str]:
    return IMAGE.findall((folder / "docker-compose.yml").read_text())


def chart_images(folder: Path) -> list[str]:
    """The images of the chart's manifests rendered with its defaults, plus made-up answers
    to the required questions that have no default (a password, a git URL)."""
    if not helmsdk.available():
        pytest.skip(helmsdk.missing_message())
    questions = yaml.safe_load((folder / "questions.yml").read_text()).get("questions", [])
    values: dict = {}
    for question in questions:
        needed = question.get("type") == "password" or (
            question.get("required") and question.get("default") in (None, "")
        )
        if needed:
            node = values
            *parents, leaf = question["variable"].split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = "https://git.example.com/an-example.git"
    manifests = helmsdk.render(folder, values, release="bundled", namespace="apps")
    return sorted({image for text in manifests.values() for image in IMAGE.findall(text)})


@pytest.mark.parametrize(
    "folder", COMPOSE_VERSIONS + CHART_VERSIONS, ids=ids(COMPOSE_VERSIONS + CHART_VERSIONS)
)
def test_images_are_pinned_and_named_in_the_readme(folder):
    images = compose_images(folder) if folder in COMPOSE_VERSIONS else chart_images(folder)
    assert images, f"{folder}: no image found"
    readme = (folder / "README.md").read_text()
    for image in images:
        name, _, tag = image.rpartition(":")
        assert name and tag and "$" not in tag and "{" not in tag, f"{folder}: {image} has no tag"
        assert tag != "latest", f"{folder}: {image}"
        assert tag in readme, f"{folder}/README.md does not name {image}'s version {tag}"


def _versions(template: Path) -> list[str]:
    found = []
    for meta in template.glob("*/rancher-compose.yml"):
        block = yaml.safe_load(meta.read_text()).get(".catalog") or {}
        found.append(str(block["version"]))
    return sort_versions(found)


@pytest.fixture(scope="module")
def bundled_client(tmp_path_factory):
    """The bundled catalog indexed into a throwaway SQLite database, read over the API."""
    from flask_migrate import upgrade

    from catalog_server.app import create_app
    from catalog_server.catalogs import bundled_source
    from catalog_server.config import Settings
    from catalog_server.db import db
    from catalog_server.indexer import sync_catalog

    folder = tmp_path_factory.mktemp("bundled")
    settings = Settings.from_env({"CATALOG_INSTANCE_DIR": str(folder), "CATALOG_STATE_TTL": "0"})
    app = create_app({"TESTING": True}, settings=settings)
    with app.app_context():
        upgrade()
        assert sync_catalog(db.session, bundled_source(), cache_dir=settings.cache_dir).status in (
            "updated",
            "up to date",
        )
    yield app.test_client()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


TEMPLATES = sorted({p.parent for p in COMPOSE_VERSIONS} | {p.parent for p in CHART_VERSIONS})


@pytest.mark.parametrize(
    "template", TEMPLATES, ids=[f"{p.parent.name}/{p.name}" for p in TEMPLATES]
)
def test_every_upgrade_path_is_listed(bundled_client, template):
    kind = template.parent.name
    slug = template.name if kind == "templates" else f"charts*{template.name}"
    detail = bundled_client.get(f"/api/v1/templates/library/{slug}")
    assert detail.status_code == 200, slug
    versions = [v["version"] for v in detail.json["versions"]]
    assert len(versions) >= 2
    for older, newer in zip(versions[1:], versions, strict=False):
        upgrades = bundled_client.get(f"/api/v1/templates/library/{slug}/versions/{older}/upgrades")
        assert upgrades.status_code == 200
        listed = [u["version"] for u in upgrades.json["items"]]
        assert newer in listed, f"{slug}: {older} -> {newer} is not offered ({listed})"
    if kind == "templates":
        assert versions == _versions(template)
