from pathlib import Path

import pytest
import yaml

from catalog_server.manifests import gotemplate
from catalog_server.manifests.gotemplate import TemplateError, render

TEMPLATES = Path(__file__).parent.parent / "data" / "manifests" / "templates"


def r(text, values=None, **extra):
    return render(text, values or {}, filename="docker-compose.yml.tpl", extra=extra or None)


def error_of(text, values=None):
    with pytest.raises(TemplateError) as info:
        r(text, values)
    return info.value


# --- Fixtures shaped like the community catalog -------------------------------------------


PROXY_ANSWERS = {"https_enable": "true", "integration": "external", "acme_enable": "true"}


def test_proxy_fixture_renders_byte_for_byte():
    text = (TEMPLATES / "proxy" / "docker-compose.yml.tpl").read_text()
    answers = PROXY_ANSWERS | {"trusted_ips": ""}
    expected = (TEMPLATES / "proxy" / "expected-external-acme.yml").read_text()
    assert r(text, answers) == expected


def test_proxy_fixture_other_answers():
    text = (TEMPLATES / "proxy" / "docker-compose.yml.tpl").read_text()
    answers = {"https_enable": "false", "integration": "metadata", "acme_enable": False}
    rendered = yaml.safe_load(r(text, answers | {"trusted_ips": "10.0.0.0/8"}))
    proxy = rendered["services"]["proxy"]
    assert list(rendered["services"]) == ["proxy"]
    assert proxy["ports"] == ["${http_port}:${http_port}/tcp"]
    assert proxy["labels"]["io.rancher.container.agent.role"] == "environment"
    assert "io.rancher.sidekicks" not in proxy["labels"]
    assert proxy["environment"][-1] == "PROXY_TRUSTED_IPS=${trusted_ips}"


def storage(values):
    text = (TEMPLATES / "storage" / "docker-compose.yml.tpl").read_text()
    base = {"VERSION": "2.1", "EXTRA_FLAGS": "", "VOLUME_DRIVER": "local"}
    return yaml.safe_load(r(text, base | values))


def test_storage_fixture_ranges_over_atoi_until():
    services = storage({"SERVERS": "2", "DISKS": "3"})["services"]
    assert list(services) == ["store-1", "store-2"]
    assert services["store-2"]["volumes"] == [
        "store-1-data-0:/data/disk0",
        "store-1-data-1:/data/disk1",
        "store-1-data-2:/data/disk2",
    ]
    assert services["store-1"]["command"] == "serve --peers=2"
    assert services["store-1"]["image"] == "example/store:2.1"


def test_storage_fixture_printf_precision_and_contains():
    services = storage(
        {"SERVERS": "1", "DISKS": "1", "VOLUME_DRIVER": "/mnt", "EXTRA_FLAGS": "-debug"}
    )
    store = services["services"]["store-1"]
    assert store["volumes"] == ["${VOLUME_DRIVER}/disk0:/data/disk0"]
    assert store["environment"] == ["LOG_LEVEL=debug"]


def test_storage_fixture_range_else_when_empty():
    assert list(storage({"SERVERS": "none", "DISKS": "1"})["services"]) == ["placeholder"]


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        ("unbalanced-end.tpl", 5, "unexpected {{end}}"),
        ("unknown-function.tpl", 3, 'function "toYaml" not defined'),
        ("define.tpl", 1, "{{define}} is not supported"),
        ("unclosed-if.tpl", 4, "{{if}} has no {{end}}"),
    ],
)
def test_broken_fixtures_name_file_and_line(name, line, message):
    path = TEMPLATES / "broken" / name
    with pytest.raises(TemplateError) as info:
        render(path.read_text(), {"A": "1"}, filename=f"broken/{name}")
    assert info.value.filename == f"broken/{name}"
    assert info.value.line == line
    assert str(info.value) == f"broken/{name}:{line}: {info.value.message}"
    assert message in info.value.message


# --- Data -----------------------------------------------------------------------------------


def test_values_are_rancher_text():
    assert r("{{ .Values.B }} {{ .Values.N }} {{ .Values.E }}", {"B": True, "N": 3, "E": None}) == (
        "true 3 "
    )


def test_missing_key_renders_no_value_and_index_gives_empty():
    assert r('{{ .Values.NOPE }}|{{ index .Values "NOPE" }}|{{ .Values.NOPE.deeper }}') == (
        "<no value>||<no value>"
    )


def test_extra_context_beside_values():
    assert r(
        "{{ .Release.Name }}/{{ .Stack.Name }}", Release={"Name": "r1"}, Stack={"Name": "s"}
    ) == ("r1/s")


def test_field_of_text_is_an_error():
    assert "can't evaluate field Y in type string" in str(error_of("{{ .Values.X.Y }}", {"X": "a"}))


# --- Control structures ---------------------------------------------------------------------


def test_if_else_if_else():
    text = '{{ if eq .Values.M "a" }}A{{ else if eq .Values.M "b" }}B{{ else }}C{{ end }}'
    assert [r(text, {"M": m}) for m in "abz"] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [("", False), ("false", True), ([], False), ({}, False), ([0], True), ("0", True)],
)
def test_go_truthiness_of_values(value, shown):
    assert r("{{ if .Values.X }}yes{{ end }}", {"X": value}) == ("yes" if shown else "")


@pytest.mark.parametrize(
    ("literal", "shown"),
    [("0", False), ("1", True), ('""', False), ('"x"', True), ("false", False)],
)
def test_go_truthiness_of_literals(literal, shown):
    assert r(f"{{{{ if {literal} }}}}yes{{{{ end }}}}") == ("yes" if shown else "")


def test_range_with_index_and_element():
    assert r("{{ range $i, $e := .Values.L }}{{ $i }}={{ $e }};{{ end }}", {"L": ["a", "b"]}) == (
        "0=a;1=b;"
    )


def test_range_rebinds_dot_and_dollar_stays_root():
    text = "{{ range .Values.L }}{{ . }}@{{ $.Values.S }} {{ end }}"
    assert r(text, {"L": ["x", "y"], "S": "s"}) == "x@s y@s "


def test_range_over_map_in_key_order_and_else():
    assert r("{{ range $k, $v := .M }}{{ $k }}{{ $v }}{{ end }}", M={"b": 2, "a": 1}) == "a1b2"
    assert r("{{ range .Values.L }}x{{ else }}none{{ end }}", {"L": []}) == "none"


def test_with_rebinds_dot():
    assert r("{{ with .Values.X }}[{{ . }}]{{ else }}-{{ end }}", {"X": "v"}) == "[v]"
    assert r("{{ with .Values.X }}[{{ . }}]{{ else }}-{{ end }}", {"X": ""}) == "-"


def test_variables_declare_and_assign_and_scope():
    text = '{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ $y := "c" }}{{ end }}{{ $x }}'
    assert r(text) == "b"
    assert "undefined variable '$y'" in str(error_of("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}"))
    assert "undefined variable '$z'" in str(error_of("{{ $z = 1 }}"))


def test_trim_markers():
    assert r("a  \n {{- 1 -}} \n  b") == "a1b"
    assert r("a {{ 1 }} b") == "a 1 b"
    assert r("a {{-1}} b") == "a -1 b"  # "{{-1" is the number -1, not a trim marker


def test_comments():
    assert r("a{{/* note */}}b{{- /* trimmed */ -}} c") == "abc"
    assert "comment ends before closing delimiter" in str(error_of("{{/* a */ 1 }}"))


def test_literals():
    assert r('{{ "a\\tb" }}|{{ `raw\\n` }}|{{ 42 }}|{{ -3 }}|{{ 0x1F }}|{{ 1.5 }}|{{ true }}') == (
        "a\tb|raw\\n|42|-3|31|1.5|true"
    )
    assert r("{{ 1e6 }} {{ 100000.5 }} {{ 0.0001 }}") == "1e+06 100000.5 0.0001"


def test_parenthesised_pipelines_and_pipes():
    assert r('{{ (printf "%s-%s" "a" "b") }}') == "a-b"
    assert r('{{ "3" | atoi | until | len }}') == "3"
    assert r("{{ (index .M 0).Name }}", M=[{"Name": "n"}]) == "n"


def test_pipe_into_non_function_is_an_error():
    assert "can't give argument to non-function" in str(error_of('{{ "a" | .Values.X }}'))


# --- Functions ------------------------------------------------------------------------------


def test_eq_multi_argument_and_ne():
    assert r('{{ eq "b" "a" "b" }} {{ eq "c" "a" "b" }} {{ ne "a" "b" }}') == "true false true"


def test_eq_refuses_different_kinds_like_go():
    assert "incompatible types for comparison" in str(
        error_of("{{ eq .Values.B true }}", {"B": True})
    )


def test_eq_missing_value_is_false():
    assert r('{{ eq .Values.MISSING "" }}') == "false"


def test_and_or_return_values_and_short_circuit():
    assert r(
        '{{ and "a" "b" }} {{ and "" "b" }} {{ or "" "b" }} {{ or "a" (index .L 9) }}', L=[]
    ) == ("b  b a")
    assert r("{{ not 0 }} {{ not .Values.X }}", {"X": "x"}) == "true false"


def test_fields_after_a_space_are_separate_arguments():
    # As in the community catalog's awx: `or .Values.A .Values.B .Values.C`.
    text = "{{ if or .Values.A .Values.B .Values.C }}yes{{ else }}no{{ end }}"
    assert r(text, {"A": "", "B": "", "C": ""}) == "no"
    assert r(text, {"A": "", "B": "", "C": "x"}) == "yes"
    assert r("{{ $v := .Values }}{{ $v.A }} {{ (.Values).A }}", {"A": "a"}) == "a a"


def test_len_and_index():
    assert r(
        '{{ len "héllo" }} {{ len .L }} {{ index .L 1 }} {{ index .M "k" }}', L=[1, 2], M={"k": "v"}
    ) == ("6 2 2 v")
    assert "index out of range: 5" in str(error_of("{{ index .Values.L 5 }}", {"L": [1]}))


def test_printf_verbs():
    text = (
        '{{ printf "%s|%d|%v|%q|%%|%5s|%-3d|%03d|%t|%.2f|%x" "s" 7 .L "q" "r" 4 5 true 1.5 255 }}'
    )
    assert r(text, L=[1, "a"]) == 's|7|[1 a]|"q"|%|    r|4  |005|true|1.50|ff'


def test_printf_bad_arguments_print_like_go():
    assert r('{{ printf "%d %s" "x" }}') == "%!d(string=x) %!s(MISSING)"
    assert r('{{ printf "a" 1 }}') == "a%!(EXTRA int=1)"


def test_contains_atoi_until():
    assert r('{{ contains "bug" "debug" }} {{ contains "x" "debug" }}') == "true false"
    assert r('{{ atoi "12" }} {{ atoi "1.5" }} {{ atoi "x" }}') == "12 0 0"
    assert r("{{ until 3 }} {{ until 0 }}") == "[0 1 2] []"


def test_split_preserve_quotes():
    assert r(
        "{{ range splitPreserveQuotes .Values.A }}<{{ . }}>{{ end }}", {"A": "--a --b='c d' --e"}
    ) == ("<--a><--b='c d'><--e>")


def test_sprig_extras():
    assert r(
        '{{ add1 2 }} {{ default "d" "" }} {{ default "d" "v" }} {{ quote "a" }} {{ upper "a" }}'
    ) == ('3 d v "a" A')


def test_wrong_argument_count():
    assert "wrong number of args for not" in str(error_of("{{ not 1 2 }}"))


def test_contains_needs_text():
    assert "contains expects a string" in str(error_of('{{ contains 1 "a" }}'))


# --- Refused constructs and syntax errors ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{{ template "x" }}', 1, "{{template}} is not supported"),
        ('{{ block "x" . }}{{ end }}', 1, "{{block}} is not supported"),
        ("{{ range .L }}{{ break }}{{ end }}", 1, "{{break}} is not supported"),
        ("a\nb\n{{ end }}", 3, "unexpected {{end}}"),
        ("{{ else }}", 1, "unexpected {{else}}"),
        ("{{ if true }}\n\n{{ else }}{{ else }}{{ end }}", 3, "unexpected {{else}}"),
        ("x\n{{ if true }}", 2, "has no {{end}}"),
        ("{{ .Values.X ", 1, "unclosed action"),
        ("{{ }}", 1, "missing value for command"),
        ("{{ ( 1 }}", 1, "unclosed left paren"),
        ("{{ 1 | }}", 1, "missing value for command"),
        ("{{ ; }}", 1, "unexpected ';'"),
        ("{{ nil }}", 1, "nil is not a command"),
        ('line1\n{{ exec "rm" }}', 2, 'function "exec" not defined'),
        ("{{ if true }}{{ end 1 }}", 1, "unexpected tokens after end"),
    ],
)
def test_errors_carry_file_and_line(text, line, message):
    error = error_of(text)
    assert (error.filename, error.line) == ("docker-compose.yml.tpl", line)
    assert message in error.message
    assert str(error).startswith(f"docker-compose.yml.tpl:{line}: ")


def test_error_line_counts_newlines_inside_actions():
    error = error_of('{{ if\n  true }}\n{{ printf\n "%s" (nope) }}{{ end }}')
    assert error.line == 4  # the line of the offending word, not of the action's start


# --- Hostile input --------------------------------------------------------------------------


def test_deep_nesting_is_refused_not_a_recursion_error():
    depth = gotemplate.MAX_DEPTH + 5
    assert "nested deeper" in str(error_of("{{ if true }}" * depth + "{{ end }}" * depth))
    assert "nested deeper" in str(error_of("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"))


def test_range_iterations_are_bounded():
    assert "range iterations" in str(
        error_of("{{ range until 200 }}{{ range until 200 }}x{{ end }}{{ end }}")
    )
    assert "larger than the limit" in str(error_of("{{ range until 100000000 }}x{{ end }}"))


def test_output_size_is_bounded(monkeypatch):
    monkeypatch.setattr(gotemplate, "MAX_OUTPUT", 1000)
    assert "rendered output exceeds 1000" in str(error_of("{{ range until 500 }}xyz{{ end }}"))


def test_printf_width_is_bounded():
    assert "width or precision" in str(error_of('{{ printf "%999999999s" "x" }}'))


def test_no_python_evaluation():
    assert r("{{ \"__import__('os')\" }}") == "__import__('os')"
    assert 'function "__import__" not defined' in str(error_of("{{ __import__ }}"))


def test_fields_after_a_space_are_arguments_of_their_own():
    values = {"A": "x", "B": "y"}
    assert r('{{ printf "%s-%s" .Values.A .Values.B }}', values) == "x-y"
    assert r("{{ $v := .Values }}{{ print $v.A $v.B }}", values) == "xy"
    assert r("{{ with .Values }}{{ print .A .B }}{{ end }}", values) == "xy"
