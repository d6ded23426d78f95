"""The OCI artifact of a chart version, checked against what the Helm SDK's own `helm push`
sends to a registry for the same archive: the config blob byte for byte, and the manifest
(layers, config descriptor, annotations) apart from the creation time, which Helm takes
from the archive file's modification time, and the `mediaType` we add."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from catalog_server import helmsdk
from catalog_server.chartmeta import ChartMetadataError, chart_metadata, go_json
from catalog_server.helmrepo import package_chart
from catalog_server.oci import (
    CHART_LAYER,
    CONFIG,
    MANIFEST,
    PROVENANCE_LAYER,
    chart_annotations,
    digest_of,
    image_manifest,
    tag_for,
)

ROOT = Path(__file__).resolve().parents[2]
CHART_FOLDERS = sorted(
    p.parent
    for base in (ROOT / "catalog", ROOT / "tests/data/oci-catalog")
    for p in base.glob("charts/*/*/Chart.yaml")
)
MTIME = 1_700_000_000

needs_helm = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)


class PushRegistry:
    """The push side of the distribution spec, just enough for `helm push`: blobs are
    uploaded (POST then PUT), manifests put by digest and by tag, all kept in memory."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, bytes] = {}
        self.tags: dict[tuple[str, str], str] = {}
        self.uploads: dict[str, bytes] = {}

    def __call__(self, environ, start_response):
        request = Request(environ)
        return self.answer(request)(environ, start_response)

    def answer(self, request: Request) -> Response:
        path = request.path
        if path == "/v2/":
            return Response("{}", content_type="application/json")
        if "/blobs/uploads/" in path:
            if request.method == "POST":
                upload = uuid.uuid4().hex
                self.uploads[upload] = b""
                return Response(status=202, headers={"Location": path + upload})
            upload = path.rsplit("/", 1)[1]
            self.uploads[upload] += request.get_data()
            digest = request.args["digest"]
            assert digest_of(self.uploads[upload]) == digest
            self.blobs[digest] = self.uploads.pop(upload)
            return Response(status=201, headers={"Docker-Content-Digest": digest})
        name, _, rest = path[len("/v2/") :].partition("/blobs/")
        if rest:
            if rest not in self.blobs:
                return Response(status=404)
            return Response(self.blobs[rest], headers={"Docker-Content-Digest": rest})
        name, _, reference = path[len("/v2/") :].partition("/manifests/")
        if request.method == "PUT":
            body = request.get_data()
            digest = digest_of(body)
            self.manifests[digest] = body
            self.tags[(name, reference)] = digest
            return Response(status=201, headers={"Docker-Content-Digest": digest})
        digest = self.tags.get((name, reference), reference)
        if digest not in self.manifests:
            return Response(status=404)
        return Response(
            self.manifests[digest], content_type=MANIFEST, headers={"Docker-Content-Digest": digest}
        )


def chart_files(folder: Path) -> list[tuple[str, bytes]]:
    return [
        (p.relative_to(folder).as_posix(), p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def our_artifact(folder: Path, archive: bytes, prov: bytes | None) -> tuple[bytes, dict]:
    requirements = folder / "requirements.yaml"
    metadata = chart_metadata(
        (folder / "Chart.yaml").read_bytes(),
        requirements.read_bytes() if requirements.exists() else None,
    )
    layers = [(CHART_LAYER, digest_of(archive), len(archive))]
    if prov is not None:
        layers.append((PROVENANCE_LAYER, digest_of(prov), len(prov)))
    created = datetime.fromtimestamp(MTIME, UTC)
    config = go_json(metadata)
    return config, json.loads(image_manifest(config, layers, chart_annotations(metadata, created)))


@needs_helm
def test_config_and_manifest_are_what_helm_push_writes(tmp_path, helm_home, http_server):
    compared = 0
    registry = PushRegistry()
    with http_server(registry) as host:
        for folder in CHART_FOLDERS:
            name = folder.parent.name
            archive = package_chart(name, chart_files(folder), MTIME)
            version = json.loads(go_json(chart_metadata((folder / "Chart.yaml").read_bytes())))[
                "version"
            ]
            path = tmp_path / folder.parent.name / folder.name / f"{name}-{version}.tgz"
            path.parent.mkdir(parents=True)
            path.write_bytes(archive)
            # One chart also carries a provenance file, as `helm push` does beside a .prov.
            prov = b"-----BEGIN PGP SIGNED MESSAGE-----\n..." if name == "grafana" else None
            if prov is not None:
                path.with_name(path.name + ".prov").write_bytes(prov)
            os.utime(path, (MTIME, MTIME))
            helmsdk.push(path, f"oci://{host}/lib", plain_http=True)

            pushed = json.loads(
                registry.manifests[registry.tags[(f"lib/{name}", tag_for(version))]]
            )
            config, ours = our_artifact(folder, archive, prov)
            assert registry.blobs[pushed["config"]["digest"]] == config, folder
            assert ours.pop("mediaType") == MANIFEST
            for manifest in (ours, pushed):
                manifest["annotations"].pop("org.opencontainers.image.created")
            assert ours == pushed, folder
            assert pushed["config"]["mediaType"] == CONFIG
            compared += 1
    assert compared == len(CHART_FOLDERS) >= 20


def test_odd_metadata_is_written_as_helm_writes_it():
    """The fixture's odd shapes, spelled out (the test above checks them against Helm)."""
    folder = ROOT / "tests/data/oci-catalog/charts/odd/1.10.0"
    metadata = chart_metadata((folder / "Chart.yaml").read_bytes())
    assert metadata["appVersion"] == "1.1"  # a YAML float, through float32
    assert metadata["keywords"] == ["odd", "42", "2.5"]
    assert metadata["description"] == "An <odd> chart & friends: Grüße, over two lines"
    assert metadata["annotations"]["example.com/count"] == "5"
    assert list(metadata) == [
        "name",
        "home",
        "sources",
        "version",
        "description",
        "keywords",
        "maintainers",
        "icon",
        "apiVersion",
        "appVersion",
        "deprecated",
        "annotations",
        "kubeVersion",
        "dependencies",
        "type",
    ]
    text = go_json(metadata).decode()
    assert (
        '"description":"An \\u003codd\\u003e chart \\u0026 friends: Grüße, over two lines"' in text
    )
    annotations = chart_annotations(metadata, datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert annotations["org.opencontainers.image.title"] == "odd"
    assert annotations["org.opencontainers.image.description"] == "overridden by the chart"
    assert annotations["org.opencontainers.image.authors"] == "Ada (ada@example.com), , Bo"
    assert annotations["org.opencontainers.image.created"] == "2024-01-02T03:04:05Z"
    assert annotations["org.opencontainers.image.source"] == "https://git.example.com/odd"


def test_yaml_scalars_become_text_as_sigs_yaml_makes_them():
    folder = ROOT / "tests/data/oci-catalog/charts/flags/1.0.0"
    metadata = chart_metadata((folder / "Chart.yaml").read_bytes())
    assert metadata["appVersion"] == "true"
    assert metadata["keywords"] == ["true", "false", "31", "15", "1000"]
    assert metadata["annotations"] == {
        "1.5": "one and a half",
        "7": "seven",
        "example.com/flag": "true",
        "example.com/null": "",
    }
    assert (metadata["tags"], metadata["condition"]) == ("true", "3.25")


def test_a_v1_chart_takes_its_dependencies_from_requirements_yaml():
    folder = ROOT / "tests/data/oci-catalog/charts/legacy/0.1.0"
    metadata = chart_metadata(
        (folder / "Chart.yaml").read_bytes(), (folder / "requirements.yaml").read_bytes()
    )
    assert metadata["dependencies"] == [
        {
            "name": "redis",
            "version": "10.x.x",
            "repository": "https://charts.example.com/stable",
            "condition": "redis.enabled",
        },
        {"name": "common", "repository": ""},
    ]


REFUSED = {
    "no name": b"apiVersion: v2\nversion: 1.0.0\n",
    "no version": b"apiVersion: v2\nname: x\n",
    "bad version": b"apiVersion: v2\nname: x\nversion: one\n",
    "bad type": b"apiVersion: v2\nname: x\nversion: 1.0.0\ntype: plugin\n",
    "null maintainer": b"apiVersion: v2\nname: x\nversion: 1.0.0\nmaintainers: [~]\n",
    "mapping description": b"apiVersion: v2\nname: x\nversion: 1.0.0\ndescription: {a: b}\n",
    "string deprecated": b"apiVersion: v2\nname: x\nversion: 1.0.0\ndeprecated: 'yes'\n",
    "bad alias": b"apiVersion: v2\nname: x\nversion: 1.0.0\n"
    b"dependencies: [{name: a, repository: r, alias: 'a b'}]\n",
    "same alias twice": b"apiVersion: v2\nname: x\nversion: 1.0.0\n"
    b"dependencies: [{name: a, repository: r}, {name: b, repository: r, alias: a}]\n",
    "not a mapping": b"- a\n- b\n",
    "bad yaml": b"name: [x\n",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_metadata_helm_refuses_is_refused(case):
    data = REFUSED[case]
    with pytest.raises(ChartMetadataError):
        chart_metadata(data)
    if helmsdk.available():  # and Helm refuses to load the archive too
        archive = package_chart("x", [("Chart.yaml", data)], MTIME)
        with pytest.raises(helmsdk.HelmError):
            helmsdk.render(archive, {}, release="x", namespace="default")


def test_tags_write_build_metadata_as_helm_does():
    assert tag_for("1.2.0+up3.4.5") == "1.2.0_up3.4.5"
    assert tag_for("v1.0.0") == "v1.0.0"
    assert tag_for("1.0.0 beta") is None
    assert hashlib.sha256(b"").hexdigest() in digest_of(b"")
