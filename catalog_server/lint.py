"""What `catalog-server lint` checks: a catalog's working tree, the way the server will.

A catalog root is read as a plain folder so uncommitted changes count. Problems are the
loader's and validation's, the same the server records. :func:`lint_catalog` with
``changed_since`` lints only the templates with files changed between that git ref and the
working tree (untracked files included) and adds the version rules of
`validation.history`, reading the ref's tree straight from git. The command itself (its
options and exit status) is :mod:`catalog_server.cli.lint`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path, PurePosixPath

from catalog_server.images import attach_images
from catalog_server.loaders import load_catalog
from catalog_server.loaders.model import LoadedTemplate
from catalog_server.problems import SEVERITIES, Problem, SourceError
from catalog_server.sources import FolderSnapshot, GitSnapshot
from catalog_server.validation import RULES, catalog_problems, validate_template
from catalog_server.validation.history import changed_templates, compare_versions

_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def lint_catalog(root: Path, changed_since: str | None = None) -> list[Problem]:
    """Every problem of the catalog at `root` (paths in problems relative to `root`).

    With `changed_since`, only templates changed since that git ref, plus version rules.
    Raises SourceError when `root` is not a folder, is not in a git repository (with
    `changed_since`), or the ref does not exist.
    """
    snapshot = FolderSnapshot(root)
    templates, problems = load_catalog(snapshot)
    problems = list(problems) + catalog_problems(snapshot)
    selected = {t.id for t in templates}
    old_templates = {}
    if changed_since is not None:
        repo, old_snapshot, changed = _git_state(root, changed_since)
        try:
            old_templates = {t.id: t for t in load_catalog(old_snapshot)[0]}
        finally:
            repo.close()  # its `git cat-file` processes
        selected = changed_templates(templates, changed)
        problems = [p for p in problems if p.file is None or p.file in changed]
    chosen = [t for t in templates if t.id in selected]
    problems.extend(check_templates(snapshot, chosen))
    for template in chosen:
        if template.id in old_templates:
            problems.extend(
                compare_versions(old_templates[template.id], template, changed_since or "")
            )
    return sorted(problems, key=order)


def check_templates(snapshot: FolderSnapshot, templates: list[LoadedTemplate]) -> list[Problem]:
    """The loader's and validation's problems of loaded templates, as lint reports them.
    Chart versions' images are found first (rendered where the Helm SDK is installed),
    since policy reads them; they stay set on the versions."""
    attach_images(templates)
    problems: list[Problem] = []
    for template in templates:
        problems.extend(template.all_problems())
        problems.extend(validate_template(template, snapshot))
    return problems


def _git_state(root: Path, ref: str):
    """The repository, REF's tree of the catalog, and the paths changed since (relative
    to the root). The caller closes the repository."""
    import git

    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise SourceError(f"--changed-since needs a git repository; {root} is not in one") from None
    top = Path(repo.working_tree_dir or root).resolve()
    subdir = PurePosixPath(*Path(root).resolve().relative_to(top).parts).as_posix()
    subdir = "" if subdir == "." else subdir
    try:
        snapshot = GitSnapshot(repo, ref, subdir)
        scope = ["--", subdir or "."]
        diff = repo.git.diff("--name-only", "-z", "--no-renames", snapshot.commit, *scope)
        untracked = repo.git.ls_files("--others", "--exclude-standard", "-z", *scope)
    except Exception:
        repo.close()
        raise
    prefix = f"{subdir}/" if subdir else ""
    changed = {
        p[len(prefix) :]
        for p in (diff + "\0" + untracked).split("\0")
        if p and p.startswith(prefix)
    }
    return repo, snapshot, changed


def order(p: Problem) -> tuple:
    return (p.template or "", p.version or "", p.file or "", p.line or 0, p.rule)


def located(problems: Iterable[Problem], root: str) -> list[Problem]:
    """Problems with files relative to the current folder, as editors and CI expect."""
    if os.path.normpath(root) == ".":
        return list(problems)
    out = []
    for p in problems:
        where = os.path.normpath(os.path.join(root, p.file)) if p.file else root
        out.append(replace(p, file=Path(where).as_posix()))
    return out


def format_text(problems: list[Problem]) -> str:
    lines: list[str] = []
    current: object = object()
    for p in problems:
        if p.template != current:
            current = p.template
            lines.append(f"{p.template or '(catalog)'}:")
        where = f"{p.file or '.'}:{p.line}" if p.line else f"{p.file or '.'}"
        lines.append(f"  {where}: {p.severity} {p.rule}: {p.message}")
    lines.append(summary(problems))
    return "\n".join(lines)


def summary(problems: list[Problem]) -> str:
    counts = Counter(p.severity for p in problems)
    templates = len({p.template for p in problems if p.template})
    parts = [f"{counts.get(s, 0)} {s}{'s' if counts.get(s, 0) != 1 else ''}" for s in SEVERITIES]
    return f"{', '.join(parts)} in {templates} template{'s' if templates != 1 else ''}"


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def format_github(problems: list[Problem]) -> str:
    """GitHub Actions workflow commands: `::error file=F,line=L,title=RULE::message`."""
    lines = []
    for p in problems:
        props = []
        if p.file:
            props.append(f"file={_escape(p.file, True)}")
        if p.line:
            props.append(f"line={p.line}")
        if p.column:
            props.append(f"col={p.column}")
        props.append(f"title={_escape(p.rule, True)}")
        lines.append(f"::{_GITHUB_LEVEL[p.severity]} {','.join(props)}::{_escape(p.message)}")
    lines.append(summary(problems))
    return "\n".join(lines)


def format_rules() -> str:
    width = max(len(r) for r in RULES)
    return "\n".join(
        f"{r.id:<{width}}  {r.severity:<7}  {r.description}"
        for r in sorted(RULES.values(), key=lambda r: r.id)
    )
