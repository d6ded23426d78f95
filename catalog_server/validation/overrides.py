"""A catalog's own severities for policy rules: `.catalog-lint.yaml` at the catalog root.

    rules:
      policy.image-latest: warning   # error | warning | info | off
      policy.docker-socket: off

Only `policy.*` rules can be changed: the others say whether content works at all.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable
from dataclasses import replace

from catalog_server.problems import SEVERITIES, Problem
from catalog_server.sources import Snapshot, SourceError
from catalog_server.validation.content import suggestion
from catalog_server.validation.rules import OVERRIDABLE_PREFIX, RULES, problem
from catalog_server.yamlfile import load_yaml

CONFIG_FILE = ".catalog-lint.yaml"
OFF = "off"

Overrides = dict[str, str]  # rule id -> severity or "off"
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def catalog_overrides(snapshot: Snapshot) -> tuple[Overrides, list[Problem]]:
    """The snapshot's overrides and the problems of its `.catalog-lint.yaml` (cached)."""
    try:
        return _cache[snapshot]
    except (KeyError, TypeError):
        pass
    found = _read(snapshot)
    # A snapshot that cannot be weakly referenced is read every time.
    with contextlib.suppress(TypeError):
        _cache[snapshot] = found
    return found


def _read(snapshot: Snapshot) -> tuple[Overrides, list[Problem]]:
    if CONFIG_FILE not in snapshot.entries():
        return {}, []
    try:
        data = snapshot.read(CONFIG_FILE)
    except SourceError as exc:
        return {}, [problem("lint.config", str(exc), file=CONFIG_FILE)]
    parsed = load_yaml(data, CONFIG_FILE)
    if not parsed.ok:
        return {}, [p for p in parsed.problems if p.blocking]
    doc = parsed.value or {}
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or not isinstance(rules, dict | None):
        return {}, [
            problem(
                "lint.config",
                "write `rules:` as a mapping of rule id to severity (error, warning, info or off)",
                file=CONFIG_FILE,
                line=1,
            )
        ]
    overrides: Overrides = {}
    problems: list[Problem] = []
    allowed = [r for r in RULES if r.startswith(OVERRIDABLE_PREFIX)]
    for rule, severity in (rules or {}).items():
        if severity is False:  # YAML 1.1 reads a bare `off` as false
            severity = OFF
        line = parsed.line("rules", rule)
        if rule not in allowed:
            why = (
                "only policy.* rules can be changed"
                if rule in RULES
                else f"no such rule{suggestion(rule, allowed)}"
            )
            problems.append(problem("lint.config", f"{rule!r}: {why}", file=CONFIG_FILE, line=line))
        elif severity not in (*SEVERITIES, OFF):
            problems.append(
                problem(
                    "lint.config",
                    f"{rule}: severity {severity!r} must be error, warning, info or off",
                    file=CONFIG_FILE,
                    line=line,
                )
            )
        else:
            overrides[rule] = severity
    return overrides, problems


def apply_overrides(problems: Iterable[Problem], overrides: Overrides) -> list[Problem]:
    """Problems with the catalog's severities; those of rules turned off are dropped."""
    out = []
    for p in problems:
        severity = overrides.get(p.rule)
        if severity == OFF:
            continue
        out.append(replace(p, severity=severity) if severity else p)
    return out
