from pathlib import Path

import pytest
import yaml

from catalog_server.manifests.answers import answer_text, check_answers
from catalog_server.manifests.conditions import show_if_condition

DATA = Path(__file__).parent.parent / "data" / "manifests"


def check(question, answer=None, **others):
    answers = {question["variable"]: answer} if answer is not None else {}
    answers.update(others)
    return check_answers([question], answers)


# --- Types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"), [(3, 3), ("3", 3), (" -4 ", -4), (3.0, 3), ("+7", 7)]
)
def test_int_accepts_whole_numbers(answer, expected):
    assert check({"variable": "n", "type": "int"}, answer).values == {"n": expected}


@pytest.mark.parametrize("answer", ["3.5", 3.5, "three", True, [1]])
def test_int_refuses_other_values(answer):
    result = check({"variable": "n", "type": "int"}, answer)
    assert "n" not in result.values
    assert result.errors["n"][0].startswith("must be a whole number")


@pytest.mark.parametrize(("answer", "expected"), [("1.5", 1.5), (2, 2.0), ("1e3", 1000.0)])
def test_float_accepts_numbers(answer, expected):
    assert check({"variable": "f", "type": "float"}, answer).values == {"f": expected}


@pytest.mark.parametrize("answer", ["abc", "nan", "inf", False])
def test_float_refuses_other_values(answer):
    assert (
        check({"variable": "f", "type": "float"}, answer)
        .errors["f"][0]
        .startswith("must be a number")
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(True, True), (False, False), ("true", True), ("False", False), ("1", True), ("0", False)],
)
def test_boolean_accepts_json_and_text(answer, expected):
    assert check({"variable": "b", "type": "boolean"}, answer).values == {"b": expected}


def test_boolean_refuses_other_text():
    assert check({"variable": "b", "type": "boolean"}, "maybe").errors == {
        "b": ["must be true or false, not 'maybe'"]
    }


@pytest.mark.parametrize(
    "qtype",
    [
        "string", "multiline", "password", "date", "service", "certificate", "secret",
        "storageclass", "pvc", None, "no-such-type",
    ],
)  # fmt: skip
def test_text_types_keep_text(qtype):
    question = {"variable": "s", "type": qtype} if qtype else {"variable": "s"}
    assert check(question, "some value").values == {"s": "some value"}


def test_text_types_turn_scalars_into_rancher_text():
    question = {"variable": "s", "type": "string"}
    assert check(question, 8080).values == {"s": "8080"}
    assert check(question, True).values == {"s": "true"}
    assert check(question, ["a"]).errors == {"s": ["must be text"]}


def test_enum_value_must_be_an_option():
    question = {"variable": "e", "type": "enum", "options": ["api", "external", 3]}
    assert check(question, "api").values == {"e": "api"}
    assert check(question, 3).values == {"e": "3"}
    assert check(question, "metadata").errors == {"e": ["must be one of api, external, 3"]}


def test_hostname_is_checked():
    question = {"variable": "h", "type": "hostname"}
    assert check(question, "db-1.example.com").values == {"h": "db-1.example.com"}
    assert check(question, "-bad.example.com").errors["h"][0].startswith("must be a hostname")
    assert check(question, "a..b").errors["h"]


# --- Rules ---------------------------------------------------------------------------------


def test_required_missing_and_empty_string():
    question = {"variable": "r", "type": "string", "required": True}
    assert check(question).errors == {"r": ["is required"]}
    assert check(question, "").errors == {"r": ["is required"]}
    assert check(question, "x").ok


def test_required_is_met_by_default_and_false_is_a_value():
    assert check({"variable": "r", "required": True, "default": "d"}).values == {"r": "d"}
    assert check({"variable": "b", "type": "boolean", "required": True}, False).values == {
        "b": False
    }


def test_optional_unanswered_text_is_empty_and_numbers_are_left_out():
    questions = [{"variable": "s"}, {"variable": "n", "type": "int"}]
    assert check_answers(questions, {}).values == {"s": ""}


def test_number_min_and_max():
    question = {"variable": "n", "type": "int", "min": 1, "max": 5}
    assert check(question, 1).ok and check(question, 5).ok
    assert check(question, 0).errors == {"n": ["must be at least 1"]}
    assert check(question, 6).errors == {"n": ["must be at most 5"]}
    assert check({"variable": "f", "type": "float", "max": 1.5}, 1.6).errors == {
        "f": ["must be at most 1.5"]
    }


def test_string_min_length_and_max_length():
    question = {"variable": "p", "type": "password", "min_length": 8, "max_length": 10}
    assert check(question, "12345678").ok
    assert check(question, "1234567").errors == {"p": ["must be at least 8 characters long"]}
    assert check(question, "12345678901").errors == {"p": ["must be at most 10 characters long"]}


def test_valid_chars_is_a_character_class_every_character_must_match():
    question = {"variable": "v", "valid_chars": "a-z0-9-"}
    assert check(question, "my-app-1").ok
    assert check(question, "My App").errors == {
        "v": ["contains characters that are not allowed: M [space] A"]
    }


def test_invalid_chars_is_a_character_class_no_character_may_match():
    question = {"variable": "v", "invalid_chars": "/\\\\"}
    assert check(question, "plain").ok
    assert check(question, "a/b\\c").errors == {
        "v": ["contains characters that are not allowed: / \\"]
    }


@pytest.mark.parametrize("body", ["a-z]|(a+)+$", "[a-z]", "a-z\\"])
def test_hostile_or_broken_character_class_is_reported_not_run(body):
    result = check({"variable": "v", "valid_chars": body}, "aaaa")
    assert result.errors["v"] == [f"question's valid_chars {body!r} is not a character class body"]


def test_mixed_yaml_defaults_are_coerced():
    questions = yaml.safe_load((DATA / "questions" / "mixed-defaults.yml").read_text())
    result = check_answers(questions["questions"], {})
    assert result.values == {
        "port": 8080,
        "replicas": 3,
        "ratio": 0.5,
        "whole_ratio": 2.0,
        "enabled": True,
        "debug": False,
        "version": "1.10",
        "tag": "3",
        "flag_text": "true",
        "mode": "api",
    }
    assert result.ok


def test_bad_default_is_reported_against_its_question():
    assert check({"variable": "n", "type": "int", "default": "many"}).errors == {
        "n": ["must be a whole number, not 'many'"]
    }


def test_all_errors_are_returned_at_once():
    questions = [
        {"variable": "a", "required": True},
        {"variable": "b", "type": "int", "min": 10},
        {"variable": "c", "type": "enum", "options": ["x"]},
        {"variable": "d", "min_length": 3, "valid_chars": "a-z"},
    ]
    result = check_answers(questions, {"b": 1, "c": "y", "d": "A"})
    assert result.errors == {
        "a": ["is required"],
        "b": ["must be at least 10"],
        "c": ["must be one of x"],
        "d": ["must be at least 3 characters long", "contains characters that are not allowed: A"],
    }


def test_unknown_answers_pass_through_unchanged():
    result = check_answers([{"variable": "a"}], {"a": "1", "extra": {"nested": [1]}, "n": 3})
    assert result.values == {"a": "1", "extra": {"nested": [1]}, "n": 3}


def test_malformed_questions_are_skipped():
    assert check_answers([{"label": "no variable"}, "junk", {"variable": "a"}], {"a": "x"}).ok


# --- show_if and subquestions ----------------------------------------------------------------


def test_show_if_and_binds_tighter_than_or():
    condition, problems = show_if_condition("a=1&&b=2||c=true")
    assert problems == []
    assert condition.names == {"a", "b", "c"}
    assert condition.holds({"a": "1", "b": "2"}) and condition.holds({"c": True})
    assert not condition.holds({"a": "1", "b": "3"})
    condition, _ = show_if_condition(" a = x ")
    assert condition.holds({"a": "x"})
    condition, _ = show_if_condition("a=")  # holds while a is empty
    assert condition.holds({}) and condition.holds({"a": ""}) and not condition.holds({"a": "y"})


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty"),
        ("a=b&&", "empty term"),
        ("||a=b", "empty term"),
        ("(a=b)", "parentheses"),
        ("a b", "not variable=value"),
        ("a=b=c", "one '='"),
        ("=b", "no variable name"),
    ],
)
def test_show_if_problems_are_reported_and_the_term_holds(expr, message):
    condition, problems = show_if_condition(expr)
    assert [p.kind for p in problems] == ["syntax"] and message in problems[0].message
    assert condition.holds({"a": "b"})  # the bad term holds, as in Rancher


def show_if_questions():
    return [
        {"variable": "mode", "type": "enum", "options": ["api", "external"], "default": "api"},
        {"variable": "acme", "type": "boolean", "default": False},
        {"variable": "email", "required": True, "show_if": "acme=true"},
        {"variable": "token", "required": True, "show_if": "mode=api&&acme=true||mode=external"},
    ]


def test_hidden_question_is_neither_required_nor_applied():
    result = check_answers(show_if_questions(), {"email": "ignored@example.com"})
    assert result.ok
    assert result.values == {"mode": "api", "acme": False}


def test_shown_question_is_required():
    result = check_answers(show_if_questions(), {"acme": "true"})
    assert result.errors == {"email": ["is required"], "token": ["is required"]}


def test_show_if_or_branch():
    result = check_answers(show_if_questions(), {"mode": "external"})
    assert result.errors == {"token": ["is required"]}


def test_show_if_that_cannot_be_evaluated_shows_the_question():
    # Rancher shows such a question; the catalog's defect is lint's to report
    # (question.show-if), and the user can still install.
    result = check_answers([{"variable": "a", "required": True, "show_if": "(x=y)"}], {})
    assert result.errors == {"a": ["is required"]}
    assert check_answers([{"variable": "a", "show_if": "(x=y)"}], {"a": "v"}).values == {"a": "v"}


def test_show_if_not_equal():
    question = {"variable": "a", "required": True, "show_if": "mode!=off"}
    assert check_answers([question], {"mode": "on"}).errors == {"a": ["is required"]}
    assert check_answers([question], {"mode": "off"}).ok


def test_show_if_can_test_an_unknown_answer():
    question = {"variable": "a", "required": True, "show_if": "cluster.type=rke2"}
    assert check_answers([question], {"cluster.type": "rke2"}).errors == {"a": ["is required"]}
    assert check_answers([question], {}).ok


def subquestion_parent(show_subquestion_if=True):
    return {
        "variable": "ingress.enabled",
        "type": "boolean",
        "default": False,
        "show_subquestion_if": show_subquestion_if,
        "subquestions": [
            {"variable": "ingress.host", "type": "hostname", "required": True},
            {"variable": "ingress.tls", "type": "boolean", "default": True},
        ],
    }


def test_subquestions_hidden_until_parent_matches():
    assert check_answers([subquestion_parent()], {}).values == {"ingress.enabled": False}


def test_subquestions_shown_when_boolean_parent_is_true():
    result = check_answers([subquestion_parent()], {"ingress.enabled": "true"})
    assert result.errors == {"ingress.host": ["is required"]}
    result = check_answers(
        [subquestion_parent("true")], {"ingress.enabled": True, "ingress.host": "a.b"}
    )
    assert result.values == {"ingress.enabled": True, "ingress.host": "a.b", "ingress.tls": True}


def test_subquestions_compare_parent_value_as_text():
    parent = {
        "variable": "db",
        "type": "enum",
        "options": ["embedded", "external"],
        "default": "embedded",
        "show_subquestion_if": "external",
        "subquestions": [{"variable": "db_host", "required": True}],
    }
    assert check_answers([parent], {}).ok
    assert check_answers([parent], {"db": "external"}).errors == {"db_host": ["is required"]}


def test_subquestions_hidden_when_parent_is_hidden():
    parent = subquestion_parent()
    parent["show_if"] = "advanced=true"
    result = check_answers([parent], {"ingress.enabled": True, "advanced": "false"})
    assert result.ok
    assert result.values == {"advanced": "false"}


def test_answer_text_matches_rancher():
    assert [answer_text(v) for v in (None, True, False, 3, 3.0, 1.5, "x")] == [
        "", "true", "false", "3", "3", "1.5", "x",
    ]  # fmt: skip


def test_hostile_subquestion_nesting_is_cut_off():
    question = {"variable": "leaf"}
    for level in range(5000):
        question = {"variable": f"q{level}", "subquestions": [question]}
    result = check_answers([question], {})
    assert "q4999" in result.values and "leaf" not in result.values
