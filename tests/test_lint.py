"""`catalog-server lint` and `catalog-server new`: formats, exit codes, version history,
scaffolds, hostile content and the bundled catalog."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog_server import helmsdk
from catalog_server.cli.lint import lint
from catalog_server.cli.new import new
from catalog_server.validation import RULES

ROOT = Path(__file__).parents[1]
LINT = ROOT / "tests" / "data" / "lint"


@pytest.fixture(autouse=True)
def no_helm_sdk(monkeypatch):
    monkeypatch.setattr(helmsdk, "available", lambda: False)


def run(*args: str, command=lint):
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def test_text_output_groups_by_template_and_counts(tmp_path):
    result = run(str(LINT / "policy-image-latest"))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "app:"
    assert lines[1].endswith(
        "templates/app/0/docker-compose.yml:3: error policy.image-latest: service 'web': "
        "image 'nginx:latest' is not pinned (no tag, or `latest`); pin a released version "
        "(`name:1.2.3`) so installs are repeatable"
    )
    assert lines[-1] == "1 error, 0 warnings, 0 infos in 1 template"


def test_json_output_is_a_list_of_problems():
    result = run(str(LINT / "compose-no-image"), "--format", "json")
    assert result.exit_code == 1
    [problem] = json.loads(result.output)
    assert problem["rule"] == "compose.no-image"
    assert problem["line"] == 7 and problem["template"] == "app" and problem["version"] == "0.1.0"
    assert problem["file"].endswith("compose-no-image/templates/app/0/docker-compose.yml")


def test_github_format_writes_workflow_commands(monkeypatch):
    monkeypatch.chdir(LINT)
    result = run("question-enum-default", "question-unused", "--format", "github")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert (
        "::error file=question-enum-default/templates/app/0/rancher-compose.yml,line=19,"
        "title=question.enum-default::question 'MODE': default 'slow' is not one of the "
        "options (fast, safe)"
    ) in lines
    assert any(
        line.startswith("::notice file=question-unused/") and "title=question.unused::" in line
        for line in lines
    )
    warning = run("config-readme-missing", "--format", "github").output.splitlines()[0]
    assert warning.startswith(
        "::warning file=config-readme-missing/templates/app,title=config.readme-missing::"
    )


def test_exit_codes_warnings_strict_and_usage():
    assert run(str(LINT / "clean")).exit_code == 0
    assert run(str(LINT / "config-readme-missing")).exit_code == 0  # warning only
    assert run(str(LINT / "config-readme-missing"), "--strict").exit_code == 1
    assert run(str(LINT / "question-unused"), "--strict").exit_code == 0  # info only
    assert run(str(LINT / "nope")).exit_code == 2
    assert run("--format", "xml", str(LINT / "clean")).exit_code == 2


def test_list_rules_prints_every_rule_with_loader_rules():
    result = run("--list-rules")
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.splitlines()}
    assert listed == set(RULES)
    assert {"yaml.duplicate-key", "file.encoding", "policy.image-latest"} <= listed


def test_bundled_catalog_passes():
    result = run(str(ROOT / "catalog"))
    assert result.exit_code == 0, result.output


# --- scaffolding -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["compose", "helm"])
def test_scaffolded_templates_pass_strict_lint(tmp_path, kind):
    result = run(kind, "my-app", "--catalog", str(tmp_path), command=new)
    assert result.exit_code == 0, result.output
    result = run(str(tmp_path), "--strict")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "0 errors, 0 warnings, 0 infos in 0 templates"


def test_scaffold_refuses_bad_names_and_existing_folders(tmp_path):
    assert run("compose", "My App", "--catalog", str(tmp_path), command=new).exit_code == 2
    assert run("compose", "web", "--catalog", str(tmp_path), command=new).exit_code == 0
    again = run("compose", "web", "--catalog", str(tmp_path), command=new)
    assert again.exit_code == 1 and "already exists" in again.output


# --- --changed-since ---------------------------------------------------------------------


@pytest.fixture
def history(make_catalog_repo):
    """A git catalog holding the clean fixture (compose `app` 0.1.0, chart `demo` 0.1.0)."""
    repo = make_catalog_repo()
    repo.copy("lint/clean")
    repo.commit("publish app 0.1.0 and demo 0.1.0")
    return repo


def lint_since(repo, ref: str = "HEAD") -> list[dict]:
    result = run(str(repo.path), "--changed-since", ref, "--format", "json")
    return json.loads(result.output)


def test_changed_since_catches_an_edit_to_a_published_version(history):
    path = history.path / "templates/app/0/docker-compose.yml"
    path.write_text(path.read_text().replace("restart: unless-stopped", "restart: always"))
    problems = lint_since(history)
    [problem] = [p for p in problems if p["rule"] == "version.published-changed"]
    assert problem["file"].endswith("templates/app/0/docker-compose.yml")
    assert problem["template"] == "app" and problem["version"] == "0.1.0"
    assert all(p["template"] == "app" for p in problems)  # the chart did not change


def test_changed_since_catches_a_new_version_that_does_not_increase(history):
    shutil.copytree(history.path / "templates/app/0", history.path / "templates/app/1")
    compose = history.path / "templates/app/1/rancher-compose.yml"
    compose.write_text(compose.read_text().replace("version: 0.1.0", "version: 0.0.9"))
    problems = lint_since(history)  # the new folder is untracked: still seen
    [problem] = [p for p in problems if p["rule"] == "version.not-increasing"]
    assert problem["version"] == "0.0.9"
    assert problem["file"].endswith("templates/app/1")
    assert not [p for p in problems if p["rule"] == "version.published-changed"]


def test_changed_since_accepts_a_proper_new_version(history):
    shutil.copytree(history.path / "charts/demo/0.1.0", history.path / "charts/demo/0.2.0")
    chart = history.path / "charts/demo/0.2.0/Chart.yaml"
    chart.write_text(chart.read_text().replace("version: 0.1.0", "version: 0.2.0"))
    history.commit("demo 0.2.0")
    assert lint_since(history, "HEAD~1") == []
    assert run(str(history.path), "--changed-since", "no-such-ref").exit_code == 2


def test_changed_since_reports_removed_versions(history):
    shutil.rmtree(history.path / "charts/demo/0.1.0")
    shutil.copytree(LINT / "clean/charts/demo/0.1.0", history.path / "charts/demo/0.1.0")
    (history.path / "charts/demo/0.1.0/values.yaml").write_text("replicaCount: 2\n")
    problems = lint_since(history)
    assert [p["rule"] for p in problems] == ["version.published-changed"]
    assert problems[0]["file"].endswith("charts/demo/0.1.0/values.yaml")


# --- hostile content ---------------------------------------------------------------------


def test_hostile_catalog_gives_one_clear_problem_each(tmp_path):
    shutil.copytree(LINT / "clean", tmp_path, dirs_exist_ok=True)
    for name in ("big", "link", "binary", "latin1", "deep", "bomb"):
        shutil.copytree(tmp_path / "templates/app", tmp_path / f"templates/{name}")
    v = "0/docker-compose.yml"
    with open(tmp_path / f"templates/big/{v}", "wb") as fh:  # 50 MB, sparse
        fh.truncate(50 * 1024 * 1024)
    (tmp_path / f"templates/link/{v}").unlink()
    (tmp_path / f"templates/link/{v}").symlink_to("/etc/passwd")
    (tmp_path / f"templates/binary/{v}").write_bytes(b"services:\n  web:\x00\x01\n")
    (tmp_path / f"templates/latin1/{v}").write_bytes(b"services:\n  web:\n    image: caf\xe9\n")
    (tmp_path / f"templates/deep/{v}").write_text("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    (tmp_path / f"templates/bomb/{v}").write_text(bomb)

    result = run(str(tmp_path), "--format", "json")
    assert result.exit_code == 1
    problems = json.loads(result.output)
    by_template: dict[str, set[str]] = {}
    for p in problems:
        if p["severity"] == "error":
            by_template.setdefault(p["template"], set()).add(p["rule"])
    assert by_template == {
        "big": {"file.too-large"},
        "link": {"file.symlink"},
        "binary": {"file.binary"},
        "latin1": {"file.encoding"},
        "deep": {"yaml.too-deep"},
        "bomb": {"yaml.alias-bomb"},
    }
    assert not any(p["template"] in ("app", "charts*demo") for p in problems)
