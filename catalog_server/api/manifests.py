"""Install manifests, upgrade paths and diffs of template versions, under /api/v1.

Routes on the shared ``api`` blueprint; the rendering itself is :func:`render_version`,
which the ``catalog-server render`` command uses too.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from catalog_server import queries
from catalog_server.api import api
from catalog_server.api.errors import ApiError, BadParameter, json_body
from catalog_server.db import db
from catalog_server.manifests.model import TARGETS, Manifest, ManifestError, dump_yaml
from catalog_server.manifests.upgrades import VersionInfo, files_diff, upgrade_targets
from catalog_server.render import manifest_archive, render_version, version_files

FORMATS = ("json", "yaml", "tar")
BODY_KEYS = frozenset({"answers", "values", "release", "namespace", "format", "target"})
MAX_ANSWERS = 1000


def _body() -> dict[str, Any]:
    """The request body, checked for shape. Raises ApiError 400 ``bad_request``."""
    body = json_body() if request.data else {}
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    unknown = sorted(set(body) - BODY_KEYS)
    if unknown:
        raise ApiError(
            400, "bad_request", f"unknown keys {unknown}; allowed: {sorted(BODY_KEYS)}",
            {"unknown": unknown},
        )  # fmt: skip
    answers = body.get("answers", {})
    if answers is None:
        answers = {}
    if not isinstance(answers, dict) or len(answers) > MAX_ANSWERS:
        raise BadParameter("answers", f"must be an object of at most {MAX_ANSWERS} answers")
    values = body.get("values")
    if values is not None and not isinstance(values, str | dict):
        raise BadParameter("values", "must be a YAML or JSON document (a string) or an object")
    for name in ("release", "namespace"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise BadParameter(name, "must be a string")
    fmt = body.get("format") or "json"
    if fmt not in FORMATS:
        raise BadParameter("format", f"must be one of {', '.join(FORMATS)}")
    target = body.get("target")
    if target is not None and target not in TARGETS:
        raise BadParameter("target", f"must be one of {', '.join(TARGETS)}")
    return {
        "answers": answers,
        "values": values,
        "release": body.get("release") or None,
        "namespace": body.get("namespace") or None,
        "format": fmt,
        "target": target,
    }


def _manifest_response(manifest: Manifest, fmt: str, filename: str) -> Response:
    if fmt == "tar":
        response = Response(manifest_archive(manifest), content_type="application/gzip")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}.tar.gz"'
        return response
    if fmt == "yaml":
        text = dump_yaml(
            {
                "files": {f.path: f.content for f in manifest.files},
                "commands": manifest.commands,
                "warnings": manifest.warnings,
                "notes": manifest.notes,
            }
        )
        return Response(text, content_type="application/yaml; charset=utf-8")
    return jsonify(
        {
            "files": [{"path": f.path, "content": f.content} for f in manifest.files],
            "commands": manifest.commands,
            "warnings": manifest.warnings,
            "notes": manifest.notes,
        }
    )


@api.post("/templates/<catalog>/<template>/versions/<version>/manifest")
def render_manifest(catalog: str, template: str, version: str):
    body = _body()
    try:
        manifest = render_version(
            db.session, catalog, template, version, body["answers"],
            release=body["release"], namespace=body["namespace"], target=body["target"],
            server_url=request.host_url, values=body["values"],
        )  # fmt: skip
    except ManifestError as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.details) from None
    except ValueError as exc:  # a bad release or namespace name, a target for a chart
        name = next((n for n in ("namespace", "target") if str(exc).startswith(n)), "release")
        raise BadParameter(name, str(exc)) from None
    slug = template.rpartition("*")[2]
    return _manifest_response(manifest, body["format"], f"{slug}-{version}")


def _info(v) -> VersionInfo:
    return VersionInfo(
        version=v.version,
        position=v.position,
        upgrade_from=v.upgrade_from,
        minimum_rancher_version=v.minimum_rancher_version,
        maximum_rancher_version=v.maximum_rancher_version,
    )


@api.get("/templates/<catalog>/<template>/versions/<version>/upgrades")
def list_upgrades(catalog: str, template: str, version: str):
    t = queries.get_template(db.session, catalog, template)
    current = queries.get_version(db.session, catalog, template, version)
    rancher = request.args.get("rancher_version") or None
    try:
        targets, warnings = upgrade_targets(_info(current), [_info(v) for v in t.versions], rancher)
    except ValueError as exc:
        raise BadParameter("rancher_version", str(exc)) from None
    by_version = {v.version: v for v in t.versions}
    items = []
    for target in targets:
        v = by_version[target.version]
        link = dict(catalog=catalog, template=template)
        items.append(
            {
                "version": v.version,
                "folder": v.folder,
                "app_version": v.app_version,
                "upgrade_from": v.upgrade_from,
                "minimum_rancher_version": v.minimum_rancher_version,
                "maximum_rancher_version": v.maximum_rancher_version,
                "links": {
                    "self": url_for("api.get_version", version=v.version, **link),
                    "diff": url_for(
                        "api.version_diff", version=current.version, other=v.version, **link
                    ),
                },
            }
        )
    return jsonify(
        {"version": current.version, "items": items, "total": len(items), "warnings": warnings}
    )


@api.get("/templates/<catalog>/<template>/versions/<version>/diff/<other>")
def version_diff(catalog: str, template: str, version: str, other: str):
    old = queries.get_version(db.session, catalog, template, version)
    new = queries.get_version(db.session, catalog, template, other)
    old_label, new_label = old.version, new.version
    if old_label == new_label:
        old_label, new_label = "a", "b"
    text = files_diff(
        old_label, version_files(db.session, old), new_label, version_files(db.session, new)
    )
    response = Response(text, content_type="text/x-diff; charset=utf-8")
    created = new.created
    if created:
        response.last_modified = created
    return response
