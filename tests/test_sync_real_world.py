"""Syncing catalogs shaped like real public ones, and hostile ones, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog_server.cli import main
from catalog_server.loaders import load_catalog
from catalog_server.sources import FolderSnapshot

DATA = Path(__file__).parent / "data"


def servable(fixture: str) -> set[str]:
    """Ids of the templates that have at least one version that loads."""
    templates, _ = load_catalog(FolderSnapshot(DATA / "catalogs" / fixture))
    return {t.id for t in templates if t.usable and any(v.usable for v in t.versions)}


@pytest.mark.parametrize("fixture", ["community", "hostile", "helm-versioned", "helm-plain"])
def test_sync_serves_what_loads_and_records_the_rest(
    fixture, make_catalog_repo, cli_env, client, tmp_path
):
    repo = make_catalog_repo(fixture=f"catalogs/{fixture}")
    sources = tmp_path / "catalogs.yml"
    sources.write_text(f"catalogs:\n  - name: real\n    url: {repo.path}\n")
    result = CliRunner().invoke(
        main, ["sync", "--json"], env=cli_env | {"CATALOG_SOURCES": str(sources)}
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    expected = servable(fixture)
    assert summary["templates_total"] == len(expected)
    listed = client.get("/api/v1/templates?per_page=100").json
    assert {t["id"] for t in listed["items"]} == expected
    for template in expected:
        detail = client.get(f"/api/v1/templates/real/{template}")
        assert detail.status_code == 200, template
        for version in detail.json["versions"]:
            assert client.get(version["links"]["self"]).status_code == 200


def test_community_catalog_problems_are_recorded_with_places(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="catalogs/community")
    summary = sync(repo.source("real"))
    assert summary.status == "updated"
    assert summary.templates_failed >= 1  # broken-config cannot be loaded at all
    problems = client.get("/api/v1/problems?per_page=100").json["items"]
    rules = {p["rule"] for p in problems}
    assert "yaml.duplicate-key" in rules
    for p in problems:
        assert p["file"], p
        assert p["message"], p
    ids = {t["id"] for t in client.get("/api/v1/templates?per_page=100").json["items"]}
    assert {"neuvector", "infra*ipsec", "wordpress"} <= ids
    # a `.tpl` compose file is kept as it is
    files = client.get("/api/v1/templates/real/wordpress").json["versions"][0]["links"]["self"]
    paths = [f["path"] for f in client.get(files).json["files"]]
    assert "docker-compose.yml.tpl" in paths
