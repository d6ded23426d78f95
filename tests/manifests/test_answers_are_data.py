"""Answers are data, never structure: one-line text answers, answers a `.tpl` prints kept
inside one YAML value, answers interpolated once, and a `.env` docker compose reads back."""

from __future__ import annotations

import pytest
import yaml

from catalog_server.manifests.answers import check_answers
from catalog_server.manifests.compose import ManifestError, compose_manifest
from catalog_server.manifests.helm import helm_manifest

ATTACK = "hi\n    privileged: true\n  evil:\n    image: alpine:3"
TEMPLATE = b"""services:
  web:
    image: example/web:1.0
    environment:
      GREETING: {{ .Values.GREETING }}
      QUOTED: "{{ .Values.QUOTED }}"
    labels:
      {{ .Values.LABEL_KEY }}: on
      note: {{ .Values.NOTE }} # {{ .Values.COMMENT }}
"""
BENIGN = {
    "GREETING": "hello world",
    "QUOTED": "it's fine: really # not a comment",
    "LABEL_KEY": "io.example/role",
    "NOTE": "a:b#c",
    "COMMENT": "anything: [at] all # here",
}


def render(answers, questions=None, template=TEMPLATE):
    manifest = compose_manifest(
        {"docker-compose.yml.tpl": template}, questions or [], BENIGN | answers, release="r"
    )
    files = {f.path: f.content for f in manifest.files}
    return yaml.safe_load(files["docker-compose.yml"]), files


def refused(answers, questions=None, template=TEMPLATE) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        render(answers, questions, template)
    assert caught.value.code == "invalid_answers" and caught.value.status == 422
    return caught.value


# --- one-line answers -----------------------------------------------------------------------


@pytest.mark.parametrize("qtype", ["string", "password", "hostname", "enum", "date", "secret"])
@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b", "a\x1bb", "a\tb", "a\u2028b", "a\x85b"])
def test_single_line_answers_hold_no_line_break_or_control_character(qtype, bad):
    question = {"variable": "V", "type": qtype, "options": [bad]}
    check = check_answers([question], {"V": bad})
    assert check.errors.get("V"), (qtype, bad)
    assert "V" not in check.values


@pytest.mark.parametrize("qtype", ["multiline", "certificate", "yaml", "text"])
def test_multiline_answers_hold_line_breaks_but_no_other_control_character(qtype):
    question = {"variable": "V", "type": qtype}
    text = "line one\n\tline two\r\nline three"
    assert check_answers([question], {"V": text}).values == {"V": text}
    assert check_answers([question], {"V": "a\x1b[31m"}).errors["V"]


def test_the_reviews_tpl_attack_through_a_declared_string_question():
    error = refused({"GREETING": ATTACK}, [{"variable": "GREETING", "type": "string"}])
    assert "one line" in error.details["GREETING"][0]


def test_a_declared_helm_string_answer_with_newlines_adds_no_key():
    files = {
        "Chart.yaml": b"apiVersion: v2\nname: demo\nversion: 1.0.0\n",
        "values.yaml": b"greeting: hi\n",
        "templates/cm.yaml": b"kind: ConfigMap\ndata:\n  greeting: {{ .Values.greeting }}\n",
    }
    with pytest.raises(ManifestError) as caught:
        helm_manifest(
            files, [{"variable": "greeting", "type": "string"}],
            {"greeting": "hi\nextra: key"}, chart_name="demo", version="1.0.0", created=None,
            release="r", namespace="n", repo_name="lib", repo_url="http://x/helm/lib",
        )  # fmt: skip
    assert caught.value.code == "invalid_answers"
    assert "greeting" in caught.value.details


# --- answers a .tpl prints stay inside one value --------------------------------------------


@pytest.mark.parametrize(
    ("variable", "answer"),
    [
        ("GREETING", ATTACK),  # not declared: passed through, as Rancher does
        ("GREETING", "[a, b]"),
        ("GREETING", "{privileged: true}"),
        ("GREETING", "*alias"),
        ("GREETING", "&anchor value"),
        ("GREETING", "!!binary aGk="),
        ("GREETING", "x # hides the rest"),
        ("GREETING", "- item"),
        ("NOTE", "v\n    privileged: true"),
        ("QUOTED", 'closes" the quote'),
        ("LABEL_KEY", "a: b"),
        ("LABEL_KEY", "key\n      other"),
        ("COMMENT", "end\n    privileged: true"),
    ],
)
def test_answers_that_would_change_the_structure_are_refused(variable, answer):
    error = refused({variable: answer})
    assert variable in error.details, error.details
    assert "docker-compose.yml.tpl" in error.details[variable][0]


def test_a_multiline_question_printed_into_yaml_still_cannot_add_keys():
    questions = [{"variable": "GREETING", "type": "multiline"}]
    assert "GREETING" in refused({"GREETING": ATTACK}, questions).details


def test_answers_that_stay_data_render_as_given():
    compose, _ = render({})
    web = compose["services"]["web"]
    assert web["environment"] == {"GREETING": "hello world", "QUOTED": BENIGN["QUOTED"]}
    assert web["labels"] == {"io.example/role": True, "note": "a:b#c"}
    assert set(compose["services"]) == {"web"}


def test_a_whole_scalar_made_by_quote_is_data():
    template = b"services:\n  web:\n    image: {{ .Values.IMAGE | quote }}\n"
    compose, _ = render({"IMAGE": 'x" injected: [1]'}, template=template)
    assert compose["services"]["web"]["image"] == 'x" injected: [1]'


def test_a_trailing_space_at_the_end_of_a_line_is_not_structure():
    compose, _ = render({"GREETING": "hello "})
    assert compose["services"]["web"]["environment"]["GREETING"] == "hello"


# --- interpolated once ----------------------------------------------------------------------


def test_an_answer_printed_by_a_tpl_is_not_interpolated_again():
    answer = "${QUOTED} and $$ and $HOME"
    compose, _ = render({"GREETING": answer, "LABEL_KEY": "k$x"})
    # Written escaped ($ as $$), so that docker compose reads the answer as it was given.
    assert compose["services"]["web"]["environment"]["GREETING"] == answer.replace("$", "$$")
    assert "k$x" in compose["services"]["web"]["labels"]  # keys are never interpolated


def test_an_answer_substituted_into_a_compose_file_is_not_interpolated_again():
    source = b"services:\n  web:\n    image: x\n    environment:\n      A: ${A}\n      B: b\n"
    manifest = compose_manifest({"docker-compose.yml": source}, [], {"A": "${B}", "B": "no"})
    files = {f.path: f.content for f in manifest.files}
    assert yaml.safe_load(files["docker-compose.yml"])["services"]["web"]["environment"] == {
        "A": "$${B}",  # written escaped: docker compose reads ${B} literally
        "B": "b",
    }
