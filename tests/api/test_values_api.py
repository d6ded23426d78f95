"""Charts without questions through the API, on both databases: questions derived from
values.schema.json, the values document to edit, installs from an edited document, and
errors per field or per line. Also: Helm answers for undeclared variables are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from catalog_server import helmsdk

DATA = Path(__file__).resolve().parents[1] / "data" / "values-catalog"
API = "/api/v1/templates/vals"
RELAY = f"{API}/charts*relay/versions/1.0.0"
DBFORM = f"{API}/charts*dbform/versions/1.0.0"
BACKUP = f"{API}/stable*backup/versions/0.4.2"
CRDS = f"{API}/charts*crds/versions/1.0.0"

needs_helm = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)


@pytest.fixture
def indexed(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="values-catalog")
    summary = sync(repo.source("vals"))
    assert summary.status == "updated", summary
    assert summary.templates_total == 4 and summary.errors == 0, summary
    return repo


def post(client, url, body, status=200):
    response = client.post(f"{url}/manifest", json=body)
    assert response.status_code == status, (url, response.status_code, response.get_data(True))
    return response.json


def files_of(body) -> dict[str, str]:
    return {f["path"]: f["content"] for f in body["files"]}


def error_of(client, url, body, code="invalid_values"):
    error = post(client, url, body, 422)["error"]
    assert error["code"] == code, error
    return error


# --- reading ---------------------------------------------------------------------------------


def test_a_chart_with_only_a_schema_has_derived_questions(indexed, client):
    version = client.get(RELAY).json
    assert version["questions_source"] == "values.schema.json"
    assert version["links"]["values"] == f"{RELAY}/values"
    questions = {q["variable"]: q for q in version["questions"]}
    assert questions["replicaCount"]["type"] == "int"
    assert (questions["replicaCount"]["min"], questions["replicaCount"]["max"]) == (1, 10)
    assert questions["image.tag"]["group"] == "Image"
    assert questions["image.pullPolicy"]["options"] == ["Always", "IfNotPresent", "Never"]
    assert "extraArgs" not in questions  # a list: set through the values document


def test_question_sources(indexed, client, make_catalog_repo, sync):
    assert client.get(DBFORM).json["questions_source"] == "values.schema.json"
    backup = client.get(BACKUP).json
    assert (backup["questions_source"], backup["questions"]) == (None, [])
    repo = make_catalog_repo(fixture="manifest-catalog")
    assert sync(repo.source("lib")).status == "updated"
    app = client.get("/api/v1/templates/lib/charts*app/versions/1.1.0").json
    assert app["questions_source"] == "questions.yml"
    stack = client.get("/api/v1/templates/lib/stack/versions/1.0.0").json
    assert stack["questions_source"] == "rancher-compose.yml"
    assert stack["links"]["values"] is None
    assert client.get("/api/v1/templates/lib/stack/versions/1.0.0/values").status_code == 404


def test_the_values_document_of_a_chart(indexed, client):
    body = client.get(f"{BACKUP}/values").json
    text = (DATA / "stable" / "backup" / "values.yaml").read_text()
    assert (body["file"], body["text"], body["schema"]) == ("values.yaml", text, False)
    keys = {k["key"]: k for k in body["keys"]}
    assert keys["schedule.cron"] == {
        "key": "schedule.cron",
        "type": "string",
        "default": '"0 3 * * *"',
        "description": "Cron expression of the backup schedule",
        "line": 33,
    }
    assert body["total_keys"] == len(body["keys"])
    relay = client.get(f"{RELAY}/values").json
    assert relay["schema"] is True and relay["questions_source"] == "values.schema.json"
    assert sorted(relay["left_to_values"]) == ["extraArgs", "ingress", "podAnnotations"]
    crds = client.get(f"{CRDS}/values").json
    assert (crds["file"], crds["text"], crds["keys"]) == (None, "", [])


# --- installing ------------------------------------------------------------------------------


@needs_helm
def test_schema_chart_installs_with_its_defaults_and_with_answers(indexed, client):
    body = post(client, RELAY, {})
    files = files_of(body)
    assert files["values.yaml"] == "{}\n"  # every answer was the chart's own default
    config = yaml.safe_load(files["manifests/relay/templates/configmap.yaml"])
    assert config["data"]["LOG_LEVEL"] == "1" and "DOMAIN" not in config["data"]
    assert "manifests/relay/templates/secret.yaml" not in files  # empty: left out
    assert body["warnings"] == []

    answers = {"replicaCount": "3", "logLevel": "3", "tls.enabled": True, "domain": "relay.io"}
    files = files_of(post(client, RELAY, {"answers": answers}))
    assert yaml.safe_load(files["values.yaml"]) == {
        "replicaCount": 3, "logLevel": 3, "tls": {"enabled": True}, "domain": "relay.io",
    }  # fmt: skip
    config = yaml.safe_load(files["manifests/relay/templates/configmap.yaml"])
    assert config["data"]["DOMAIN"] == "relay.io" and config["data"]["TLS"] == "true"


def test_schema_chart_errors_are_per_field(indexed, client):
    answers = {"replicaCount": 11, "service.port": 0, "logLevel": "loud", "domain": "a b"}
    error = error_of(client, RELAY, {"answers": answers}, "invalid_answers")
    assert error["details"] == {
        "replicaCount": ["must be at most 10"],
        "service.port": ["must be at least 1"],
        "logLevel": ["must be a whole number, not 'loud'"],
        "domain": ["must be a hostname: dot-separated labels of letters, digits and '-'"],
    }
    # What only the schema says (a pattern, an enum of numbers) is reported at its field too.
    error = error_of(client, RELAY, {"answers": {"image.tag": "latest", "logLevel": 7}},
                     "invalid_answers")  # fmt: skip
    assert sorted(error["details"]) == ["image.tag", "logLevel"]
    assert "does not match" in error["details"]["image.tag"][0]


def test_kubeapps_hidden_fields_are_not_applied(indexed, client, monkeypatch):
    monkeypatch.setattr(helmsdk, "available", lambda: False)
    # persistence.size is hidden while persistence is off: its bad answer is not checked,
    # and every check passes (only rendering is left).
    answers = {"persistence.enabled": False, "persistence.size": {"not": "text"}}
    assert post(client, DBFORM, {"answers": answers}, 501)["error"]["code"] == "helm_sdk_missing"
    answers["persistence.enabled"] = True
    error = error_of(client, DBFORM, {"answers": answers}, "invalid_answers")
    assert error["details"] == {"persistence.size": ["must be text"]}
    error = error_of(client, DBFORM, {"answers": {"metrics.enabled": True}}, "invalid_answers")
    assert list(error["details"]) == ["metrics.enabled"]  # not a form field: not declared


@needs_helm
def test_a_chart_without_questions_installs_from_an_edited_values_document(indexed, client):
    text = (DATA / "stable" / "backup" / "values.yaml").read_text()
    edited = (
        text.replace("  enabled: false\n  ## credentialSecretName", "  enabled: true\n  ## cre"
                     "dentialSecretName")
        .replace('bucketName: ""', "bucketName: nightly")
        .replace("resources: {}", "resources:\n  limits:\n    cpu: 100m")
    )  # fmt: skip
    body = post(client, BACKUP, {"values": edited, "release": "bk"})
    files = files_of(body)
    assert yaml.safe_load(files["values.yaml"]) == {
        "s3": {"enabled": True, "bucketName": "nightly"},
        "resources": {"limits": {"cpu": "100m"}},
    }
    deployment = yaml.safe_load(files["manifests/backup/templates/deployment.yaml"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--s3-bucket=nightly" in container["args"]
    assert container["resources"] == {"limits": {"cpu": "100m"}}
    assert body["warnings"] == [
        "raw values were applied from the request's values, checked by no question: "
        "s3.enabled, s3.bucketName, resources.limits.cpu"
    ]
    assert body["commands"][-1].startswith("helm install bk vals/backup --version 0.4.2")
    # The document unchanged installs the chart's defaults, with nothing to note.
    body = post(client, BACKUP, {"values": text})
    assert files_of(body)["values.yaml"] == "{}\n" and body["warnings"] == []


@needs_helm
def test_a_chart_without_values_installs(indexed, client):
    files = files_of(post(client, CRDS, {"values": ""}))
    assert "manifests/crds/templates/crd.yaml" in files


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("image:\n  tag: v2\n  pullPolicy: [Always\n", 3),  # where the open list starts
        ("image:\n\ttag: v2\n", 2),
        ("schedule:\n  cron: a\n  cron: b\n", 3),
        ("- just\n- a list\n", 1),
    ],
)
def test_values_documents_that_are_not_yaml_mappings_fail_by_line(indexed, client, text, line):
    error = error_of(client, BACKUP, {"values": text})
    (first,) = error["details"]["errors"]
    assert (first["line"], first["path"]) == (line, None), error


def test_schema_errors_in_a_values_document_are_by_line(indexed, client):
    values = "replicaCount: 50\nservice:\n  port: 8080\npodAnnotations:\n  team: 1\n"
    error = error_of(client, RELAY, {"values": values})
    assert error["details"]["errors"] == [
        {"line": 1, "column": 1, "path": "replicaCount", "message": "must be at most 10"},
        {"line": 5, "column": 3, "path": "podAnnotations.team",
         "message": "1 is not of type 'string'"},
    ]  # fmt: skip
    assert error["details"]["answers"] == {}
    # Errors in the answers come along, by variable.
    error = error_of(client, RELAY, {"values": values, "answers": {"ratio": 2}})
    assert error["details"]["answers"] == {"ratio": ["must be at most 1"]}


def test_undeclared_answers_are_refused_and_raw_values_are_the_way(indexed, client):
    error = error_of(
        client, BACKUP, {"answers": {"s3.enabled": "true", "securityContext.privileged": True}},
        "invalid_answers",
    )  # fmt: skip
    assert sorted(error["details"]) == ["s3.enabled", "securityContext.privileged"]
    assert error["details"]["s3.enabled"] == [
        "no question declares this variable; set it in the request's values instead"
    ]
    error = error_of(client, RELAY, {"answers": {"extraArgs": "--x"}}, "invalid_answers")
    assert list(error["details"]) == ["extraArgs"]


@needs_helm
def test_raw_values_as_an_object(indexed, client):
    body = post(client, RELAY, {"values": {"extraArgs": ["--verbose"], "replicaCount": 2}})
    text = files_of(body)["manifests/relay/templates/deployment.yaml"]
    deployment, service = yaml.safe_load_all(text)
    assert deployment["spec"]["replicas"] == 2 and service["kind"] == "Service"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"] == ["--verbose"]
    assert body["warnings"] == [
        "raw values were applied from the request's values, checked by no question: extraArgs"
    ]


@pytest.mark.parametrize("values", [5, ["a"], True])
def test_values_of_the_wrong_kind_are_400(indexed, client, values):
    response = client.post(f"{BACKUP}/manifest", json={"values": values})
    assert response.status_code == 400
    assert response.json["error"]["details"]["parameter"] == "values"


def test_compose_templates_take_no_values(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="manifest-catalog")
    assert sync(repo.source("lib")).status == "updated"
    url = "/api/v1/templates/lib/stack/versions/1.0.0"
    error = error_of(client, url, {"values": "a: 1\n", "answers": {"ADMIN_PASSWORD": "x"}})
    assert "Helm charts only" in error["message"]
