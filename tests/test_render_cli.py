"""`catalog-server render` writes the same files as the manifest API, from the database."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from catalog_server import helmsdk
from catalog_server.cli import main

needs_helm = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)


@pytest.fixture
def indexed(make_catalog_repo, sync):
    repo = make_catalog_repo(fixture="manifest-catalog")
    assert sync(repo.source("lib")).status == "updated"
    return repo


def render(cli_env, *args):
    return CliRunner().invoke(main, ["render", *args], env=cli_env, catch_exceptions=False)


def written(folder) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in folder.rglob("*")
        if p.is_file()
    }


def api_files(client, url, body) -> dict[str, str]:
    response = client.post(url, json=body)
    assert response.status_code == 200, response.get_data(True)
    return {f["path"]: f["content"] for f in response.json["files"]}


@pytest.mark.parametrize(
    ("ref", "url", "answers"),
    [
        (
            "lib/stack@1.0.0",
            "stack/versions/1.0.0",
            {"ADMIN_PASSWORD": "correct-horse", "DEBUG": "true"},
        ),
        ("lib/stack@1", "stack/versions/1", {"WORKERS": "3", "TLS_ENABLED": "true"}),
        ("lib/legacy", "legacy/versions/1.0.0", {}),
    ],
)
def test_cli_and_api_write_identical_files(indexed, client, cli_env, tmp_path, ref, url, answers):
    out = tmp_path / "out"
    args = [f"--set={name}={value}" for name, value in answers.items()]
    result = render(cli_env, ref, *args, "--release", "shop", "--out", str(out))
    assert result.exit_code == 0, result.output
    expected = api_files(
        client, f"/api/v1/templates/lib/{url}/manifest", {"answers": answers, "release": "shop"}
    )
    assert written(out) == expected


def test_answers_file_and_set_override(indexed, client, cli_env, tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("ADMIN_PASSWORD: from-the-file\nHTTP_PORT: 81\n")
    out = tmp_path / "out"
    result = render(
        cli_env, "lib/stack@1.0.0", "--answers", str(answers), "--set", "HTTP_PORT=82",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    env = (out / ".env").read_text()
    assert "ADMIN_PASSWORD=from-the-file\n" in env and "HTTP_PORT=82\n" in env


def test_without_out_the_files_are_printed(indexed, cli_env):
    result = render(cli_env, "lib/stack@2.0.0")
    assert result.exit_code == 0, result.output
    assert "# --- docker-compose.yml\n" in result.stdout
    assert "image: example/web:2.0" in result.stdout


def test_invalid_answers_exit_non_zero_listing_every_error(indexed, cli_env):
    result = render(cli_env, "lib/stack@1.0.0", "--set", "HTTP_PORT=x")
    assert result.exit_code == 1
    details = json.loads(result.output[result.output.index("{") :].rsplit("}", 1)[0] + "}")
    assert sorted(details) == ["ADMIN_PASSWORD", "HTTP_PORT"]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("lib/nope", "not found"),
        ("lib/stack@9.9", "not found"),
        ("stack", "CATALOG/TEMPLATE"),
    ],
)
def test_bad_references_are_reported(indexed, cli_env, ref, message):
    result = render(cli_env, ref)
    assert result.exit_code != 0
    assert message in result.output


@needs_helm
def test_cli_and_api_agree_on_a_helm_chart(indexed, client, cli_env, tmp_path):
    answers = {"replicaCount": "2", "ingress.enabled": "true"}
    out = tmp_path / "out"
    args = [f"--set={name}={value}" for name, value in answers.items()]
    result = render(cli_env, "lib/charts*app@1.1.0", *args, "--namespace", "web", "--out", str(out))
    assert result.exit_code == 0, result.output
    expected = api_files(
        client,
        "/api/v1/templates/lib/charts*app/versions/1.1.0/manifest",
        {"answers": answers, "namespace": "web"},
    )
    assert written(out) == expected
    assert "manifests/app/templates/ingress.yaml" in expected


@pytest.fixture
def values_catalog(make_catalog_repo, sync):
    repo = make_catalog_repo(fixture="values-catalog")
    assert sync(repo.source("vals")).status == "updated"
    return repo


@needs_helm
def test_cli_and_api_agree_on_a_values_document(values_catalog, client, cli_env, tmp_path):
    values = "s3:\n  enabled: true\n  bucketName: nightly\nextraArgs: [--dry-run]\n"
    (tmp_path / "values.yaml").write_text(values)
    out = tmp_path / "out"
    result = render(
        cli_env, "vals/stable*backup", "--values", str(tmp_path / "values.yaml"),
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: raw values were applied" in result.output
    expected = api_files(
        client, "/api/v1/templates/vals/stable*backup/versions/0.4.2/manifest", {"values": values}
    )
    assert written(out) == expected
    assert "--s3-bucket=nightly" in expected["manifests/backup/templates/deployment.yaml"]


def test_cli_refuses_undeclared_answers_and_names_bad_lines(values_catalog, cli_env, tmp_path):
    result = render(cli_env, "vals/stable*backup", "--set", "s3.enabled=true")
    assert result.exit_code == 1
    assert "no question declares s3.enabled" in result.output
    (tmp_path / "bad.yaml").write_text("s3:\n  enabled: true\n  enabled: false\n")
    result = render(cli_env, "vals/stable*backup", "--values", str(tmp_path / "bad.yaml"))
    assert result.exit_code == 1
    assert '"line": 3' in result.output and "duplicate" in result.output.lower()
    result = render(cli_env, "vals/stable*backup", "--values", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2 and "cannot read" in result.output
