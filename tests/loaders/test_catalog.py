"""load_catalog end to end: hostile content, symlinks, large files, git and folder sources."""

from __future__ import annotations

import os
import shutil
import time

import pytest

import catalog_server.loaders.compose as compose
from catalog_server.loaders import load_catalog, load_template
from catalog_server.loaders.detect import TemplateRoot
from catalog_server.sources import MAX_FILE_BYTES, FolderSnapshot

from .conftest import CATALOGS


def by_id(snapshot):
    templates, problems = load_catalog(snapshot)
    return {t.id: t for t in templates}, problems


def blocking(template):
    return {(p.rule, p.file, p.line) for p in template.all_problems() if p.blocking}


@pytest.mark.parametrize("source", ["folder", "git"])
def test_hostile_catalog_each_broken_template_is_reported_and_the_rest_loads(
    source, folder_snapshot, git_snapshot
):
    snapshot = folder_snapshot("hostile") if source == "folder" else git_snapshot("hostile")
    start = time.perf_counter()
    templates, problems = by_id(snapshot)
    assert time.perf_counter() - start < 10  # no hang on bombs and deep nesting
    assert problems == []
    assert templates["good"].usable and templates["good"].versions[0].usable
    assert blocking(templates["aliasbomb"]) == {
        ("yaml.alias-bomb", "templates/aliasbomb/0/rancher-compose.yml", 8)
    }
    assert blocking(templates["deep"]) == {("yaml.too-deep", "templates/deep/config.yml", 3)}
    assert not templates["deep"].usable
    assert blocking(templates["binary"]) == {
        ("file.binary", "templates/binary/0/rancher-compose.yml", 3)
    }
    assert blocking(templates["latin1"]) == {
        ("file.encoding", "templates/latin1/0/rancher-compose.yml", 3)
    }
    # A README that is not UTF-8 only costs the README.
    assert ("file.encoding", "templates/latin1/0/README.md") in {
        (p.rule, p.file) for p in templates["latin1"].all_problems() if not p.blocking
    }
    assert blocking(templates["tabs"]) == {("yaml.tab-indent", "templates/tabs/config.yml", 4)}


def test_git_and_folder_snapshots_load_the_same(folder_snapshot, git_snapshot):
    for case in ("community", "helm-versioned", "helm-plain"):
        from_folder, _ = load_catalog(folder_snapshot(case))
        from_git, _ = load_catalog(git_snapshot(case))
        assert from_git == from_folder, case


def link_outside(root, outside):
    (outside / "secret.txt").write_text("top secret\n")
    good = root / "templates" / "good"
    os.remove(good / "0" / "rancher-compose.yml")
    os.symlink(outside / "secret.txt", good / "0" / "rancher-compose.yml")
    os.symlink("../../../../../../etc/passwd", good / "0" / "README.md")
    os.symlink(outside, good / "0" / "escape")  # a linked folder


def check_links(templates):
    version = templates["good"].versions[0]
    files = {f.path: f for f in version.files}
    assert files["rancher-compose.yml"].content is None
    assert files["README.md"].content is None and version.readme is None
    assert files["escape"].content is None and "escape/secret.txt" not in files
    found = {(p.rule, p.file, p.blocking) for p in version.problems}
    assert found == {
        ("file.symlink", "templates/good/0/rancher-compose.yml", True),
        ("file.symlink", "templates/good/0/README.md", False),
        ("file.symlink", "templates/good/0/escape", False),
    }
    assert not version.usable and templates["good"].usable
    assert b"top secret" not in repr(templates).encode()


def test_symlinks_out_of_a_folder_catalog_are_not_followed(tmp_path):
    root = tmp_path / "catalog"
    shutil.copytree(CATALOGS / "hostile", root)
    outside = tmp_path / "outside"
    outside.mkdir()
    link_outside(root, outside)
    templates, _ = by_id(FolderSnapshot(root))
    check_links(templates)


def test_symlinks_out_of_a_git_catalog_are_not_followed(tmp_path, git_snapshot):
    outside = tmp_path / "outside"
    outside.mkdir()
    templates, _ = by_id(git_snapshot("hostile", setup=lambda root: link_outside(root, outside)))
    check_links(templates)


def add_large_files(root):
    with open(root / "templates" / "good" / "0" / "docker-compose.yml", "ab") as fh:
        fh.write(b"#" * MAX_FILE_BYTES)
    (root / "templates" / "good" / "0" / "big.bin").write_bytes(b"\0" * (MAX_FILE_BYTES + 1))


@pytest.mark.parametrize("source", ["folder", "git"])
def test_files_over_the_size_limit_are_not_read(source, tmp_path, git_snapshot):
    if source == "git":
        snapshot = git_snapshot("hostile", setup=add_large_files)
    else:
        shutil.copytree(CATALOGS / "hostile", tmp_path / "c")
        add_large_files(tmp_path / "c")
        snapshot = FolderSnapshot(tmp_path / "c")
    templates, _ = by_id(snapshot)
    version = templates["good"].versions[0]
    files = {f.path: f for f in version.files}
    assert files["big.bin"].content is None and files["big.bin"].size == MAX_FILE_BYTES + 1
    found = {(p.rule, p.file, p.blocking) for p in version.problems}
    assert found == {
        ("file.too-large", "templates/good/0/docker-compose.yml", True),
        ("file.too-large", "templates/good/0/big.bin", False),
    }
    assert templates["aliasbomb"].usable  # the rest of the catalog is untouched


def test_a_crashing_template_is_recorded_and_the_others_load(folder_snapshot, monkeypatch):
    real = compose._load_config

    def explode(snapshot, t, entries):
        if t.id == "neuvector":
            raise RuntimeError("boom")
        return real(snapshot, t, entries)

    monkeypatch.setattr(compose, "_load_config", explode)
    templates, _ = by_id(folder_snapshot("community"))
    [problem] = templates["neuvector"].problems
    assert (problem.rule, problem.blocking) == ("loader.internal", True)
    assert "boom" in problem.message and not templates["neuvector"].usable
    assert templates["quirks"].usable and templates["quirks"].versions


def test_load_template_dispatches_by_kind(folder_snapshot):
    snapshot = folder_snapshot("helm-plain")
    t = load_template(
        snapshot, TemplateRoot("charts*y", "charts/y", "helm", "helm-plain", "charts")
    )
    assert t.kind == "helm" and t.versions[0].version == "0.1.0"
    t = load_template(
        folder_snapshot("community"),
        TemplateRoot("infra*ipsec", "infra-templates/ipsec", "compose", "rancher", "infra"),
    )
    assert t.kind == "compose" and t.versions[0].version == "0.2.4"


def test_problem_locations_name_the_template_and_version(folder_snapshot):
    templates, _ = by_id(folder_snapshot("community"))
    [problem] = [p for p in templates["broken-version"].all_problems() if p.blocking]
    assert (problem.template, problem.version) == ("broken-version", "1")
