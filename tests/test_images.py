"""Chart versions' images: rendered with the default values through the Helm SDK, read
from values.yaml where it cannot render, and judged by policy.image-latest."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_server import helmsdk
from catalog_server.images import chart_images, images_of, rendered_images, values_images
from catalog_server.lint import lint_catalog
from catalog_server.yamlfile import load_yaml

CATALOG = Path(__file__).parent / "data" / "chart-images"
SHAPES = CATALOG / "charts" / "shapes" / "1.0.0"
NEEDS_VALUES = CATALOG / "charts" / "needs-values" / "1.0.0"
DIGEST = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

needs_sdk = pytest.mark.skipif(not helmsdk.available(), reason=helmsdk.missing_message())


def chart_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*") if p.is_file()}  # fmt: skip


def values_of(folder: Path):
    return load_yaml((folder / "values.yaml").read_bytes(), "values.yaml").value


def test_every_values_shape_is_read():
    found = {".".join(i.path): (i.reference, i.pinned) for i in values_images(values_of(SHAPES))}
    assert found == {
        "proxy.image": ("nginx:1.27.5", True),
        "operator.image": ("rancher/sriov-operator:v1.0.0", True),
        "exporter.image": ("prom/node-exporter:v1.8.2", True),
        "agent.image": ("example/agent:3.1", True),
        "web.image": ("example/web:2.4.1", True),
        "db.image": ("registry.example.com/library/postgres:16.4", True),
        "cache.image": (f"redis@{DIGEST}", True),
        "worker.image": ("example/worker", True),  # empty tag: the chart's appVersion
        "updater.image": ("example/updater:latest", False),
        "debug.image": ("busybox", False),
    }


def test_values_that_are_not_images_are_left_alone():
    values = {
        "dependencies": [{"repository": "https://charts.example.com", "version": "1.0"}],
        "git": {"repository": "git@example.com:team/repo.git"},
        "image": {"pullPolicy": "Always"},
        "sidecars": {"image": {"csi": {"repository": "example/csi", "tag": "v2"}}},
    }
    assert [(i.reference, i.path) for i in values_images(values)] == [
        ("example/csi:v2", ("sidecars", "image", "csi"))
    ]


def test_rendered_manifests_give_every_container_image():
    manifests = {
        "c/templates/a.yaml": "kind: Pod\nspec:\n  initContainers: [{image: init:1}]\n"
        "  containers: [{image: 'app:2'}, {image: app:2}]\n---\nkind: Service\n",
        "c/templates/cron.yaml": "spec:\n  jobTemplate:\n    spec:\n      template:\n"
        "        spec:\n          containers:\n            - image: job\n",
        "c/templates/NOTES.txt": "containers: [{image: not-this}]",
        "c/templates/cm.yaml": "data: {image: not-a-container}",
        "c/crds/crd.yaml": "kind: CustomResourceDefinition\nspec:\n  containers: "
        "[{image: a-schema}]\n---\nkind: Pod\nspec:\n  containers: [{image: pod:3}]\n",
    }
    assert rendered_images(manifests) == [
        ("pod:3", "c/crds/crd.yaml"),
        ("init:1", "c/templates/a.yaml"), ("app:2", "c/templates/a.yaml"),
        ("job", "c/templates/cron.yaml"),
    ]  # fmt: skip


def test_rendered_alias_bomb_is_bounded():
    bomb = (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
            f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(12)
        )
        + "containers: [{image: x}]\n"
    )
    assert rendered_images({"c/templates/bomb.yaml": bomb}) == []


@needs_sdk
def test_images_come_from_the_rendered_chart():
    found = chart_images({"name": "shapes"}, "shapes", chart_files(SHAPES))
    assert found.source == "rendered" and found.note is None
    assert found.images == [
        "alpine", "example/agent:3.1", "example/updater:latest", "example/web:2.4.1",
        "example/worker:2.4.1", "nginx:1.27.5", "prom/node-exporter:v1.8.2",
        "rancher/sriov-operator:v1.0.0", f"redis@{DIGEST}",
        "registry.example.com/library/postgres:16.4",
    ]  # fmt: skip
    assert found.unpinned == [  # in the order the manifest runs them
        ("example/updater:latest", "shapes/templates/jobs.yaml"),
        ("alpine", "shapes/templates/jobs.yaml"),
    ]


@needs_sdk
def test_a_chart_that_needs_answers_falls_back_to_its_values():
    found = chart_images({"name": "needs-values"}, "needs-values", chart_files(NEEDS_VALUES))
    assert found.source == "values"
    assert "domain cannot be empty" in found.note
    assert found.images == ["example/server:1.2.3", "example/tools"]


def test_without_the_sdk_images_come_from_the_values(monkeypatch):
    monkeypatch.setattr(helmsdk, "available", lambda: False)
    found = chart_images({"name": "shapes"}, "shapes", chart_files(SHAPES))
    assert found.source == "values" and found.note == "the Helm SDK is not installed"
    assert "rancher/sriov-operator:v1.0.0" in found.images and "alpine" not in found.images


@needs_sdk
def test_a_batch_renders_on_threads_in_order():
    batch = [
        ({"name": "shapes"}, "shapes", chart_files(SHAPES)),
        ({"name": "needs-values"}, "needs-values", chart_files(NEEDS_VALUES)),
    ] * 15
    found = images_of(batch, threads=3)
    assert [f.source for f in found] == ["rendered", "values"] * 15
    assert found[0] == found[28]


def image_findings(problems):
    return sorted((p.file.rsplit("/", 1)[-1], p.line, p.message.split(":")[0].split(";")[0])
                  for p in problems if p.rule == "policy.image-latest")  # fmt: skip


@needs_sdk
def test_policy_flags_only_images_that_are_not_pinned():
    problems = lint_catalog(CATALOG)
    assert image_findings(problems) == [
        (
            "jobs.yaml",
            None,
            "image 'alpine', which templates/jobs.yaml runs with the default "
            "values, is not pinned (no tag, or `latest`)",
        ),
        ("values.yaml", 7, "tools.image"),
        ("values.yaml", 21, "helper.image"),  # csi.image: pinned by versionOverrides
        ("values.yaml", 40, "updater.image"),
        ("values.yaml", 45, "debug.image"),
    ]


def test_policy_without_the_sdk_judges_the_values(monkeypatch):
    monkeypatch.setattr(helmsdk, "available", lambda: False)
    assert [f[1:] for f in image_findings(lint_catalog(CATALOG))] == [
        (7, "tools.image"), (21, "helper.image"), (40, "updater.image"), (45, "debug.image"),
    ]  # fmt: skip
