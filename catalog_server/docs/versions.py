"""A page per template version, and what changed between consecutive versions.

Each version's page (``catalogs/<catalog>/<template>/<version>/index.html``) shows its
metadata as Rancher 2 and Artifact Hub read it (version ranges, flags, images, links,
maintainers, signing key...) and its changes: the ``artifacthub.io/changes`` annotation,
else a ``CHANGELOG.md`` in the version folder, rendered and sanitized like a README. The
template page lists, for every version, its changes since the one before and the files that
differ between them.

Like :mod:`catalog_server.docs.pages`, this reads the database through
:mod:`catalog_server.queries` and imports no Flask; every string from a catalog is escaped
by the templates' autoescaping, and only http(s) URLs become links.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from catalog_server.docs.sanitize import render_markdown
from catalog_server.loaders.annotations import web_url

__all__ = [
    "VersionView",
    "badges",
    "changes_between",
    "kube_range",
    "rancher_range",
    "version_dir",
    "version_page",
    "version_view",
]

_SAFE_DIR = re.compile(r"v?[0-9][A-Za-z0-9._+-]{0,100}\Z")
MAX_LISTED_FILES = 50

_env = Environment(
    loader=PackageLoader("catalog_server.docs", "templates"),
    autoescape=select_autoescape(default=True),
    keep_trailing_newline=True,
)

FLAG_LABELS = {
    "certified": "Certified",
    "experimental": "Experimental",
    "deprecated": "Deprecated",
    "featured": "Featured",
}


def version_dir(version: str) -> str:
    """The folder of a version's page below its template's: the version itself when it is
    a plain file name (``1.2.0``, ``104.1.2+up57.0.3``), else a name made from its hash."""
    if _SAFE_DIR.match(version) and ".." not in version:
        return version
    return "version-" + hashlib.sha256(version.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def kube_range(v: Any) -> str:
    """The Kubernetes versions a version installs on, as its ranges say."""
    ranges = [r for r in (v.kube_version, v.chart_kube_version) if r]
    return " and ".join(dict.fromkeys(ranges))


def rancher_range(v: Any) -> str:
    """The Rancher versions a version fits: its annotation's range, else min/max."""
    if v.rancher_version:
        return v.rancher_version
    low, high = v.minimum_rancher_version, v.maximum_rancher_version
    if low and high:
        return f"{low} to {high}"
    return f"{low} or newer" if low else (f"up to {high}" if high else "")


def badges(flags: dict[str, Any]) -> list[str]:
    """The words a card or page shows for a template's or version's Rancher flags."""
    out = []
    if flags.get("certified"):
        out.append(f"Certified: {flags['certified']}")
    for key in ("experimental", "deprecated"):
        if flags.get(key) is True:
            out.append(FLAG_LABELS[key])
    if flags.get("featured"):
        out.append("Featured")
    return out


@dataclass
class VersionView:
    """What the pages show of one version (``v`` a TemplateVersion with its files)."""

    v: Any
    dir: str
    rancher: dict[str, Any] = field(default_factory=dict)
    hub: dict[str, Any] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    changelog_html: Markup | None = None


def version_view(v: Any) -> VersionView:
    meta = v.meta or {}
    hub = dict(meta.get("artifacthub") or {})
    changelog = meta.get("changelog")
    return VersionView(
        v=v,
        dir=version_dir(v.version),
        rancher=dict(meta.get("rancher") or {}),
        hub=hub,
        changes=list(hub.get("changes") or []),
        changelog_html=Markup(render_markdown(changelog)) if changelog else None,  # noqa: S704
    )


def changes_between(newer: VersionView, older: VersionView | None) -> dict[str, Any]:
    """What changed from ``older`` to ``newer``: the newer version's change log and the
    files added, removed and changed (by content)."""
    new_files = {f.path: f.sha256 for f in newer.v.files}
    old_files = {f.path: f.sha256 for f in older.v.files} if older else {}
    files = [
        {"path": path, "how": "added" if path not in old_files else
         "removed" if path not in new_files else "changed"}
        for path in sorted(set(new_files) | set(old_files))
        if new_files.get(path) != old_files.get(path)
    ]  # fmt: skip
    return {
        "version": newer.v.version,
        "dir": newer.dir,
        "since": older.v.version if older else None,
        "changes": newer.changes,
        "has_changelog": newer.changelog_html is not None,
        "files": files[:MAX_LISTED_FILES],
        "more_files": max(len(files) - MAX_LISTED_FILES, 0),
    }


def images_view(found: dict[str, Any] | None) -> dict[str, Any]:
    """A chart version's images (`TemplateVersion.images`) as pages show them: the list,
    and how they were found."""
    found = found or {}
    if found.get("source") == "rendered":
        how = "found in the chart rendered with its default values"
    else:
        note = found.get("note")
        how = "read from values.yaml" + (f" ({note})" if note else "")
    return {"list": list(found.get("images") or []), "how": how}


def version_page(catalog: str, t: Any, view: VersionView, icon: str, api_path: str) -> str:
    """The HTML body of one version's page."""
    v = view.v
    hub = view.hub
    body = _env.get_template("version.html").render(
        t=t,
        v=v,
        catalog=catalog,
        icon=icon,
        home="../../../../",
        template_url="../",
        api_url="../../../.." + api_path,
        kube=kube_range(v),
        rancher_range=rancher_range(v),
        rancher=view.rancher,
        badges=badges(view.rancher),
        hub=hub,
        links=[link for link in hub.get("links", []) if web_url(link.get("url"))],
        sign_key=hub.get("sign_key"),
        changes=view.changes,
        changelog=view.changelog_html,
        found_images=images_view(v.images) if t.kind == "helm" else None,
        is_default=v.version == t.default_version,
    )
    return body
