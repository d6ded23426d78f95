"""Preview endpoints, and GitHub's ``pull_request`` webhook (see :mod:`catalog_server.previews`).

``POST`` and ``DELETE`` need an admin token and are audited; reading previews and their
reports is public, as every read of the index is (a pull request's CI, which holds no
secret for a fork's pull request, can fetch the report to comment with). Who asked for a
preview (``requested_by``: an admin token's name, or ``github``) is shown only to a caller
with an admin token. The sync process indexes a preview; these endpoints only queue that.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, g, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.http import parse_accept_header

from catalog_server import previews
from catalog_server.api import api
from catalog_server.api.admin import GITHUB_EVENTS, admin_caller, audit_request, require_admin
from catalog_server.api.errors import ApiError, json_body
from catalog_server.catalogs import scrub
from catalog_server.db import db
from catalog_server.models import Catalog, Preview
from catalog_server.previewreport import preview_page_path, report_markdown
from catalog_server.previewreport import preview_report as build_report
from catalog_server.responsecache import answer_from_cache, api_etag, served_state
from catalog_server.utctime import iso_utc

PULL_ACTIONS_REFRESH = ("opened", "synchronize", "reopened")
_PULL_REF = re.compile(r"^refs/pull/([0-9]{1,9})/(?:head|merge)$")


def _settings():
    return current_app.extensions["catalog_settings"]


def _state(catalog: Catalog) -> str:
    """queued, syncing, ready or failed."""
    if catalog.sync_state in ("queued", "syncing"):
        return catalog.sync_state
    if catalog.last_error and catalog.sync_state == "failed":
        return "failed"
    return "ready" if catalog.indexed_at is not None else "queued"


def preview_json(
    base: Catalog, preview: Preview, catalog: Catalog, *, admin: bool
) -> dict[str, Any]:
    """A preview as the API shows it; ``requested_by`` only to an ``admin``."""
    shown = {
        "id": preview.name,
        "catalog": base.name,
        "name": catalog.name,
        "ref": preview.ref,
        "pull_request": preview.pull_request,
        "head_sha": preview.head_sha,
        "fork": bool(preview.fork),
        "state": _state(catalog),
        "commit": catalog.commit,
        "indexed_at": iso_utc(catalog.indexed_at),
        "last_error": scrub(catalog.last_error),
        "created_at": iso_utc(preview.created_at),
        "updated_at": iso_utc(preview.updated_at),
        "expires_at": iso_utc(preview.expires_at),
        "links": {
            "self": url_for("api.get_preview", catalog=base.name, preview=preview.name),
            "report": url_for("api.preview_report", catalog=base.name, preview=preview.name),
            "catalog": url_for("api.get_catalog", catalog=catalog.name),
            "page": "/" + preview_page_path(catalog.name),
            "helm": f"/helm/{catalog.name}/index.yaml",
        },
    }
    if admin:
        shown["requested_by"] = preview.requested_by
    return shown


def _admin_read() -> bool:
    """Whether a read carries a live admin token (raises ApiError 401 for one that is not
    valid). Such a read is answered in full, and kept by no cache: the API's own skips it
    (`api.CALLER_ENDPOINTS`), and ``no-store`` tells the others."""
    if admin_caller(required=False) is None:
        return False
    db.session.commit()  # the token's last_used_at
    return True


def _read_answer(body: dict[str, Any], admin: bool) -> Response:
    response = jsonify(body)
    if admin:
        response.headers["Cache-Control"] = "no-store"
    return response


def _base(name: str) -> Catalog:
    row = None
    if not previews.is_preview(name):
        row = db.session.scalar(select(Catalog).where(Catalog.name == name))
    if row is None:
        raise ApiError(404, "not_found", f"catalog {name!r} not found")
    return row


def _found(base: Catalog, preview_id: str) -> tuple[Preview, Catalog]:
    found = previews.find(db.session, base, preview_id)
    if found is None:
        raise ApiError(404, "not_found", f"preview {preview_id!r} of {base.name!r} not found")
    return found


def default_id(ref: str) -> str:
    """The id a preview of ``ref`` gets when none is given: ``pr-42`` for a pull request's
    ref, else the branch name made an id (``feature/New-UI`` -> ``feature-new-ui``)."""
    pull = _PULL_REF.match(ref)
    if pull:
        return f"pr-{int(pull.group(1))}"
    text = re.sub(r"[^a-z0-9]+", "-", ref.removeprefix("refs/heads/").lower()).strip("-")
    return text[:36].strip("-")


@api.get("/catalogs/<catalog>/previews")
def list_previews(catalog: str):
    admin = _admin_read()
    base = _base(catalog)
    found = previews.previews_of(db.session, base)
    items = [preview_json(base, p, c, admin=admin) for p, c in found]
    return _read_answer({"items": items, "total": len(items)}, admin)


@api.post("/catalogs/<catalog>/previews")
@require_admin
def create_preview(catalog: str):
    base = _base(catalog)
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object: {ref, id}")
    unknown = set(body) - {"ref", "id"}
    if unknown:
        raise ApiError(
            400, "bad_request", f"unknown fields: {', '.join(sorted(unknown))}",
            {"allowed": ["id", "ref"]},
        )  # fmt: skip
    ref = body.get("ref")
    errors: dict[str, list[str]] = {}
    try:
        previews.check_ref(ref)
    except previews.PreviewError as exc:
        errors["ref"] = [str(exc)]
    preview_id = body.get("id")
    if preview_id is None and not errors:
        preview_id = default_id(ref)
    try:
        previews.check_id(preview_id)
    except previews.PreviewError as exc:
        errors["id"] = [str(exc)]
    if errors:
        raise ApiError(422, "invalid_preview", "the preview is not valid", errors)
    pull = _PULL_REF.match(ref)
    result = _upsert(base, preview_id, ref, pull_request=int(pull.group(1)) if pull else None)
    preview, row, created, removed = result
    audit_request(
        "preview.create" if created else "preview.refresh",
        row.name,
        {"ref": ref, "replaced": removed} if removed else {"ref": ref},
    )
    db.session.commit()
    response = jsonify(preview_json(base, preview, row, admin=True))
    response.status_code = 201 if created else 200
    return response


def _upsert(base: Catalog, preview_id: str, ref: str, **kw):
    settings = _settings()
    previews.remove_expired(db.session, base)
    try:
        preview, created, removed = previews.upsert(
            db.session,
            base,
            preview_id,
            ref,
            ttl=settings.preview_ttl,
            maximum=settings.preview_max,
            requested_by=g.get("token_name") or "github",
            **kw,
        )
    except previews.PreviewError as exc:
        raise ApiError(
            409 if exc.field == "catalog" else 422,
            "invalid_preview",
            str(exc),
            {exc.field: [str(exc)]},
        ) from None
    except IntegrityError:  # the same preview made at once by another request
        db.session.rollback()
        raise ApiError(409, "conflict", "the preview is being changed; try again") from None
    row = db.session.get(Catalog, preview.catalog_id)
    return preview, row, created, removed


@api.get("/catalogs/<catalog>/previews/<preview>")
def get_preview(catalog: str, preview: str):
    admin = _admin_read()
    base = _base(catalog)
    found, row = _found(base, preview)
    return _read_answer(preview_json(base, found, row, admin=admin), admin)


@api.delete("/catalogs/<catalog>/previews/<preview>")
@require_admin
def delete_preview(catalog: str, preview: str):
    base = _base(catalog)
    found = previews.find(db.session, base, preview)
    if found is None:
        raise ApiError(404, "not_found", f"preview {preview!r} of {catalog!r} not found")
    name = found[1].name
    previews.remove(db.session, *found)
    audit_request("preview.delete", name)
    db.session.commit()
    return "", 204


def _wants_markdown() -> bool:
    fmt = request.args.get("format")
    if fmt is not None:
        if fmt not in ("json", "markdown"):
            raise ApiError(
                400, "bad_parameter", "format: must be json or markdown", {"parameter": "format"}
            )
        return fmt == "markdown"
    accept = parse_accept_header(request.headers.get("Accept"))
    return accept["text/markdown"] > accept["application/json"]


@api.get("/catalogs/<catalog>/previews/<preview>/report")
def preview_report(catalog: str, preview: str):
    markdown = _wants_markdown()
    # Kept (and answered 304) like any read, under a key of the served state, the URL, the
    # form and, for Markdown's absolute links, the host.
    form = f"markdown {request.host_url}" if markdown else "json"
    kept = answer_from_cache(api_etag(served_state().token(), f"{request.full_path} {form}"))
    if kept is not None:
        return kept
    base = _base(catalog)
    found, row = _found(base, preview)
    report = build_report(db.session, found, row, base)
    db.session.commit()
    if markdown:
        text = report_markdown(report, request.host_url)
        return Response(text, content_type="text/markdown; charset=utf-8")
    return jsonify(report)


@api.after_app_request
def _vary_by_accept(response):
    # After the blueprint's own after_request (which keeps answers and sends their kept form).
    if request.endpoint == "api.preview_report" and response.status_code in (200, 304):
        response.vary.add("Accept")
    return response


# --- GitHub pull_request webhook -----------------------------------------------------------


def _full_name(side: Any) -> str | None:
    repo = side.get("repo") if isinstance(side, dict) else None
    name = repo.get("full_name") if isinstance(repo, dict) else None
    return name if isinstance(name, str) else None


def pull_request_event(verified: list[Catalog], payload: dict[str, Any]) -> Response:
    """A signed GitHub ``pull_request`` event, for the catalogs of its repository whose
    secret verified it: opened, synchronize and reopened create or refresh preview
    ``pr-<number>`` of each catalog whose branch the pull request targets; closed removes
    it. A pull request from a fork is previewed only by catalogs with ``preview_forks``.
    The caller has checked the signature and that the body is no replay. Its work and the
    record of the delivery are committed together at the end, or not at all: a delivery
    that fails is redelivered and accepted."""
    action = payload.get("action")
    number = payload.get("number")
    pull = payload.get("pull_request")
    if not isinstance(pull, dict) or not isinstance(number, int) or isinstance(number, bool):
        raise ApiError(400, "bad_request", "a pull_request event needs number and pull_request")
    if not 0 < number < 10**9:
        raise ApiError(400, "bad_request", "the pull request number is out of range")
    base_side = pull.get("base") if isinstance(pull.get("base"), dict) else {}
    head_side = pull.get("head") if isinstance(pull.get("head"), dict) else {}
    target = base_side.get("ref") if isinstance(base_side.get("ref"), str) else ""
    head_sha = head_side.get("sha") if isinstance(head_side.get("sha"), str) else None
    head_name, base_full = _full_name(head_side), _full_name(base_side)
    fork = head_name is None or base_full is None or head_name.lower() != base_full.lower()
    repository = payload.get("repository") if isinstance(payload.get("repository"), dict) else {}
    default_branch = repository.get("default_branch")
    preview_id, ref = f"pr-{number}", f"refs/pull/{number}/head"
    done: dict[str, list[str]] = {"previewed": [], "removed": [], "refused": [], "ignored": []}
    for base in verified:
        if previews.is_preview(base.name):
            continue
        if target != (base.branch or default_branch):
            done["ignored"].append(base.name)
            continue
        name = previews.preview_name(base.name, preview_id)
        if action == "closed":
            found = previews.find(db.session, base, preview_id)
            if found is not None:
                previews.remove(db.session, *found)
                audit_request("webhook.preview.delete", name, {"pull_request": number})
                done["removed"].append(name)
            continue
        if action not in PULL_ACTIONS_REFRESH:
            done["ignored"].append(base.name)
            continue
        if fork and not base.preview_forks:
            audit_request("webhook.preview.refused", name, {"pull_request": number, "fork": True})
            done["refused"].append(base.name)
            continue
        g.token_name = None
        _, row, created, removed = _upsert(
            base, preview_id, ref, pull_request=number, head_sha=head_sha, fork=fork
        )
        details = {"pull_request": number, "action": action, "fork": fork}
        if removed:
            details["replaced"] = removed
        audit_request(
            "webhook.preview.create" if created else "webhook.preview.refresh", name, details
        )
        done["previewed"].append(name)
    db.session.commit()
    response = jsonify(done)
    response.status_code = 202
    return response


GITHUB_EVENTS["pull_request"] = pull_request_event
