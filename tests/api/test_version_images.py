"""Chart versions' images at sync: stored per version, listed by the API, kept for
versions whose chart archive did not change (only changed versions are rendered)."""

from __future__ import annotations

import pytest

from catalog_server import helmsdk, images

needs_sdk = pytest.mark.skipif(not helmsdk.available(), reason=helmsdk.missing_message())
URL = "/api/v1/templates/lib/charts*{}/versions/1.0.0"


@pytest.fixture
def renders(monkeypatch):
    """Every chart the sync renders, by its archive's release name."""
    seen: list[str] = []
    real = helmsdk.render

    def counting(chart, values, release, namespace):
        seen.append(release)
        return real(chart, values, release, namespace)

    monkeypatch.setattr(helmsdk, "render", counting)
    return seen


@needs_sdk
def test_sync_stores_rendered_images_and_the_api_lists_them(make_catalog_repo, sync, client,
                                                            renders):  # fmt: skip
    repo = make_catalog_repo(fixture="chart-images")
    assert sync(repo.source("lib")).status == "updated"
    body = client.get(URL.format("shapes")).json
    assert body["images_source"] == "rendered" and body["images_note"] is None
    assert "rancher/sriov-operator:v1.0.0" in body["images"] and "alpine" in body["images"]
    assert "busybox" not in body["images"]  # off by default: not rendered
    body = client.get(URL.format("needs-values")).json
    assert body["images_source"] == "values"
    assert "domain cannot be empty" in body["images_note"]
    assert body["images"] == ["example/server:1.2.3", "example/tools"]
    # Rancher's release name and namespace (Chart.yaml annotations) were used.
    assert sorted(renders) == ["needs-values", "overrides", "shapes-release"]


@needs_sdk
def test_only_changed_chart_versions_are_rendered_again(make_catalog_repo, sync, client,
                                                         renders):  # fmt: skip
    repo = make_catalog_repo(fixture="chart-images")
    sync(repo.source("lib"))
    renders.clear()
    repo.write(
        {
            "charts/shapes/1.0.1/Chart.yaml": (repo.path / "charts/shapes/1.0.0/Chart.yaml")
            .read_text()
            .replace("1.0.0", "1.0.1")
        }
    )
    repo.copy("chart-images/charts/shapes/1.0.0/templates", "charts/shapes/1.0.1/templates")
    repo.write({"charts/shapes/1.0.1/values.yaml": "proxy:\n  image: nginx:1.28.0\n"})
    repo.commit("shapes 1.0.1")
    assert sync(repo.source("lib")).templates_reloaded == 1
    assert renders == ["shapes-release"]  # 1.0.1 only: 1.0.0 kept its images
    assert client.get(URL.format("shapes")).json["images_source"] == "rendered"
    newer = client.get(URL.format("shapes").replace("1.0.0", "1.0.1")).json
    assert "nginx:1.28.0" in newer["images"]


def test_without_the_sdk_the_values_are_read(make_catalog_repo, sync, client, monkeypatch):
    monkeypatch.setattr(helmsdk, "available", lambda: False)
    repo = make_catalog_repo(fixture="chart-images")
    sync(repo.source("lib"))
    body = client.get(URL.format("shapes")).json
    assert body["images_source"] == "values" and body["images_note"] == images.SDK_MISSING
    assert "example/updater:latest" in body["images"]


def test_rendering_can_be_turned_off(make_catalog_repo, sync, client, renders):
    repo = make_catalog_repo(fixture="chart-images")
    sync(repo.source("lib"), render_images=False)
    assert renders == []
    assert client.get(URL.format("shapes")).json["images_note"] == images.RENDER_OFF


def test_compose_versions_have_no_images(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="api-catalog")
    sync(repo.source("lib"))
    body = client.get("/api/v1/templates/lib/web/versions/1.1.0").json
    assert body["images"] == [] and body["images_source"] is None
