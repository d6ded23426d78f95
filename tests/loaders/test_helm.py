"""The Helm loader: versioned Rancher chart catalogs, plain chart monorepos, a root chart."""

from __future__ import annotations

import pytest

from catalog_server.loaders import load_catalog


@pytest.fixture
def load(folder_snapshot):
    def run(case):
        templates, problems = load_catalog(folder_snapshot(case))
        assert problems == []
        return {t.id: t for t in templates}

    return run


def test_versioned_chart_versions_newest_first_by_semver(load):
    t = load("helm-versioned")["charts*neuvector"]
    assert [(v.version, v.folder) for v in t.versions] == [
        ("104.1.2+up57.0.3", "104.1.2+up57.0.3"),
        ("1.10.0-rc.1", "v1.10.0-rc.1"),
        ("1.6.9", "v1.6.9"),
    ]
    assert t.default_version == "104.1.2+up57.0.3"


def test_chart_metadata_questions_and_readmes(load):
    t = load("helm-versioned")["charts*neuvector"]
    newest, _, oldest = t.versions
    assert newest.metadata["chart"]["keywords"] == ["security"]
    assert newest.app_version == "1.10"  # as written, not the float 1.1
    assert newest.readme == "# neuvector 104.1.2+up57.0.3\n"
    assert newest.metadata["app_readme"] == "neuvector in one line\n"
    assert [q["variable"] for q in newest.questions] == ["replicas", "image.tag"]
    assert newest.metadata["questions"]["namespace"] == "cattle-neuvector-system"
    # Rancher bounds: from the annotation when the questions file has none ...
    assert (newest.minimum_rancher_version, newest.maximum_rancher_version) == (
        "2.8.0-0",
        "2.9.0-0",
    )
    # ... and from questions.yaml (not .yml) in the oldest version.
    assert (oldest.minimum_rancher_version, oldest.maximum_rancher_version) == ("2.6.0-0", "2.7.99")
    assert "questions.yaml" in oldest.parsed
    assert t.name == "NeuVector"  # catalog.cattle.io/display-name of the newest
    assert t.categories == ["Security"] and t.labels == {"io.cattle.role": "cluster"}
    assert t.maintainer == "Jane <jane@example.com>"
    assert t.project_url == "https://example.com/neuvector"
    assert t.readme == newest.readme
    assert t.icon is None and t.metadata["icon_url"] == "https://example.com/neuvector.svg"


def test_version_files_include_subcharts_crds_and_templates(load):
    newest = load("helm-versioned")["charts*neuvector"].versions[0]
    paths = {f.path for f in newest.files}
    assert {
        "Chart.yaml",
        "values.yaml",
        "templates/deployment.yaml",
        "crds/crd.yaml",
        "charts/crd/Chart.yaml",
        "charts/crd/values.yaml",
    } <= paths


def test_both_question_files_warn_and_yaml_wins(load):
    t = load("helm-versioned")["charts*monitoring"]
    old = next(v for v in t.versions if v.version == "0.2.1")
    [problem] = old.problems
    assert (problem.rule, problem.blocking) == ("chart.questions-both", False)
    assert [q["variable"] for q in old.questions] == ["b"]
    assert t.icon_path == "icon.png"  # at the chart root, beside the version folders
    assert [v.version for v in t.versions] == ["0.3.000", "0.2.1"]


def test_plain_monorepo(load):
    templates = load("helm-plain")
    assert set(templates) == {"bitnami*nginx", "charts*y", "stable*mysql"}
    y = templates["charts*y"]
    [v] = y.versions
    assert v.folder == "" and v.version == "0.1.0"
    assert "charts/z/templates/cm.yaml" in {f.path for f in v.files}
    assert y.icon_path == "icon.svg" and y.icon_media_type == "image/svg+xml"
    assert templates["bitnami*nginx"].name == "NGINX"
    mysql = templates["stable*mysql"]
    assert mysql.metadata["icon_url"] == "https://example.com/mysql.png"
    assert mysql.versions[0].app_version == "5.7.30"


def test_root_chart(load):
    [(tid, t)] = load("helm-root").items()
    assert (tid, t.folder, t.name, t.default_version) == ("chart", "", "rootchart", "2.0.0")
    assert {"templates/cm.yaml", "charts/sub/Chart.yaml"} <= {f.path for f in t.versions[0].files}


def test_broken_chart_yaml_blocks_only_its_version(git_snapshot):
    snapshot = git_snapshot(
        "helm-versioned",
        files={
            "charts/neuvector/v1.6.9/Chart.yaml": "name: neuvector\nversion: [1.6.9\n",
        },
    )
    [_, t] = load_catalog(snapshot)[0]
    broken = next(v for v in t.versions if v.folder == "v1.6.9")
    assert not broken.usable and t.usable
    [problem] = [p for p in broken.problems if p.blocking]
    assert (problem.rule, problem.file) == ("yaml.parse", "charts/neuvector/v1.6.9/Chart.yaml")
    assert t.default_version == "104.1.2+up57.0.3"
