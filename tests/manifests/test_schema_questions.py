"""Questions derived from values.schema.json, on fixture schemas shaped like real charts'
(rancher/charts' epinio and Bitnami's Kubeapps-marked schemas) and on hostile ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from catalog_server.manifests.answers import check_answers
from catalog_server.manifests.schema_questions import (
    SCHEMA_FILE,
    chart_questions,
    questions_from_schema,
)

CHARTS = Path(__file__).resolve().parents[1] / "data" / "values-catalog" / "charts"


def chart(name: str) -> tuple[dict, dict]:
    folder = CHARTS / name / "1.0.0"
    schema = json.loads((folder / SCHEMA_FILE).read_text())
    return schema, yaml.safe_load((folder / "values.yaml").read_text())


def by_variable(questions: list[dict]) -> dict[str, dict]:
    return {q["variable"]: q for q in questions}


def test_relay_schema_becomes_typed_grouped_questions():
    schema, values = chart("relay")
    result = questions_from_schema(schema, values)
    asked = by_variable(result.questions)
    assert list(asked) == [
        "replicaCount", "image.repository", "image.tag", "image.pullPolicy", "service.type",
        "service.port", "logLevel", "ratio", "debug", "adminPassword", "domain", "welcome",
        "tls.enabled", "tls.secretName",
    ]  # fmt: skip
    assert asked["replicaCount"] == {
        "variable": "replicaCount", "label": "Replicas",
        "description": "How many relay pods to run", "type": "int", "default": 1,
        "required": True, "min": 1, "max": 10,
    }  # fmt: skip
    tag = asked["image.tag"]
    assert (tag["group"], tag["required"], tag["pattern"]) == (
        "Image",
        True,
        "^[0-9][A-Za-z0-9_.-]*$",
    )
    assert asked["image.repository"]["min_length"] == 1
    assert asked["image.pullPolicy"]["type"] == "enum"
    assert asked["image.pullPolicy"]["options"] == ["Always", "IfNotPresent", "Never"]
    assert "required" not in asked["image.pullPolicy"]
    # An untyped enum of strings, a $ref with a title beside it, an integer enum.
    assert asked["service.type"]["type"] == "enum"
    assert asked["service.port"] == {
        "variable": "service.port", "label": "Service port", "type": "int", "default": 8080,
        "min": 1, "max": 65535, "group": "Service",
    }  # fmt: skip
    assert (asked["logLevel"]["type"], asked["logLevel"]["options"]) == ("int", [0, 1, 2, 3])
    assert asked["ratio"]["type"] == "float" and asked["debug"]["type"] == "boolean"
    assert asked["adminPassword"]["type"] == "password"  # writeOnly
    # ["string", "null"] with a hostname format, and no default (values.yaml says null).
    assert asked["domain"] == {"variable": "domain", "label": "Public domain", "type": "hostname"}
    assert asked["welcome"]["type"] == "multiline"  # its default has a line break
    # allOf with a $ref: the properties in order, the group titled by the object.
    assert asked["tls.enabled"]["label"] == "Serve TLS"
    assert asked["tls.secretName"]["group"] == "TLS"
    # Arrays, maps and the untyped object are left to the values document.
    assert sorted(result.left_to_values) == ["extraArgs", "ingress", "podAnnotations"]


def test_defaults_come_from_values_yaml_then_the_schema():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "default": "from-schema"},
            "b": {"type": "string", "default": "from-schema"},
            "c": {"type": "object", "properties": {"d": {"type": "integer", "default": 4}}},
        },
    }
    asked = by_variable(questions_from_schema(schema, {"a": "from-values", "c": None}).questions)
    assert asked["a"]["default"] == "from-values"  # what Helm applies
    assert asked["b"]["default"] == "from-schema"
    assert asked["c.d"]["default"] == 4


def test_required_holds_only_along_a_required_path():
    schema = {
        "type": "object",
        "required": ["s3"],
        "properties": {
            "s3": {
                "type": "object",
                "required": ["bucket"],
                "properties": {"bucket": {"type": "string"}, "region": {"type": "string"}},
            },
            "global": {
                "type": "object",
                "required": ["domain"],
                "properties": {"domain": {"type": "string"}},
            },
        },
    }
    asked = by_variable(questions_from_schema(schema).questions)
    assert asked["s3.bucket"].get("required") is True
    assert "required" not in asked["s3.region"]
    assert "required" not in asked["global.domain"]  # global itself is optional
    assert asked["global.domain"]["group"] == "global"


def test_kubeapps_form_marks_choose_the_fields_and_hidden_becomes_show_if():
    schema, values = chart("dbform")
    asked = by_variable(questions_from_schema(schema, values).questions)
    assert list(asked) == [
        "usePassword", "auth.rootPassword", "auth.database", "persistence.enabled",
        "persistence.size",
    ]  # fmt: skip
    assert asked["auth.rootPassword"]["show_if"] == "usePassword=true"
    assert asked["persistence.size"]["show_if"] == "persistence.enabled=true"
    assert asked["auth.database"]["label"] == "Database"  # `form: "databaseName"` marks it too
    assert asked["persistence.size"]["group"] == "Persistence"
    # The show_if works with the answer checks: a hidden question is not applied.
    check = check_answers(
        list(asked.values()), {"persistence.enabled": False, "persistence.size": "x"}
    )
    assert check.ok and "persistence.size" not in check.values


@pytest.mark.parametrize(
    ("hidden", "show_if"),
    [
        ("on", "on=false"),
        ({"path": "on", "value": False}, "on=true"),
        ({"value": "on", "condition": True}, "on=false"),
        ({"path": "on", "value": "false"}, "on=true"),
        ({"conditions": [{"path": "on", "value": True}, {"path": "b/c", "value": True}]},
         "on=false||b.c=false"),
        ({"conditions": [{"path": "on", "value": True}, {"path": "b.c", "value": True}],
          "operator": "or"}, "on=false&&b.c=false"),
        ({"conditions": [{"path": "on", "value": True}], "operator": "nor"}, "on=true"),
        ({"path": "on", "value": "custom"}, None),  # needs !=: left shown
        ({"path": "not.a.question", "value": True}, None),
        ({"conditions": [], "operator": "and"}, None),
    ],
)  # fmt: skip
def test_hidden_conditions(hidden, show_if):
    schema = {
        "type": "object",
        "properties": {
            "on": {"type": "boolean"},
            "b": {"type": "object", "properties": {"c": {"type": "boolean"}}},
            "x": {"type": "string", "hidden": hidden},
        },
    }
    asked = by_variable(questions_from_schema(schema).questions)
    assert asked["x"].get("show_if") == show_if


def test_hidden_on_an_object_applies_to_its_fields():
    schema = {
        "type": "object",
        "properties": {
            "replication": {"type": "object", "properties": {"enabled": {"type": "boolean"}}},
            "replica": {
                "type": "object",
                "hidden": {"value": "replication.enabled", "condition": False},
                "properties": {"count": {"type": "integer"}},
            },
        },
    }
    asked = by_variable(questions_from_schema(schema).questions)
    assert asked["replica.count"]["show_if"] == "replication.enabled=true"


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        ({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}, {"min": 1, "max": 9}),
        ({"type": "number", "minimum": 0.5, "maximum": 2.5}, {"min": 0.5, "max": 2.5}),
        ({"enum": [True, False]}, {"type": "boolean"}),
        ({"enum": [0.5, 1]}, {"type": "float", "options": [0.5, 1]}),
        ({"enum": ["a", None]}, {"type": "enum", "options": ["a"]}),
        ({"type": "string", "format": "date"}, {"type": "date"}),
        ({"type": "string", "format": "password"}, {"type": "password"}),
        ({"type": "string", "maxLength": 63, "minLength": 2}, {"min_length": 2, "max_length": 63}),
    ],
)  # fmt: skip
def test_property_shapes(prop, expected):
    (question,) = questions_from_schema({"properties": {"p": prop}}).questions
    assert {key: question[key] for key in expected} == expected


@pytest.mark.parametrize(
    "prop",
    [
        {"enum": [1, "auto"]},  # mixed types: no form field can hold them
        {"const": "x"},
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        {"type": ["string", "integer"]},
        {"type": "array", "items": {"type": "string"}},
        {"type": "object"},
        {"description": "no type at all"},
        {"$ref": "https://example.com/remote.json"},
        {"$ref": "#/definitions/missing"},
    ],
)
def test_unaskable_properties_are_left_to_the_values_document(prop):
    result = questions_from_schema({"properties": {"p": prop}})
    assert result.questions == []
    assert result.left_to_values == ["p"]


def test_names_with_dots_cannot_be_dotted_variables():
    schema = {"properties": {"annotations": {"properties": {"app.kubernetes.io/name": {
        "type": "string"}}}}}  # fmt: skip
    result = questions_from_schema(schema)
    assert result.questions == []
    assert result.left_to_values == ["annotations.app.kubernetes.io/name"]


def test_hostile_schemas_are_bounded():
    cyclic = {"definitions": {"node": {"type": "object", "properties": {
        "next": {"$ref": "#/definitions/node"}, "name": {"type": "string"}}}},
        "$ref": "#/definitions/node"}  # fmt: skip
    result = questions_from_schema(cyclic)
    assert 0 < len(result.questions) <= 40
    assert all(q["variable"].endswith("name") for q in result.questions)

    deep: dict = {"type": "string"}
    for _ in range(200):
        deep = {"type": "object", "properties": {"a": deep}}
    result = questions_from_schema(deep)
    assert result.questions == [] and len(result.left_to_values) == 1

    wide = {"properties": {f"p{i}": {"type": "string"} for i in range(2000)}}
    result = questions_from_schema(wide)
    assert len(result.questions) == 500
    assert len(result.left_to_values) == 1500


def test_chart_questions_prefers_the_questions_file():
    schema, values = chart("relay")
    files = {SCHEMA_FILE: json.dumps(schema).encode()}
    written = [{"variable": "replicaCount", "type": "int"}]
    assert chart_questions(files, written, values).source == "questions"
    derived = chart_questions(files, [], values)
    assert derived.derived and derived.source == SCHEMA_FILE
    assert chart_questions({}, [], values).source is None
    assert chart_questions({SCHEMA_FILE: b"[not json"}, [], values).questions == []
    assert chart_questions({SCHEMA_FILE: b'{"type": "object"}'}, [], values).source is None
