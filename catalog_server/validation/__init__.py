"""Validation: every problem of a loaded template, for sync, lint and the API alike.

    validate_template(template, snapshot) -> list[Problem]

runs every rule family on a template the loaders produced (`catalog_server.loaders`) and
returns the problems they find, each with a registered rule id (`rules.RULES`), severity,
template, version, file (relative to the catalog root), line where known, and a message
that says what to fix. It never stops at the first problem and never raises for bad
content. It does not repeat the loader's problems (`template.all_problems()`): a caller
that wants everything joins both lists, as `catalog-server lint` does.

Validation problems are never blocking: only the loader decides that a version cannot be
served. Severities of `policy.*` rules follow the catalog's `.catalog-lint.yaml`
(`overrides`); that file's own problems come from `catalog_problems(snapshot)`.

`server_validators()` is what the indexer takes as `validators=`: every rule of the lint,
Helm's own lint only when CATALOG_SERVER_HELM_LINT is set.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from catalog_server.loaders.model import LoadedTemplate
from catalog_server.problems import Problem
from catalog_server.sources import Snapshot
from catalog_server.validation.compose import validate_compose
from catalog_server.validation.config import validate_config
from catalog_server.validation.content import VersionFiles, parse_template_yaml
from catalog_server.validation.helm import CHART_FILE, validate_helm
from catalog_server.validation.overrides import apply_overrides, catalog_overrides
from catalog_server.validation.policy import labels_state_reason, validate_policy
from catalog_server.validation.questions import validate_questions, version_questions
from catalog_server.validation.rules import RULES, Rule

if TYPE_CHECKING:  # the indexer imports the database layer; validation stays plain Python
    from catalog_server.indexer import Validator

__all__ = ["RULES", "Rule", "catalog_problems", "server_validators", "validate_template"]


def validate_template(
    template: LoadedTemplate, snapshot: Snapshot, *, helm_lint: bool = True
) -> list[Problem]:
    """Every validation problem of `template` (see the module docstring). `helm_lint`: run
    Helm's own lint too, where the Helm SDK is installed."""
    versions = [VersionFiles(template, v) for v in template.versions if v.usable]
    problems: list[Problem] = []
    if template.usable:
        problems.extend(validate_config(template, snapshot, versions))
    reason = _template_states_reason(template, snapshot)
    for files in versions:
        found = version_questions(template, files)
        problems.extend(validate_questions(files, found))
        if template.kind == "compose":
            problems.extend(validate_compose(files, found))
        problems.extend(validate_helm(files, helm_lint=helm_lint))
        problems.extend(validate_policy(files, found, reason or _chart_reason(files)))
    overrides, _ = catalog_overrides(snapshot)
    return apply_overrides(problems, overrides)


def catalog_problems(snapshot: Snapshot) -> list[Problem]:
    """Problems of the catalog as a whole that validation owns (`.catalog-lint.yaml`)."""
    return list(catalog_overrides(snapshot)[1])


def server_validators(helm_lint: bool = False) -> list[Validator]:
    """The validators `indexer.sync_catalog(validators=...)` runs on the server.

    Every rule of `catalog-server lint`, except Helm's own lint unless `helm_lint`
    (CATALOG_SERVER_HELM_LINT): it costs a temporary chart copy and a Helm run per chart
    version, several times all other rules together, and the contributor's lint and CI
    run it before a chart is merged. Its findings never block serving anyway.
    """
    if helm_lint:
        return [validate_template]
    return [functools.partial(validate_template, helm_lint=False)]


def _template_states_reason(template: LoadedTemplate, snapshot: Snapshot) -> bool:
    if labels_state_reason(template.labels):
        return True
    if template.kind == "compose":
        parsed = parse_template_yaml(snapshot, template, "config.yml")
        value = parsed.value if parsed is not None else None
        return isinstance(value, dict) and labels_state_reason(value.get("labels"))
    return False


def _chart_reason(files: VersionFiles) -> bool:
    parsed = files.yaml(CHART_FILE)
    chart = parsed.value if parsed is not None else None
    return isinstance(chart, dict) and labels_state_reason(chart.get("annotations"))
