"""The container images of a Helm chart version.

Found as Artifact Hub finds them: the chart is rendered with its default values through
the Helm SDK (`helmsdk.render`, with the release name and namespace Rancher would use),
and every `image` of the `containers`, `initContainers` and `ephemeralContainers` of every
rendered object is listed. Where the SDK is missing, or the chart does not render with its
defaults (a value it requires, a cluster it looks up), the images are read from
`values.yaml` instead, in the shapes charts write them:

    image: nginx:1.27                          a full reference
    image: nginx          (+ tag / imageTag / version / digest / registry beside it)
    image: {repository: nginx, tag: "1.27"}    any mapping with a `repository`,
    image: {registry: docker.io, repository: library/nginx, tag: "1.27", digest: sha256:...}
    (`sha` and `hash` are digests too, as rancher/charts write them)

`values_images` also says, for each image it reads, whether the values pin it: a tag other
than `latest`, or a digest, in the reference or beside it, or in a Rancher
`versionOverrides` entry at the same path. A mapping whose tag is empty or absent
is taken as pinned by the chart's own default (most charts fall back to their
appVersion); `latest` never pins. Policy uses this (`policy.image-latest`).

Everything here is plain Python; rendering is the only costly part, and a large batch is
spread over threads (`Renderer`).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from catalog_server import helmsdk
from catalog_server.helmrepo import package_chart
from catalog_server.loaders.model import LoadedTemplate, LoadedVersion
from catalog_server.releases import default_namespace, default_release
from catalog_server.yamlfile import load_yaml, load_yaml_all

__all__ = [
    "RENDER_OFF",
    "SDK_MISSING",
    "ChartImages",
    "RenderJob",
    "Renderer",
    "attach_images",
    "chart_name",
    "finish",
    "ValuesImage",
    "chart_images",
    "images_of",
    "rendered_images",
    "values_images",
]

VALUES_FILES = ("values.yaml", "values.yml")
TAG_KEYS = ("tag", "imageTag", "version")
DIGEST_KEYS = ("digest", "sha", "hash")
CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")
# Rendered text read for images, per chart version: beyond it the rest is not parsed.
MAX_RENDERED_BYTES = 16 * 1024 * 1024
MAX_IMAGES = 500
# A batch this large is rendered by worker processes; smaller ones in this process.
POOL_THRESHOLD = 24
SDK_MISSING = "the Helm SDK is not installed"
RENDER_OFF = "rendering is turned off (CATALOG_RENDER_IMAGES)"
# An image reference: [registry[:port]/]path[:tag][@digest], lower-case path components.
_COMPONENT = r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*"
_DOCUMENT_SPLIT = re.compile(r"^---[ \t]*(?:#.*)?$", re.M)
_CRD = re.compile(r"^kind:[ \t]*[\"']?CustomResourceDefinition\b", re.M)
_REFERENCE = re.compile(
    rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z0-9]+:[0-9a-fA-F]{32,})?"
)


@dataclass(frozen=True, slots=True)
class ValuesImage:
    """An image read from values: the reference, the key path of the node that holds it
    (the `image` key, or the mapping with the `repository`), and whether it is pinned."""

    reference: str
    path: tuple[Any, ...]
    pinned: bool


@dataclass
class ChartImages:
    """A version's images. `source` is "rendered" or "values"; `note` says why the values
    were read (the SDK is missing, or Helm's message when rendering failed). `unpinned`
    are rendered images without a tag or with `latest`, with the template that runs them.
    """

    images: list[str] = field(default_factory=list)
    source: str = "values"
    note: str | None = None
    unpinned: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"images": self.images, "source": self.source, "note": self.note,
                "unpinned": [list(pair) for pair in self.unpinned]}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChartImages:
        return cls(list(data.get("images") or []), str(data.get("source") or "values"),
                   data.get("note"), [tuple(p) for p in data.get("unpinned") or []])  # fmt: skip


# --- references -----------------------------------------------------------------------------


def unpinned(reference: str) -> bool:
    """True for `nginx`, `nginx:latest`, `reg:5000/x`; False for a tag or a digest."""
    reference = reference.strip()
    if "@" in reference:
        return False
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return True
    return last.rsplit(":", 1)[1] in ("", "latest")


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()


def _join(registry: str, repository: str, tag: str, digest: str) -> str:
    reference = f"{registry.rstrip('/')}/{repository}" if registry else repository
    if tag and ":" not in reference.rsplit("/", 1)[-1]:
        reference += f":{tag}"
    if digest and "@" not in reference:
        reference += f"@{digest}" if ":" in digest else f"@sha256:{digest}"
    return reference


def _looks_like_image(text: str) -> bool:
    return bool(_REFERENCE.fullmatch(text))


def _from_mapping(node: Mapping[str, Any], name_key: str) -> tuple[str, bool] | None:
    """(reference, pinned) of a node naming an image by `name_key` (`repository` or
    `image`) with its siblings; None when it names none."""
    name = _text(node.get(name_key))
    if not _looks_like_image(name):
        return None
    tag = next((_text(node[k]) for k in TAG_KEYS if _text(node.get(k))), "")
    digest = next((_text(node[k]) for k in DIGEST_KEYS if _text(node.get(k))), "")
    registry = _text(node.get("registry"))
    reference = _join(registry, name, tag, digest)
    if digest or "@" in name:
        return reference, True
    own_tag = ":" in name.rsplit("/", 1)[-1]
    if tag == "latest" or (own_tag and unpinned(name)):
        return reference, False
    if own_tag or tag:
        return reference, True
    # No tag anywhere: a bare `image: nginx` is unpinned; a mapping (or an `image` with an
    # empty tag key beside it) leaves the tag to the chart, which pins its appVersion.
    has_tag_key = any(k in node for k in TAG_KEYS)
    return reference, name_key == "repository" or has_tag_key


def values_images(values: Any) -> list[ValuesImage]:
    """Every image the values name, in document order (see the module docstring).

    An image that Rancher's `versionOverrides` (a list of `{constraint, values}` whose
    values the chart applies for the cluster's Kubernetes version) pin at the same path
    counts as pinned: the chart runs the pinned one on every version it supports."""
    found = _values_images(values)
    overrides = values.get("versionOverrides") if isinstance(values, dict) else None
    if not isinstance(overrides, list):
        return found
    pinned_paths = {
        image.path
        for override in overrides
        if isinstance(override, dict)
        for image in _values_images(override.get("values"))
        if image.pinned
    }
    return [ValuesImage(i.reference, i.path, True) if not i.pinned and i.path in pinned_paths
            else i for i in found]  # fmt: skip


def _values_images(values: Any) -> list[ValuesImage]:
    found: list[ValuesImage] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), values)]
    while stack and len(found) < MAX_IMAGES:
        path, node = stack.pop()
        if isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(node))))
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("repository"), str) and (got := _from_mapping(node, "repository")):
            found.append(ValuesImage(got[0], path, got[1]))
        elif isinstance(node.get("image"), str) and (got := _from_mapping(node, "image")):
            found.append(ValuesImage(got[0], (*path, "image"), got[1]))
        stack.extend(((*path, k), v) for k, v in reversed(list(node.items())))
    return found


# --- rendered manifests ---------------------------------------------------------------------


def _pod_images(node: Any) -> Iterator[str]:
    """Images of every container list in a rendered object (pod specs at any depth)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            for key in CONTAINER_KEYS:
                containers = item.get(key)
                if isinstance(containers, list):
                    for container in containers:
                        image = container.get("image") if isinstance(container, dict) else None
                        if isinstance(image, str) and image.strip():
                            yield image.strip()
            stack.extend(v for k, v in reversed(list(item.items())) if k not in CONTAINER_KEYS)


def rendered_images(manifests: Mapping[str, str]) -> list[tuple[str, str]]:
    """(image, template path) of every container in rendered manifests, first use kept.

    Only documents that hold a container list are parsed; CustomResourceDefinitions (whose
    schemas name `containers` too, and are often the largest files) are skipped."""
    seen: dict[str, str] = {}
    budget = MAX_RENDERED_BYTES
    for path in sorted(manifests):
        text = manifests[path]
        if path.endswith("NOTES.txt") or "ontainers" not in text:
            continue  # no container list: not worth parsing
        for document in _DOCUMENT_SPLIT.split(text):
            if "ontainers" not in document or _CRD.search(document):
                continue
            budget -= len(document)
            if budget < 0 or len(seen) >= MAX_IMAGES:
                return list(seen.items())
            parsed = load_yaml_all(document.encode("utf-8"), path)
            values = parsed.value if isinstance(parsed.value, list) else [parsed.value]
            for value in values:
                for image in _pod_images(value):
                    seen.setdefault(image, path)
    return list(seen.items())


# --- one version, and many ------------------------------------------------------------------


@dataclass(frozen=True)
class RenderJob:
    """What rendering a chart version needs: its archive, release name and namespace."""

    archive: bytes
    release: str
    namespace: str


def _render(job: RenderJob) -> tuple[list[tuple[str, str]] | None, str | None]:
    """Rendered images, or None and why not. Never raises: chart content is hostile and the
    SDK is young, so any failure falls back to the values."""
    try:
        manifests = helmsdk.render(job.archive, {}, job.release, job.namespace)
    except helmsdk.HelmSDKMissing:
        return None, SDK_MISSING
    except helmsdk.HelmError as exc:
        return None, f"the chart does not render with its default values: {_first_line(exc)}"
    except Exception as exc:  # noqa: BLE001 - see the docstring
        return None, f"rendering failed: {type(exc).__name__}: {_first_line(exc)}"
    return rendered_images(manifests), None


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _values(files: Mapping[str, bytes | None]) -> Any:
    for name in VALUES_FILES:
        data = files.get(name)
        if data is not None:
            parsed = load_yaml(data, name)
            return parsed.value if parsed.ok else None
    return None


def finish(files: Mapping[str, bytes | None], rendered, note: str | None) -> ChartImages:
    """A version's ChartImages from its render result; `rendered` None: read the values
    (`note` says why)."""
    if rendered is not None:
        images = sorted({image for image, _ in rendered})
        bad = [(image, path) for image, path in rendered if unpinned(image)]
        return ChartImages(images, "rendered", None, bad)
    found = values_images(_values(files))
    return ChartImages(sorted({i.reference for i in found}), "values", note)


class Renderer:
    """Renders chart versions as they are submitted, on up to `threads` threads (default:
    one per CPU, at most 4; 1 renders at once), holding few archives in waiting;
    `results()` waits for all: {key: (rendered images or None, note)}. A context manager.

    Helm's Go code runs without the GIL (the SDK calls it through ctypes, and its charts
    are safe to share between threads), so threads render in parallel with no second copy
    of the SDK to load.
    """

    def __init__(self, threads: int | None = None):
        self.workers = threads or min(4, os.cpu_count() or 1)
        self.pool = ThreadPoolExecutor(self.workers, "render") if self.workers > 1 else None
        self.slots = threading.BoundedSemaphore(self.workers * 2)
        self.futures: dict[Any, Any] = {}

    def submit(self, key: Any, job: RenderJob) -> None:
        if self.pool is None:
            self.futures[key] = _render(job)
            return
        self.slots.acquire()
        future = self.pool.submit(_render, job)
        future.add_done_callback(lambda _: self.slots.release())
        self.futures[key] = future

    def results(self) -> dict[Any, tuple[list[tuple[str, str]] | None, str | None]]:
        return {key: f if isinstance(f, tuple) else f.result() for key, f in self.futures.items()}

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)


def _archive(name: str, files: Mapping[str, bytes | None]) -> bytes:
    """The chart's archive to render (times do not matter here). Raises ValueError."""
    missing = next((path for path, content in files.items() if content is None), None)
    if missing is not None:
        raise ValueError(f"{missing} was not kept (too large or not a regular file)")
    return package_chart(name, sorted(files.items()), 0)  # type: ignore[arg-type]


def images_of(
    versions: Iterable[tuple[Mapping[str, Any], str, Mapping[str, bytes | None]]],
    *,
    render: bool = True,
    threads: int | None = None,
) -> list[ChartImages]:
    """The images of chart versions (Chart.yaml, the name it is packaged as, its files), in
    order; `render=False` reads the values only. Never raises for bad content."""
    versions = list(versions)
    can_render = render and helmsdk.available()
    workers = threads if len(versions) >= POOL_THRESHOLD else 1
    notes: dict[int, str | None] = {}
    with Renderer(workers) as renderer:
        for i, (chart, name, files) in enumerate(versions):
            if not can_render:
                notes[i] = SDK_MISSING if render else None
                continue
            try:
                archive = _archive(name, files)
            except ValueError as exc:
                notes[i] = f"the chart cannot be packaged: {exc}"
                continue
            renderer.submit(i, RenderJob(archive, default_release(name, chart),
                                         default_namespace(chart)))  # fmt: skip
        results = renderer.results()
    return [finish(files, *results.get(i, (None, notes.get(i))))
            for i, (_, _, files) in enumerate(versions)]  # fmt: skip


def chart_images(
    chart: Mapping[str, Any], name: str, files: Mapping[str, bytes | None], *, render: bool = True
) -> ChartImages:
    """The images of one chart version (see images_of)."""
    return images_of([(chart, name, files)], render=render)[0]


def chart_name(template: LoadedTemplate, version: LoadedVersion) -> tuple[dict[str, Any], str]:
    """A loaded chart version's Chart.yaml and the name it is packaged as."""
    chart = version.metadata.get("chart") if isinstance(version.metadata, dict) else None
    chart = chart if isinstance(chart, dict) else {}
    return chart, str(chart.get("name") or template.id)


def attach_images(templates: Iterable[LoadedTemplate], *, render: bool = True) -> None:
    """Find the images of every usable Helm chart version and set `version.images`
    (lint's path; the indexer keeps the images of unchanged versions instead)."""
    targets = [
        (template, version)
        for template in templates
        if template.kind == "helm"
        for version in template.versions
        if version.usable
    ]
    batch = []
    for template, version in targets:
        chart, name = chart_name(template, version)
        batch.append((chart, name, {f.path: f.content for f in version.files}))
    for (_, version), found in zip(targets, images_of(batch, render=render), strict=True):
        version.images = found
