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
Helm's own lint as CATALOG_SERVER_HELM_LINT says (`auto`: in catalogs of at most
`HELM_LINT_AUTO_LIMIT` charts); `server_catalog_checks()` its `catalog_checks=`.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Iterable

from catalog_server import helmsdk
from catalog_server.loaders.detect import chart_folders
from catalog_server.loaders.model import LoadedTemplate
from catalog_server.loaders.repository import artifacthub_repo
from catalog_server.problems import Problem
from catalog_server.sources import Snapshot
from catalog_server.validation.annotations import validate_annotations
from catalog_server.validation.compose import validate_compose
from catalog_server.validation.config import validate_config
from catalog_server.validation.content import VersionFiles, parse_template_yaml
from catalog_server.validation.helm import CHART_FILE, validate_helm
from catalog_server.validation.overrides import apply_overrides, catalog_overrides
from catalog_server.validation.policy import labels_state_reason, validate_policy
from catalog_server.validation.questions import validate_questions, version_questions
from catalog_server.validation.rules import RULES, Rule, problem

# A validator adds problems to a loaded template: (template, snapshot) -> problems.
Validator = Callable[[LoadedTemplate, Snapshot], Iterable[Problem]]
# A catalog check finds problems of the catalog as a whole: snapshot -> problems.
CatalogCheck = Callable[[Snapshot], Iterable[Problem]]

__all__ = [
    "CatalogCheck",
    "HELM_LINT_AUTO_LIMIT",
    "RULES",
    "Rule",
    "catalog_problems",
    "chart_count",
    "server_catalog_checks",
    "server_validators",
    "validate_template",
    "Validator",
]

#: With CATALOG_SERVER_HELM_LINT=auto, Helm's own lint runs at sync in catalogs holding at
#: most this many charts (chart versions). It costs 13-15 ms a chart version (the bundled
#: catalog and rancher/charts, measured): at most about 7 s more on a cold sync, and only
#: the reloaded templates' share on an incremental one.
HELM_LINT_AUTO_LIMIT = 500


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
        problems.extend(validate_annotations(files))
        problems.extend(validate_policy(files, found, reason or _chart_reason(files)))
    overrides, _ = catalog_overrides(snapshot)
    return apply_overrides(problems, overrides)


def catalog_problems(snapshot: Snapshot) -> list[Problem]:
    """Problems of the catalog as a whole that validation owns (`.catalog-lint.yaml`,
    `artifacthub-repo.yml`)."""
    return list(catalog_overrides(snapshot)[1]) + artifacthub_repo(snapshot)[1]


def server_validators(helm_lint: str | bool = "auto") -> list[Validator]:
    """The validators `indexer.sync_catalog(validators=...)` runs on the server.

    Every rule of `catalog-server lint`; Helm's own lint as `helm_lint`
    (CATALOG_SERVER_HELM_LINT) says: "true" always, "false" never, "auto" in catalogs of at
    most `HELM_LINT_AUTO_LIMIT` charts. It costs a temporary chart copy and a Helm run per
    chart version, several times all other rules together (about 50 s for the 3,500 chart
    versions of the benchmark's large catalog, whose cold sync takes 16 s without it), and
    the contributor's lint and CI run it before a chart is merged. Its findings never block
    serving anyway.
    """
    if helm_lint is True or helm_lint == "true":
        return [validate_template]
    if helm_lint == "auto":
        return [_validate_with_auto_lint]
    return [functools.partial(validate_template, helm_lint=False)]


def server_catalog_checks(helm_lint: str | bool = "auto") -> list[CatalogCheck]:
    """The catalog checks `indexer.sync_catalog(catalog_checks=...)` runs on the server:
    `catalog_problems`, and with "auto" an info saying when Helm's lint was left out."""
    if helm_lint == "auto":
        return [catalog_problems, _helm_lint_left_out]
    return [catalog_problems]


_CHART_COUNTS: weakref.WeakKeyDictionary[Snapshot, int] = weakref.WeakKeyDictionary()


def chart_count(snapshot: Snapshot) -> int:
    """How many charts (chart versions) the catalog holds: its Chart.yaml files that are
    not inside another chart (subcharts belong to their chart). Kept per snapshot."""
    try:
        return _CHART_COUNTS[snapshot]
    except (KeyError, TypeError):
        pass
    folders = chart_folders(snapshot.entries())

    def inside_another(folder: str) -> bool:
        parent = folder.rpartition("/")[0] if folder else None
        while parent is not None:
            if parent in folders:
                return True
            parent = parent.rpartition("/")[0] if parent else None
        return False

    count = sum(1 for folder in folders if not inside_another(folder))
    with contextlib.suppress(TypeError):  # a snapshot that cannot be weakly referenced
        _CHART_COUNTS[snapshot] = count
    return count


def _validate_with_auto_lint(template: LoadedTemplate, snapshot: Snapshot) -> list[Problem]:
    small = chart_count(snapshot) <= HELM_LINT_AUTO_LIMIT
    return validate_template(template, snapshot, helm_lint=small)


def _helm_lint_left_out(snapshot: Snapshot) -> list[Problem]:
    count = chart_count(snapshot)
    if count <= HELM_LINT_AUTO_LIMIT or not helmsdk.available():
        return []
    return [
        problem(
            "helm.lint-skipped",
            f"Helm's own lint did not run at sync: the catalog holds {count} charts, more than "
            f"{HELM_LINT_AUTO_LIMIT} (CATALOG_SERVER_HELM_LINT=auto); `catalog-server lint` runs "
            "it, or set CATALOG_SERVER_HELM_LINT=true",
        )
    ]


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
