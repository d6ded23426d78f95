"""Question conditions: the server (Python) and the install form (JavaScript, run by node)
give the same results, and the ones in tests/data/conditions.json.

The table states Rancher's dashboard semantics (Jexl, JavaScript's loose equality); node
runs the form's own `site/theme/js/conditions.js`, so JavaScript itself checks that the
Python port of `==`, `<` and truthiness is right. A seeded batch of generated expressions
and answers compares the two implementations beyond the table.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from catalog_server.manifests.answers import visibility
from catalog_server.manifests.conditions import (
    MAX_DEPTH,
    ConditionError,
    parse_expression,
    question_condition,
    subquestion_condition,
)

ROOT = Path(__file__).parents[2]
TABLE = json.loads((ROOT / "tests" / "data" / "conditions.json").read_text())
SCRIPT = ROOT / "site" / "theme" / "js" / "conditions.js"
NODE = shutil.which("node") or shutil.which("nodejs")

# Reads cases from stdin; prints, for each, what the form's conditions.js decides.
RUNNER = """
const c = require(process.argv[1]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = input.map((item) => {
  if (item.visibility) return c.visibility(item.visibility, item.answers);
  const cond = item.spec
    ? c.questionCondition(item.spec)
    : c.subquestionCondition(item.subquestions_of);
  return c.holds(cond, item.answers);
});
process.stdout.write(JSON.stringify(out));
"""


def python_holds(item: dict) -> bool:
    if "spec" in item:
        condition = question_condition(item["spec"])[0]
    else:
        condition = subquestion_condition(item["subquestions_of"])[0]
    return condition is None or condition.holds(item["answers"])


def run_node(items: list[dict]) -> list:
    if NODE is None:
        pytest.skip("node is not installed (apt-get install nodejs); the form's JS is not run")
    done = subprocess.run(
        [NODE, "-e", RUNNER, str(SCRIPT)],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def visibility_items() -> list[dict]:
    return [
        {"visibility": group["questions"], "answers": case["answers"], "visible": case["visible"]}
        for group in TABLE["visibility"]
        for case in group["cases"]
    ]


@pytest.mark.parametrize("item", TABLE["conditions"], ids=lambda i: json.dumps(i)[:70])
def test_server_decides_as_the_table_says(item):
    assert python_holds(item) is item["holds"]


def test_form_decides_as_the_table_says():
    items = TABLE["conditions"]
    results = run_node(items)
    wrong = [
        (item, got) for item, got in zip(items, results, strict=True) if got is not item["holds"]
    ]
    assert wrong == []


def test_visibility_on_the_server_and_in_the_form():
    items = visibility_items()
    for item in items:
        assert visibility(item["visibility"], item["answers"]) == item["visible"], item
    assert run_node(items) == [item["visible"] for item in items]


def test_hostile_expressions_are_bounded():
    with pytest.raises(ConditionError, match="longer"):
        parse_expression("a" * 5000)
    with pytest.raises(ConditionError, match="deeply"):
        parse_expression("(" * (MAX_DEPTH + 5) + "a" + ")" * (MAX_DEPTH + 5))
    condition, problems = question_condition({"if": "!" * 10_000 + "a"})
    assert condition.holds({}) and problems


# --- generated cases: the two implementations against each other ---------------------------

VALUES = [
    None,
    True,
    False,
    0,
    1,
    2,
    10,
    1.5,
    -3,
    "",
    " ",
    "0",
    "1",
    "10",
    "9",
    "true",
    "false",
    "a",
    "b",
    "x,y",
    "0x10",
    "1e2",
    "null",
    ["a"],
    ["x", "y"],
    [],
    {},
    {"k": 1},
]
LITERALS = ["true", "false", "null", "0", "1", "10", "'1'", "'a'", '"b"', "''", "'true'"]
NAMES = ["a", "b", "c", "d.e"]


def expression(rng: random.Random, depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(NAMES + LITERALS)
    kind = rng.random()
    if kind < 0.15:
        return "!" + expression(rng, depth + 1)
    if kind < 0.3:
        return "(" + expression(rng, depth + 1) + ")"
    op = rng.choice(["==", "!=", "<", "<=", ">", ">=", "&&", "||"])
    return f"{expression(rng, depth + 1)} {op} {expression(rng, depth + 1)}"


def show_if(rng: random.Random) -> str:
    terms = []
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(NAMES)
        value = rng.choice(["", "true", "false", "null", "1", "a", "x,y", "0x10", "10"])
        terms.append(f"{key}{rng.choice(['=', '!='])}{value}")
    text = terms[0]
    for term in terms[1:]:
        text += rng.choice(["&&", "||"]) + term
    return text


def test_generated_conditions_agree():
    rng = random.Random(20261127)
    items = []
    for _ in range(1500):
        answers = {name: rng.choice(VALUES) for name in NAMES if rng.random() < 0.8}
        spec = {"if": expression(rng)} if rng.random() < 0.5 else {"show_if": show_if(rng)}
        items.append({"spec": spec, "answers": answers})
    for _ in range(300):
        spec = {
            "variable": rng.choice(NAMES),
            "show_subquestion_if": rng.choice([True, False, "true", "false", "a", 1, None]),
        }
        items.append(
            {"subquestions_of": spec, "answers": {name: rng.choice(VALUES) for name in NAMES}}
        )
    results = run_node(items)
    wrong = [
        (item, got)
        for item, got in zip(items, results, strict=True)
        if got is not python_holds(item)
    ]
    assert wrong == [], wrong[:5]
