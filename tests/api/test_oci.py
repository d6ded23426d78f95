"""The OCI registry at /v2/: the Helm SDK pulls every chart version over it, and the pull
category of the OCI distribution spec holds (the checks of the spec's conformance suite,
written as tests), on both databases."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from catalog_server import helmsdk
from catalog_server.oci import CHART_LAYER, CONFIG, MANIFEST

ROOT = Path(__file__).resolve().parents[2]
needs_helm = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)
MISSING_DIGEST = "sha256:" + hashlib.sha256(b"nothing here").hexdigest()


@pytest.fixture
def odd(make_catalog_repo, sync):
    """The oci-catalog fixture (odd metadata, a `+` version, a v1 chart) as catalog `odd`."""
    repo = make_catalog_repo(fixture="oci-catalog")
    summary = sync(repo.source("odd"))
    assert summary.status == "updated", summary
    return repo


def index_of(client, catalog: str) -> dict:
    response = client.get(f"/helm/{catalog}/index.yaml")
    assert response.status_code == 200
    return yaml.safe_load(response.get_data(True))["entries"]


def registry_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(True))
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    body = response.get_json()
    assert [e["code"] for e in body["errors"]] == [code], body
    return body["errors"][0]


# --- the Helm SDK as the client -----------------------------------------------------------


@needs_helm
def test_helm_pulls_every_chart_version_over_oci(
    make_catalog_repo, sync, odd, app, client, tmp_path, helm_home, http_server
):
    bundled = make_catalog_repo()
    shutil.copytree(ROOT / "catalog", bundled.path, dirs_exist_ok=True)
    bundled.commit("the bundled catalog")
    assert sync(bundled.source("library")).status == "updated"
    expected = {p.parent.parent.name for p in (ROOT / "catalog").glob("charts/*/*/Chart.yaml")}
    pulled = 0
    with http_server(app) as host:
        for catalog in ("library", "odd"):
            entries = index_of(client, catalog)
            if catalog == "library":
                assert set(entries) == expected
            for name, versions in entries.items():
                tags = client.get(f"/v2/{catalog}/{name}/tags/list").get_json()["tags"]
                assert sorted(tags) == sorted(v["version"].replace("+", "_") for v in versions)
                for entry in versions:
                    dest = tmp_path / "pulled" / catalog / name / entry["version"]
                    archive = helmsdk.pull_oci(
                        f"oci://{host}/{catalog}/{name}", entry["version"], dest, plain_http=True
                    )
                    data = archive.read_bytes()
                    assert hashlib.sha256(data).hexdigest() == entry["digest"], archive
                    assert data == client.get(f"/helm/{catalog}/{entry['urls'][0]}").data
                    pulled += 1
    # Every chart version of the bundled catalog, and the 6 of the odd one.
    assert pulled == len(list((ROOT / "catalog").glob("charts/*/*/Chart.yaml"))) + 6


@needs_helm
def test_helm_resolves_versions_through_the_tag_list(odd, app, tmp_path, helm_home, http_server):
    with http_server(app) as host:
        newest = helmsdk.pull_oci(f"oci://{host}/odd/plus", None, tmp_path / "a", plain_http=True)
        ranged = helmsdk.pull_oci(f"oci://{host}/odd/plus", "~1.1", tmp_path / "b", plain_http=True)
        with pytest.raises(helmsdk.HelmError):
            helmsdk.pull_oci(f"oci://{host}/odd/plus", "9.9.9", tmp_path / "c", plain_http=True)
        with pytest.raises(helmsdk.HelmError):
            helmsdk.pull_oci(f"oci://{host}/odd/nothing", "1.0.0", tmp_path / "d", plain_http=True)
    # The tag says 1.2.0_up3.4.5; Helm turns it back into the version.
    assert newest.name == "plus-1.2.0+up3.4.5.tgz"
    assert ranged.name == "plus-1.1.0.tgz"


# --- what Helm reads: the manifest, config and layers ------------------------------------


def test_the_manifest_is_helms(odd, client):
    response = client.get("/v2/odd/plus/manifests/1.2.0_up3.4.5")
    assert response.status_code == 200
    manifest = json.loads(response.data)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == MANIFEST == response.headers["Content-Type"]
    assert manifest["config"]["mediaType"] == CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [CHART_LAYER]
    annotations = manifest["annotations"]
    assert annotations["org.opencontainers.image.title"] == "plus"
    assert annotations["org.opencontainers.image.version"] == "1.2.0+up3.4.5"
    assert "org.opencontainers.image.created" in annotations
    config = client.get(f"/v2/odd/plus/blobs/{manifest['config']['digest']}")
    assert json.loads(config.data)["version"] == "1.2.0+up3.4.5"
    # The chart layer is the archive the chart repository serves, digest for digest.
    entry = next(e for e in index_of(client, "odd")["plus"] if e["version"] == "1.2.0+up3.4.5")
    assert manifest["layers"][0]["digest"] == "sha256:" + entry["digest"]
    archive = client.get(f"/helm/odd/{entry['urls'][0]}").data
    assert manifest["layers"][0]["size"] == len(archive)
    assert client.get(f"/v2/odd/plus/blobs/sha256:{entry['digest']}").data == archive


def test_tag_list_pages_with_n_last_and_link(odd, client):
    everything = client.get("/v2/odd/plus/tags/list")
    assert everything.get_json() == {"name": "odd/plus", "tags": ["1.1.0", "1.2.0_up3.4.5"]}
    assert "Link" not in everything.headers
    first = client.get("/v2/odd/plus/tags/list?n=1")
    assert first.get_json()["tags"] == ["1.1.0"]
    link = first.headers["Link"]
    assert link.endswith('>; rel="next"')
    target = urlsplit(link[1 : link.index(">")])
    assert target.path == "/v2/odd/plus/tags/list"
    assert parse_qs(target.query) == {"n": ["1"], "last": ["1.1.0"]}
    second = client.get(f"{target.path}?{target.query}")
    assert second.get_json()["tags"] == ["1.2.0_up3.4.5"]
    assert "Link" not in second.headers
    empty = client.get("/v2/odd/plus/tags/list?n=0")
    assert empty.get_json()["tags"] == [] and "Link" not in empty.headers
    assert client.get("/v2/odd/plus/tags/list?last=1.1.0").get_json()["tags"] == ["1.2.0_up3.4.5"]
    registry_error(client.get("/v2/odd/plus/tags/list?n=many"), 400, "UNSUPPORTED")


def test_catalog_lists_every_repository_with_paging(odd, client):
    names = client.get("/v2/_catalog").get_json()["repositories"]
    assert names == ["odd/bigapp", "odd/flags", "odd/legacy", "odd/odd", "odd/plus"]
    seen, url = [], "/v2/_catalog?n=3"
    while url:
        response = client.get(url)
        seen += response.get_json()["repositories"]
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    assert seen == names


def test_unknown_names_tags_and_digests_give_the_spec_codes(odd, client):
    registry_error(client.get("/v2/odd/nothing/tags/list"), 404, "NAME_UNKNOWN")
    registry_error(client.get("/v2/nothing/plus/manifests/1.1.0"), 404, "NAME_UNKNOWN")
    registry_error(client.get("/v2/odd/plus/extra/manifests/1.1.0"), 404, "NAME_UNKNOWN")
    registry_error(client.get("/v2/odd/plus/manifests/9.9.9"), 404, "MANIFEST_UNKNOWN")
    registry_error(client.get(f"/v2/odd/plus/manifests/{MISSING_DIGEST}"), 404, "MANIFEST_UNKNOWN")
    registry_error(
        client.get("/v2/odd/plus/manifests/sha256:baddigeststring"), 400, "DIGEST_INVALID"
    )
    registry_error(client.get(f"/v2/odd/plus/blobs/{MISSING_DIGEST}"), 404, "BLOB_UNKNOWN")
    registry_error(client.get("/v2/odd/plus/blobs/sha512:" + "a" * 128), 404, "BLOB_UNKNOWN")
    registry_error(client.get("/v2/odd/plus/blobs/notadigest"), 400, "DIGEST_INVALID")
    head = client.head(f"/v2/odd/plus/blobs/{MISSING_DIGEST}")
    assert head.status_code == 404 and head.data == b""
    # A blob of another repository is not this repository's.
    plus = json.loads(client.get("/v2/odd/plus/manifests/1.1.0").data)
    registry_error(
        client.get(f"/v2/odd/odd/blobs/{plus['layers'][0]['digest']}"), 404, "BLOB_UNKNOWN"
    )


WRITES = [
    ("POST", "/v2/odd/plus/blobs/uploads/"),
    ("POST", f"/v2/odd/plus/blobs/uploads/?mount={MISSING_DIGEST}&from=odd/odd"),
    ("PATCH", "/v2/odd/plus/blobs/uploads/1234"),
    ("PUT", f"/v2/odd/plus/blobs/uploads/1234?digest={MISSING_DIGEST}"),
    ("PUT", "/v2/odd/plus/manifests/1.1.0"),
    ("PUT", "/v2/odd/new/manifests/1.0.0"),
    ("DELETE", "/v2/odd/plus/manifests/1.1.0"),
    ("DELETE", f"/v2/odd/plus/blobs/{MISSING_DIGEST}"),
    ("POST", "/v2/"),
]


def test_push_and_delete_are_unsupported(odd, client):
    for method, path in WRITES:
        response = client.open(path, method=method, data=b"{}")
        error = registry_error(response, 405, "UNSUPPORTED")
        assert "git" in error["message"]
        assert response.headers["Allow"] == "GET, HEAD"
    assert client.get("/v2/odd/plus/tags/list").get_json()["tags"] == ["1.1.0", "1.2.0_up3.4.5"]


@needs_helm
def test_helm_push_is_refused(odd, app, client, tmp_path, helm_home, http_server):
    archive = tmp_path / "plus-1.1.0.tgz"
    archive.write_bytes(client.get("/helm/odd/charts/plus-1.1.0.tgz").data)
    with http_server(app) as host, pytest.raises(helmsdk.HelmError, match="(?i)unsupported|405"):
        helmsdk.push(archive, f"oci://{host}/odd", plain_http=True)


# --- the conformance suite's pull checks -------------------------------------------------


def content_of(client, name: str) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every manifest (by digest) and blob of repository ``name``, and its tags."""
    manifests, blobs, tags = {}, {}, {}
    for tag in client.get(f"/v2/{name}/tags/list").get_json()["tags"]:
        data = client.get(f"/v2/{name}/manifests/{tag}").data
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        manifests[digest], tags[tag] = data, digest
        manifest = json.loads(data)
        for descriptor in [manifest["config"], *manifest["layers"]]:
            blob = client.get(f"/v2/{name}/blobs/{descriptor['digest']}").data
            assert len(blob) == descriptor["size"]
            blobs[descriptor["digest"]] = blob
    return manifests | blobs, tags


def test_pull_category_of_the_distribution_spec(odd, client):
    # ping
    ping = client.get("/v2/")
    assert ping.status_code == 200
    assert ping.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    for name in ("odd/plus", "odd/odd", "odd/legacy"):
        content, tags = content_of(client, name)
        manifests = set(tags.values())
        # tag list: every tag, in lexical order, `last` leaves out what sorts before it
        listed = client.get(f"/v2/{name}/tags/list").get_json()["tags"]
        assert listed == sorted(tags)
        if len(listed) >= 2:
            half = len(listed) // 2
            after = client.get(f"/v2/{name}/tags/list?last={listed[half - 1]}").get_json()
            assert after["tags"] == listed[half:]
        references = [*tags, *manifests]
        for reference in references:
            digest = tags.get(reference, reference)
            body = content[digest]
            media_type = json.loads(body)["mediaType"]
            # manifest HEAD and GET, by tag and by digest
            for method in ("HEAD", "GET"):
                response = client.open(
                    f"/v2/{name}/manifests/{reference}",
                    method=method,
                    headers=[
                        ("Accept", "application/vnd.oci.image.index.v1+json"),
                        ("Accept", MANIFEST),
                    ],
                )
                assert response.status_code == 200
                assert response.headers["Content-Type"] == media_type
                assert response.headers["Content-Length"] == str(len(body))
                assert response.headers["Docker-Content-Digest"] == digest
                assert response.data == (b"" if method == "HEAD" else body)
        for digest, body in content.items():
            if digest in manifests:
                continue
            # blob HEAD and GET: exact length, digest header, the body that hashes to it
            head = client.head(f"/v2/{name}/blobs/{digest}")
            assert head.status_code == 200 and head.data == b""
            assert head.headers["Content-Length"] == str(len(body))
            assert head.headers["Docker-Content-Digest"] == digest
            get = client.get(f"/v2/{name}/blobs/{digest}")
            assert get.status_code == 200
            assert get.headers["Content-Length"] == str(len(body))
            assert get.headers["Docker-Content-Digest"] == digest
            assert "sha256:" + hashlib.sha256(get.data).hexdigest() == digest
    # missing manifests: by digest, by tag, and a malformed digest (404 or 400)
    assert client.get(f"/v2/odd/plus/manifests/{MISSING_DIGEST}").status_code == 404
    assert client.get("/v2/odd/plus/manifests/missing-tag").status_code == 404
    assert client.get("/v2/odd/plus/manifests/sha256:baddigeststring").status_code in (400, 404)


def test_blob_ranges(odd, client):
    manifest = json.loads(client.get("/v2/odd/odd/manifests/1.10.0").data)
    digest, size = manifest["layers"][0]["digest"], manifest["layers"][0]["size"]
    whole = client.get(f"/v2/odd/odd/blobs/{digest}")
    assert whole.headers["Accept-Ranges"] == "bytes"
    first = client.get(f"/v2/odd/odd/blobs/{digest}", headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert first.headers["Content-Length"] == "100"
    assert first.data == whole.data[:100]
    rest = client.get(f"/v2/odd/odd/blobs/{digest}", headers={"Range": "bytes=100-"})
    assert rest.status_code == 206 and first.data + rest.data == whole.data
    tail = client.get(f"/v2/odd/odd/blobs/{digest}", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.data == whole.data[-10:]
    outside = client.get(f"/v2/odd/odd/blobs/{digest}", headers={"Range": f"bytes={size}-"})
    registry_error(outside, 416, "UNSUPPORTED")
    assert outside.headers["Content-Range"] == f"bytes */{size}"
    config = manifest["config"]["digest"]
    part = client.get(f"/v2/odd/odd/blobs/{config}", headers={"Range": "bytes=0-0"})
    assert part.status_code == 206 and part.data == b"{"


def test_etag_and_304(odd, client):
    for path in ("/v2/odd/plus/manifests/1.1.0", "/v2/odd/plus/tags/list", "/v2/_catalog"):
        first = client.get(path)
        etag = first.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
    manifest = client.get("/v2/odd/plus/manifests/1.1.0")
    digest = manifest.headers["Docker-Content-Digest"]
    assert manifest.headers["ETag"] == f'"{digest}"'
    layer = json.loads(manifest.data)["layers"][0]["digest"]
    blob = client.get(f"/v2/odd/plus/blobs/{layer}")
    assert blob.headers["ETag"] == f'"{layer}"'
    assert "immutable" in blob.headers["Cache-Control"]
    assert (
        client.get(
            f"/v2/odd/plus/blobs/{layer}", headers={"If-None-Match": f'"{layer}"'}
        ).status_code
        == 304
    )
    assert (
        client.head(
            f"/v2/odd/plus/blobs/{layer}", headers={"If-None-Match": f'"{layer}"'}
        ).status_code
        == 304
    )


def test_a_new_commit_shows_over_oci(odd, client, sync):
    before = client.get("/v2/odd/plus/tags/list").get_json()["tags"]
    folder = odd.path / "charts/plus/1.3.0"
    shutil.copytree(odd.path / "charts/plus/1.1.0", folder)
    chart = (folder / "Chart.yaml").read_text().replace("version: 1.1.0", "version: 1.3.0")
    (folder / "Chart.yaml").write_text(chart)
    odd.commit("plus 1.3.0")
    assert sync(odd.source("odd")).status == "updated"
    after = client.get("/v2/odd/plus/tags/list").get_json()["tags"]
    assert after == sorted([*before, "1.3.0"])
    assert client.get("/v2/odd/plus/manifests/1.3.0").status_code == 200


def test_metrics_label_oci_routes_by_their_rule(odd, client):
    client.get("/v2/odd/plus/manifests/1.1.0")
    client.get(f"/v2/odd/plus/blobs/{MISSING_DIGEST}")
    scrape = client.get("/metrics").get_data(True)
    assert 'route="/v2/<catalog>/<chart>/manifests/<reference>"' in scrape
    assert 'route="/v2/<catalog>/<chart>/blobs/<digest>"' in scrape
