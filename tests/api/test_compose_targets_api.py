"""Manifest targets (compose, rancher) and templates that are not stacks, through the API
and `catalog-server render`, over a real git catalog of every compose file format."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from catalog_server.cli import main

BASE = "/api/v1/templates/lib"


def _sync(make_catalog_repo, sync):
    repo = make_catalog_repo(fixture="compose-formats")
    summary = sync(repo.source("lib"))
    assert summary.status == "updated", summary
    return repo


def _files(body) -> dict[str, str]:
    return {f["path"]: f["content"] for f in body["files"]}


def test_default_target_is_compose_with_notes(make_catalog_repo, sync, client):
    _sync(make_catalog_repo, sync)
    response = client.post(f"{BASE}/v1-stack/versions/1.0.0/manifest", json={})
    assert response.status_code == 200, response.get_data(True)
    body = response.json
    compose = yaml.safe_load(_files(body)["docker-compose.yml"])
    assert compose["services"]["web"]["network_mode"] == "service:web-ip"
    assert (
        "docker-compose.yml:1: services moved under `services:` (compose file format v1)"
        in (body["notes"])
    )
    assert sorted(_files(body)) == [".env", "docker-compose.yml"]
    explicit = client.post(f"{BASE}/v1-stack/versions/1.0.0/manifest", json={"target": "compose"})
    assert explicit.json == body


def test_rancher_target_over_the_api(make_catalog_repo, sync, client):
    _sync(make_catalog_repo, sync)
    response = client.post(
        f"{BASE}/v2-stack/versions/1.0.0/manifest",
        json={"target": "rancher", "answers": {"DB_PASSWORD": "s3cret-pass"}},
    )
    assert response.status_code == 200, response.get_data(True)
    files = _files(response.json)
    assert sorted(files) == ["docker-compose.yml", "rancher-compose.yml"]
    compose = yaml.safe_load(files["docker-compose.yml"])
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"] == "s3cret-pass"
    assert compose["services"]["db"]["retain_ip"] is True
    assert "catalog" not in yaml.safe_load(files["rancher-compose.yml"])
    assert response.json["notes"] == []


def test_bad_target_is_a_bad_parameter(make_catalog_repo, sync, client):
    _sync(make_catalog_repo, sync)
    response = client.post(f"{BASE}/v1-stack/versions/1.0.0/manifest", json={"target": "swarm"})
    assert response.status_code == 400
    assert response.json["error"]["details"]["parameter"] == "target"


def test_a_chart_refuses_a_target(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="manifest-catalog")
    sync(repo.source("lib"))
    response = client.post(f"{BASE}/charts*app/versions/1.1.0/manifest", json={"target": "rancher"})
    assert response.status_code == 400, response.get_data(True)
    assert response.json["error"]["details"]["parameter"] == "target"


def test_templates_that_are_not_stacks_are_not_installable(make_catalog_repo, sync, client):
    _sync(make_catalog_repo, sync)
    for template, kind, words in [
        ("machine*driver", "machine-driver", "Docker Machine driver"),
        ("kubernetes*guestbook", "kubernetes-manifests", "Kubernetes manifests"),
    ]:
        response = client.post(f"{BASE}/{template}/versions/1.0.0/manifest", json={})
        assert response.status_code == 422, response.get_data(True)
        error = response.json["error"]
        assert error["code"] == "not_installable"
        assert error["details"] == {"type": kind}
        assert words in error["message"]


def test_template_type_shows_in_list_and_detail(make_catalog_repo, sync, client):
    _sync(make_catalog_repo, sync)
    items = client.get("/api/v1/templates?per_page=100").json["items"]
    types = {item["id"]: item["type"] for item in items}
    assert types == {
        "kubernetes*guestbook": "kubernetes-manifests",
        "machine*driver": "machine-driver",
        "spec-stack": "stack",
        "v1-stack": "stack",
        "v2-stack": "stack",
        "v3-stack": "stack",
    }
    assert client.get(f"{BASE}/machine*driver").json["type"] == "machine-driver"
    assert client.get(f"{BASE}/machine*driver/versions/1.0.0").json["type"] == "machine-driver"
    assert client.get(f"{BASE}/v1-stack/versions/1.0.0").json["type"] == "stack"


def test_render_command_takes_a_target(make_catalog_repo, sync, cli_env, tmp_path):
    _sync(make_catalog_repo, sync)
    runner = CliRunner()
    result = runner.invoke(main, ["render", "lib/v1-stack", "--target", "rancher"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "# --- rancher-compose.yml" in result.stdout
    assert "net: container:web-ip" in result.stdout
    result = runner.invoke(main, ["render", "lib/v1-stack"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "network_mode: service:web-ip" in result.stdout
    assert "note: docker-compose.yml:4: service 'web': `net: container:web-ip`" in result.stderr
    result = runner.invoke(main, ["render", "lib/machine*driver"], env=cli_env)
    assert result.exit_code == 1
    assert "Docker Machine driver" in result.stderr


def test_site_pages_say_what_is_not_installable(make_catalog_repo, sync, app, tmp_path):
    from catalog_server.db import db
    from catalog_server.docs.build import build_site

    _sync(make_catalog_repo, sync)
    with app.app_context():
        build_site(db.session, tmp_path / "site")
    pages = tmp_path / "site" / "catalogs" / "lib"
    driver = (pages / "machine*driver" / "index.html").read_text()
    assert 'id="not-installable"' in driver and "Docker Machine driver" in driver
    assert 'id="install-app"' not in driver
    stack = (pages / "v1-stack" / "index.html").read_text()
    assert 'id="install-app"' in stack and 'id="not-installable"' not in stack
