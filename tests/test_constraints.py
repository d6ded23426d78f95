"""Version ranges as Helm reads them, checked against Helm itself.

The reference is Masterminds/semver inside the Helm SDK: a chart whose template calls sprig's
``semverCompare RANGE VERSION`` once per generated pair is rendered by Helm, and every
answer must equal ours. Ranges and versions are generated (seeded) in the shapes catalogs
write: Rancher's ``>= 1.16.0-0 < 1.30.0-0``, ``||`` alternatives, wildcards, ``~``/``^``,
hyphen ranges, prereleases, build metadata, a leading ``v``.
"""

from __future__ import annotations

import random

import pytest

from catalog_server import helmsdk
from catalog_server.constraints import ConstraintError, parse_constraint, parse_version
from catalog_server.helmrepo import package_chart

needs_helm = pytest.mark.skipif(
    not helmsdk.available(), reason=f"Helm SDK absent: {helmsdk.missing_message()}"
)

KUBE = ">= 1.16.0-0 < 1.30.0-0"


@pytest.mark.parametrize(
    ("constraint", "version", "expected"),
    [
        (KUBE, "1.29.3", True),
        (KUBE, "v1.29.3+rke2r1", True),
        (KUBE, "1.29.3-gke.1200", True),  # the -0 lets prereleases in
        (KUBE, "1.30.0", False),
        (KUBE, "1.30.0-rc.1", False),  # 1.30.0-0 is below every 1.30.0 prerelease
        (KUBE, "1.15.12", False),
        (">=1.16.0 <1.30.0", "1.29.3-gke.1200", False),  # no -0: no prerelease
        (">= 1.16.0-0 < 1.30.0", "1.29.3-gke.1200", True),  # one -0 opens the whole group
        (">=2.6.0-0 <2.7.0-0", "2.6.14", True),
        (">=2.6.0-0 <2.7.0-0", "2.7.0", False),
        (">=2.6.0-0 <2.7.0-0 || >=2.8.0-0 <2.11.0-0", "2.10.1", True),
        (">=2.6.0-0 <2.7.0-0 || >=2.8.0-0 <2.11.0-0", "2.7.5", False),
        ("< 1.25.0-0", "1.24.17", True),
        ("< 1.25.0-0", "1.25.0", False),
        (">= 1.21", "1.21.0-rc.0", False),
        ("~1.2", "1.2.9", True),
        ("^0.2.3", "0.3.0", False),
        ("1.2.x", "1.2.7", True),
        ("1.2 - 1.4.5", "1.4.5", True),
        ("!=1.2.x", "1.2.3", False),
    ],
)
def test_rancher_shaped_ranges(constraint, version, expected):
    assert parse_constraint(constraint).contains(version) is expected


@pytest.mark.parametrize("bad", ["", "   ", ">= 1.2 ||", "~> one", "> 1.2.3.4", "1.2.3 >", "=>"])
def test_malformed_ranges_are_refused(bad):
    with pytest.raises(ConstraintError):
        parse_constraint(bad)


@pytest.mark.parametrize("bad", ["", "one", "1.2.3.4", "1.2.3-", "1.2.3-01", "1.2.3 "])
def test_malformed_versions_are_refused(bad):
    with pytest.raises(ConstraintError):
        parse_version(bad)


def test_overlong_ranges_are_refused():
    with pytest.raises(ConstraintError, match="longer than"):
        parse_constraint(">=1.0.0 " * 100)


# --- against Helm -------------------------------------------------------------------------

PRERELEASES = ["0", "1", "rc.1", "rc.2", "alpha", "alpha.1", "beta.0", "gke.100", "rancher1"]
OPERATORS = ["", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^"]


def _version(rng: random.Random, wild: bool) -> str:
    parts = [str(rng.choice([0, 1, 2, 3, 10]))]
    for _ in range(rng.choice([0, 1, 2, 2, 2])):
        parts.append(rng.choice(["x", "X", "*"]) if wild and rng.random() < 0.2 else
                     str(rng.choice([0, 1, 2, 3, 16, 30])))  # fmt: skip
    text = ".".join(parts)
    if rng.random() < 0.35:
        text += "-" + rng.choice(PRERELEASES)
    if rng.random() < 0.1:
        text += "+" + rng.choice(["build.1", "rke2r1", "up57.0.3"])
    return ("v" if rng.random() < 0.15 else "") + text


def _constraint(rng: random.Random) -> str:
    alternatives = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if rng.random() < 0.1:
            alternatives.append(f"{_version(rng, False)} - {_version(rng, False)}")
            continue
        terms = []
        for _ in range(rng.choice([1, 2, 2, 3])):
            space = rng.choice(["", " ", "  "])
            terms.append(f"{rng.choice(OPERATORS)}{space}{_version(rng, True)}")
        alternatives.append(rng.choice([" ", ", ", ","]).join(terms))
    return rng.choice([" || ", "||", " ||"]).join(alternatives)


def _helm_answers(pairs: list[tuple[str, str]]) -> list[str]:
    lines = "".join(f'{{{{ semverCompare "{c}" "{v}" }}}}\n' for c, v in pairs)
    files = [
        ("Chart.yaml", b"apiVersion: v2\nname: ranges\nversion: 0.1.0\n"),
        ("templates/answers.txt", lines.encode()),
    ]
    rendered = helmsdk.render(package_chart("ranges", files, 0), {}, "r", "n")
    return rendered["ranges/templates/answers.txt"].splitlines()


@needs_helm
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_answers_as_helm_on_generated_ranges(seed):
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < 1500:
        constraint, version = _constraint(rng), _version(rng, False)
        try:
            parse_constraint(constraint)
        except ConstraintError:
            continue
        pairs.append((constraint, version))
    ours = ["true" if parse_constraint(c).contains(v) else "false" for c, v in pairs]
    helm = _helm_answers(pairs)
    differ = [(p, o, h) for p, o, h in zip(pairs, ours, helm, strict=True) if o != h]
    assert differ == []
    assert 0.1 < ours.count("true") / len(ours) < 0.9  # both answers are exercised


@needs_helm
def test_helm_refuses_what_we_refuse():
    rng = random.Random(7)
    refused = set()
    while len(refused) < 12:
        constraint = _constraint(rng).replace(" ", rng.choice(["", " ? ", " 1.2.3.4 "]), 1)
        try:
            parse_constraint(constraint)
        except ConstraintError:
            refused.add(constraint)
    for constraint in sorted(refused) + ["", ">= 1.2 ||", "1.2.3 >"]:
        with pytest.raises(helmsdk.HelmError):
            _helm_answers([(constraint, "1.2.3")])
