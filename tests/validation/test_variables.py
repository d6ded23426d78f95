"""Variable uses in every file of a compose version: question.unused and
question.undeclared-variable on the fixture catalog tests/data/variable-uses/."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_server import helmsdk
from catalog_server.lint import lint_catalog
from catalog_server.manifests.interpolate import variable_uses
from catalog_server.validation.variables import interpolation_uses, template_uses

CATALOG = Path(__file__).parents[1] / "data" / "variable-uses"


@pytest.fixture(autouse=True)
def no_helm_sdk(monkeypatch):
    monkeypatch.setattr(helmsdk, "available", lambda: False)


@pytest.fixture(scope="module")
def problems():
    return lint_catalog(CATALOG)


def named(problems, rule):
    return {
        (
            p.template,
            p.version,
            p.message.split("'")[1] if "'" in p.message else p.message.split()[0],
        )
        for p in problems
        if p.rule == rule
    }


def test_every_kind_of_use_counts(problems):
    unused = {
        name
        for template, version, name in named(problems, "question.unused")
        if (template, version) == ("stack", "0.1.0")
    }
    # Used: .Values.X, index .Values "X", $.Values.X in the .tpl; ${X}, $X, defaults and
    # what they nest, a bare environment entry; ${SCALE} in rancher-compose.yml.
    # Not used: $${LITERAL}, a YAML comment, a template comment, the catalog block's text.
    assert unused == {"LITERAL", "COMMENTED", "IN_TEMPLATE_COMMENT", "NOT_A_USE"}


def test_real_defects_stay_found(problems):
    undeclared = {
        (p.file, p.line, p.message.split()[0])
        for p in problems
        if p.rule == "question.undeclared-variable"
    }
    assert undeclared == {
        ("templates/stack/0/docker-compose.yml.tpl", 14, ".Values.MISSPELT"),
        ("templates/stack/1/docker-compose.yml", 4, "${db_userame}"),
        ("kubernetes-templates/kube/0/rc.yml", 14, "${kube_log_dir}"),
    }
    # The misspelt variable leaves its question unused; MOTD passes through the environment.
    assert ("stack", "0.2.0", "db_username") in named(problems, "question.unused")
    assert not any("MOTD" in p.message for p in problems)


def test_kubernetes_manifests_use_their_questions(problems):
    assert not [
        p for p in problems if p.rule == "question.unused" and p.template == "kubernetes*kube"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "$A ${B} ${C:-x} ${D-x} ${E:?e} ${F?e} ${G:+a} ${H+a}",
            [
                ("A", False),
                ("B", False),
                ("C", True),
                ("D", True),
                ("E", False),
                ("F", False),
                ("G", True),
                ("H", True),
            ],
        ),
        ("${OUTER:-${INNER}}", [("OUTER", True), ("INNER", False)]),
        ("$${LITERAL} $$PLAIN $1 $(pwd) ${", []),
        ("echo $$$VAR", [("VAR", False)]),
    ],
)
def test_interpolation_forms(text, expected):
    assert [(name, fallback) for name, _, fallback in interpolation_uses(text)] == expected


def test_template_uses_and_blanking():
    text = 'a: {{ .Values.A }}\n{{- if index $.Values "B-c" }}\nb: ${X}\n{{/* .Values.C */}}\n'
    uses, blanked = template_uses(text)
    assert [name for name, _ in uses] == ["A", "B-c"]
    assert len(blanked) == len(text) and blanked.count("\n") == text.count("\n")
    assert "a: 0000" in blanked and "b: ${X}" in blanked and "{{" not in blanked


names = st.from_regex(r"[_a-zA-Z][_a-zA-Z0-9]{0,5}", fullmatch=True)
plain = st.text(alphabet="ab :-/{}", max_size=6)


@st.composite
def interpolated(draw, depth=0):
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["plain", "bare", "braced", "op", "escape"]))
        if kind == "plain":
            parts.append(draw(plain).replace("$", ""))
        elif kind == "bare":
            parts.append("$" + draw(names) + " ")
        elif kind == "braced":
            parts.append("${" + draw(names) + "}")
        elif kind == "escape":
            parts.append("$$")
        elif depth < 2:
            op = draw(st.sampled_from([":-", "-", ":?", "?", ":+", "+"]))
            parts.append("${" + draw(names) + op + draw(interpolated(depth + 1)) + "}")
    return "".join(parts)


@given(interpolated())
def test_tolerant_scan_agrees_with_the_interpolation_parser(text):
    """On well-formed text the tolerant scan finds exactly the parser's uses."""
    expected = [(use.name, use.has_fallback) for use in variable_uses(text)]
    assert [(name, fallback) for name, _, fallback in interpolation_uses(text)] == expected
