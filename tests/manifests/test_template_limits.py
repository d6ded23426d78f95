"""The Go-template engine bounds every value it builds and its total work, so a hostile
``.tpl`` costs bounded memory: each case runs in a child process limited to a few hundred
MiB of address space, and must end in an error with file and line (a 422 for the API, a
`compose.template` problem for lint), never in a MemoryError."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from catalog_server.manifests import gotemplate
from catalog_server.manifests.gotemplate import TemplateError, render

HOSTILE = Path(__file__).parent.parent / "data" / "hostile-render" / "compose"
MEMORY_MB = 700  # the interpreter and the package need about 150

MANIFEST = """
import json, pathlib, sys
from catalog_server.manifests.compose import ManifestError, compose_manifest
folder = pathlib.Path(sys.argv[1])
files = {p.name: p.read_bytes() for p in folder.iterdir()}
try:
    compose_manifest(files, [], {}, release="r")
    print(json.dumps({"status": 200}))
except ManifestError as exc:
    print(json.dumps({"status": exc.status, "code": exc.code, "message": exc.message,
                      "details": exc.details}))
"""


CASES = {  # template: (the message, its line)
    "string-doubling": ("printf would build text of 2097152 characters", 5),
    "replace-bomb": ("replace would build text of 1000110000 characters", 4),
    "busy-loop": ("more than 50000000 units of work", 4),
}


@pytest.mark.parametrize("template", sorted(CASES))
def test_hostile_templates_are_a_422_in_bounded_memory(limited_run, template):
    message, line = CASES[template]
    folder = HOSTILE / "templates" / template / "0"
    result = limited_run([sys.executable, "-c", MANIFEST, str(folder)], memory_mb=MEMORY_MB)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    assert (answer["status"], answer["code"]) == (422, "render_error"), answer
    assert message in answer["message"]
    assert answer["details"]["file"] == "docker-compose.yml.tpl"
    assert answer["details"]["line"] == line


def test_lint_reports_hostile_templates_as_problems_in_bounded_memory(limited_run):
    result = limited_run(
        [sys.executable, "-m", "catalog_server.cli", "lint", str(HOSTILE), "--format", "json"],
        memory_mb=MEMORY_MB,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    problems = [p for p in json.loads(result.stdout) if p["rule"] == "compose.template"]
    assert {p["template"]: p["line"] for p in problems} == {t: c[1] for t, c in CASES.items()}
    for problem in problems:
        assert problem["severity"] == "error"
        assert CASES[problem["template"]][0] in problem["message"]


# --- one bound at a time, in process (each is small) --------------------------------------


def error_of(text: str, values=None) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        render(text, values or {}, filename="docker-compose.yml.tpl")
    return info.value


def test_text_a_function_builds_is_bounded():
    limit = gotemplate.MAX_TEXT
    width = 100_000
    # Each alone is under the limit; joined they are over it.
    many = " ".join(["$x"] * (limit // width + 1))
    verbs = "%s" * (limit // width + 1)
    cases = [
        f'{{{{ $x := printf "%{width}s" "" }}}}{{{{ $y := print {many} }}}}',
        f'{{{{ $x := printf "%{width}s" "" }}}}{{{{ $y := println {many} }}}}',
        f'{{{{ $x := printf "%{width}s" "" }}}}{{{{ $y := quote {many} }}}}',
        f'{{{{ $x := printf "%{width}s" "" }}}}{{{{ $y := printf "{verbs}" {many} }}}}',
        '{{ $x := printf "%100000s" "" }}{{ $y := replace " " "0123456789ab" $x }}',
    ]
    for text in cases:
        assert f"the limit is {limit}" in error_of(text).message, text


def test_answers_count_against_the_bounds_too():
    answer = "x" * (gotemplate.MAX_TEXT // 2 + 1)
    assert (
        "the limit is" in error_of('{{ printf "%s%s" .Values.A .Values.A }}', {"A": answer}).message
    )


def test_lists_a_function_builds_are_bounded():
    words = " ".join(["w"] * (gotemplate.MAX_ITEMS + 1))
    assert "more than" in error_of("{{ splitPreserveQuotes .Values.W }}", {"W": words}).message


def test_total_work_is_bounded(monkeypatch):
    monkeypatch.setattr(gotemplate, "MAX_WORK", 100_000)
    text = '{{ range until 100 }}{{ $x := printf "%2000s" "" }}{{ end }}'
    assert "more than 100000 units of work" in error_of(text).message
    monkeypatch.setattr(gotemplate, "MAX_WORK", 1_000_000)
    assert render(text, {}, filename="t") == ""


def test_ordinary_templates_stay_well_within_the_bounds():
    text = (
        "{{- range $i, $e := until 50 }}\n"
        '  svc{{ $i }}: {{ printf "%s-%d" (upper $.Values.NAME) $i | quote }}\n'
        "{{- end }}\n"
    )
    rendered = render(text, {"NAME": "web"}, filename="t")
    assert rendered.count("svc") == 50 and '"WEB-49"' in rendered
