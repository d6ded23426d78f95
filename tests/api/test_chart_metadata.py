"""Rancher 2 and Artifact Hub chart metadata through the API and the chart repository:
annotations served, hidden charts, Kubernetes and Rancher version filters, the catalog's
artifacthub-repo.yml and icons named by catalog path (fixture tests/data/chart-metadata)."""

from __future__ import annotations

import pytest

from catalog_server import helmsdk

T = "/api/v1/templates"


@pytest.fixture
def indexed(make_catalog_repo, sync):
    repo = make_catalog_repo(fixture="chart-metadata")
    summary = sync(repo.source("lib"))
    assert summary.status == "updated", summary
    return repo


def ids(client, query: str = "") -> list[str]:
    response = client.get(f"{T}?per_page=100&{query}")
    assert response.status_code == 200, response.get_data(True)
    return sorted(t["id"] for t in response.json["items"])


LISTED = [
    "charts*annotated", "charts*bare", "charts*kube-any", "charts*kube-helm",
    "charts*kube-old", "charts*kube-range", "charts*legacy",
]  # fmt: skip


def test_every_annotation_is_served(indexed, client):
    body = client.get(f"{T}/lib/charts*annotated/versions/1.1.0").json
    assert body["rancher"] == {
        "display_name": "Annotated Tool",
        "kube_version": ">= 1.25.0-0 < 1.31.0-0",
        "rancher_version": ">= 2.9.0-0 < 2.11.0-0",
        "certified": "partner",
        "experimental": True,
        "featured": 2,
        "type": "cluster-tool",
        "os": ["linux", "windows"],
        "permits_os": ["linux"],
        "upstream_version": "3.1.0",
        "release_name": "annotated-tool",
        "namespace": "cattle-annotated-system",
        "requests_cpu": "250m",
        "requests_memory": "256Mi",
        "auto_install": {"chart": "annotated-crd", "version": "match"},
        "other": {"provides-gvr": "tools.example.com.v1/Tool"},
    }
    hub = body["artifacthub"]
    assert hub["changes"][0] == {
        "kind": "added",
        "description": "A dashboard for every tool",
        "links": [
            {"name": "Pull request 42", "url": "https://github.com/example/annotated/pull/42"}
        ],
    }
    assert [c["kind"] for c in body["changes"]] == ["added", "fixed", "security"]
    assert hub["images"] == [
        {
            "name": "tool",
            "image": "registry.example.com/annotated/tool:3.1.0",
            "platforms": ["linux/amd64", "linux/arm64"],
        },
        {"name": "sidecar", "image": "registry.example.com/annotated/sidecar:1.0.2",
         "whitelisted": True},
    ]  # fmt: skip
    assert hub["license"] == "Apache-2.0" and hub["category"] == "monitoring-logging"
    assert [link["name"] for link in hub["links"]] == ["Documentation", "Support"]
    assert hub["maintainers"] == [{"name": "Tool Team", "email": "tools@example.com"}]
    assert hub["prerelease"] is False and hub["contains_security_updates"] is True
    assert hub["recommendations"] == [
        {"url": "https://artifacthub.io/packages/helm/example/annotated-crd"}
    ]
    assert hub["screenshots"] == [
        {"title": "The dashboard", "url": "https://example.com/annotated/dashboard.png"}
    ]
    assert hub["sign_key"] == {
        "fingerprint": "0011223344556677889900AABBCCDDEEFF001122",
        "url": "https://example.com/annotated/key.asc",
    }
    assert (body["kube_version"], body["chart_kube_version"], body["rancher_version"]) == (
        ">= 1.25.0-0 < 1.31.0-0",
        ">=1.21.0-0",
        ">= 2.9.0-0 < 2.11.0-0",
    )


def test_change_log_from_the_annotation_or_changelog_md(indexed, client):
    older = client.get(f"{T}/lib/charts*annotated/versions/1.0.0").json
    assert older["changes"] == [{"kind": None, "description": "Initial release", "links": []}]
    assert older["changelog"].startswith("# Changelog\n")
    newer = client.get(f"{T}/lib/charts*annotated/versions/1.1.0").json
    assert newer["changelog"] is None and len(newer["changes"]) == 3


def test_display_name_flags_and_ranges_in_summaries(indexed, client):
    summary = client.get(f"{T}/lib/charts*annotated").json
    assert summary["name"] == "Annotated Tool"
    assert summary["flags"] == {
        "certified": "partner",
        "experimental": True,
        "featured": 2,
        "type": "cluster-tool",
        "os": ["linux", "windows"],
    }
    assert summary["hidden"] is False
    ranges = {v["version"]: v["kube_version"] for v in summary["versions"]}
    assert ranges == {"1.1.0": ">= 1.25.0-0 < 1.31.0-0", "1.0.0": ">= 1.21.0-0 < 1.28.0-0"}


def test_hidden_charts_are_not_listed_but_served(indexed, client):
    assert ids(client) == LISTED
    assert ids(client, "include_hidden=true") == sorted([*LISTED, "charts*hidden-tool"])
    facets = client.get(T).json["facets"]["kind"]
    assert facets == {"helm": len(LISTED)}
    detail = client.get(f"{T}/lib/charts*hidden-tool")
    assert detail.status_code == 200 and detail.json["hidden"] is True
    index = client.get("/helm/lib/index.yaml").get_data(True)
    assert "hidden-tool-1.0.0.tgz" in index  # Helm clients install it by name


@pytest.mark.skipif(not helmsdk.available(), reason="Helm SDK absent")
def test_hidden_charts_install_by_id(indexed, client):
    answer = client.post(f"{T}/lib/charts*hidden-tool/versions/1.0.0/manifest", json={})
    assert answer.status_code == 200, answer.get_data(True)
    assert any(f["path"].startswith("manifests/") for f in answer.json["files"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kube_version=1.24.9", "annotated bare kube-any kube-old kube-range legacy"),
        ("kube_version=1.29.3", "annotated bare kube-any kube-helm kube-range legacy"),
        ("kube_version=1.30.2", "annotated bare kube-any kube-helm legacy"),
        ("kube_version=1.31.0", "bare kube-any kube-helm legacy"),
        # A prerelease fits only ranges that open for them with -0 (not kube-helm's >=1.28.0).
        ("kube_version=1.29.3-gke.1", "annotated bare kube-any kube-range legacy"),
        ("kube_version=v1.28.2%2Brke2r1", "annotated bare kube-any kube-helm kube-range legacy"),
        (
            "kube_version=1.29.3&include_hidden=true",
            "annotated bare hidden-tool kube-any kube-helm kube-range legacy",
        ),
        ("rancher_version=2.6.5", "annotated bare kube-any kube-helm kube-old legacy"),
        ("rancher_version=2.8.4", "bare kube-any kube-helm kube-range legacy"),
        ("rancher_version=2.9.0", "annotated bare kube-any kube-helm legacy"),
        ("rancher_version=2.10.1", "annotated bare kube-any kube-helm kube-range legacy"),
        # Both must hold for one version: annotated 1.0.0 fits both, kube-range Rancher 2.6 not.
        ("kube_version=1.24.9&rancher_version=2.6.5", "annotated bare kube-any kube-old legacy"),
        ("kube_version=1.29.3&rancher_version=2.6.5", "bare kube-any kube-helm legacy"),
        # A search keeps what the same filters keep.
        ("q=kube&kube_version=1.29.3", "kube-any kube-helm kube-range"),
        ("q=kube&rancher_version=2.8.4", "kube-any kube-helm kube-range"),
        ("q=kube&kube_version=1.29.3&sort=name", "kube-any kube-helm kube-range"),
        ("q=kube&rancher_version=2.8.4&sort=updated", "kube-any kube-helm kube-range"),
        ("q=tool", "annotated"),
        ("q=tool&include_hidden=true", "annotated hidden-tool"),
    ],
)
def test_kube_and_rancher_filters_are_exact(indexed, client, query, expected):
    assert ids(client, query) == [f"charts*{name}" for name in expected.split()]
    total = client.get(f"{T}?{query}").json["total"]
    assert total == len(expected.split())


def test_version_filters_follow_a_sync(indexed, client, sync):
    """The ranges a version filter tests are kept between requests; a sync that changes a
    version's range changes what the same filter answers."""
    before = "bare kube-any kube-helm legacy"
    for _ in range(2):  # the second time from what the first kept
        assert ids(client, "kube_version=1.31.0") == [f"charts*{n}" for n in before.split()]
    chart = indexed.path / "charts/kube-range/2.0.0/Chart.yaml"
    chart.write_text(chart.read_text().replace("< 1.30.0-0", "< 1.32.0-0"))
    indexed.commit("kube-range fits Kubernetes 1.31")
    assert sync(indexed.source("lib")).status == "updated"
    after = "bare kube-any kube-helm kube-range legacy"
    assert ids(client, "kube_version=1.31.0") == [f"charts*{n}" for n in after.split()]
    assert client.get(f"{T}?kube_version=1.31.0").json["facets"]["kind"] == {"helm": 5}


@pytest.mark.parametrize(
    "query", ["kube_version=latest", "rancher_version=2.x.y", "include_hidden=maybe"]
)
def test_bad_filter_values_are_400(indexed, client, query):
    response = client.get(f"{T}?{query}")
    assert response.status_code == 400
    assert response.json["error"]["details"]["parameter"] == query.split("=")[0]


def test_artifacthub_repo_yml_is_served_as_written(indexed, client):
    response = client.get("/helm/lib/artifacthub-repo.yml")
    assert response.status_code == 200
    assert response.get_data(True) == (indexed.path / "artifacthub-repo.yml").read_text()
    assert response.content_type.startswith("application/yaml")


def test_artifacthub_repo_yml_is_404_when_absent(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="chart-metadata")
    repo.remove("artifacthub-repo.yml")
    repo.commit("no repository metadata")
    sync(repo.source("lib"))
    assert client.get("/helm/lib/artifacthub-repo.yml").status_code == 404
    assert client.get("/helm/nowhere/artifacthub-repo.yml").status_code == 404


def test_artifacthub_repo_yml_in_the_helm_folder(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="chart-metadata")
    repo.write({"charts/artifacthub-repo.yml": "repositoryID: in-charts\n"})
    repo.remove("artifacthub-repo.yml")
    repo.commit("repository metadata beside the charts")
    sync(repo.source("lib"))
    assert (
        client.get("/helm/lib/artifacthub-repo.yml").get_data(True) == "repositoryID: in-charts\n"
    )


def test_malformed_artifacthub_repo_yml_is_not_served_and_reported(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="chart-metadata")
    repo.write({"artifacthub-repo.yml": "repositoryID: [unclosed\n"})
    repo.commit("broken repository metadata")
    from catalog_server.validation import catalog_problems

    sync(repo.source("lib"), catalog_checks=[catalog_problems])
    assert client.get("/helm/lib/artifacthub-repo.yml").status_code == 404
    problems = client.get("/api/v1/problems?catalog=lib").json["items"]
    found = [p for p in problems if p["rule"] == "helm.artifacthub-repo"]
    assert found and found[0]["file"] == "artifacthub-repo.yml" and found[0]["line"] == 1


def test_icons_named_by_catalog_path_are_served(indexed, client):
    detail = client.get(f"{T}/lib/charts*annotated/versions/1.1.0").json
    assert detail["chart"]["icon"] == "file://assets/logos/annotated.svg"
    icon = client.get(detail["icon_url"])
    assert icon.status_code == 200 and icon.content_type == "image/svg+xml"
    assert icon.data == (indexed.path / "assets/logos/annotated.svg").read_bytes()
    helm_icon = client.get("/helm/lib/icons/charts*annotated.svg")
    assert helm_icon.status_code == 200 and helm_icon.data == icon.data
    assert "sandbox" in helm_icon.headers["Content-Security-Policy"]
    assert client.get("/helm/lib/icons/charts*annotated.png").status_code == 404
    legacy = client.get(f"{T}/lib/charts*legacy/versions/1.0.0").json
    assert legacy["icon_url"] == "https://example.com/legacy.png"
