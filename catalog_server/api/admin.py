"""Admin endpoints (bearer token) and webhooks (HMAC signature).

Every admin action is written to the audit log in the same transaction as the change.
Without a live token: 401 and nothing changes. Refreshes are queued for the sync
process; web workers never run git. A catalog given here obeys the API's rules
(`catalogs.ApiRestrictions`): secrets only from the configured prefix and folder, hosts
only public ones. A signed webhook body is accepted once: the same body again is a
replay (409). Every answer here carries ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, g, jsonify, request
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from catalog_server import egress, queries
from catalog_server.api import api
from catalog_server.api.errors import ApiError, json_body
from catalog_server.api.views import catalog_json
from catalog_server.auth import audit, authenticate
from catalog_server.catalogs import (
    SOURCE_FIELDS,
    ApiRestrictions,
    check_branch,
    check_git_url,
    check_name,
    check_refresh_interval,
    check_subdir,
    credentials_transport_error,
    strip_credentials,
)
from catalog_server.credentials import check_credentials_ref, check_secret_ref, resolve_secret
from catalog_server.db import db
from catalog_server.models import AuditEntry, Catalog, WebhookDelivery
from catalog_server.problems import SourceError
from catalog_server.utctime import iso_utc

# Endpoints whose answers no cache may keep: tokens, the audit log, catalog settings.
PRIVATE_ENDPOINTS = frozenset(
    f"api.{name}"
    for name in (
        "create_catalog", "update_catalog", "delete_catalog", "refresh_catalog",
        "list_audit", "github_hook", "catalog_hook", "create_preview", "delete_preview",
    )
)  # fmt: skip
# Handlers of other GitHub events (X-GitHub-Event), added by the route modules that serve
# them (`api.previews`: pull_request): called with the catalogs whose secret verified the
# signature and the payload, once the body is known to be no replay.
GITHUB_EVENTS: dict[str, Callable[[list[Catalog], dict[str, Any]], Response]] = {}
# How long an accepted webhook body is remembered (a replay after that queues a refresh).
REPLAY_WINDOW = timedelta(days=30)


@api.after_request
def _no_store(response):
    if request.endpoint in PRIVATE_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response


def _unauthorized(message: str) -> ApiError:
    error = ApiError(401, "unauthorized", message)
    error.headers = {"WWW-Authenticate": 'Bearer realm="catalog-server"'}
    return error


def admin_caller(*, required: bool = True) -> str | None:
    """The name of the live admin token the request carries (remembered as ``g.token_name``;
    its ``last_used_at`` set, for the caller to commit), or None when it carries no bearer
    token and none is ``required``. Raises ApiError 401 when a token is required and
    missing, or given and not valid (unknown or revoked)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        if not required:
            return None
        raise _unauthorized("an admin token is required: Authorization: Bearer <token>")
    row = authenticate(db.session, token.strip())
    if row is None:
        raise _unauthorized("the token is not valid (unknown or revoked)")
    row.last_used_at = datetime.now(UTC)
    g.token_name = row.name
    return row.name


def require_admin(view):
    """Let the request through only with a live admin token; remember who it is."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        admin_caller()
        return view(*args, **kwargs)

    return wrapper


def audit_request(action: str, target: str | None, details: dict[str, Any] | None = None) -> None:
    """Audit this request: by its admin token's name, or none (a webhook)."""
    audit(
        db.session,
        token_name=g.get("token_name"),
        action=action,
        target=target,
        client_address=request.remote_addr,
        details=details,
    )


def _body() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    unknown = set(body) - SOURCE_FIELDS
    if unknown:
        raise ApiError(
            400,
            "bad_request",
            f"unknown fields: {', '.join(sorted(unknown))}",
            {"allowed": sorted(SOURCE_FIELDS)},
        )
    return body


def _restrictions() -> ApiRestrictions:
    return ApiRestrictions.from_settings(current_app.extensions["catalog_settings"])


def _catalog_settings(body: dict[str, Any], current: Catalog | None) -> dict[str, Any]:
    """Checked settings from a POST or PATCH body; raises ApiError(422) naming the field."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    restrictions = _restrictions()

    def bad(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if "url" in body or current is None:
        url = body.get("url")
        if not isinstance(url, str):
            bad("url", "a git URL is required")
        else:
            allow_local = current_app.extensions["catalog_settings"].allow_local_urls
            try:
                check_git_url(url, allow_local=allow_local, from_api=True)
                # A name that does not resolve now is checked again before each fetch.
                egress.check_destination(
                    url, allow_private=restrictions.allow_private, must_resolve=False
                )
            except SourceError as exc:
                bad("url", str(exc))
            else:
                out["url"] = url
    if "branch" in body:
        branch = body["branch"]
        if branch is not None:
            try:
                check_branch(branch)
            except SourceError as exc:
                bad("branch", str(exc))
        out["branch"] = branch
    if "subdir" in body:
        try:
            out["subdir"] = check_subdir(body["subdir"]) or None
        except ValueError as exc:
            bad("subdir", str(exc))
    if "refresh_interval" in body:
        try:
            out["refresh_interval"] = check_refresh_interval(body["refresh_interval"])
        except ValueError as exc:
            bad("refresh_interval", str(exc))
    if "credentials" in body:
        try:
            out["credentials"] = check_credentials_ref(body["credentials"], restrictions.secrets)
        except ValueError as exc:
            bad("credentials", str(exc))
    if "webhook_secret" in body:
        try:
            out["webhook_secret"] = check_secret_ref(
                body["webhook_secret"], "webhook_secret", restrictions.secrets
            )
        except ValueError as exc:
            bad("webhook_secret", str(exc))
    if "preview_forks" in body:
        if not isinstance(body["preview_forks"], bool):
            bad("preview_forks", "must be true or false")
        out["preview_forks"] = body["preview_forks"]
    url = out.get("url", current.url if current is not None else None)
    credentials = out.get("credentials", current.credentials if current is not None else None)
    transport = credentials_transport_error(url, credentials) if url else None
    if transport and "url" not in errors and "credentials" not in errors:
        bad("credentials", transport)
    if errors:
        raise ApiError(422, "invalid_catalog", "the catalog settings are not valid", errors)
    return out


@api.post("/catalogs")
@require_admin
def create_catalog():
    body = _body()
    name = body.get("name")
    try:
        check_name(name)
    except ValueError as exc:
        raise ApiError(
            422, "invalid_catalog", "the catalog settings are not valid", {"name": [str(exc)]}
        ) from None
    if db.session.scalar(select(Catalog.id).where(Catalog.name == name)) is not None:
        raise ApiError(409, "conflict", f"a catalog named {name!r} exists already")
    settings = _catalog_settings(body, None)
    catalog = Catalog(
        name=name, managed_by="api", generation=0, sync_state="idle", failures=0, **settings
    )
    catalog.request_refresh()
    db.session.add(catalog)
    audit_request("catalog.create", name, {"url": settings["url"]})
    db.session.commit()
    response = jsonify(catalog_json(*queries.get_catalog(db.session, name)))
    response.status_code = 201
    return response


def _api_managed(name: str) -> Catalog:
    catalog = db.session.scalar(select(Catalog).where(Catalog.name == name))
    if catalog is None:
        raise ApiError(404, "not_found", f"catalog {name!r} not found")
    if catalog.managed_by == "preview":
        raise ApiError(
            409, "conflict", f"catalog {name!r} is a preview; see /catalogs/<catalog>/previews"
        )
    if catalog.managed_by != "api":
        raise ApiError(
            409,
            "conflict",
            f"catalog {name!r} is defined in the catalogs file; change it there",
        )
    return catalog


@api.patch("/catalogs/<catalog>")
@require_admin
def update_catalog(catalog: str):
    row = _api_managed(catalog)
    body = _body()
    if "name" in body and body["name"] != catalog:
        raise ApiError(422, "invalid_catalog", "a catalog cannot be renamed", {"name": ["fixed"]})
    settings = _catalog_settings(body, row)
    for key, value in settings.items():
        setattr(row, key, value)
    if {"url", "branch", "subdir"} & set(settings):
        row.request_refresh()
    audit_request("catalog.update", catalog, {"fields": sorted(settings)})
    db.session.commit()
    return jsonify(catalog_json(*queries.get_catalog(db.session, catalog)))


@api.delete("/catalogs/<catalog>")
@require_admin
def delete_catalog(catalog: str):
    row = _api_managed(catalog)
    from catalog_server import previews

    for preview, preview_catalog in previews.previews_of(db.session, row):
        previews.remove(db.session, preview, preview_catalog)  # its previews go with it
    db.session.delete(row)
    audit_request("catalog.delete", catalog)
    db.session.commit()
    return "", 204


@api.post("/catalogs/<catalog>/refresh")
@require_admin
def refresh_catalog(catalog: str):
    row = db.session.scalar(select(Catalog).where(Catalog.name == catalog))
    if row is None:
        raise ApiError(404, "not_found", f"catalog {catalog!r} not found")
    row.request_refresh()
    audit_request("catalog.refresh", catalog)
    db.session.commit()
    response = jsonify({"catalog": catalog, "sync_state": row.sync_state})
    response.status_code = 202
    return response


@api.get("/audit")
@require_admin
def list_audit():
    from catalog_server.api.views import paging

    page, per_page = paging()
    total = db.session.scalar(select(func.count(AuditEntry.id)))
    rows = db.session.scalars(
        select(AuditEntry)
        .order_by(AuditEntry.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    db.session.commit()  # the token's last_used_at
    return jsonify(
        {
            "items": [
                {
                    "at": iso_utc(row.at),
                    "token": row.token_name,
                    "action": row.action,
                    "target": row.target,
                    "client_address": row.client_address,
                    "details": row.details,
                }
                for row in rows
            ],
            "total": total,
            "page": page,
            "per_page": per_page,
        }
    )


# --- webhooks ----------------------------------------------------------------------------


def _signature_ok(secret: str | None, body: bytes, header: str | None) -> bool:
    if not secret or not header or not header.isascii() or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def _webhook_secret(catalog: Catalog) -> str | None:
    """The catalog's webhook secret, or None when it has none or it cannot be read (a
    missing file, a reference the API's rules no longer allow): no signature matches."""
    rules = _restrictions().secrets if catalog.managed_by == "api" else None
    try:
        return resolve_secret(catalog.webhook_secret, rules=rules)
    except SourceError as exc:
        current_app.logger.warning("webhook of catalog %s: %s", catalog.name, exc)
        return None


def _repo_key(url: str) -> str | None:
    """host/path of a git URL, lower-cased, without `.git`: what a push event names.
    None for a URL that cannot be read."""
    url = strip_credentials(url.strip())
    if "://" not in url and "@" in url and ":" in url:  # scp-like git@host:path
        host, _, path = url.partition("@")[2].partition(":")
    else:
        try:
            parts = urlsplit(url)
            host, path = parts.hostname or "", parts.path
        except ValueError:
            return None
    return f"{host}/{path.strip('/').removesuffix('.git')}".lower()


def _first_delivery(hook: str, body: bytes) -> None:
    """Remember an accepted signed body; raise ApiError 409 ``replayed`` when it was
    accepted before (within REPLAY_WINDOW)."""
    now = datetime.now(UTC)
    digest = hashlib.sha256(hook.encode() + b"\0" + body).hexdigest()
    db.session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.received_at < now - REPLAY_WINDOW)
    )
    db.session.add(WebhookDelivery(digest=digest, hook=hook, received_at=now))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ApiError(
            409, "replayed", "this signed body was delivered before; a webhook is accepted once"
        ) from None


def _queue(catalog: Catalog, via: str) -> None:
    catalog.request_refresh()
    audit(
        db.session,
        token_name=None,
        action=f"webhook.{via}",
        target=catalog.name,
        client_address=request.remote_addr,
    )


def _text_field(mapping: dict[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


@api.post("/hooks/github")
def github_hook():
    body = request.get_data()
    signature = request.headers.get("X-Hub-Signature-256")
    event = request.headers.get("X-GitHub-Event", "push")
    payload = json_body()
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON push event")
    repository = payload.get("repository")
    if repository is None:
        repository = {}
    if not isinstance(repository, dict):
        raise ApiError(400, "bad_request", "the push event's repository must be an object")
    names = {
        _repo_key(u)
        for u in (
            _text_field(repository, k) for k in ("clone_url", "ssh_url", "git_url", "html_url")
        )
        if u
    } - {None}
    ref = _text_field(payload, "ref")
    default_branch = _text_field(repository, "default_branch")
    candidates = [c for c in db.session.scalars(select(Catalog)).all() if _repo_key(c.url) in names]
    verified = [c for c in candidates if _signature_ok(_webhook_secret(c), body, signature)]
    if not verified:
        raise _unauthorized("no catalog of this repository accepts that signature")
    _first_delivery("github", body)
    if event == "ping":
        db.session.commit()
        return jsonify({"status": "pong"})
    handler = GITHUB_EVENTS.get(event)
    if handler is not None:
        return handler(verified, payload)
    queued = [c.name for c in verified if ref == f"refs/heads/{c.branch or default_branch}"]
    for catalog in verified:
        if catalog.name in queued:
            _queue(catalog, "github")
    db.session.commit()
    response = jsonify({"queued": queued})
    response.status_code = 202
    return response


@api.post("/hooks/<catalog>")
def catalog_hook(catalog: str):
    row = db.session.scalar(select(Catalog).where(Catalog.name == catalog))
    # An unknown catalog and a bad signature answer alike, so the hook reveals nothing.
    secret = _webhook_secret(row) if row is not None else None
    body = request.get_data()
    if not _signature_ok(secret, body, request.headers.get("X-Hub-Signature-256")):
        raise _unauthorized("the signature does not match the catalog's webhook secret")
    _first_delivery(f"catalog:{catalog}", body)
    _queue(row, "generic")
    db.session.commit()
    response = jsonify({"queued": [catalog]})
    response.status_code = 202
    return response
