"""The registry of lint rules: every rule id a catalog contributor can meet.

Each rule has a stable id (`family.name`), a default severity and a one-line description;
`catalog-server lint --list-rules` prints them. The loader's rules (`yaml.*`, `file.*`,
`template.*`) are listed too, so that one list explains every id a problem can carry;
their problems come from the loaders, which own them.

`problem(rule, message, ...)` builds a Problem with the rule's registered severity, so a
validator never spells a severity out twice. Validation problems are never blocking: only
the loader decides that a version cannot be served.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog_server.problems import Problem, Severity


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    description: str
    owner: str = "validation"  # "loader" for rules whose problems the loaders emit


_LOADER = [
    ("yaml.parse", "error", "a YAML file does not parse"),
    ("yaml.duplicate-key", "warning", "a mapping holds the same key twice; the last value wins"),
    ("yaml.tab-indent", "error", "YAML indented with a tab"),
    ("yaml.alias-bomb", "error", "aliases expand to too many nodes (a 'billion laughs' file)"),
    ("yaml.too-deep", "error", "YAML nested deeper than the loader allows"),
    ("yaml.unknown-tag", "warning", "a non-standard YAML tag; the value is read untagged"),
    ("file.encoding", "error", "a text file is not UTF-8"),
    ("file.binary", "error", "a text file holds binary data or control characters"),
    ("yaml.not-mapping", "error", "a YAML file (or catalog block) is not a mapping"),
    ("yaml.go-template", "warning", "a .yml file holds {{ }} Go template syntax; name it .tpl"),
    ("file.symlink", "error", "a symbolic link (never followed); commit the file itself"),
    ("file.not-regular", "warning", "a submodule or special file, ignored"),
    ("file.too-large", "error", "a file over the size limit, not read"),
    ("file.unreadable", "error", "a file that could not be read"),
    ("file.unsafe-path", "error", "an absolute, `..`, backslash or NUL path, ignored"),
    ("catalog.duplicate-id", "error", "two template folders map to one template id"),
    ("version.duplicate", "error", "two version folders declare one version; the older is hidden"),
    ("chart.version-missing", "error", "a plain chart's Chart.yaml has no version"),
    ("chart.questions-both", "warning", "a chart has both questions.yml and questions.yaml"),
    ("loader.internal", "error", "the loader failed on a template (a catalog-server bug)"),
    ("internal.validator", "error", "a validator failed on a template (a catalog-server bug)"),
]

_VALIDATION = [
    # Rancher compose templates: config.yml and the rancher-compose.yml catalog block
    ("config.missing-field", "error", "config.yml lacks a required field (name, version)"),
    ("config.field-type", "error", "a config.yml or catalog block field has the wrong type"),
    ("config.unknown-key", "warning", "an unknown key in config.yml or the catalog block"),
    ("config.default-version", "error", "config.yml's version names no version folder"),
    ("config.missing-catalog", "error", "a version has no rancher-compose.yml catalog block"),
    ("config.missing-compose", "error", "a version folder has no docker-compose.yml(.tpl)"),
    ("config.version-format", "warning", "a version is neither semver nor a revision number"),
    ("config.upgrade-from", "error", "upgrade_from is not a semver range"),
    ("config.rancher-version", "error", "minimum/maximum_rancher_version invalid or reversed"),
    ("config.icon-missing", "warning", "the template has no catalogIcon-* file"),
    ("config.icon-format", "error", "the icon is not an SVG, PNG or JPEG file"),
    ("config.icon-size", "error", "the icon is larger than the size limit"),
    ("config.readme-missing", "warning", "the template has no README.md"),
    # Questions (compose catalog blocks and Helm questions.yml)
    ("question.schema", "error", "a question does not match the questions JSON Schema"),
    ("question.unknown-key", "warning", "an unknown key in a question"),
    ("question.missing-variable", "error", "a question has no variable"),
    ("question.missing-type", "warning", "a question has no type (Helm: info, string assumed)"),
    ("question.unknown-type", "warning", "a question type Rancher does not know"),
    ("question.duplicate-variable", "error", "two questions set the same variable"),
    ("question.default-type", "error", "a question's default does not fit its type or bounds"),
    ("question.enum-options", "error", "an enum question has no options"),
    ("question.enum-default", "error", "an enum question's default is not one of its options"),
    ("question.min-max", "error", "min is above max, or min_length above max_length"),
    ("question.regex", "error", "valid_chars / invalid_chars is not a character class body"),
    ("question.show-if", "error", "show_if cannot be evaluated (Rancher always shows it)"),
    ("question.show-if-variable", "warning", "a condition names a variable no question sets"),
    (
        "question.if",
        "info",
        "an `if`/`subquestions_if` the server cannot evaluate, or `if` beside show_if",
    ),
    (
        "question.tolerated",
        "warning",
        "an empty top-level field Rancher ignores (`categories: null`)",
    ),
    (
        "question.nested-subquestions",
        "info",
        "a subquestion has subquestions of its own (the dashboard shows them, older UIs do not)",
    ),
    (
        "question.undeclared-variable",
        "warning",
        "a ${VAR} or .Values.VAR has no question (and ${VAR} no default)",
    ),
    ("question.unused", "info", "a question's variable is used by no file of the version"),
    # Compose files
    (
        "compose.schema",
        "error",
        "the compose file breaks its format's rules (after conversion, the Compose Specification)",
    ),
    ("compose.legacy-v1", "info", "compose file format v1 (services at the top level)"),
    ("compose.legacy-key", "info", "a key of the file's format that today's Compose replaced"),
    (
        "compose.rancher-extension",
        "info",
        "a Rancher 1.x extension that today's Compose lacks (per_container, health_check, ...)",
    ),
    (
        "compose.format-key",
        "warning",
        "a key the file's declared format lacks (today's Compose accepts it, older tools refuse)",
    ),
    ("compose.version", "warning", "`version:` names no compose file format"),
    ("compose.interpolation", "error", "a malformed $ expression in a compose file"),
    ("compose.template", "error", "a .tpl compose file does not render with the defaults"),
    ("compose.undefined-network", "error", "a service uses a network not declared"),
    ("compose.undefined-volume", "error", "a service mounts a named volume not declared"),
    ("compose.undefined-secret", "error", "a service uses a secret not declared"),
    ("compose.undefined-config", "error", "a service uses a config not declared"),
    ("compose.unknown-dependency", "error", "depends_on names a service the file lacks"),
    ("compose.no-image", "error", "a service has neither image nor build"),
    # Helm charts
    ("helm.chart-api-version", "error", "Chart.yaml apiVersion is not v1 or v2"),
    ("helm.chart-name", "error", "Chart.yaml name is missing or differs from the chart folder"),
    ("helm.chart-version", "error", "Chart.yaml version is not SemVer 2"),
    ("helm.app-version", "error", "Chart.yaml appVersion is not a string"),
    ("helm.chart-field", "error", "a Chart.yaml field is invalid (type, v2-only fields)"),
    ("helm.maintainer", "error", "a Chart.yaml maintainer has no name"),
    ("helm.url", "error", "a Chart.yaml home, sources or icon entry is not a URL"),
    ("helm.values-schema", "error", "values.yaml does not validate against values.schema.json"),
    ("helm.schema-file", "error", "values.schema.json is not a valid JSON Schema"),
    ("helm.template-extension", "error", "a file in templates/ has an extension Helm refuses"),
    ("helm.lint", "warning", "a finding of the Helm SDK's lint (severity as Helm gives it)"),
    ("helm.lint-skipped", "info", "Helm's lint left out at sync: a catalog of many charts"),
    ("helm.rancher-annotation", "warning", "a catalog.cattle.io/ annotation is malformed"),
    ("helm.artifacthub-annotation", "warning", "an artifacthub.io/ annotation is malformed"),
    ("helm.artifacthub-repo", "warning", "artifacthub-repo.yml is malformed and not served"),
    # Policy (severity overridable per catalog in .catalog-lint.yaml)
    ("policy.image-latest", "error", "an image with no tag or the :latest tag"),
    ("policy.privileged", "warning", "a privileged container without a stated reason"),
    ("policy.host-namespace", "warning", "host network or PID namespace without a stated reason"),
    ("policy.docker-socket", "warning", "the Docker socket is mounted without a stated reason"),
    ("policy.cap-add-all", "warning", "cap_add: ALL without a stated reason"),
    ("policy.secret-default", "error", "a password or secret question has a default"),
    ("policy.literal-secret", "warning", "a literal value in a PASSWORD/TOKEN/SECRET/KEY variable"),
    # Version history (lint --changed-since)
    ("version.published-changed", "error", "a version published at the base ref was changed"),
    ("version.not-increasing", "error", "a new version is not above every existing one"),
    ("version.removed", "warning", "a version published at the base ref was removed"),
    # Lint configuration
    ("lint.config", "error", ".catalog-lint.yaml is invalid"),
]

RULES: dict[str, Rule] = {
    **{rid: Rule(rid, sev, text, "loader") for rid, sev, text in _LOADER},  # type: ignore[arg-type]
    **{rid: Rule(rid, sev, text) for rid, sev, text in _VALIDATION},  # type: ignore[arg-type]
}

# Rules whose severity a catalog may change (or turn off) in its .catalog-lint.yaml.
OVERRIDABLE_PREFIX = "policy."


def problem(rule: str, message: str, **where) -> Problem:
    """A non-blocking Problem of a registered rule, with the rule's default severity.

    `where` takes Problem's location fields (file, line, column, template, version) and an
    optional `severity` for the few rules whose severity depends on the family (Helm).
    Raises KeyError for an unregistered rule id: every id must be in RULES.
    """
    severity = where.pop("severity", None) or RULES[rule].severity
    return Problem(rule, severity, message, blocking=False, **where)
