"""Catalog pages generated from the index: one template's pages at a time, and the home
page from every template's listing.

Everything here reads the database through :mod:`catalog_server.queries`, never git, and
imports no Flask. Page bodies are HTML made with autoescaping Jinja templates: every string
from a catalog is escaped, and READMEs go through :func:`sanitize.render_markdown`. The
theme's layout is put around them by :mod:`catalog_server.docs.layout`.

What one template contributes (:func:`template_site`; paths relative to the site root)::

    catalogs/<catalog>/<template>/index.html     its page
    catalogs/<catalog>/<template>/template.json  versions and questions (and for charts
                                                 where their values are), for the install form
    catalogs/<catalog>/<template>/icon.svg|png|jpg  the icon, cleaned
    catalogs/<catalog>/<template>/<version>/index.html  a version's page (docs.versions)

and its listing: the card on the home page and the entry in ``templates.json``, the search
index the home page filters with (:func:`home_site`). Hidden templates
(``catalog.cattle.io/hidden``) get their pages but no listing: they are installed by id, as
in Rancher.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.orm import Session

from catalog_server import queries, signing
from catalog_server.chartvalues import VALUES_FILE, document_values
from catalog_server.docs.layout import HOME_PATH, PageBody
from catalog_server.docs.sanitize import clean_svg, render_markdown
from catalog_server.docs.versions import (
    VersionView,
    badges,
    changes_between,
    images_view,
    kube_range,
    rancher_range,
    version_page,
    version_view,
)
from catalog_server.loaders.model import INSTALLABLE_TYPES, TEMPLATE_TYPES, template_type
from catalog_server.manifests.schema_questions import SCHEMA_FILE
from catalog_server.releases import default_release
from catalog_server.render import served_questions

KIND_LABELS = {"compose": "Compose", "helm": "Helm chart"}
PLACEHOLDER_ICON = "img/template.svg"  # in the theme
SERVER_PLACEHOLDER = "https://CATALOG-SERVER"  # the page's script writes its own origin
HOST_PLACEHOLDER = "CATALOG-SERVER"  # ... and its own host, for oci:// references
ICON_EXTENSIONS = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg"}
MAX_VALUES_SHOWN = 256 * 1024  # a longer values.yaml is linked to, not shown in the page
SEARCH_INDEX_PATH = "templates.json"
TEMPLATE_PAGE_CLASS = "template-page-wrap"

page_templates = Environment(
    loader=PackageLoader("catalog_server.docs", "templates"),
    autoescape=select_autoescape(default=True),
    keep_trailing_newline=True,
)


@dataclass
class TemplateSite:
    """One template's part of the site: its pages (before the layout), its data files, and
    its listing on the home page (``{"card", "entry"}``; None for a hidden template)."""

    catalog: str
    slug: str
    name: str
    pages: list[PageBody]
    files: dict[str, bytes]
    listing: dict[str, Any] | None


def url_segment(text: str) -> str:
    """A path segment for a catalog or template id (``charts*grafana`` -> ``charts%2Agrafana``)."""
    return quote(text, safe="")


def page_dir(catalog: str, slug: str) -> str:
    """Folder of a template's page, relative to the site root (file names, not URLs)."""
    return f"catalogs/{catalog}/{slug}"


def template_site(session: Session, catalog: str, slug: str) -> TemplateSite:
    """Everything the site shows of one served template. Raises TemplateNotFound."""
    t = queries.get_template(session, catalog, slug, with_versions=False)
    folder = page_dir(catalog, t.slug)
    files: dict[str, bytes] = {}
    icon_name = _icon_file(session, catalog, t, folder, files)
    views = [version_view(v) for v in queries.versions_with_files(session, t)]
    api_path = f"/api/v1/templates/{url_segment(catalog)}/{url_segment(t.slug)}"
    icon = "../" + icon_name if icon_name else "../../../../" + PLACEHOLDER_ICON
    pages = [
        PageBody(
            f"{folder}/{view.dir}/index.html",
            f"{t.name} {view.v.version}",
            TEMPLATE_PAGE_CLASS,
            version_page(catalog, t, view, icon, api_path),
        )
        for view in views
    ]
    body = template_page(session, catalog, t, icon_name, views)
    pages.append(PageBody(f"{folder}/index.html", t.name, TEMPLATE_PAGE_CLASS, body))
    data = template_data(session, catalog, t, views)
    files[f"{folder}/template.json"] = json.dumps(data, indent=1).encode()
    return TemplateSite(catalog, t.slug, t.name, pages, files, _listing(catalog, t, icon_name))


def _listing(catalog: str, t, icon_name: str | None) -> dict[str, Any] | None:
    """The template's card on the home page and its entry in the search index."""
    if t.hidden:
        return None
    href = f"catalogs/{url_segment(catalog)}/{url_segment(t.slug)}/"
    card = {
        "key": f"{catalog}/{t.slug}",
        "catalog": catalog,
        "name": t.name,
        "kind": t.kind,
        "description": t.description,
        "categories": t.categories or [],
        "version": t.default_version or t.latest_version,
        "href": href,
        "icon": href + icon_name if icon_name else PLACEHOLDER_ICON,
        "badges": badges(t.flags or {}),
    }
    keywords = (t.meta or {}).get("keywords") or []
    entry = {
        **{k: card[k] for k in ("key", "catalog", "name", "kind", "description")},
        "id": t.slug,
        "categories": card["categories"],
        "url": href,
        "text": t.search_text or " ".join([t.name, t.description or "", *keywords]),
    }
    return {"card": card, "entry": entry}


def _icon_file(session, catalog: str, t, folder: str, files: dict) -> str | None:
    """Write the template's icon next to its page; None when it has none or it is unusable."""
    if not t.icon_media_type:
        return None
    data, media_type = queries.template_icon(session, catalog, t.slug)
    extension = ICON_EXTENSIONS.get(media_type.split(";")[0].strip())
    if extension is None:
        return None
    if extension == "svg":
        data = clean_svg(data)
        if data is None:
            return None
    files[f"{folder}/icon.{extension}"] = data
    return f"icon.{extension}"


def home_site(listings: list[dict[str, Any] | None]) -> tuple[PageBody, bytes]:
    """The home page and the search index (``templates.json``) from every template's
    listing (None for hidden templates, which are left out), cards sorted by name."""
    shown = sorted(
        (item for item in listings if item),
        key=lambda item: (
            item["card"]["name"].lower(),
            item["card"]["catalog"],
            item["entry"]["id"],
        ),
    )
    cards = [item["card"] for item in shown]
    index = json.dumps({"templates": [item["entry"] for item in shown]}, indent=1).encode()
    return PageBody(HOME_PATH, "Templates", "home-page", home_page(cards)), index


def home_page(cards: list[dict[str, Any]]) -> str:
    """The home page's body: search box, filters with their counts, and the cards."""
    categories = Counter(name for card in cards for name in dict.fromkeys(card["categories"]))
    kinds = Counter(card["kind"] for card in cards)
    catalogs = sorted({card["catalog"] for card in cards})
    return page_templates.get_template("home.html").render(
        cards=cards,
        total=len(cards),
        catalogs=catalogs,
        show_catalog=len(catalogs) > 1,
        categories=sorted(categories.items(), key=lambda kv: (kv[0].lower(), kv[0])),
        kinds=sorted(kinds.items()),
        kind_labels=KIND_LABELS,
    )


def _flat_questions(questions: list[Any], depth: int = 0, parent: dict | None = None):
    for q in questions or []:
        if not isinstance(q, dict) or not isinstance(q.get("variable"), str):
            continue
        yield q, parent
        if isinstance(q.get("subquestions"), list) and depth < 8:
            yield from _flat_questions(q["subquestions"], depth + 1, q)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def question_rows(questions: list[Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The questions (subquestions after their parent) grouped by ``group``, in order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for q, parent in _flat_questions(questions):
        conditions = []
        if parent is not None:
            for key in ("subquestions_if", "subquestion_if"):
                if parent.get(key):
                    conditions.append(f"when {_text(parent[key])}")
                    break
            else:
                for key in ("show_subquestions_if", "show_subquestion_if"):
                    if key in parent:
                        conditions.append(f"when {parent['variable']} = {_text(parent[key])}")
                        break
        own = q.get("if") if "if" in q else q.get("show_if")
        if own:
            conditions.append(f"when {_text(own)}")
        bounds = [f"{k} {_text(q[k])}" for k in ("min", "max", "min_length", "max_length")
                  if q.get(k) is not None]  # fmt: skip
        if q.get("options"):
            bounds.append("one of " + ", ".join(_text(o) for o in q["options"]))
        group = _text((parent or {}).get("group") or q.get("group")) or "General"
        groups.setdefault(group, []).append(
            {
                "variable": q["variable"],
                "label": _text(q.get("label")),
                "type": _text(q.get("type") or "string"),
                "default": _text(q.get("default")),
                "required": q.get("required") in (True, "true"),
                "description": _text(q.get("description")),
                "condition": "; ".join(conditions),
                "range": "; ".join(bounds),
            }
        )
    return list(groups.items())


def _helm_install(
    session: Session, catalog: str, t, views: list[VersionView]
) -> dict[str, Any] | None:
    """What the Helm install commands name: chart, default version, release, namespace,
    and the key that signs the catalog's charts."""
    if t.kind != "helm" or not views:
        return None
    version_name = t.default_version or views[0].v.version
    v = next((view.v for view in views if view.v.version == version_name), views[0].v)
    chart = (v.meta or {}).get("chart") or {}
    annotations = chart.get("annotations") if isinstance(chart.get("annotations"), dict) else {}
    key = signing.catalog_key(session, catalog)
    return {
        "chart": chart.get("name") or (t.meta or {}).get("chart_name") or t.slug.rpartition("*")[2],
        "version": v.version,
        "release": default_release(t.slug.rpartition("*")[2], chart),
        "namespace": annotations.get("catalog.cattle.io/namespace"),
        "packaged": v.chart_digest is not None,
        "signed_by": key,
        # The key as gpg prints it: ten groups of four hex digits.
        "fingerprint": " ".join(key.fingerprint.upper()[i : i + 4] for i in range(0, 40, 4))
        if key
        else None,
    }


def values_section(session: Session, v, api_url: str) -> dict[str, Any]:
    """The Values section of a chart version: its keys documented, and the file itself."""
    contents = queries.version_contents(session, v, (VALUES_FILE, SCHEMA_FILE))
    data = contents.get(VALUES_FILE)
    doc = document_values(data)
    text = data.decode("utf-8", "replace").lstrip("\ufeff") if data else ""
    return {
        "version": v.version,
        "rows": doc.keys,
        "more": doc.total - len(doc.keys),
        "schema": SCHEMA_FILE in contents,
        "text": text if len(data or b"") <= MAX_VALUES_SHOWN else "",
        "lines": text.count("\n") + (0 if text.endswith("\n") or not text else 1),
        "present": data is not None,
        "url": f"{api_url}/versions/{quote(v.version, safe='')}/files/{VALUES_FILE}",
    }


def template_page(
    session: Session, catalog: str, t, icon_name: str | None, views: list[VersionView]
) -> str:
    """The HTML body of one template's page; ``views`` are its versions, newest first."""
    default = t.default_version or (views[0].v.version if views else None)
    default_view = next((view for view in views if view.v.version == default), None)
    version = default_view.v if default_view else None
    questions, source = served_questions(session, version) if version else ([], None)
    images = images_view(version.images) if version is not None and t.kind == "helm" else None
    api_path = f"/api/v1/templates/{url_segment(catalog)}/{url_segment(t.slug)}"
    signed = signing.signed_versions(session, catalog, t.slug) if t.kind == "helm" else set()
    project_url = t.project_url or ""
    if not project_url.startswith(("https://", "http://")):
        project_url = None  # a catalog's link is only ever a web link
    kind = template_type(t.kind, t.base)
    api_url = "../../.." + api_path
    values = values_section(session, version, api_url) if version and t.kind == "helm" else None
    body = page_templates.get_template("template.html").render(
        t=t,
        catalog=catalog,
        kind_label=KIND_LABELS.get(t.kind, t.kind),
        template_type=kind,
        type_text=TEMPLATE_TYPES[kind],
        installable=kind in INSTALLABLE_TYPES,
        icon=icon_name or "../../../" + PLACEHOLDER_ICON,
        home="../../../",
        project_url=project_url,
        # Relative to the page, so the links work wherever the site is served from.
        api_url=api_url,
        api_path=api_path,
        helm_repo=f"../../../helm/{url_segment(catalog)}" if t.kind == "helm" else None,
        helm=_helm_install(session, catalog, t, views),
        server_placeholder=SERVER_PLACEHOLDER,
        host_placeholder=HOST_PLACEHOLDER,
        readme=Markup(render_markdown(t.readme)),  # noqa: S704  (sanitized by nh3)
        versions=[_version_row(view, signed) for view in views],
        badges=badges(t.flags or {}),
        default_kube=kube_range(default_view.v) if default_view else "",
        default_rancher=rancher_range(default_view.v) if default_view else "",
        changes=[
            changes_between(view, views[i + 1] if i + 1 < len(views) else None)
            for i, view in enumerate(views)
        ],
        images=images,
        upgrades=[view.v for view in views if view.v.upgrade_from],
        question_version=default,
        question_groups=question_rows(questions or []),
        questions_source=source,
        values=values,
    )
    return body


def _version_row(view: VersionView, signed: set[str]) -> dict[str, Any]:
    """A row of the template page's versions table (``signed``: the signed versions)."""
    v = view.v
    return {
        "version": v.version,
        "dir": view.dir,
        "signed": v.version in signed,
        "folder": v.folder,
        "app_version": v.app_version,
        "upgrade_from": v.upgrade_from,
        "kube": kube_range(v),
        "rancher": rancher_range(v),
        "created": v.created.date().isoformat() if v.created else "",
    }


def template_data(session: Session, catalog: str, t, views: list[VersionView]) -> dict[str, Any]:
    """What the install form reads: every version with its questions, newest first."""
    api = f"/api/v1/templates/{url_segment(catalog)}/{url_segment(t.slug)}"
    versions = []
    for view in views:
        v = view.v
        questions, source = served_questions(session, v)
        entry = {"version": v.version, "folder": v.folder, "questions": questions}
        if t.kind == "helm":
            entry["questions_source"] = source
            entry["values"] = f"{api}/versions/{url_segment(v.version)}/values"
        versions.append(entry)
    helm = _helm_install(session, catalog, t, views)
    return {
        "catalog": catalog,
        "id": t.slug,
        "name": t.name,
        "kind": t.kind,
        "default_version": t.default_version,
        "api": api,
        "release": helm["release"] if helm else default_release(t.slug.rpartition("*")[2], {}),
        "namespace": helm["namespace"] if helm else None,
        "versions": versions,
    }
