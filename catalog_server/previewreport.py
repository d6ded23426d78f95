"""What a reviewer sees of a preview: its index compared with the base catalog's.

:func:`preview_report` compares the two indexes (never git): the templates and versions the
change adds, changes or removes; for each, the problems the preview found (file and line),
a diff of its files against the base version, the questions that changed, and whether the
upgrade path from the base catalog's served default version still holds (a new version
newer than it, ``upgrade_from`` accepting it, released versions left as they were).
:func:`report_markdown` writes the same short enough for a pull-request comment: every
string from the catalog is escaped, so a hostile one cannot turn into markup there.

Plain Python: nothing here imports Flask.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from catalog_server.manifests.upgrades import files_diff, satisfies
from catalog_server.models import Catalog, ProblemRow, Template, TemplateVersion, VersionFile
from catalog_server.versions import sort_versions

MAX_DIFF_CHARS = 20_000  # per version in the JSON report; the rest is cut, and said so
MAX_MD_PROBLEMS = 10  # per template in the Markdown report
MAX_MD_TEMPLATES = 30
MAX_MD_TEXT = 200  # characters of any one catalog string in the Markdown report
_TEMPLATE_FIELDS = (
    "name", "description", "categories", "maintainer", "license", "project_url", "labels",
    "default_version", "readme", "meta", "hidden", "flags", "kind", "base",
)  # fmt: skip


@dataclass
class _Side:
    """One catalog's index, as much of it as a comparison needs."""

    templates: dict[str, Template]
    versions: dict[str, dict[str, TemplateVersion]]  # slug -> version string -> row
    files: dict[int, dict[str, tuple[int, str | None]]]  # version id -> path -> (size, sha)
    problems: dict[str | None, list[ProblemRow]]  # slug (None: the catalog's) -> rows


def _side(session: Session, catalog: Catalog) -> _Side:
    templates = {
        t.slug: t
        for t in session.scalars(
            select(Template).where(Template.catalog_id == catalog.id).options(defer(Template.icon))
        )
    }
    by_id = {t.id: t.slug for t in templates.values()}
    versions: dict[str, dict[str, TemplateVersion]] = {slug: {} for slug in templates}
    rows = session.scalars(
        select(TemplateVersion)
        .where(TemplateVersion.template_id.in_(list(by_id)))
        .order_by(TemplateVersion.position)
    )
    for v in rows:
        versions[by_id[v.template_id]].setdefault(v.version, v)
    ids = [v.id for vs in versions.values() for v in vs.values()]
    files: dict[int, dict[str, tuple[int, str | None]]] = {i: {} for i in ids}
    for vid, path, size, sha in session.execute(
        select(VersionFile.version_id, VersionFile.path, VersionFile.size, VersionFile.sha256)
        .where(VersionFile.version_id.in_(ids))
    ):  # fmt: skip
        files[vid][path] = (size, sha)
    problems: dict[str | None, list[ProblemRow]] = {}
    for p in session.scalars(
        select(ProblemRow)
        .where(ProblemRow.catalog_id == catalog.id)
        .order_by(ProblemRow.template, ProblemRow.file, ProblemRow.line, ProblemRow.id)
    ):
        problems.setdefault(p.template, []).append(p)
    return _Side(templates, versions, files, problems)


def _contents(session: Session, version_id: int) -> dict[str, bytes | None]:
    rows = session.execute(
        select(VersionFile.path, VersionFile.content).where(VersionFile.version_id == version_id)
    )
    return {path: content for path, content in rows}


def _problem(p: ProblemRow) -> dict[str, Any]:
    return {
        "severity": p.severity,
        "rule": p.rule,
        "version": p.version,
        "file": p.file,
        "line": p.line,
        "column": p.column,
        "message": p.message,
        "blocking": bool(p.blocking),
        "new": True,  # not found in the base catalog (set by the comparison)
    }


def _signature(problems: list[dict]) -> list[tuple]:
    return sorted((p["severity"], p["rule"], p["file"] or "", p["message"]) for p in problems)


def _questions_change(old: list | None, new: list | None) -> dict[str, list[str]]:
    def by_variable(questions):
        return {
            q["variable"]: q
            for q in questions or []
            if isinstance(q, dict) and isinstance(q.get("variable"), str)
        }

    before, after = by_variable(old), by_variable(new)
    return {
        "added": sorted(set(after) - set(before)),
        "changed": sorted(k for k in set(after) & set(before) if after[k] != before[k]),
        "removed": sorted(set(before) - set(after)),
    }


def _cut(text: str) -> tuple[str, bool]:
    if len(text) <= MAX_DIFF_CHARS:
        return text, False
    return text[:MAX_DIFF_CHARS].rpartition("\n")[0] + "\n", True


def _newer(candidate: str, than: str) -> bool:
    """Whether ``candidate`` orders after ``than`` as the catalog orders versions."""
    return candidate != than and sort_versions([than, candidate])[0] == candidate


def _upgrade_checks(base_default: str | None, added, changed, removed) -> list[dict]:
    """Whether the upgrade path from the served default version still holds."""
    checks = []
    if changed:
        checks.append(
            {
                "check": "released_unchanged",
                "status": "fail",
                "message": "released version(s) "
                + ", ".join(v.version for v in changed)
                + " changed in place: users who installed them get different files under the "
                "same version; add a new version instead",
            }
        )
    else:
        checks.append(
            {
                "check": "released_unchanged",
                "status": "warn" if removed else "pass",
                "message": "released versions removed: " + ", ".join(removed)
                if removed
                else "no released version changed",
            }
        )
    if base_default is None:
        return checks
    newer = [v for v in added if _newer(v.version, base_default)]
    checks.append(
        {
            "check": "version_bumped",
            "status": "pass" if newer else "fail",
            "message": f"new version(s) {', '.join(v.version for v in newer)} after {base_default}"
            if newer
            else f"no new version after the served default {base_default}",
        }
    )
    refused = []
    for v in newer:
        if not v.upgrade_from:
            continue
        try:
            ok = satisfies(base_default, v.upgrade_from)
        except ValueError as exc:
            refused.append(f"{v.version}: upgrade_from {v.upgrade_from!r} is malformed ({exc})")
            continue
        if not ok:
            refused.append(
                f"{v.version}: upgrade_from {v.upgrade_from!r} does not accept {base_default}"
            )
    if any(v.upgrade_from for v in newer) or refused:
        checks.append(
            {
                "check": "upgrade_from",
                "status": "fail" if refused else "pass",
                "message": "; ".join(refused)
                if refused
                else f"upgrade_from accepts the served default {base_default}",
            }
        )
    return checks


def _links(catalog: str, slug: str) -> dict[str, str]:
    c, t = quote(catalog, safe=""), quote(slug, safe="")
    return {
        "page": f"/catalogs/{c}/{t}/",
        "install": f"/catalogs/{c}/{t}/#install",
        "api": f"/api/v1/templates/{c}/{t}",
    }


def _template_entry(session, slug, base: _Side, new: _Side, name: str) -> dict | None:
    """The report of one template, or None when the change leaves it as it was."""
    old_t, new_t = base.templates.get(slug), new.templates.get(slug)
    problems = [_problem(p) for p in new.problems.get(slug, [])]
    known = set(_signature([_problem(p) for p in base.problems.get(slug, [])]))
    for p in problems:
        p["new"] = _signature([p])[0] not in known
    problems.sort(key=lambda p: not p["new"])  # what the change brings in first
    old_versions, new_versions = base.versions.get(slug, {}), new.versions.get(slug, {})
    if old_t is None and new_t is None:
        # Served by neither: a template that cannot be loaded, here or in both.
        before = [_problem(p) for p in base.problems.get(slug, [])]
        if not problems or not any(p["new"] for p in problems) and len(before) == len(problems):
            return None
        change = "changed" if before else "added"
    elif old_t is None:
        change = "added"
    elif new_t is None:
        # Not served in the preview: it fails to load there, or the change removes it.
        change = "changed" if any(p["blocking"] for p in problems) else "removed"
    else:
        change = "changed"
    added = [v for k, v in new_versions.items() if k not in old_versions]
    removed = [k for k in old_versions if k not in new_versions]
    changed = [
        v
        for k, v in new_versions.items()
        if k in old_versions and new.files[v.id] != base.files[old_versions[k].id]
    ]
    if change == "changed" and new_t is not None:
        same_fields = all(getattr(old_t, f) == getattr(new_t, f) for f in _TEMPLATE_FIELDS)
        same_fields = same_fields and old_t.icon_media_type == new_t.icon_media_type
        if same_fields and not (added or removed or changed):
            return None
    base_default = old_t.default_version if old_t is not None else None
    default_row = old_versions.get(base_default) if base_default else None
    versions = []
    for v in sorted(added + changed, key=lambda v: v.position):
        old_row = old_versions.get(v.version) or default_row
        old_files = _contents(session, old_row.id) if old_row is not None else {}
        label = f"{slug}/{old_row.version}" if old_row is not None else f"{slug}/(none)"
        diff, cut = _cut(
            files_diff(label, old_files, f"{slug}/{v.version}", _contents(session, v.id))
        )
        old_paths = set(base.files[old_row.id]) if old_row is not None else set()
        new_paths = set(new.files[v.id])
        versions.append(
            {
                "version": v.version,
                "folder": v.folder,
                "change": "changed" if v in changed else "added",
                "compared_with": old_row.version if old_row is not None else None,
                "files": {
                    "added": sorted(new_paths - old_paths),
                    "changed": sorted(
                        p
                        for p in new_paths & old_paths
                        if new.files[v.id][p] != base.files[old_row.id][p]
                    ),
                    "removed": sorted(old_paths - new_paths),
                },
                "questions": _questions_change(
                    old_row.questions if old_row is not None else [], v.questions
                ),
                "upgrade_from": v.upgrade_from,
                "diff": diff,
                "diff_truncated": cut,
            }
        )
    versions += [
        {"version": k, "folder": old_versions[k].folder, "change": "removed"} for k in removed
    ]
    shown = new_t or old_t
    entry = {
        "id": slug,
        "name": shown.name if shown is not None else slug,
        "kind": shown.kind if shown is not None else None,
        "change": change,
        "served": new_t is not None,
        "default_version": {
            "base": base_default,
            "preview": new_t.default_version if new_t is not None else None,
        },
        "versions": versions,
        "problems": problems,
        "upgrade": None,
        "links": _links(name, slug) if new_t is not None else None,
    }
    if old_t is not None and change == "changed":
        entry["upgrade"] = {
            "from": base_default,
            "checks": _upgrade_checks(base_default, added, changed, removed),
        }
    return entry


def preview_report(session: Session, preview, catalog: Catalog, base: Catalog) -> dict[str, Any]:
    """The report of ``preview`` (a :class:`~catalog_server.models.Preview`) whose catalog
    row is ``catalog``, against ``base``'s index as served now."""
    old, new = _side(session, base), _side(session, catalog)
    indexed = catalog.indexed_at is not None
    slugs = sorted(set(old.templates) | set(new.templates) | (set(new.problems) - {None}))
    templates = []
    if indexed:
        for slug in slugs:
            entry = _template_entry(session, slug, old, new, catalog.name)
            if entry is not None:
                templates.append(entry)
    counts = Counter(t["change"] for t in templates)
    # Problems the change brings in: what the base catalog does not have already.
    severities = Counter(p["severity"] for t in templates for p in t["problems"] if p["new"])
    catalog_problems = [_problem(p) for p in new.problems.get(None, [])]
    known = set(_signature([_problem(p) for p in old.problems.get(None, [])]))
    for p in catalog_problems:
        p["new"] = _signature([p])[0] not in known
    severities.update(p["severity"] for p in catalog_problems if p["new"])
    failed_checks = sum(
        1
        for t in templates
        for c in (t["upgrade"] or {}).get("checks", [])
        if c["status"] == "fail"
    )
    return {
        "catalog": base.name,
        "preview": catalog.name,
        "id": preview.name,
        "ref": preview.ref,
        "pull_request": preview.pull_request,
        "commit": catalog.commit,
        "base_commit": base.commit,
        "indexed": indexed,
        "sync_state": catalog.sync_state,
        "last_error": catalog.last_error,
        "summary": {
            "added": counts["added"],
            "changed": counts["changed"],
            "removed": counts["removed"],
            "errors": severities["error"],
            "warnings": severities["warning"],
            "failed_checks": failed_checks,
        },
        "templates": templates,
        "catalog_problems": catalog_problems,
        "links": {"page": f"/{preview_page_path(catalog.name)}"},
    }


def preview_page_path(name: str) -> str:
    """Where a preview's page is on the site (a folder: its index.html)."""
    return f"previews/{quote(name, safe='~')}/"


# --- Markdown ----------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~@:&])")


def md(text: Any, limit: int = MAX_MD_TEXT) -> str:
    """Catalog text made inert in Markdown: one line, cut, every markup character escaped
    (so no link, image, HTML, mention or table cell can come from it)."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", value)


def _where(p: dict) -> str:
    if not p["file"]:
        return ""
    line = f":{p['line']}" if p["line"] else ""
    return f" in {md(p['file'])}{line}"


_MARK = {"pass": "✅", "fail": "❌", "warn": "⚠️"}


def report_markdown(report: dict[str, Any], base_url: str = "") -> str:
    """The report as Markdown for a pull-request comment: a summary line, a table of the
    templates changed, then each template's versions, questions, upgrade checks and
    problems (at most MAX_MD_PROBLEMS each). ``base_url`` makes its links absolute."""
    s = report["summary"]
    commit = (report["commit"] or "")[:12]
    page = base_url.rstrip("/") + report["links"]["page"]
    out = [
        f"### Catalog preview {md(report['preview'])}",
        "",
        f"Ref {md(report['ref'])}" + (f" at {md(commit)}" if commit else "")
        + f", compared with {md(report['catalog'])}"
        + (f" at {md((report['base_commit'] or '')[:12])}" if report["base_commit"] else "")
        + f". [Preview page]({page})",
        "",
    ]  # fmt: skip
    if not report["indexed"]:
        state = report["last_error"] or f"not indexed yet ({report['sync_state']})"
        out += [f"The preview is not indexed: {md(state, 500)}", ""]
        return "\n".join(out)
    out += [
        f"**{s['added']} added, {s['changed']} changed, {s['removed']} removed** template(s); "
        f"{s['errors']} new error(s), {s['warnings']} new warning(s), "
        f"{s['failed_checks']} failed upgrade check(s).",
        "",
    ]
    templates = report["templates"]
    if not templates:
        out.append("No template changes against the base catalog.")
    else:
        out += [
            "| Template | Change | Versions | Upgrade path | Problems |",
            "|---|---|---|---|---|",
        ]
        for t in templates[:MAX_MD_TEMPLATES]:
            versions = ", ".join(
                f"{md(v['version'], 60)} {v['change']}" for v in t["versions"]
            ) or "–"  # fmt: skip
            checks = (t["upgrade"] or {}).get("checks") or []
            upgrade = " ".join(_MARK[c["status"]] for c in checks) or "–"
            counts = Counter(p["severity"] for p in t["problems"])
            problems = ", ".join(f"{n} {sev}(s)" for sev, n in sorted(counts.items())) or "none"
            served = "" if t["served"] else " (not served)"
            link = f"[{md(t['id'], 80)}]({base_url.rstrip('/')}{t['links']['page']})" if t[
                "links"
            ] else md(t["id"], 80)  # fmt: skip
            out.append(f"| {link} | {t['change']}{served} | {versions} | {upgrade} | {problems} |")
        if len(templates) > MAX_MD_TEMPLATES:
            out.append(f"\nand {len(templates) - MAX_MD_TEMPLATES} more template(s): see the page.")
        for t in templates[:MAX_MD_TEMPLATES]:
            out += ["", f"#### {md(t['id'], 80)} ({t['change']})"]
            for v in t["versions"]:
                if v["change"] == "removed":
                    out.append(f"- version {md(v['version'], 60)} removed")
                    continue
                files = v["files"]
                parts = [
                    f"{key} {', '.join(md(p, 80) for p in files[key][:8])}"
                    for key in ("added", "changed", "removed")
                    if files[key]
                ]
                against = f" against {md(v['compared_with'], 60)}" if v["compared_with"] else ""
                out.append(
                    f"- version {md(v['version'], 60)} {v['change']}{against}: "
                    + ("; ".join(parts) or "no file changes")
                )
                q = v["questions"]
                if any(q.values()):
                    qparts = [
                        f"{key} {', '.join(md(x, 60) for x in q[key][:10])}"
                        for key in ("added", "changed", "removed")
                        if q[key]
                    ]
                    out.append(f"  - questions: {'; '.join(qparts)}")
            for c in (t["upgrade"] or {}).get("checks") or []:
                out.append(f"- {_MARK[c['status']]} {c['check']}: {md(c['message'], 300)}")
            fresh = [p for p in t["problems"] if p.get("new", True)]
            for p in fresh[:MAX_MD_PROBLEMS]:
                out.append(
                    f"- {p['severity']} {md(p['rule'], 60)}{_where(p)}: {md(p['message'], 300)}"
                )
            if len(fresh) > MAX_MD_PROBLEMS:
                out.append(f"- and {len(fresh) - MAX_MD_PROBLEMS} more problem(s)")
            if len(t["problems"]) > len(fresh):
                out.append(
                    f"- {len(t['problems']) - len(fresh)} problem(s) the catalog has already"
                )
    if any(p["new"] for p in report["catalog_problems"]):
        out += ["", "#### Catalog"]
        for p in [p for p in report["catalog_problems"] if p["new"]][:MAX_MD_PROBLEMS]:
            out.append(f"- {p['severity']} {md(p['rule'], 60)}{_where(p)}: {md(p['message'], 300)}")
    out.append("")
    return "\n".join(out)
