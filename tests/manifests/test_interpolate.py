import pytest

from catalog_server.manifests.interpolate import (
    InterpolationError,
    interpolate,
    interpolate_tree,
    variable_uses,
    variables_used,
    variables_with_default,
)

UNSET_A = 'The "A" variable is not set. Defaulting to a blank string.'


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("image: $A", {"A": "nginx"}, "image: nginx"),
        ("image: ${A}:1", {"A": "nginx"}, "image: nginx:1"),
        ("$A_B-$A", {"A_B": "x", "A": "y"}, "x-y"),  # $VAR takes the longest name
        ("${_a1}", {"_a1": "ok"}, "ok"),
        # :- falls back when unset or empty
        ("${A:-d}", {}, "d"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A:-d}", {"A": "v"}, "v"),
        # - falls back only when unset
        ("${A-d}", {}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {"A": "v"}, "v"),
        # :+ gives the alternative when set and not empty
        ("${A:+alt}", {"A": "v"}, "alt"),
        ("${A:+alt}", {"A": ""}, ""),
        ("${A:+alt}", {}, ""),
        # + gives the alternative when set, even empty
        ("${A+alt}", {"A": ""}, "alt"),
        ("${A+alt}", {}, ""),
        # ? forms pass a present value through
        ("${A:?need A}", {"A": "v"}, "v"),
        ("${A?need A}", {"A": ""}, ""),
        # nesting
        ("${A:-${B:-x}}", {}, "x"),
        ("${A:-${B:-x}}", {"B": "b"}, "b"),
        ("${A:-pre-${B}-post}", {"B": "b"}, "pre-b-post"),
        ("${A:-a:b}", {}, "a:b"),  # only the first operator counts
        # $$ is a literal $
        ("$${stack_name}/$${service_name}", {}, "${stack_name}/${service_name}"),
        ("cost: $$5", {}, "cost: $5"),
        ("${A:-$$}", {}, "$"),
        ("no dollars here", {}, "no dollars here"),
    ],
)
def test_each_form(text, variables, expected):
    result, warnings = interpolate(text, variables)
    assert result == expected
    assert warnings == []


def test_unset_variable_is_blank_with_one_warning():
    result, warnings = interpolate("$A and ${A}", {})
    assert result == " and "
    assert warnings == [UNSET_A]


def test_unused_default_does_not_warn():
    assert interpolate("${A:-${B}}", {"A": "a"}) == ("a", [])


def test_required_unset_raises_with_message_line_and_variable():
    with pytest.raises(InterpolationError) as info:
        interpolate("x: 1\ny: ${DB_PASSWORD:?set a database password}", {})
    assert info.value.line == 2
    assert info.value.variable == "DB_PASSWORD"
    assert "set a database password" in str(info.value)
    assert str(info.value).startswith("line 2: ")


def test_required_non_empty_refuses_empty_value():
    with pytest.raises(InterpolationError, match="required variable A is missing a value"):
        interpolate("${A:?}", {"A": ""})


def test_required_unset_only_refuses_unset():
    with pytest.raises(InterpolationError):
        interpolate("${A?gone}", {})


@pytest.mark.parametrize(
    "text",
    ["$1", "echo $(pwd)", "price $", "${}", "${1A}", "${A B}", "${A:x}", "${A", "${A:-${B}", "$-"],
)
def test_malformed_expressions_raise(text):
    with pytest.raises(InterpolationError, match=r"invalid interpolation format.*\$\$"):
        interpolate(text, {"A": "v"})


def test_malformed_nested_default_raises_even_when_unused():
    with pytest.raises(InterpolationError):
        interpolate("${A:-${1}}", {"A": "set"})


def test_tree_interpolates_values_not_keys_and_locates_warnings():
    tree = {
        "services": {
            "${NAME}": {"image": "${IMAGE}:${TAG:-latest}", "ports": ["${PORT}", 80], "tty": True}
        }
    }
    result, warnings = interpolate_tree(tree, {"IMAGE": "nginx", "NAME": "web"})
    assert result == {
        "services": {"${NAME}": {"image": "nginx:latest", "ports": ["", 80], "tty": True}}
    }
    assert warnings == [
        'services.${NAME}.ports[0]: The "PORT" variable is not set. Defaulting to a blank string.'
    ]


def test_tree_error_carries_path():
    with pytest.raises(InterpolationError) as info:
        interpolate_tree({"services": {"web": {"command": ["sh", "-c", "echo $1"]}}}, {})
    assert info.value.path == "services.web.command[2]"
    assert str(info.value).startswith("services.web.command[2] line 1: ")


def test_tree_leaves_input_unchanged():
    tree = {"a": ["$A"]}
    interpolate_tree(tree, {"A": "x"})
    assert tree == {"a": ["$A"]}


def test_variables_used_includes_nested_and_skips_escapes():
    text = "$A ${B:-${C}} $${D} ${E:+$F}"
    assert variables_used(text) == {"A", "B", "C", "E", "F"}


def test_variables_with_default_needs_every_use_safe():
    text = "${A:-1} ${B-2} ${C:+x} ${D+y} ${E:?e} $F ${G:-1} $G"
    assert variables_with_default(text) == {"A", "B", "C", "D"}


def test_variable_uses_report_operator_and_line():
    uses = variable_uses("a: $A\nb: ${B:-x}\n")
    assert [(u.name, u.operator, u.line, u.has_fallback) for u in uses] == [
        ("A", "", 1, False),
        ("B", ":-", 2, True),
    ]


def test_variables_used_raises_on_malformed_text():
    with pytest.raises(InterpolationError):
        variables_used("${")


def test_deep_nesting_is_refused_not_a_recursion_error():
    text = "${A:-" * 5000 + "x" + "}" * 5000
    with pytest.raises(InterpolationError, match="nested deeper"):
        interpolate(text, {})
    assert interpolate("${A:-" * 10 + "x" + "}" * 10, {}) == ("x", [])
