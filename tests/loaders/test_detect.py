"""Finding template folders and naming them."""

from __future__ import annotations

from catalog_server.loaders.detect import find_templates, template_id
from catalog_server.sources import SnapshotEntry


def entries(*paths):
    return {p: SnapshotEntry(p, 1, "file") for p in paths}


def layout(roots):
    return {r.folder: (r.id, r.kind, r.layout, r.base) for r in roots}


def test_rancher_ids_and_containers(folder_snapshot):
    roots, problems = find_templates(folder_snapshot("community").entries())
    got = layout(roots)
    assert problems == []
    assert got["templates/neuvector"] == ("neuvector", "compose", "rancher", None)
    assert got["infra-templates/ipsec"] == ("infra*ipsec", "compose", "rancher", "infra")
    assert got["kubernetes-templates/k8s-dashboard"][0] == "kubernetes*k8s-dashboard"
    assert got["machine-templates/packet"][3] == "machine"
    # A stray compose file at a template root and the catalog README are not templates.
    assert all(r.folder.count("/") == 1 for r in roots)


def test_versioned_helm(folder_snapshot):
    roots, _ = find_templates(folder_snapshot("helm-versioned").entries())
    assert layout(roots) == {
        "charts/monitoring": ("charts*monitoring", "helm", "helm-versioned", "charts"),
        "charts/neuvector": ("charts*neuvector", "helm", "helm-versioned", "charts"),
    }


def test_plain_chart_monorepo_keeps_subcharts_inside(folder_snapshot):
    roots, _ = find_templates(folder_snapshot("helm-plain").entries())
    assert layout(roots) == {
        "bitnami/nginx": ("bitnami*nginx", "helm", "helm-plain", "bitnami"),
        "charts/y": ("charts*y", "helm", "helm-plain", "charts"),
        "stable/mysql": ("stable*mysql", "helm", "helm-plain", "stable"),
    }


def test_chart_at_catalog_root_is_the_only_template(folder_snapshot):
    roots, _ = find_templates(folder_snapshot("helm-root").entries())
    assert layout(roots) == {"": ("chart", "helm", "helm-plain", None)}


def test_depth_three_charts_not_named_like_versions_are_plain():
    roots, _ = find_templates(
        entries("charts/stable/mysql/Chart.yaml", "charts/stable/redis/Chart.yaml")
    )
    assert [r.id for r in roots] == ["charts*stable*mysql", "charts*stable*redis"]
    assert {r.layout for r in roots} == {"helm-plain"}


def test_duplicate_ids_keep_the_first_and_report_the_other():
    roots, problems = find_templates(entries("infra-templates/x/config.yml", "infra/x/Chart.yaml"))
    assert [r.folder for r in roots] == ["infra-templates/x"]
    [problem] = problems
    assert problem.rule == "catalog.duplicate-id" and problem.file == "infra/x"


def test_unsafe_paths_are_reported_and_ignored():
    roots, problems = find_templates(
        entries("templates/a/config.yml", "templates/b/../../etc/passwd", "charts/c\\d/Chart.yaml")
    )
    assert [r.folder for r in roots] == ["templates/a"]
    assert sorted(p.rule for p in problems) == ["file.unsafe-path", "file.unsafe-path"]


def test_template_id():
    assert template_id("templates/neuvector") == "neuvector"
    assert template_id("infra-templates/ipsec") == "infra*ipsec"
    assert template_id("charts/neuvector") == "charts*neuvector"
    assert template_id("stable/mysql") == "stable*mysql"
