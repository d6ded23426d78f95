"""Every validation rule against its fixture catalog in tests/data/lint/<case>/.

Each case is a small catalog (the scaffolded templates with one defect); the test asserts
that lint reports the rule at the expected file and line. The Helm SDK is switched off so
results do not depend on whether the optional SDK is installed (helm.lint has its own test).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_server import helmsdk
from catalog_server.lint import lint_catalog
from catalog_server.validation import RULES

LINT = Path(__file__).parents[1] / "data" / "lint"
C = "templates/app/"
CV = C + "0/"
H = "charts/demo/0.1.0/"

# (case folder, rule, file, line)
CASES = [
    ("config-missing-field", "config.missing-field", C + "config.yml", 1),
    ("config-field-type", "config.field-type", C + "config.yml", 8),
    ("config-unknown-key", "config.unknown-key", C + "config.yml", 8),
    ("config-default-version", "config.default-version", C + "config.yml", 3),
    ("config-missing-catalog", "config.missing-catalog", CV + "rancher-compose.yml", 1),
    ("config-missing-compose", "config.missing-compose", "templates/app/0", None),
    ("config-version-format", "config.version-format", CV + "rancher-compose.yml", 4),
    ("config-upgrade-from", "config.upgrade-from", CV + "rancher-compose.yml", 7),
    ("config-rancher-version", "config.rancher-version", CV + "rancher-compose.yml", 7),
    ("config-icon-missing", "config.icon-missing", "templates/app", None),
    ("config-icon-format", "config.icon-format", C + "catalogIcon-app.png", None),
    ("config-icon-size", "config.icon-size", C + "catalogIcon-app.svg", None),
    ("config-readme-missing", "config.readme-missing", "templates/app", None),
    ("question-schema", "question.schema", CV + "rancher-compose.yml", 15),
    ("question-unknown-key", "question.unknown-key", CV + "rancher-compose.yml", 9),
    ("question-missing-variable", "question.missing-variable", CV + "rancher-compose.yml", 16),
    ("question-missing-type", "question.missing-type", CV + "rancher-compose.yml", 8),
    ("question-unknown-type", "question.unknown-type", CV + "rancher-compose.yml", 11),
    ("question-duplicate-variable", "question.duplicate-variable", CV + "rancher-compose.yml", 16),
    ("question-default-type", "question.default-type", CV + "rancher-compose.yml", 12),
    ("question-enum-options", "question.enum-options", CV + "rancher-compose.yml", 17),
    ("question-enum-default", "question.enum-default", CV + "rancher-compose.yml", 19),
    ("question-min-max", "question.min-max", CV + "rancher-compose.yml", 13),
    ("question-regex", "question.regex", CV + "rancher-compose.yml", 18),
    ("question-show-if", "question.show-if", CV + "rancher-compose.yml", 16),
    ("question-show-if-variable", "question.show-if-variable", CV + "rancher-compose.yml", 16),
    ("question-nested-subquestions", "question.nested-subquestions", H + "questions.yml", 16),
    ("question-if", "question.if", H + "questions.yml", 16),
    ("question-tolerated", "question.tolerated", H + "questions.yml", 1),
    ("question-undeclared-variable", "question.undeclared-variable", CV + "docker-compose.yml", 8),
    ("question-unused", "question.unused", CV + "rancher-compose.yml", 16),
    ("compose-schema", "compose.schema", CV + "docker-compose.yml", 4),
    ("compose-legacy-v1", "compose.legacy-v1", CV + "docker-compose.yml", 1),
    ("compose-legacy-key", "compose.legacy-key", CV + "docker-compose.yml", 5),
    ("compose-rancher-extension", "compose.rancher-extension", CV + "docker-compose.yml", 7),
    ("compose-format-key", "compose.format-key", CV + "docker-compose.yml", 7),
    ("compose-version", "compose.version", CV + "docker-compose.yml", 1),
    ("compose-interpolation", "compose.interpolation", CV + "docker-compose.yml", 7),
    ("compose-template", "compose.template", CV + "docker-compose.yml.tpl", 4),
    ("compose-undefined-network", "compose.undefined-network", CV + "docker-compose.yml", 7),
    ("compose-undefined-volume", "compose.undefined-volume", CV + "docker-compose.yml", 8),
    ("compose-undefined-secret", "compose.undefined-secret", CV + "docker-compose.yml", 7),
    ("compose-undefined-config", "compose.undefined-config", CV + "docker-compose.yml", 7),
    ("compose-unknown-dependency", "compose.unknown-dependency", CV + "docker-compose.yml", 7),
    ("compose-no-image", "compose.no-image", CV + "docker-compose.yml", 7),
    ("helm-chart-api-version", "helm.chart-api-version", H + "Chart.yaml", 1),
    ("helm-chart-name", "helm.chart-name", H + "Chart.yaml", 2),
    ("helm-chart-version", "helm.chart-version", H + "Chart.yaml", 5),
    ("helm-app-version", "helm.app-version", H + "Chart.yaml", 6),
    ("helm-chart-field", "helm.chart-field", H + "Chart.yaml", 4),
    ("helm-maintainer", "helm.maintainer", H + "Chart.yaml", 10),
    ("helm-url", "helm.url", H + "Chart.yaml", 7),
    ("helm-values-schema", "helm.values-schema", H + "values.yaml", 4),
    ("helm-schema-file", "helm.schema-file", H + "values.schema.json", None),
    ("helm-template-extension", "helm.template-extension", H + "templates/notes.md", None),
    ("helm-rancher-annotation", "helm.rancher-annotation", H + "Chart.yaml", 14),
    ("helm-artifacthub-annotation", "helm.artifacthub-annotation", H + "Chart.yaml", 14),
    ("policy-image-latest", "policy.image-latest", CV + "docker-compose.yml", 3),
    ("policy-privileged", "policy.privileged", CV + "docker-compose.yml", 7),
    ("policy-host-namespace", "policy.host-namespace", CV + "docker-compose.yml", 5),
    ("policy-docker-socket", "policy.docker-socket", CV + "docker-compose.yml", 8),
    ("policy-cap-add-all", "policy.cap-add-all", CV + "docker-compose.yml", 7),
    ("policy-secret-default", "policy.secret-default", CV + "rancher-compose.yml", 18),
    ("policy-literal-secret", "policy.literal-secret", CV + "docker-compose.yml", 8),
    ("lint-config", "lint.config", ".catalog-lint.yaml", 2),
]
# Rules tested elsewhere: version history (needs git, test_lint.py), Helm's own lint
# (needs the SDK, below; left out at sync: test_helm_lint_at_sync.py), the catalog's
# artifacthub-repo.yml (tests/api/test_chart_metadata.py), and the loaders' rules (their
# tests; hostile content in test_lint.py).
ELSEWHERE = {
    "version.published-changed",
    "version.not-increasing",
    "version.removed",
    "helm.lint",
    "helm.lint-skipped",
    "helm.artifacthub-repo",
}


@pytest.fixture(autouse=True)
def no_helm_sdk(monkeypatch):
    monkeypatch.setattr(helmsdk, "available", lambda: False)


@pytest.mark.parametrize(("case", "rule", "file", "line"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires_at_file_and_line(case, rule, file, line):
    problems = lint_catalog(LINT / case)
    found = [(p.file, p.line) for p in problems if p.rule == rule]
    assert (file, line) in found, [f"{p.rule} {p.file}:{p.line}" for p in problems]
    for p in problems:
        if p.rule == rule:
            assert p.severity == RULES[rule].severity or rule == "question.missing-type"
            assert not p.blocking
            assert p.message


def test_every_validation_rule_has_a_fixture():
    covered = {rule for _, rule, _, _ in CASES} | ELSEWHERE
    own = {r.id for r in RULES.values() if r.owner == "validation"}
    assert own - covered == set()
    assert {case for case, *_ in CASES} <= {p.name for p in LINT.iterdir()}


def test_clean_fixture_has_no_problem():
    assert lint_catalog(LINT / "clean") == []


def test_misspelt_keys_get_a_suggestion():
    [problem] = [
        p for p in lint_catalog(LINT / "config-unknown-key") if p.rule == "config.unknown-key"
    ]
    assert "did you mean `minimum_rancher_version`" in problem.message
    [problem] = [
        p for p in lint_catalog(LINT / "question-unknown-key") if p.rule == "question.unknown-key"
    ]
    assert "did you mean `label`" in problem.message


def test_rancher_service_kinds_are_not_images_to_pin():
    # load-balancer-service, dns-service and external-service name Rancher 1.x service
    # kinds; the load balancer agent's real image still needs a tag.
    found = [p.message for p in lint_catalog(LINT / "policy-rancher-services")
             if p.rule == "policy.image-latest"]  # fmt: skip
    assert len(found) == 1 and "rancher/lb-service-haproxy" in found[0]


def test_a_stated_reason_silences_privilege_rules():
    problems = lint_catalog(LINT / "policy-reason-label")
    assert problems == []


def test_catalog_lint_yaml_changes_policy_severities():
    problems = {p.rule: p for p in lint_catalog(LINT / "policy-overrides")}
    assert problems["policy.image-latest"].severity == "warning"
    assert "policy.privileged" not in problems  # turned off
    assert "lint.config" not in problems


def test_lint_config_refuses_non_policy_rules():
    messages = [p.message for p in lint_catalog(LINT / "lint-config") if p.rule == "lint.config"]
    assert any("did you mean `policy.image-latest`" in m for m in messages)
    assert any("only policy.* rules" in m for m in messages)


def test_helm_sdk_lint_joins_as_helm_rules(monkeypatch):
    monkeypatch.undo()
    if not helmsdk.available():
        pytest.skip(helmsdk.missing_message())
    problems = lint_catalog(LINT / "helm-lint")
    found = [p for p in problems if p.rule == "helm.lint"]
    assert any("icon" in p.message and p.severity == "info" for p in found)
    assert all(p.file and p.file.startswith(H) for p in found)
