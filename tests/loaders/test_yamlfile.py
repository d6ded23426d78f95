"""Safe YAML loading: values as PyYAML reads them, and every hostile input as a problem."""

from __future__ import annotations

import time

import pytest
import yaml

from catalog_server.yamlfile import MAX_DEPTH, load_yaml, load_yaml_all


def rules(result):
    return [(p.rule, p.line) for p in result.problems]


def only(result, rule):
    [problem] = result.problems
    assert problem.rule == rule, problem
    assert problem.file == "f.yml"
    return problem


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [x, 2.5, true, null, yes, 0o17, 010, 0x1f, 1_000, .inf]\nc: {d: e}\n",
        "- &a {x: 1}\n- *a\n- {<<: *a, y: 2}\n- <<: [{p: 1}, {p: 2, q: 2}]\n  q: 3\n",
        "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n'quoted': \"\\u00e9\"\n",
        "empty:\nlist: []\nmap: {}\n~: tilde key\n1: int key\n",
    ],
)
def test_values_match_pyyaml_safe_load(text):
    result = load_yaml(text.encode(), "f.yml")
    assert result.ok and result.problems == []
    assert result.value == yaml.safe_load(text)


def test_timestamps_stay_text_as_go_parsers_see_them():
    assert load_yaml(b"when: 2001-12-14\n", "f.yml").value == {"when": "2001-12-14"}


def test_positions_for_keys_and_items_are_one_based():
    text = b"questions:\n  - variable: A\n    default: 1\n  - variable: B\n"
    result = load_yaml(text, "f.yml")
    assert result.positions[("questions",)] == (1, 1)
    assert result.positions[("questions", 0)] == (2, 5)
    assert result.positions[("questions", 0, "default")] == (3, 5)
    assert result.line("questions", 1, "variable") == 4


def test_numbers_keep_their_source_text():
    result = load_yaml(b"version: 1.10\nappVersion: 010\nname: x\n", "f.yml")
    assert result.value["version"] == 1.1
    assert result.text_at("version") == "1.10"
    assert result.text_at("appVersion") == "010"
    assert result.text_at("name") == "x"
    assert result.text_at("missing") is None


def test_crlf_and_bom():
    result = load_yaml(b"\xef\xbb\xbfa: 1\r\nb:\r\n  - x\r\n", "f.yml")
    assert result.value == {"a": 1, "b": ["x"]}
    assert result.line("b", 0) == 3


def test_duplicate_key_warns_names_first_line_and_keeps_last_value():
    result = load_yaml(b"a: 1\nb: 2\na: 3\n", "f.yml")
    problem = only(result, "yaml.duplicate-key")
    assert (problem.severity, problem.blocking, problem.line) == ("warning", False, 3)
    assert "'a'" in problem.message and "line 1" in problem.message
    assert result.ok and result.value == {"a": 3, "b": 2}


def test_merge_keys_are_not_duplicates():
    result = load_yaml(b"base: &b {x: 1}\nuse:\n  <<: *b\n  x: 2\n", "f.yml")
    assert result.problems == [] and result.value["use"] == {"x": 2}


def test_parse_error_has_line_column_and_context():
    result = load_yaml(b"a: 1\nb: [1, 2\n", "f.yml")
    problem = only(result, "yaml.parse")
    # an unclosed bracket is reported where it opens, not at the end of the file
    assert problem.blocking and (problem.line, problem.column) == (2, 4)
    assert "flow sequence" in problem.message and "ends before it is closed" in problem.message
    assert result.value is None and not result.ok


@pytest.mark.parametrize("text, line", [(b"a:\n\tb: 1\n", 2), (b"a:\n  b: 1\n\tc: 2\n", 3)])
def test_tab_indentation_names_the_line(text, line):
    problem = only(load_yaml(text, "f.yml"), "yaml.tab-indent")
    assert problem.line == line and f"line {line}" in problem.message and problem.blocking


def test_non_utf8_names_line_of_first_bad_byte():
    problem = only(load_yaml("a: 1\nb: caf\xe9\n".encode("latin-1"), "f.yml"), "file.encoding")
    assert (problem.line, problem.column, problem.blocking) == (2, 7, True)


@pytest.mark.parametrize("data, line", [(b"a: 1\nb: \x00\x01\x02\n", 2), (b"a: \x1b[0m\n", 1)])
def test_binary_bytes(data, line):
    problem = only(load_yaml(data, "f.yml"), "file.binary")
    assert problem.line == line and problem.blocking


def test_utf16_is_an_encoding_problem():
    only(load_yaml("a: 1\n".encode("utf-16"), "f.yml"), "file.encoding")


BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)


def test_alias_bomb_is_stopped_quickly():
    start = time.perf_counter()
    result = load_yaml(BOMB.encode(), "f.yml")
    assert time.perf_counter() - start < 5  # 9**9 nodes if expanded: this would never end
    problem = only(result, "yaml.alias-bomb")
    assert problem.blocking and problem.line is not None and result.value is None


def test_moderate_alias_use_is_fine():
    text = "a: &a [1, 2, 3]\n" + "".join(f"k{i}: *a\n" for i in range(1000))
    result = load_yaml(text.encode(), "f.yml")
    assert result.ok and result.value["k999"] == [1, 2, 3]


def test_recursive_alias_is_a_bomb():
    problem = only(load_yaml(b"a: &a [1, *a]\n", "f.yml"), "yaml.alias-bomb")
    assert problem.line == 1


@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "]" * 10_000,
        "{a: " * 10_000 + "1" + "}" * 10_000,
        "- " * 10_000 + "x\n",
        "".join(" " * i + "k:\n" for i in range(MAX_DEPTH + 5)) + " " * (MAX_DEPTH + 5) + "v\n",
    ],
    ids=["flow-seq", "flow-map", "block-seq", "indented"],
)
def test_deep_nesting_is_one_blocking_problem(text):
    start = time.perf_counter()
    result = load_yaml(text.encode(), "f.yml")
    assert time.perf_counter() - start < 5
    problem = only(result, "yaml.too-deep")
    assert problem.blocking and problem.line is not None


def test_nesting_up_to_the_limit_is_fine():
    depth = MAX_DEPTH - 1
    result = load_yaml(("[" * depth + "]" * depth).encode(), "f.yml")
    assert result.ok


def test_second_document_in_single_document_file():
    problem = only(load_yaml(b"a: 1\n---\nb: 2\n", "f.yml"), "yaml.parse")
    assert problem.line == 2


def test_undefined_alias():
    problem = only(load_yaml(b"a: *nope\n", "f.yml"), "yaml.parse")
    assert "nope" in problem.message and problem.line == 1


def test_unknown_tag_warns_and_keeps_value():
    result = load_yaml(b"a: !Ref thing\nb: !!int '3'\n", "f.yml")
    problem = only(result, "yaml.unknown-tag")
    assert not problem.blocking and result.value == {"a": "thing", "b": 3}


def test_template_expression_as_key_is_reported_not_raised():
    problem = only(load_yaml(b"a: {{ .Values.x }}\n", "f.yml"), "yaml.parse")
    assert problem.line == 1 and "{{ }}" in problem.message


def test_load_all_reads_every_document_with_document_index_in_positions():
    result = load_yaml_all(b"kind: Service\n---\nkind: Deployment\nspec: [a]\n", "m.yml")
    assert result.value == [{"kind": "Service"}, {"kind": "Deployment", "spec": ["a"]}]
    assert result.positions[(1, "spec", 0)] == (4, 8)


def test_empty_file_is_none_without_problems():
    result = load_yaml(b"", "f.yml")
    assert result.ok and result.value is None and result.problems == []
