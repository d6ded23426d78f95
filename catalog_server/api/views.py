"""Read endpoints of /api/v1. Views parse parameters, call queries, and shape JSON."""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import quote

from flask import Response, jsonify, request, url_for
from sqlalchemy import select, text

from catalog_server import queries, search
from catalog_server.api import api
from catalog_server.api.errors import BadParameter, error_response
from catalog_server.catalogs import scrub, shown_url
from catalog_server.chartvalues import (
    CHART_VALUE_FILES,
    VALUES_FILE,
    document_values,
    effective_questions,
)
from catalog_server.constraints import ConstraintError, parse_version
from catalog_server.db import db
from catalog_server.loaders.annotations import web_url
from catalog_server.loaders.helm import local_icon
from catalog_server.loaders.model import VERSION_TEXT_FIELDS, template_type
from catalog_server.manifests.schema_questions import SCHEMA_FILE
from catalog_server.models import Catalog, ProblemRow, Template, TemplateVersion
from catalog_server.problems import PROBLEM_FIELDS, SEVERITIES, TemplateNotFound
from catalog_server.render import served_questions
from catalog_server.utctime import iso_utc

KINDS = ("compose", "helm")
MAX_PER_PAGE = 100
MAX_TEXT_PARAM = 200

# Files from catalogs are untrusted: nothing served from them may run in a browser.
SANDBOX_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


# --- parameters ----------------------------------------------------------------------


def _text_arg(name: str, choices: tuple[str, ...] | None = None) -> str | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if len(value) > MAX_TEXT_PARAM or any(ord(c) < 32 for c in value):
        raise BadParameter(name, f"must be at most {MAX_TEXT_PARAM} printable characters")
    if choices and value not in choices:
        raise BadParameter(name, f"must be one of {', '.join(choices)}")
    return value


def _int_arg(name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, f"must be a whole number, not {raw[:40]!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise BadParameter(name, f"must be {bound}")
    return value


def _bool_arg(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise BadParameter(name, "must be true or false")


def _version_arg(name: str) -> str | None:
    value = _text_arg(name)
    if value is not None:
        try:
            parse_version(value)
        except ConstraintError:
            raise BadParameter(name, f"must be a version like 1.29.3, not {value[:40]!r}") from None
    return value


def paging() -> tuple[int, int]:
    """The request's `page` and `per_page` (BadParameter when out of range)."""
    return _int_arg("page", 1, 1, 1_000_000), _int_arg("per_page", 20, 1, MAX_PER_PAGE)


# --- shaping ---------------------------------------------------------------------------


def catalog_json(catalog: Catalog, templates: int, problems: int) -> dict[str, Any]:
    return {
        "name": catalog.name,
        # Shown to anyone: no user info, query or fragment, in the URL or in git's errors.
        "url": shown_url(catalog.url),
        "branch": catalog.branch,
        "subdir": catalog.subdir,
        "commit": catalog.commit,
        "indexed_at": iso_utc(catalog.indexed_at),
        "last_attempt_at": iso_utc(catalog.last_attempt_at),
        "last_error": scrub(catalog.last_error),
        "last_sync_status": catalog.last_sync_status,
        "sync_state": catalog.sync_state,
        "failures": catalog.failures,
        "refresh_interval": catalog.refresh_interval,
        "managed_by": catalog.managed_by,
        "templates": templates,
        "problems": problems,
        "links": {"self": url_for("api.get_catalog", catalog=catalog.name)},
    }


def template_links(catalog: str, t: Template) -> dict[str, str | None]:
    return {
        "self": url_for("api.get_template", catalog=catalog, template=t.slug),
        "icon": url_for("api.get_icon", catalog=catalog, template=t.slug)
        if t.icon_media_type
        else None,
        "readme": url_for("api.get_template_readme", catalog=catalog, template=t.slug),
    }


def template_summary(catalog: str, t: Template) -> dict[str, Any]:
    return {
        "catalog": catalog,
        "id": t.slug,
        "kind": t.kind,
        "type": template_type(t.kind, t.base),
        "name": t.name,
        "description": t.description,
        "categories": t.categories or [],
        "base": t.base,
        "folder": t.folder,
        "default_version": t.default_version,
        "latest_version": t.latest_version,
        "version_count": t.version_count,
        "hidden": bool(t.hidden),
        "flags": t.flags or {},
        "links": template_links(catalog, t),
    }


def version_text(v: TemplateVersion) -> dict[str, str | None]:
    """What a version says of itself as written (app version, upgrade range, Rancher and
    Kubernetes version ranges): `loaders.model.VERSION_TEXT_FIELDS`."""
    return {name: getattr(v, name) for name in VERSION_TEXT_FIELDS}


def version_link(catalog: str, slug: str, version: str) -> str:
    return url_for("api.get_version", catalog=catalog, template=slug, version=version)


def problem_json(p: ProblemRow, catalog: str) -> dict[str, Any]:
    return {"catalog": catalog} | {name: getattr(p, name) for name in PROBLEM_FIELDS}


# --- endpoints ---------------------------------------------------------------------------


@api.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@api.get("/readyz")
def readyz():
    try:
        indexed = db.session.scalar(
            text("SELECT count(*) FROM catalogs WHERE indexed_at IS NOT NULL")
        )
    except Exception as exc:  # the database is unreachable or not migrated
        db.session.rollback()
        return error_response(503, "not_ready", f"database not reachable: {type(exc).__name__}")
    if not indexed:
        return error_response(503, "not_ready", "no catalog has been indexed yet")
    return jsonify({"status": "ready", "catalogs_indexed": indexed})


@api.get("/catalogs")
def list_catalogs():
    previews = _bool_arg("include_previews")
    items = [catalog_json(*row) for row in queries.list_catalogs(db.session, previews)]
    return jsonify({"items": items, "total": len(items)})


@api.get("/catalogs/<catalog>")
def get_catalog(catalog: str):
    return jsonify(catalog_json(*queries.get_catalog(db.session, catalog)))


@api.get("/templates")
def list_templates():
    f = queries.TemplateFilter(
        q=_text_arg("q"),
        catalog=_text_arg("catalog"),
        kind=_text_arg("kind", KINDS),
        category=_text_arg("category"),
        include_hidden=_bool_arg("include_hidden"),
        kube_version=_version_arg("kube_version"),
        rancher_version=_version_arg("rancher_version"),
        include_previews=_bool_arg("include_previews"),
    )
    sort = _text_arg("sort", queries.SORTS)
    page, per_page = paging()
    result = queries.search_templates(db.session, f, page, per_page, sort)
    items = [template_summary(c, t) for t, c in result.items]
    if f.q:
        found = search.template_highlights(db.session, f.q, [t for t, _ in result.items])
        for item, (t, _) in zip(items, result.items, strict=True):
            item["highlights"] = found.get(t.id, [])
    return jsonify(
        {
            "items": items,
            "total": result.total,
            "page": page,
            "per_page": per_page,
            "facets": queries.template_facets(db.session, f),
        }
    )


@api.get("/templates/<catalog>/<template>")
def get_template(catalog: str, template: str):
    t = queries.get_template(db.session, catalog, template)
    found = queries.problems(db.session, catalog=catalog, template=template, per_page=1000)
    body = template_summary(catalog, t)
    body.update(
        {
            "maintainer": t.maintainer,
            "license": t.license,
            "project_url": t.project_url,
            "labels": t.labels or {},
            "versions": [
                {
                    "version": v.version,
                    "folder": v.folder,
                    "revision": v.revision,
                    **version_text(v),
                    "created": iso_utc(v.created),
                    "links": {"self": version_link(catalog, template, v.version)},
                }
                for v in t.versions
            ],
            "problems": [problem_json(p, catalog) for p, _ in found.items],
        }
    )
    return jsonify(body)


@api.get("/templates/<catalog>/<template>/versions/<version>")
def get_version(catalog: str, template: str, version: str):
    v: TemplateVersion = queries.get_version(db.session, catalog, template, version)
    questions, questions_source = served_questions(db.session, v)
    found = queries.problems(
        db.session, catalog=catalog, template=template, version=v.version, per_page=1000
    )
    files_url = url_for("api.get_version", catalog=catalog, template=template, version=v.version)
    meta = v.meta or {}
    return jsonify(
        {
            "catalog": catalog,
            "template": template,
            "type": template_type(v.template.kind, v.template.base),
            "version": v.version,
            "folder": v.folder,
            "revision": v.revision,
            "name": v.name,
            "description": v.description,
            **version_text(v),
            "created": iso_utc(v.created),
            "questions": questions,
            "questions_source": questions_source,
            "chart": meta.get("chart"),
            "icon_url": _icon_url(catalog, template, meta.get("chart")),
            "rancher": meta.get("rancher") or {},
            "artifacthub": meta.get("artifacthub") or {},
            "changes": (meta.get("artifacthub") or {}).get("changes") or [],
            "changelog": meta.get("changelog"),
            **_images_json(v.images),
            "files": [
                {
                    "path": f.path,
                    "size": f.size,
                    "sha256": f.sha256,
                    "url": f"{files_url}/files/{quote(f.path)}",
                }
                for f in v.files
            ],
            "links": {
                "self": files_url,
                "template": url_for("api.get_template", catalog=catalog, template=template),
                "readme": url_for(
                    "api.get_version_readme", catalog=catalog, template=template, version=v.version
                )
                if v.readme
                else None,
                "values": f"{files_url}/values" if v.template.kind == "helm" else None,
            },
            "problems": [problem_json(p, catalog) for p, _ in found.items],
        }
    )


@api.get("/templates/<catalog>/<template>/versions/<version>/values")
def get_values(catalog: str, template: str, version: str):
    """A chart version's values document: values.yaml's text to edit, and its keys with
    their types, defaults and comments."""
    v: TemplateVersion = queries.get_version(db.session, catalog, template, version)
    if v.template.kind != "helm":
        raise TemplateNotFound(f"{template!r} is a compose template: it has no values document")
    contents = queries.version_contents(db.session, v, CHART_VALUE_FILES)
    data = contents.get(VALUES_FILE)
    doc = document_values(data)
    _, source = served_questions(db.session, v)
    left = effective_questions(contents, []).left_to_values if source == SCHEMA_FILE else []
    return jsonify(
        {
            "catalog": catalog,
            "template": template,
            "version": v.version,
            "file": VALUES_FILE if data is not None else None,
            "text": data.decode("utf-8", "replace").lstrip("\ufeff") if data else "",
            "schema": SCHEMA_FILE in contents,
            "questions_source": source,
            "keys": [key.as_dict() for key in doc.keys],
            "total_keys": doc.total,
            "left_to_values": left,
        }
    )


def _icon_url(catalog: str, template: str, chart: Any) -> str | None:
    """Where the version's icon is: its http(s) URL, or for an icon named by a catalog
    path (rancher/charts' file://assets/...) the template's icon on this server."""
    icon = chart.get("icon") if isinstance(chart, dict) else None
    if web_url(icon):
        return web_url(icon)
    if not local_icon(icon):
        return None
    has_icon = db.session.scalar(
        select(Template.icon_media_type)
        .join(Catalog, Template.catalog_id == Catalog.id)
        .where(Catalog.name == catalog, Template.slug == template)
    )
    return url_for("api.get_icon", catalog=catalog, template=template) if has_icon else None


def _images_json(images: dict | None) -> dict:
    """A version's images for the API: the list, where it came from, and why (values)."""
    images = images or {}
    return {
        "images": list(images.get("images") or []),
        "images_source": images.get("source"),
        "images_note": images.get("note"),
    }


def _media_type(path: str, data: bytes) -> str:
    lower = path.lower()
    if lower.endswith((".yml", ".yaml")):
        return "application/yaml; charset=utf-8"
    if lower.endswith(".md"):
        return "text/markdown; charset=utf-8"
    if lower.endswith(".json"):
        return "application/json"
    guessed, _ = mimetypes.guess_type(lower)
    if guessed in ("image/svg+xml", "image/png", "image/jpeg", "image/gif", "application/gzip"):
        return guessed
    if lower.endswith(".tgz"):
        return "application/gzip"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    # HTML, JS and anything else textual is shown as text, never run.
    return "text/plain; charset=utf-8"


def sandboxed(data: bytes, media_type: str) -> Response:
    response = Response(data, mimetype=None, content_type=media_type)
    response.headers["Content-Security-Policy"] = SANDBOX_CSP
    return response


@api.get("/templates/<catalog>/<template>/versions/<version>/files/<path:path>")
def get_file(catalog: str, template: str, version: str, path: str):
    v = queries.get_version(db.session, catalog, template, version)
    f = queries.version_file(db.session, v, path)
    return sandboxed(f.content, _media_type(f.path, f.content))


@api.get("/templates/<catalog>/<template>/icon")
def get_icon(catalog: str, template: str):
    data, media_type = queries.template_icon(db.session, catalog, template)
    return sandboxed(data, media_type)


@api.get("/templates/<catalog>/<template>/readme")
def get_template_readme(catalog: str, template: str):
    t = queries.get_template(db.session, catalog, template, with_versions=False)
    if not t.readme:
        raise TemplateNotFound(f"template {template!r} has no README")
    return sandboxed(t.readme.encode(), "text/markdown; charset=utf-8")


@api.get("/templates/<catalog>/<template>/versions/<version>/readme")
def get_version_readme(catalog: str, template: str, version: str):
    v = queries.get_version(db.session, catalog, template, version)
    if not v.readme:
        raise TemplateNotFound(f"version {version!r} of {template!r} has no README")
    return sandboxed(v.readme.encode(), "text/markdown; charset=utf-8")


@api.get("/categories")
def list_categories():
    rows = queries.categories(db.session, _text_arg("catalog"), _bool_arg("include_previews"))
    items = [{"name": name, "templates": count} for name, count in rows]
    return jsonify({"items": items, "total": len(items)})


@api.get("/problems")
def list_problems():
    page, per_page = paging()
    result = queries.problems(
        db.session,
        catalog=_text_arg("catalog"),
        template=_text_arg("template"),
        severity=_text_arg("severity", SEVERITIES),
        page=page,
        per_page=per_page,
        include_previews=_bool_arg("include_previews"),
    )
    return jsonify(
        {
            "items": [problem_json(p, c) for p, c in result.items],
            "total": result.total,
            "page": page,
            "per_page": per_page,
        }
    )


@api.get("/openapi.json")
def openapi():
    from catalog_server.openapi import openapi_document

    return jsonify(openapi_document())
