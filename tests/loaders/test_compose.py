"""The Rancher compose loader over a community-catalog-shaped fixture."""

from __future__ import annotations

import pytest

from catalog_server.loaders import load_catalog


@pytest.fixture(scope="module")
def community():
    from catalog_server.sources import FolderSnapshot

    from .conftest import CATALOGS

    templates, problems = load_catalog(FolderSnapshot(CATALOGS / "community"))
    assert problems == []
    return {t.id: t for t in templates}


def versions(template):
    return [(v.version, v.folder) for v in template.versions]


def test_template_fields_from_config(community):
    t = community["neuvector"]
    assert (t.name, t.description, t.categories) == (
        "NeuVector",
        "Container security",
        ["Security"],
    )
    assert t.maintainer.startswith("NeuVector Inc.") and t.license == "Apache-2.0"
    assert t.project_url == "https://neuvector.com"
    assert t.labels == {"io.rancher.certified": "partner"}
    assert t.icon_path == "catalogIcon-neuvector.svg" and t.icon_media_type == "image/svg+xml"
    assert t.icon.startswith(b"<svg")
    assert t.readme.startswith("# NeuVector")
    assert t.default_version == "1.1.0"  # config.yml's version, not the newest
    assert t.problems == []


def test_numbered_folders_with_a_gap_newest_first(community):
    t = community["neuvector"]
    assert versions(t) == [("1.2.0", "3"), ("1.1.0", "1"), ("1.0.0", "0")]
    newest = t.versions[0]
    assert newest.revision == 3 and newest.readme == "# NeuVector 1.2.0\n"
    assert newest.upgrade_from == ">=1.0.0 <1.2.0"
    assert newest.minimum_rancher_version == "v1.6.0"
    assert newest.metadata["catalog"]["uuid"] == "neuvector-3"
    assert [q["variable"] for q in newest.questions] == ["JOIN_ADDR", "REPLICAS"]
    assert newest.parsed["rancher-compose.yml"].line(".catalog", "questions", 1) == 14


def test_version_files_are_kept_with_hashes(community):
    files = {f.path: f for f in community["neuvector"].versions[0].files}
    assert set(files) == {"docker-compose.yml", "rancher-compose.yml", "README.md"}
    compose = files["docker-compose.yml"]
    assert compose.content.startswith(b"version: '2'") and len(compose.sha256) == 64
    assert compose.size == len(compose.content)


def test_tpl_compose_is_not_parsed_and_crlf_catalog_block_reads(community):
    t = community["wordpress"]
    assert t.icon is None and t.categories == ["Blogging", "CMS"]
    [v] = t.versions
    assert v.version == "v0.2.0" and v.metadata["compose_template"] is True
    assert v.metadata["catalog_key"] == "catalog"
    assert v.questions[0]["default"] == "5.9"
    assert t.all_problems() == []


def test_anchors_merge_keys_duplicates_and_misspellings(community):
    t = community["quirks"]
    assert t.icon_path == "catalogIcon-my icon.png" and t.icon_media_type == "image/png"
    assert t.categories == ["Debugging"]  # duplicate key: the last value wins, as in PyYAML
    assert "decription" in t.metadata["config"]  # misspelled keys are kept for validation
    [v] = t.versions
    compose = v.parsed["docker-compose.yml"].value
    assert compose["web"]["restart"] == "always" and compose["worker"]["restart"] == "no"
    assert v.metadata["catalog"]["minimun_rancher_version"] == "v1.5.0"
    assert v.minimum_rancher_version is None
    dups = [(p.file, p.line) for p in t.all_problems() if p.rule == "yaml.duplicate-key"]
    assert dups == [
        ("templates/quirks/config.yml", 5),
        ("templates/quirks/0/rancher-compose.yml", 10),
    ]
    assert t.usable and v.usable


def test_plain_yml_with_go_template_syntax_only_warns(community):
    t = community["gotemplated"]
    [v] = t.versions
    assert v.usable
    warned = {(p.file, p.rule, p.blocking) for p in v.problems}
    assert warned == {
        ("templates/gotemplated/0/docker-compose.yml", "yaml.go-template", False),
        ("templates/gotemplated/0/rancher-compose.yml", "yaml.go-template", False),
    }
    # The .catalog block is plain YAML even though the rest of the file is a template.
    assert v.version == "0.1.0" and [q["variable"] for q in v.questions] == ["HA"]


def test_non_semver_versions_order_by_folder_revision(community):
    t = community["oddversions"]
    assert versions(t) == [("2016-06-26a", "5"), ("1.3.1.1-oci", "2"), ("0.1", "0")]
    assert t.default_version == "2016-06-26a"


def test_semver_folders_and_other_folders_ignored(community):
    t = community["semverfolders"]
    assert versions(t) == [("1.10.0", "1.10.0"), ("v1.3.0", "v1.3.0"), ("1.2.0", "1.2.0")]
    assert all(v.revision is None for v in t.versions)
    assert "images" not in {v.folder for v in community["oddversions"].versions}


def test_unparsable_config_blocks_the_template(community):
    t = community["broken-config"]
    assert not t.usable
    [problem] = t.problems
    assert (problem.rule, problem.file, problem.line) == (
        "yaml.parse",
        "templates/broken-config/config.yml",
        2,
    )


def test_unparsable_rancher_compose_blocks_only_that_version(community):
    t = community["broken-version"]
    assert t.usable
    good, bad = sorted(t.versions, key=lambda v: v.folder)
    assert good.usable and not bad.usable
    [problem] = bad.problems
    assert (problem.rule, problem.file, problem.line) == (
        "yaml.parse",
        "templates/broken-version/1/rancher-compose.yml",
        5,
    )
    assert t.default_version == "1.0.0"


def test_non_compose_containers_load_their_versions(community):
    k8s = community["kubernetes*k8s-dashboard"]
    [v] = k8s.versions
    assert {f.path for f in v.files} == {"dashboard.yml", "rancher-compose.yml"}
    machine = community["machine*packet"]
    assert {f.path for f in machine.versions[0].files} >= {"url", "checksum", "uiUrl"}
    ipsec = community["infra*ipsec"]
    assert ipsec.base == "infra" and ipsec.versions[0].revision == 4
