"""Helm charts as OCI artifacts: media types, tags, and the image manifest ``helm push`` writes.

HIP-0017 and Helm's ``pkg/registry`` are the reference: a chart version is an OCI image
manifest whose config blob (``application/vnd.cncf.helm.config.v1+json``) is the chart's
metadata in JSON (:mod:`catalog_server.chartmeta`), whose layers are the chart archive and,
when the chart is signed, its provenance file, sorted by digest, and whose annotations are
the ``org.opencontainers.image.*`` ones Helm derives from the metadata plus the chart's own
annotations. Unlike Helm's push, the manifest also states its ``mediaType``, as the OCI image
spec asks. Pure Python, no Flask.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from catalog_server.chartmeta import go_json

__all__ = [
    "CHART_LAYER",
    "CONFIG",
    "MANIFEST",
    "PROVENANCE_LAYER",
    "Layer",
    "chart_annotations",
    "digest_of",
    "image_manifest",
    "is_digest",
    "is_repository_name",
    "tag_for",
]

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.cncf.helm.config.v1+json"
CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
PROVENANCE_LAYER = "application/vnd.cncf.helm.chart.provenance.v1.prov"

# The distribution spec's grammar for repository names and tags.
_NAME = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*\Z"
)
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\Z")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}\Z")

Layer = tuple[str, str, int]  # (media type, digest, size)


def tag_for(version: str) -> str | None:
    """The tag of a chart version: Helm writes a version's ``+`` as ``_`` (tags allow no
    ``+``). None when the version cannot be a tag at all."""
    tag = version.replace("+", "_")
    return tag if _TAG.match(tag) else None


def is_repository_name(name: str) -> bool:
    """True when ``name`` (``catalog/chart``) is a repository name the spec allows."""
    return bool(_NAME.match(name))


def is_digest(reference: str) -> bool:
    """True for a well-formed sha256 digest (``sha256:`` and 64 lowercase hex digits)."""
    return bool(_DIGEST.match(reference))


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _authors(maintainers: Sequence[Mapping[str, str]]) -> str:
    parts = []
    for person in maintainers:
        text = person.get("name", "")
        if person.get("email"):
            text += f" ({person['email']})"
        parts.append(text)
    return ", ".join(parts)


def chart_annotations(metadata: Mapping[str, Any], created: datetime) -> dict[str, str]:
    """The manifest annotations ``helm push`` writes for a chart (``generateOCIAnnotations``):
    title, version, description, url (home), created, source (the first of ``sources``) and
    authors (maintainers as ``Name (email)``), then the chart's own annotations, which may
    override any of them but title and version. Empty values are left out."""
    moment = created.astimezone(UTC) if created.tzinfo else created.replace(tzinfo=UTC)
    sources = metadata.get("sources") or []
    derived = {
        "org.opencontainers.image.description": metadata.get("description", ""),
        "org.opencontainers.image.title": metadata.get("name", ""),
        "org.opencontainers.image.version": metadata.get("version", ""),
        "org.opencontainers.image.url": metadata.get("home", ""),
        "org.opencontainers.image.created": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "org.opencontainers.image.source": sources[0] if sources else "",
        "org.opencontainers.image.authors": _authors(metadata.get("maintainers") or []),
    }
    out = {key: value for key, value in derived.items() if value.strip()}
    for key, value in (metadata.get("annotations") or {}).items():
        if key not in ("org.opencontainers.image.title", "org.opencontainers.image.version"):
            out[key] = value
    return dict(sorted(out.items()))


def _descriptor(media_type: str, digest: str, size: int) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size}


def image_manifest(config: bytes, layers: Sequence[Layer], annotations: Mapping[str, str]) -> bytes:
    """The manifest's bytes, written as Go's ``json.Marshal`` writes ``ocispec.Manifest``:
    layers sorted by digest (as ``helm push`` sorts them), annotation keys sorted."""
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": _descriptor(CONFIG, digest_of(config), len(config)),
        "layers": [_descriptor(*layer) for layer in sorted(layers, key=lambda layer: layer[1])],
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    return go_json(manifest)
