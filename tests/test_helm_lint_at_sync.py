"""Helm's own lint at sync: CATALOG_SERVER_HELM_LINT=auto (the default), true and false."""

from __future__ import annotations

import pytest

from catalog_server import helmsdk, validation
from catalog_server.config import ConfigError, Settings
from catalog_server.db import db
from catalog_server.scheduler import sync_one

pytestmark = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)


def chart(name: str) -> dict[str, str]:
    # No `icon`: Helm's lint says "icon is recommended" (info); our own rules say nothing.
    return {
        f"charts/{name}/1.0.0/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n",
        f"charts/{name}/1.0.0/values.yaml": "replicas: 1\n",
        f"charts/{name}/1.0.0/templates/cm.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
        ),
    }


@pytest.fixture
def two_charts(make_catalog_repo):
    return make_catalog_repo(files={**chart("alpha"), **chart("beta")})


def rules_after_sync(app, settings, repo, **env) -> list[str]:
    changed = Settings(**{**settings.__dict__, **env})
    with app.app_context():
        summary = sync_one(db.session, changed, repo.source("lib"))
        assert summary.status == "updated", summary
    body = app.test_client().get("/api/v1/problems?catalog=lib&per_page=100").json
    return sorted(p["rule"] for p in body["items"])


def test_auto_lints_a_small_catalog(app, settings, two_charts):
    assert settings.server_helm_lint == "auto"
    rules = rules_after_sync(app, settings, two_charts)
    assert rules.count("helm.lint") == 2  # "icon is recommended", once per chart
    assert "helm.lint-skipped" not in rules


def test_auto_leaves_a_large_catalog_to_the_lint_and_says_so(
    app, settings, two_charts, monkeypatch
):
    monkeypatch.setattr(validation, "HELM_LINT_AUTO_LIMIT", 1)
    rules = rules_after_sync(app, settings, two_charts)
    assert "helm.lint" not in rules
    assert rules.count("helm.lint-skipped") == 1
    skipped = app.test_client().get("/api/v1/problems?catalog=lib").json["items"][0]
    assert skipped["severity"] == "info" and "holds 2 charts" in skipped["message"]


@pytest.mark.parametrize(("setting", "linted"), [("true", True), ("false", False)])
def test_true_and_false_ignore_the_size(app, settings, two_charts, monkeypatch, setting, linted):
    monkeypatch.setattr(validation, "HELM_LINT_AUTO_LIMIT", 1)
    rules = rules_after_sync(app, settings, two_charts, server_helm_lint=setting)
    assert ("helm.lint" in rules) is linted
    assert "helm.lint-skipped" not in rules


def test_subcharts_do_not_count(make_catalog_repo):
    from catalog_server.sources import open_source

    repo = make_catalog_repo(
        files={**chart("alpha"), "charts/alpha/1.0.0/charts/sub/Chart.yaml": "name: sub\n"}
    )
    opened = open_source(repo.source("lib"), repo.path.parent / "cache", 60)
    assert validation.chart_count(opened.snapshot) == 1


@pytest.mark.parametrize(
    ("raw", "value"), [(None, "auto"), ("auto", "auto"), ("yes", "true"), ("0", "false")]
)
def test_the_setting(raw, value):
    env = {} if raw is None else {"CATALOG_SERVER_HELM_LINT": raw}
    assert Settings.from_env(env).server_helm_lint == value


def test_a_bad_setting_is_refused():
    with pytest.raises(ConfigError, match="auto, true or false"):
        Settings.from_env({"CATALOG_SERVER_HELM_LINT": "sometimes"})
