"""Helm install manifests: answers to values, the schema check, rendering through the Helm SDK,
and every bundled chart's manifests validated against the Kubernetes schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog_server import helmsdk
from catalog_server.manifests.answers import check_answers
from catalog_server.manifests.compose import ManifestError
from catalog_server.manifests.helm import deep_merge, helm_manifest, values_override

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "manifest-catalog" / "charts" / "app"
BUNDLED = sorted(p.parent for p in (ROOT / "catalog" / "charts").glob("*/*/Chart.yaml"))
KUBERNETES_VERSION = "1.30"

needs_helm = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)
try:
    import kubernetes_validate
except ImportError:  # an optional extra
    kubernetes_validate = None
needs_kubernetes_validate = pytest.mark.skipif(
    kubernetes_validate is None,
    reason="needs kubernetes-validate (pip install 'catalog-server[helm]' or make extras)",
)


def read_chart(folder: Path) -> tuple[dict[str, bytes], list[dict]]:
    files = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    raw = files.get("questions.yml") or files.get("questions.yaml") or b"{}"
    return files, (yaml.safe_load(raw) or {}).get("questions") or []


def render(folder: Path, answers: dict[str, Any], **kw) -> dict[str, str]:
    files, questions = read_chart(folder)
    chart = yaml.safe_load(files["Chart.yaml"])
    manifest = helm_manifest(
        files,
        questions,
        answers,
        chart_name=chart["name"],
        version=str(chart["version"]),
        created=None,
        release=kw.get("release", "rel"),
        namespace=kw.get("namespace", "ns"),
        repo_name="library",
        repo_url="http://catalog.example.com/helm/library",
    )
    return {f.path: f.content for f in manifest.files}


# --- values -----------------------------------------------------------------------------------


def test_dotted_variables_become_nested_values():
    tree, errors = values_override(
        {"ingress.tls.enabled": True, "ingress.host": "h", "replicaCount": 2}
    )
    assert errors == {}
    assert tree == {"ingress": {"tls": {"enabled": True}, "host": "h"}, "replicaCount": 2}


@pytest.mark.parametrize(
    "values",
    [{"a": 1, "a.b": 2}, {"a.b": 2, "a": 1}, {"a..b": 1}],
)
def test_conflicting_dotted_variables_are_reported(values):
    _, errors = values_override(values)
    assert len(errors) == 1


def test_deep_merge_over_chart_values():
    base = {"image": {"repository": "r", "tag": "1"}, "list": [1, 2], "drop": {"x": 1}}
    merged = deep_merge(base, {"image": {"tag": "2"}, "list": [3], "drop": None})
    assert merged == {"image": {"repository": "r", "tag": "2"}, "list": [3]}
    assert base["image"]["tag"] == "1"  # the chart's values are not changed


def test_values_schema_errors_are_listed_by_path():
    with pytest.raises(ManifestError) as caught:
        render(FIXTURE / "1.1.0", {"replicaCount": 15, "image.pullPolicy": "Sometimes"})
    assert caught.value.code == "invalid_answers"
    assert list(caught.value.details) == ["image.pullPolicy"]


def test_answers_are_checked_before_anything_else():
    with pytest.raises(ManifestError) as caught:
        render(
            FIXTURE / "1.1.0", {"replicaCount": 99, "ingress.enabled": True, "ingress.host": "a b"}
        )
    assert caught.value.code == "invalid_answers"
    assert sorted(caught.value.details) == ["ingress.host", "replicaCount"]


def test_without_the_sdk_the_error_names_the_extra(monkeypatch):
    monkeypatch.setattr(helmsdk, "available", lambda: False)
    monkeypatch.setattr(
        helmsdk, "missing_message", lambda: "install `pip install 'catalog-server[helm]'`"
    )
    with pytest.raises(ManifestError) as caught:
        render(FIXTURE / "1.0.0", {})
    assert (caught.value.code, caught.value.status) == ("helm_sdk_missing", 501)
    assert "catalog-server[helm]" in caught.value.message


# --- rendering --------------------------------------------------------------------------------


@needs_helm
def test_chart_renders_with_release_and_namespace():
    files = render(FIXTURE / "1.1.0", {"ingress.enabled": True}, release="shop", namespace="web")
    assert yaml.safe_load(files["values.yaml"]) == {
        "replicaCount": 1,
        "image": {"tag": "2.4", "pullPolicy": "IfNotPresent"},
        "service": {"type": "ClusterIP", "port": 80},
        "ingress": {"enabled": True, "host": "app.example.com", "tls": {"enabled": False}},
    }
    ingress = yaml.safe_load(files["manifests/app/templates/ingress.yaml"])
    assert ingress["spec"]["rules"][0]["host"] == "app.example.com"
    assert files["NOTES.txt"].strip() == "app is installed as shop in web."


@needs_helm
def test_helm_template_errors_give_file_and_line():
    files, questions = read_chart(FIXTURE / "1.0.0")
    files["templates/broken.yaml"] = b"kind: ConfigMap\nname: {{ .Values.image.tag | nope }}\n"
    with pytest.raises(ManifestError) as caught:
        helm_manifest(
            files, questions, {}, chart_name="app", version="1.0.0", created=None,
            release="r", namespace="n", repo_name="l", repo_url="http://x/helm/l",
        )  # fmt: skip
    assert caught.value.code == "render_error"
    assert caught.value.details == {"file": "app/templates/broken.yaml", "line": 2}


# --- answers are data: undeclared variables and raw values --------------------------------------


def test_undeclared_answers_are_refused_naming_each():
    # What an attacker sent: a securityContext smuggled in under the chart's own keys.
    answers = {
        "securityContext.privileged": True,
        "image.pullPolicy": "IfNotPresent",
        "hostNetwork": "true",
    }
    with pytest.raises(ManifestError) as caught:
        render(FIXTURE / "1.1.0", answers)
    assert caught.value.code == "invalid_answers"
    assert sorted(caught.value.details) == ["hostNetwork", "securityContext.privileged"]
    assert "values" in caught.value.details["hostNetwork"][0]


def test_a_declared_answer_cannot_carry_structure():
    smuggled = {"image.pullPolicy": {"securityContext": {"privileged": True}}}
    with pytest.raises(ManifestError) as caught:
        render(FIXTURE / "1.1.0", smuggled)
    assert caught.value.details == {"image.pullPolicy": ["must be text"]}


def render_manifest(folder: Path, answers: dict, values) -> Any:
    files, questions = read_chart(folder)
    return helm_manifest(
        files, questions, answers, values=values, chart_name="app", version="1.1.0",
        created=None, release="r", namespace="n", repo_name="l", repo_url="http://x/helm/l",
    )  # fmt: skip


@needs_helm
def test_raw_values_are_applied_and_said_so():
    values = "resources:\n  limits:\n    cpu: 200m\nreplicaCount: 3\n"
    manifest = render_manifest(FIXTURE / "1.1.0", {"image.tag": "2.5"}, values)
    files = {f.path: f.content for f in manifest.files}
    assert yaml.safe_load(files["values.yaml"])["resources"] == {"limits": {"cpu": "200m"}}
    assert yaml.safe_load(files["values.yaml"])["replicaCount"] == 3  # a declared variable
    deployment = yaml.safe_load(files["manifests/app/templates/deployment.yaml"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"limits": {"cpu": "200m"}}
    assert container["image"].endswith(":2.5") and deployment["spec"]["replicas"] == 3
    assert manifest.warnings == [
        "raw values were applied from the request's values, checked by no question: "
        "resources.limits.cpu"
    ]


def test_declared_variables_in_raw_values_are_checked_as_answers():
    values = "replicaCount: 99\nimage:\n  pullPolicy: {a: b}\n"
    with pytest.raises(ManifestError) as caught:
        render_manifest(FIXTURE / "1.1.0", {}, values)
    assert caught.value.code == "invalid_values"
    errors = [(e["line"], e["path"], e["message"]) for e in caught.value.details["errors"]]
    assert errors == [
        (1, "replicaCount", "must be at most 20"),
        (3, "image.pullPolicy", "must be text"),
    ]


def test_an_answer_and_a_raw_value_for_one_variable_must_agree(monkeypatch):
    with pytest.raises(ManifestError) as caught:
        render_manifest(FIXTURE / "1.1.0", {"replicaCount": 2}, {"replicaCount": 3})
    (error,) = caught.value.details["errors"]
    assert error["path"] == "replicaCount" and "answered too" in error["message"]
    assert error["line"] is None  # a mapping has no lines
    # The same value twice passes every check (and only rendering is left).
    monkeypatch.setattr(helmsdk, "available", lambda: False)
    with pytest.raises(ManifestError) as caught:
        render_manifest(FIXTURE / "1.1.0", {"replicaCount": "3"}, {"replicaCount": 3})
    assert caught.value.code == "helm_sdk_missing"


def test_schema_errors_of_raw_values_point_at_their_line():
    values = "service:\n  port: 80\n  type: Headless\n"  # service.type: a declared enum
    with pytest.raises(ManifestError) as caught:
        render_manifest(FIXTURE / "1.1.0", {}, values)
    assert [(e["line"], e["path"]) for e in caught.value.details["errors"]] == [(3, "service.type")]
    values = "image:\n  repository: ''\n"  # not declared: only the schema checks it
    with pytest.raises(ManifestError) as caught:
        render_manifest(FIXTURE / "1.1.0", {}, values)
    (error,) = caught.value.details["errors"]
    assert (error["line"], error["path"]) == (2, "image.repository")
    assert error["message"] == "'' should be non-empty"


# --- the bundled catalog ----------------------------------------------------------------------


def _flat(questions):
    for q in questions:
        yield q
        yield from _flat(q.get("subquestions") or [])


TEXT_SAMPLES = [
    "example",
    "Sample-Passw0rd-2024",
    "app.example.com",
    "10.0.0.10",
    "https://hooks.example.com/services/T000/B000/XXXX",
]


def answer_set(questions: list[dict], kind: str) -> dict[str, Any]:
    """Defaults (plus samples for required questions without one), or answers unlike them."""
    answers: dict[str, Any] = {}
    if kind == "other":
        for q in _flat(questions):
            qtype = q.get("type")
            if qtype == "boolean":
                answers[q["variable"]] = str(q.get("default")).lower() != "true"
            elif qtype == "enum" and q.get("options"):
                answers[q["variable"]] = q["options"][-1]
            elif qtype == "int" and isinstance(q.get("max"), int) and q["max"] <= 10:
                answers[q["variable"]] = q["max"]
            elif q.get("default") in (None, "") and qtype not in ("int", "float"):
                # What a user turning a feature on types in (a secret name, a webhook URL).
                answers[q["variable"]] = next(
                    (t for t in TEXT_SAMPLES if check_answers([q], {q["variable"]: t}).ok),
                    TEXT_SAMPLES[0],
                )
        errors = check_answers(questions, answers).errors
        answers = {k: v for k, v in answers.items() if k not in errors}
    for _ in range(5):
        errors = check_answers(questions, answers).errors
        for variable in errors:
            for candidate in TEXT_SAMPLES:
                if (
                    variable
                    not in check_answers(questions, {**answers, variable: candidate}).errors
                ):
                    answers[variable] = candidate
                    break
    assert check_answers(questions, answers).ok, check_answers(questions, answers).errors
    return answers


def test_bundled_catalog_has_charts():
    assert BUNDLED, "catalog/charts holds no chart"


@needs_helm
@needs_kubernetes_validate
@pytest.mark.parametrize("folder", BUNDLED, ids=[f"{p.parent.name}/{p.name}" for p in BUNDLED])
@pytest.mark.parametrize("kind", ["defaults", "other"])
def test_bundled_chart_manifests_validate_against_kubernetes(folder, kind):
    _, questions = read_chart(folder)
    files = render(folder, answer_set(questions, kind), release="bundled", namespace="apps")
    manifests = {path: text for path, text in files.items() if path.startswith("manifests/")}
    assert manifests, "the chart rendered no manifest"
    checked = 0
    for path, text in manifests.items():
        for document in yaml.safe_load_all(text):
            if not document:
                continue
            try:
                kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                continue  # a custom resource: Kubernetes has no schema for it
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{path}: {document.get('kind')}: {exc.message}")
            checked += 1
    assert checked, "no rendered manifest had a Kubernetes schema"
