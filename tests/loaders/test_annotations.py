"""Reading Rancher and Artifact Hub annotations: shapes kept, malformed ones reported."""

from __future__ import annotations

import pytest

from catalog_server.loaders.annotations import read_annotations


def issues(annotations: dict) -> list[str]:
    return [message for _, message in read_annotations(annotations).issues]


def test_values_that_are_not_strings_are_reported_as_helm_reads_them():
    found = read_annotations(
        {"catalog.cattle.io/upstream-version": 1.10, "catalog.cattle.io/hidden": True}
    )
    assert found.rancher == {"upstream_version": "1.1", "hidden": True}
    assert [m.split(" is ")[0] for _, m in found.issues] == [
        "catalog.cattle.io/upstream-version",
        "catalog.cattle.io/hidden",
    ]
    assert 'Helm turns into "1.1"' in found.issues[0][1]
    assert "cannot load" in issues({"artifacthub.io/links": ["a"]})[0]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("catalog.cattle.io/kube-version", ">= 1.16 <", "not a version range"),
        ("catalog.cattle.io/rancher-version", "2.6 to 2.7", "not a version range"),
        ("catalog.cattle.io/hidden", "yes", 'write "true" or "false"'),
        ("catalog.cattle.io/certified", "gold", "Rancher knows"),
        ("catalog.cattle.io/featured", "first", "whole number"),
        ("catalog.cattle.io/os", "linux,macos", "linux, windows"),
        ("catalog.cattle.io/namespace", "Cattle_System", "not a valid namespace"),
        ("catalog.cattle.io/release-name", "x" * 54, "at most 53"),
        ("catalog.cattle.io/requests-memory", "lots", "Kubernetes quantity"),
        ("catalog.cattle.io/auto-install", "crd", "CHART=VERSION"),
        ("artifacthub.io/changes", "- kind: added\n  description: [x", "not valid YAML"),
        ("artifacthub.io/changes", "kind: added", "must be a YAML list"),
        ("artifacthub.io/changes", "- kind: improved\n  description: x", "is not one of"),
        ("artifacthub.io/changes", "- kind: added\n", "has no description"),
        ("artifacthub.io/images", "- nginx", "must be a mapping"),
        ("artifacthub.io/links", "- name: x\n  url: javascript:alert(1)", "http(s) url"),
        ("artifacthub.io/signKey", "- a", "fingerprint and url"),
        ("artifacthub.io/prerelease", "maybe", 'write "true" or "false"'),
        ("artifacthub.io/category", "games", "not an Artifact Hub category"),
    ],
)
def test_malformed_annotations_are_reported_and_left_out(key, value, words):
    found = read_annotations({key: value})
    assert len(found.issues) == 1 and found.issues[0][0] == key
    assert words in found.issues[0][1]
    stored = {**found.rancher, **found.artifacthub}
    if "changes" in stored:  # a change of an unknown kind is kept, without its kind
        stored["changes"] = [c for c in stored["changes"] if c["kind"] is not None]
    assert not any(v for k, v in stored.items() if k not in ("certified", "category", "os"))


def test_only_web_links_are_kept():
    found = read_annotations(
        {
            "artifacthub.io/changes": (
                "- kind: fixed\n  description: ok\n  links:\n"
                "    - {name: bad, url: 'javascript:alert(1)'}\n"
                "    - {name: good, url: 'https://example.com/pr/1'}\n"
            ),
            "artifacthub.io/screenshots": "- {title: s, url: 'data:image/png;base64,AA'}",
        }
    )
    assert found.artifacthub["changes"][0]["links"] == [
        {"name": "good", "url": "https://example.com/pr/1"}
    ]
    assert found.artifacthub["screenshots"] == [{"title": "s"}]


def test_an_alias_bomb_in_an_annotation_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    found = read_annotations({"artifacthub.io/images": bomb})
    assert found.issues and "not valid YAML" in found.issues[0][1]
    assert not found.artifacthub.get("images")
