"""Install manifests, upgrade paths and diffs through the API, over a real git catalog."""

from __future__ import annotations

import io
import tarfile

import pytest
import yaml

from catalog_server import helmsdk

STACK = "/api/v1/templates/lib/stack/versions"
APP = "/api/v1/templates/lib/charts*app/versions"
PASSWORD = "correct-horse"

needs_helm = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)


@pytest.fixture
def indexed(make_catalog_repo, sync, client):
    repo = make_catalog_repo(fixture="manifest-catalog")
    summary = sync(repo.source("lib"))
    assert summary.status == "updated", summary
    return repo


def post(client, url, body, status=200):
    response = client.post(url, json=body)
    assert response.status_code == status, (url, response.status_code, response.get_data(True))
    return response


def files_of(body) -> dict[str, str]:
    return {f["path"]: f["content"] for f in body["files"]}


# --- compose ----------------------------------------------------------------------------


def test_compose_manifest_with_defaults(indexed, client):
    body = post(client, f"{STACK}/1.0.0/manifest", {"answers": {"ADMIN_PASSWORD": PASSWORD}}).json
    files = files_of(body)
    # The compose target: Rancher's own settings file is left out, and the notes say so.
    assert sorted(files) == [".env", "docker-compose.yml"]
    assert any(n.startswith("rancher-compose.yml: left out") for n in body["notes"])
    compose = yaml.safe_load(files["docker-compose.yml"])
    web = compose["services"]["web"]
    assert web["image"] == "example/web:1.0"
    assert web["ports"] == ["8080:8080"]
    env = web["environment"]
    assert env["GREETING"] == "hello\nworld"  # multiline default
    assert env["RATIO"] == "0.5" and env["DEBUG"] == "false" and env["MODE"] == "safe"
    assert env["START_DATE"] == "2024-01-01"
    assert env["ADMIN_PASSWORD"] == PASSWORD
    # $$ stays a literal dollar, written escaped again so compose reads the same value.
    assert env["SHELL_PRICE"] == "$$5 per hour"
    assert env["OPTIONAL_NOTE"] == ""
    assert compose["services"]["cache"]["command"] == ["cache", "--hosts", "web.example.com"]
    answers = {"answers": {"ADMIN_PASSWORD": PASSWORD}, "target": "rancher"}
    for_rancher = files_of(post(client, f"{STACK}/1.0.0/manifest", answers).json)
    assert sorted(for_rancher) == ["docker-compose.yml", "rancher-compose.yml"]
    rancher = yaml.safe_load(for_rancher["rancher-compose.yml"])
    assert "catalog" not in rancher and rancher["services"]["web"]["scale"] == "1"
    assert "ADMIN_PASSWORD=correct-horse\n" in files[".env"]
    assert "GREETING='hello\nworld'\n" in files[".env"]
    assert body["commands"] == [
        "docker compose -p stack --env-file .env -f docker-compose.yml up -d"
    ]


def test_compose_manifest_with_other_answers(indexed, client):
    answers = {
        "ADMIN_PASSWORD": "it's a secret",
        "HTTP_PORT": "9090",
        "DEBUG": True,
        "MODE": "fast",
        "RATIO": 0.25,
        "NOTE": "hi",
        "UNIT": "day",
    }
    body = post(client, f"{STACK}/1.0.0/manifest", {"answers": answers, "release": "shop"}).json
    files = files_of(body)
    web = yaml.safe_load(files["docker-compose.yml"])["services"]["web"]
    assert web["ports"] == ["9090:8080"]
    assert web["environment"]["DEBUG"] == "true"
    assert web["environment"]["OPTIONAL_NOTE"] == "note is hi"
    assert web["environment"]["SHELL_PRICE"] == "$$5 per day"
    assert 'ADMIN_PASSWORD="it\'s a secret"\n' in files[".env"]
    assert "NOTE=hi\n" in files[".env"]  # an answer no question declares is passed through
    assert body["commands"][0].startswith("docker compose -p shop ")


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, {"ADMIN_PASSWORD": ["is required"]}),
        ({"ADMIN_PASSWORD": "short"}, {"ADMIN_PASSWORD": ["must be at least 8 characters long"]}),
        (
            {"ADMIN_PASSWORD": 'with "quotes"'},
            {"ADMIN_PASSWORD": ['contains characters that are not allowed: "']},
        ),
        (
            {"ADMIN_PASSWORD": PASSWORD, "HTTP_PORT": "x"},
            {"HTTP_PORT": ["must be a whole number, not 'x'"]},
        ),
        ({"ADMIN_PASSWORD": PASSWORD, "HTTP_PORT": 0}, {"HTTP_PORT": ["must be at least 1"]}),
        ({"ADMIN_PASSWORD": PASSWORD, "RATIO": 2}, {"RATIO": ["must be at most 1"]}),
        (
            {"ADMIN_PASSWORD": PASSWORD, "RATIO": "half"},
            {"RATIO": ["must be a number, not 'half'"]},
        ),
        (
            {"ADMIN_PASSWORD": PASSWORD, "DEBUG": "maybe"},
            {"DEBUG": ["must be true or false, not 'maybe'"]},
        ),
        ({"ADMIN_PASSWORD": PASSWORD, "MODE": "slow"}, {"MODE": ["must be one of fast, safe"]}),
        (
            {"ADMIN_PASSWORD": PASSWORD, "HOSTNAME": "bad_host"},
            {"HOSTNAME": ["must be a hostname: dot-separated labels of letters, digits and '-'"]},
        ),
        (
            {"ADMIN_PASSWORD": PASSWORD, "UNIT": "Hour"},
            {"UNIT": ["contains characters that are not allowed: H"]},
        ),
        ({"ADMIN_PASSWORD": PASSWORD, "IMAGE_TAG": ["1"]}, {"IMAGE_TAG": ["must be text"]}),
    ],
)
def test_invalid_answers_are_422_per_rule(indexed, client, answers, expected):
    error = post(client, f"{STACK}/1.0.0/manifest", {"answers": answers}, 422).json["error"]
    assert error["code"] == "invalid_answers"
    assert error["details"] == expected
    assert all(name in error["message"] for name in expected)


def test_every_invalid_answer_is_listed(indexed, client):
    answers = {"HTTP_PORT": 70000, "MODE": "x", "DEBUG": "no way"}
    error = post(client, f"{STACK}/1.0.0/manifest", {"answers": answers}, 422).json["error"]
    assert sorted(error["details"]) == ["ADMIN_PASSWORD", "DEBUG", "HTTP_PORT", "MODE"]


def test_go_template_version_renders_rancher_constructs(indexed, client):
    answers = {"TLS_ENABLED": "true", "WORKERS": 3, "EXTRA_FLAGS": "--debug", "MODE": "turbo"}
    body = post(client, f"{STACK}/1.1.0/manifest", {"answers": answers, "release": "prod"}).json
    compose = yaml.safe_load(files_of(body)["docker-compose.yml"])
    services = compose["services"]
    assert sorted(services) == ["tls", "web", "worker-1", "worker-2", "worker-3"]
    web = services["web"]
    assert web["ports"] == ["8080:8080/tcp", "8443:8443/tcp"]
    assert web["labels"]["io.rancher.container.agent.role"] == "environment"
    assert web["labels"]["io.rancher.sidekicks"] == "tls"
    assert web["environment"] == ["STACK=prod", "LOG_LEVEL=debug"]
    assert services["worker-3"]["command"] == "work --shard=2"


def test_go_template_version_with_defaults(indexed, client):
    body = post(client, f"{STACK}/1.1.0/manifest", {}).json
    services = yaml.safe_load(files_of(body)["docker-compose.yml"])["services"]
    assert sorted(services) == ["web", "worker-1", "worker-2"]
    assert services["web"]["ports"] == ["8080:8080/tcp"]
    assert "io.rancher.sidekicks" not in services["web"]["labels"]


def test_show_if_hides_a_required_question(indexed, client):
    # HTTPS_PORT is required but only shown with TLS on.
    post(client, f"{STACK}/1.1.0/manifest", {"answers": {"TLS_ENABLED": False}})
    error = post(
        client,
        f"{STACK}/1.1.0/manifest",
        {"answers": {"TLS_ENABLED": True, "HTTPS_PORT": "x"}},
        422,
    ).json["error"]
    assert list(error["details"]) == ["HTTPS_PORT"]


def test_unsupported_template_construct_is_422_with_file_and_line(indexed, client):
    error = post(client, "/api/v1/templates/lib/badtpl/versions/1.0.0/manifest", {}, 422).json[
        "error"
    ]
    assert error["code"] == "render_error"
    assert error["details"] == {"file": "docker-compose.yml.tpl", "line": 5}
    assert "docker-compose.yml.tpl:5" in error["message"]


def test_legacy_layout_is_moved_under_services(indexed, client):
    body = post(client, "/api/v1/templates/lib/legacy/versions/1.0.0/manifest", {}).json
    compose = yaml.safe_load(files_of(body)["docker-compose.yml"])
    assert compose["services"]["db"]["image"] == "example/db:9.6"
    assert compose["services"]["db"]["environment"]["PASSWORD"] == "$${not_a_variable}"
    # A conversion from the file's own format (v1) is a note, at the file and line.
    assert (
        "docker-compose.yml:1: services moved under `services:` (compose file format v1)"
        in (body["notes"])
    )


def test_yaml_and_tar_formats_hold_the_same_files(indexed, client):
    request = {"answers": {"ADMIN_PASSWORD": PASSWORD}}
    files = files_of(post(client, f"{STACK}/1.0.0/manifest", request).json)
    as_yaml = post(client, f"{STACK}/1.0.0/manifest", {**request, "format": "yaml"})
    assert as_yaml.content_type.startswith("application/yaml")
    assert yaml.safe_load(as_yaml.get_data(True))["files"] == files
    as_tar = post(client, f"{STACK}/1.0.0/manifest", {**request, "format": "tar"})
    assert as_tar.content_type == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(as_tar.data)) as tar:
        unpacked = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}
    assert unpacked == files
    again = post(client, f"{STACK}/1.0.0/manifest", {**request, "format": "tar"})
    assert again.data == as_tar.data


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"answers": [1]}',
        '{"answers": {}, "format": "xml"}',
        '{"answers": {}, "colour": "red"}',
        '{"release": 5}',
        '{"release": "Bad Name"}',
    ],
)
def test_malformed_body_is_400(indexed, client, body):
    response = client.post(f"{STACK}/1.0.0/manifest", data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(True)
    assert response.json["error"]["code"] in ("bad_request", "bad_parameter")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/templates/lib/nope/versions/1.0.0/manifest",
        f"{STACK}/9.9.9/manifest",
        "/api/v1/templates/other/stack/versions/1.0.0/manifest",
    ],
)
def test_unknown_template_or_version_is_404(indexed, client, url):
    assert post(client, url, {}, 404).json["error"]["code"] == "not_found"


# --- helm -------------------------------------------------------------------------------


def test_helm_values_are_checked_without_the_sdk_too(indexed, client):
    error = post(
        client, f"{APP}/1.1.0/manifest", {"answers": {"image.pullPolicy": "Sometimes"}}, 422
    )
    details = error.json["error"]["details"]
    assert error.json["error"]["code"] == "invalid_answers"
    assert details == {
        "image.pullPolicy": ["'Sometimes' is not one of ['Always', 'IfNotPresent', 'Never']"]
    }


def test_helm_subquestions_are_checked(indexed, client):
    answers = {"ingress.enabled": True, "ingress.host": "-bad-", "ingress.tls.enabled": True}
    error = post(client, f"{APP}/1.1.0/manifest", {"answers": answers}, 422).json["error"]
    assert sorted(error["details"]) == ["ingress.host", "ingress.tls.secretName"]


def test_helm_manifest_without_the_sdk_is_501(indexed, client, monkeypatch):
    # As on a server without the extra: the SDK does not import.
    monkeypatch.setattr(helmsdk, "_import", lambda: (None, "No module named 'helm_python'"))
    error = post(client, f"{APP}/1.1.0/manifest", {}, 501).json["error"]
    assert error["code"] == "helm_sdk_missing"
    assert "catalog-server[helm]" in error["message"]


@needs_helm
def test_helm_manifest_renders_the_chart(indexed, client):
    answers = {
        "replicaCount": 3,
        "ingress.enabled": "true",
        "ingress.host": "shop.example.com",
        "ingress.tls.enabled": True,
        "ingress.tls.secretName": "shop-tls",
    }
    body = post(client, f"{APP}/1.1.0/manifest", {"answers": answers, "namespace": "shop"}).json
    files = files_of(body)
    values = yaml.safe_load(files["values.yaml"])
    assert values["replicaCount"] == 3
    assert values["ingress"] == {
        "enabled": True,
        "host": "shop.example.com",
        "tls": {"enabled": True, "secretName": "shop-tls"},
    }
    deployment = yaml.safe_load(files["manifests/app/templates/deployment.yaml"])
    assert deployment["metadata"]["name"] == "webapp-app"  # release from the annotation
    assert deployment["spec"]["replicas"] == 3
    ingress = yaml.safe_load(files["manifests/app/templates/ingress.yaml"])
    assert ingress["spec"]["tls"][0]["secretName"] == "shop-tls"
    assert files["NOTES.txt"].strip() == "app is installed as webapp in shop."
    assert body["commands"] == [
        "helm repo add lib http://localhost/helm/lib",
        "helm install webapp lib/app --version 1.1.0 -n shop --create-namespace -f values.yaml",
    ]


@needs_helm
def test_helm_manifest_defaults_leave_out_empty_templates(indexed, client):
    files = files_of(post(client, f"{APP}/1.0.0/manifest", {"release": "r1"}).json)
    assert "manifests/app/templates/ingress.yaml" not in files
    assert "manifests/app/templates/_helpers.tpl" not in files
    assert sorted(files) == [
        "NOTES.txt",
        "manifests/app/templates/deployment.yaml",
        "manifests/app/templates/service.yaml",
        "values.yaml",
    ]


@needs_helm
@pytest.mark.parametrize("answers", [{}, {"server.timeoutMultiplier": "", "server.traceLevel": ""}])
def test_optional_chart_questions_left_empty_keep_the_charts_values(
    make_catalog_repo, sync, client, answers
):
    # As epinio's chart asks: an optional text question for a value its schema wants an
    # integer; left empty, the chart's values.yaml value stands (as in Rancher's form).
    assert sync(make_catalog_repo(fixture="optional-answers-catalog").source("opt")).status == (
        "updated"
    )
    url = "/api/v1/templates/opt/charts*timeouts/versions/1.0.0/manifest"
    files = files_of(post(client, url, {"answers": answers, "release": "srv"}).json)
    configmap = yaml.safe_load(files["manifests/timeouts/templates/configmap.yaml"])
    assert configmap["data"] == {"TIMEOUT_MULTIPLIER": "1", "TRACE_LEVEL": "0"}
    assert yaml.safe_load(files["values.yaml"]) in (None, {})
    # A value given is applied.
    given = {"server.timeoutMultiplier": "", "server.traceLevel": 2}
    files = files_of(post(client, url, {"answers": given, "release": "srv"}).json)
    configmap = yaml.safe_load(files["manifests/timeouts/templates/configmap.yaml"])
    assert configmap["data"] == {"TIMEOUT_MULTIPLIER": "1", "TRACE_LEVEL": "2"}


# --- upgrades and diffs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "query", "expected"),
    [
        ("1.0.0", "", ["1.1.0"]),  # 2.0.0 does not take 1.0.0
        ("1.1.0", "", ["2.0.0"]),
        ("1.1.0", "?rancher_version=v1.6.14", []),  # 2.0.0 needs Rancher 2
        ("1.1.0", "?rancher_version=v2.1", ["2.0.0"]),
        ("2.0.0", "", []),
    ],
)
def test_upgrade_paths(indexed, client, version, query, expected):
    body = client.get(f"{STACK}/{version}/upgrades{query}").json
    assert body["version"] == version, body
    assert [item["version"] for item in body["items"]] == expected
    for item in body["items"]:
        assert item["links"]["diff"] == f"{STACK}/{version}/diff/{item['version']}"


def test_upgrades_bad_rancher_version_is_400(indexed, client):
    response = client.get(f"{STACK}/1.0.0/upgrades?rancher_version=latest")
    assert response.status_code == 400
    assert response.json["error"]["details"] == {"parameter": "rancher_version"}


def test_diff_between_versions(indexed, client):
    response = client.get(f"{STACK}/1.1.0/diff/2.0.0")
    assert response.status_code == 200
    assert response.content_type.startswith("text/x-diff")
    text = response.get_data(True)
    assert "--- a/docker-compose.yml.tpl\n+++ /dev/null\n" in text
    assert "--- /dev/null\n+++ b/docker-compose.yml\n" in text
    assert '-  upgrade_from: ">=1.0.0 <1.1.0"\n' in text
    assert '+  upgrade_from: ">=1.1.0 || 0.9.x"\n' in text
    assert client.get(f"{STACK}/1.1.0/diff/1.1.0").get_data(True) == ""
    etag = response.headers["ETag"]
    again = client.get(f"{STACK}/1.1.0/diff/2.0.0", headers={"If-None-Match": etag})
    assert again.status_code == 304
