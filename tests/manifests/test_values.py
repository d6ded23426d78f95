"""Values documents: a request's raw values read with their lines, and a chart's values.yaml
documented key by key (comment shapes from helm/charts, rancher/charts, helm-docs, Bitnami)."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_server.chartvalues import MAX_KEYS, document_values
from catalog_server.manifests.compose import ManifestError
from catalog_server.manifests.values import (
    MAX_VALUES_BYTES,
    changed_values,
    leaf_paths,
    parse_values,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "values-catalog"
BACKUP = DATA / "stable" / "backup" / "values.yaml"
DBFORM = DATA / "charts" / "dbform" / "1.0.0" / "values.yaml"


def errors_of(raw) -> list[dict]:
    with pytest.raises(ManifestError) as caught:
        parse_values(raw)
    assert caught.value.code == "invalid_values" and caught.value.status == 422
    return caught.value.details["errors"]


# --- a request's values ---------------------------------------------------------------------


def test_text_keeps_the_place_of_every_key():
    doc = parse_values("image:\n  tag: v2\n  pullPolicy: Always\nreplicas: 3\n")
    assert doc.tree == {"image": {"tag": "v2", "pullPolicy": "Always"}, "replicas": 3}
    assert doc.place(("image", "pullPolicy")) == (3, 3)
    assert doc.place(("image", "pullPolicy", "deeper")) == (3, 3)  # the nearest key
    assert doc.place(("nowhere",)) is None
    assert doc.holds(("image", "tag")) and not doc.holds(("image", "digest"))


def test_json_text_and_mappings_are_values_too():
    assert parse_values('{"a": {"b": [1, 2]}}').tree == {"a": {"b": [1, 2]}}
    given = {"a": {"b": 1}}
    doc = parse_values(given)
    doc.take(["a.b"])
    assert given == {"a": {"b": 1}}  # the caller's mapping is not changed
    assert parse_values("").tree == {} and parse_values("# only a comment\n").tree == {}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: 1\nb: [1, 2\nc: 3\n", 3, "expected"),
        ("a: 1\nb:\n\t- x\n", 3, "tab"),
        ("a: 1\na: 2\n", 2, "duplicate"),
        ("a: !Ref x\n", 1, "tag"),
        ("- a\n- b\n", 1, "mapping"),
        ("a:\n  1: one\n", 2, "must be text"),
        ("a:\n  b: .inf\n", 2, "finite"),
    ],
)
def test_document_errors_name_their_line(text, line, words):
    errors = errors_of(text)
    assert errors[0]["line"] == line, errors
    assert words in errors[0]["message"].lower()


def test_alias_bombs_and_deep_nesting_stop_with_an_error():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
        f" *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
        f" *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    assert "alias" in errors_of(bomb)[0]["message"].lower()
    assert errors_of("a: " + "[" * 300 + "]" * 300 + "\n")
    nested: dict = {}
    node = nested
    for _ in range(150):
        node["a"] = {}
        node = node["a"]
    assert "deeper" in errors_of(nested)[0]["message"]


def test_size_and_shape_limits():
    assert "larger" in errors_of("a: " + "x" * MAX_VALUES_BYTES)[0]["message"]
    assert "document" in errors_of(42)[0]["message"]


def test_take_moves_declared_variables_out():
    doc = parse_values("image:\n  tag: v2\n  digest: sha\ningress: true\n")
    taken = doc.take(["image.tag", "ingress.host", "missing"])
    assert taken == {"image.tag": ("v2", ("image", "tag"))}
    assert doc.tree == {"image": {"digest": "sha"}, "ingress": True}


def test_changed_values_keeps_what_differs():
    defaults = {"image": {"repository": "r", "tag": "1"}, "n": 1, "flag": True, "list": [1]}
    override = {
        "image": {"repository": "r", "tag": "2"},
        "n": 1,
        "flag": 1,  # not the same value as True for a chart
        "list": [1],
        "new": {"a": None},
        "gone": None,
        "list2": [],
    }
    assert changed_values(override, defaults) == {
        "image": {"tag": "2"}, "flag": 1, "new": {}, "list2": [],
    }  # fmt: skip
    assert changed_values({"image": None}, defaults) == {"image": None}
    assert leaf_paths({"image": {"tag": "2"}, "list": [1, 2], "empty": {}}) == [
        "image.tag", "list", "empty",
    ]  # fmt: skip


# --- values.yaml as documentation -------------------------------------------------------------


def test_documented_keys_of_a_commented_values_file():
    doc = document_values(BACKUP.read_bytes())
    keys = {k.key: k for k in doc.keys}
    assert doc.total == len(doc.keys)
    assert list(keys)[:4] == ["image.repository", "image.tag", "image.pullPolicy", "s3"]
    assert keys["image.pullPolicy"].description == "Always for mutable tags"  # inline comment
    assert keys["image.pullPolicy"].default == '"IfNotPresent"'
    assert keys["image.repository"].description == ""  # the file's header is not its comment
    s3 = keys["s3"]
    assert (s3.type, s3.line, s3.description) == (
        "object",
        10,
        "Default s3 bucket for storing all backup files",
    )
    assert keys["s3.credentialSecretName"].description == (
        "credentialSecretName if set, should be the name of the Secret holding the credentials."
        "\nTo use an IAM role, don't set this field"
    )
    assert keys["persistence.storageClass"].description.startswith("If defined, storageClass")
    assert keys["persistence.size"].description == ""  # a blank line ends a comment
    assert keys["schedule.cron"].description == "Cron expression of the backup schedule"
    assert keys["schedule.retention"].type == "int"
    # A commented-out key above, split off by a blank line, is not a description.
    assert "serviceAccount" not in keys and "existingRole" not in keys
    assert keys["serviceAccount.name"].type == "null"
    assert keys["serviceAccount.name"].description.startswith("The name of the ServiceAccount")
    # Comments indented below a key belong to nothing.
    assert keys["serviceAccount.annotations"].description == ""
    assert keys["resources"].default == "{}" and keys["resources"].description == ""
    assert keys["nodeSelector"].description.startswith("Where to run; a comment is shown as text")
    assert keys['podAnnotations."prometheus.io/scrape"'].default == '"true"'
    assert keys["extraArgs"].type == "list"
    assert keys["extraArgs"].default == '["--log-format=json"]'
    assert keys["extraArgs"].description == "List of additional arguments of the operator"
    assert keys["imagePullSecrets"].default == "[]"


def test_bitnami_param_lines_document_their_keys():
    keys = {k.key: k for k in document_values(DBFORM.read_bytes()).keys}
    assert keys["auth.rootPassword"].description == "Password of the root user"
    assert keys["persistence.size"].description == "Size of the volume"
    assert keys["usePassword"].description == "Require a password"
    # `@section` and `@param` lines are never another key's comment.
    assert keys["metrics.serviceMonitor.enabled"].description == ""


@pytest.mark.parametrize("data", [None, b"", b"- a list\n", b"a: [unclosed\n", b"\x00\x01"])
def test_unusable_files_document_nothing(data):
    assert document_values(data).keys == []


def test_documented_keys_are_bounded():
    data = "".join(f"k{i}: {i}\n" for i in range(MAX_KEYS + 50)).encode()
    doc = document_values(data)
    assert len(doc.keys) == MAX_KEYS and doc.total == MAX_KEYS + 50
