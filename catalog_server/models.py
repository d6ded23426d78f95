"""Database models: what the indexer writes and the readers query.

Templates, versions and files are stored whole (file contents included), so readers never
touch git. The indexer is the only writer of catalog content (templates, versions, files,
problems); the admin API writes catalog sources, tokens and the audit log, and the sync
process the web site's pages and its own state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog_server.db import db
from catalog_server.utctime import UtcDateTime


class Catalog(db.Model):
    __tablename__ = "catalogs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(2000))  # credentials removed
    branch: Mapped[str | None] = mapped_column(String(255))
    subdir: Mapped[str | None] = mapped_column(String(1000))
    commit: Mapped[str | None] = mapped_column(String(64))  # None for a plain folder
    # What was indexed: the commit, or a fingerprint of a plain folder's files.
    revision: Mapped[str | None] = mapped_column(String(100))
    commit_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    indexed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    # Bumped on every change of what is served; part of every ETag.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    # "file" for catalogs from the catalogs file (or the bundled default), "api" for those
    # added over the admin API, whose settings live here.
    managed_by: Mapped[str] = mapped_column(String(10), default="file")
    refresh_interval: Mapped[int] = mapped_column(Integer, default=300)
    # Where credentials and the webhook secret come from: {"env": NAME} or {"file": PATH}
    # references, never the values themselves.
    credentials: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    webhook_secret: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Sync state: idle, queued, syncing or failed; a refresh asked for over the API or a
    # webhook sets refresh_requested_at, and the sync process picks it up.
    sync_state: Mapped[str] = mapped_column(String(10), default="idle")
    refresh_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_sync_seconds: Mapped[float | None] = mapped_column(Float)
    last_sync_status: Mapped[str | None] = mapped_column(String(20))
    # The catalog's artifacthub-repo.yml as written (served beside index.yaml), if any.
    artifacthub_repo: Mapped[str | None] = mapped_column(Text)
    # Fingerprint of the key whose provenance files the chart repository serves (None: the
    # catalog's charts are not signed). Set by the sync process, which holds the key.
    signing_key: Mapped[str | None] = mapped_column(String(64))
    # Pull requests from forks of the catalog's repository get previews (catalog_server.previews).
    preview_forks: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    templates: Mapped[list[Template]] = relationship(
        back_populates="catalog", cascade="all, delete-orphan", passive_deletes=True
    )

    def request_refresh(self) -> None:
        """Queue a refresh: the sync process picks it up within a few seconds."""
        self.refresh_requested_at = datetime.now(UTC)
        if self.sync_state in ("idle", "failed"):
            self.sync_state = "queued"


class Template(db.Model):
    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("catalog_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(255))  # the template id in URLs
    folder: Mapped[str] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(20))
    base: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    maintainer: Mapped[str | None] = mapped_column(String(500))
    license: Mapped[str | None] = mapped_column(String(255))
    project_url: Mapped[str | None] = mapped_column(String(2000))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    icon: Mapped[bytes | None] = mapped_column(LargeBinary)
    icon_media_type: Mapped[str | None] = mapped_column(String(100))
    default_version: Mapped[str | None] = mapped_column(String(255))
    latest_version: Mapped[str | None] = mapped_column(String(255))
    version_count: Mapped[int] = mapped_column(Integer, default=0)
    readme: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    # catalog.cattle.io/hidden: left out of lists unless asked for; still served by id.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What a card shows: certified, experimental, deprecated, featured, type, os.
    flags: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Lower-cased text that `q=` searches: id, name, description, categories, keywords.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # The catalog generation that last wrote this template: the site rebuilds the pages of
    # the templates written since it was last brought up to date.
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    catalog: Mapped[Catalog] = relationship(back_populates="templates")
    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TemplateVersion.position",
    )
    category_rows: Mapped[list[TemplateCategory]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class TemplateCategory(db.Model):
    """One row per (template, category): what the category filter and facets query."""

    __tablename__ = "template_categories"

    template_id: Mapped[int] = mapped_column(
        ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)


class TemplateVersion(db.Model):
    __tablename__ = "template_versions"
    __table_args__ = (Index("ix_template_versions_template_position", "template_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(255))
    folder: Mapped[str] = mapped_column(String(1000))
    revision: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)  # 0 is the newest
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    app_version: Mapped[str | None] = mapped_column(String(255))
    minimum_rancher_version: Mapped[str | None] = mapped_column(String(100))
    maximum_rancher_version: Mapped[str | None] = mapped_column(String(100))
    upgrade_from: Mapped[str | None] = mapped_column(String(500))
    # Helm charts: version ranges as written (catalog.cattle.io/kube-version, Chart.yaml's
    # kubeVersion, catalog.cattle.io/rancher-version); see catalog_server.constraints.
    kube_version: Mapped[str | None] = mapped_column(String(500))
    chart_kube_version: Mapped[str | None] = mapped_column(String(500))
    rancher_version: Mapped[str | None] = mapped_column(String(500))
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    readme: Mapped[str | None] = mapped_column(Text)
    # The commit that last wrote this version, and its time ("created" in a Helm index).
    commit: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Helm charts: sha256 of the chart archive, which is rebuilt byte for byte from the
    # stored files with every mtime pinned to `created`. None when it cannot be packaged.
    chart_digest: Mapped[str | None] = mapped_column(String(64))
    chart_size: Mapped[int | None] = mapped_column(Integer)  # bytes of that archive
    # Helm charts: the container images, `images.ChartImages.to_json()` ({"images", "source",
    # "note", "unpinned"}); found at sync, kept while the chart digest stays the same.
    images: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    template: Mapped[Template] = relationship(back_populates="versions")
    files: Mapped[list[VersionFile]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="VersionFile.path"
    )


class VersionFile(db.Model):
    __tablename__ = "version_files"
    __table_args__ = (UniqueConstraint("version_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("template_versions.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1000))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)


class ProblemRow(db.Model):
    """A problem recorded for a catalog, template or version at the last sync."""

    __tablename__ = "problems"
    __table_args__ = (Index("ix_problems_catalog_template", "catalog_id", "template"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id", ondelete="CASCADE"))
    template: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[str | None] = mapped_column(String(255))
    file: Mapped[str | None] = mapped_column(String(1000))
    line: Mapped[int | None] = mapped_column(Integer)
    column: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    blocking: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(db.Model):
    """An admin bearer token. Only a SHA-256 of the token is kept: tokens are 256 random
    bits, so a fast hash is as good as a slow one and keeps every request cheap."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuditEntry(db.Model):
    """One admin action: who (token name), what, on which target, when, from where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    token_name: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str | None] = mapped_column(String(255))
    client_address: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SigningKeyRow(db.Model):
    """The public half of a key that signs chart archives, as the sync process read it from
    its keyring: what web processes (which hold no key) serve and show."""

    __tablename__ = "signing_keys"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)  # lowercase hex
    user_id: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)  # ASCII-armored
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ChartProvenance(db.Model):
    """The provenance file (``.prov``) of a chart archive, by the archive's digest and the
    signing key: made once, at sync, and served as is by every replica. An OpenPGP signature
    carries its own time and salt, so it cannot be made again identically on request."""

    __tablename__ = "chart_provenance"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # the archive's sha256
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    provenance: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ChartDraft(db.Model):
    """A catalog's next index.yaml, published by a sync ahead of the rest of its work
    (:mod:`catalog_server.indexer.early`) and served instead of the rows' until the sync's
    swap removes it."""

    __tablename__ = "chart_drafts"

    catalog_id: Mapped[int] = mapped_column(
        ForeignKey("catalogs.id", ondelete="CASCADE"), primary_key=True
    )
    commit: Mapped[str | None] = mapped_column(String(64))
    index: Mapped[bytes] = mapped_column(LargeBinary)  # index.yaml, UTF-8
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DraftArchive(db.Model):
    """An archive a draft index lists: its bytes for a chart version the sync is indexing,
    else the indexed version it is rebuilt from."""

    __tablename__ = "chart_draft_archives"
    __table_args__ = (UniqueConstraint("catalog_id", "filename"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_id: Mapped[int] = mapped_column(
        ForeignKey("chart_drafts.catalog_id", ondelete="CASCADE")
    )
    filename: Mapped[str] = mapped_column(String(500))
    name: Mapped[str] = mapped_column(String(500))  # the chart's name, the archive's folder
    archive: Mapped[bytes | None] = mapped_column(LargeBinary)
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("template_versions.id", ondelete="CASCADE")
    )


class SitePage(db.Model):
    """A file of the web site as served: a page, a data file, an icon or a theme file.

    The sync process writes them (``catalog_server.docs.store``) and every web process
    serves them, so the site is part of the served state. ``content`` is gzip-compressed;
    ``digest`` is the sha256 of the uncompressed bytes (the answer's ETag).
    """

    __tablename__ = "site_pages"
    __table_args__ = (Index("ix_site_pages_catalog_template", "catalog", "template"),)

    path: Mapped[str] = mapped_column(String(1000), primary_key=True)  # "quickstart/index.html"
    part: Mapped[str] = mapped_column(String(20))  # "docs", "home" or "template"
    catalog: Mapped[str | None] = mapped_column(String(100))  # the template's, for its pages
    template: Mapped[str | None] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class SiteCard(db.Model):
    """What the home page shows of a template (its card and search index entry), written
    with the template's pages so that the home page is rebuilt without reading them."""

    __tablename__ = "site_cards"

    catalog: Mapped[str] = mapped_column(String(100), primary_key=True)
    template: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))  # the home page lists by name
    # {"card": ..., "entry": ...}; None for a hidden template (pages, but no card).
    listing: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The template's signed versions when its pages were made (a JSON list): signing can
    # change without the template being written again (catalog_server.signing).
    signed: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")


class SitePart(db.Model):
    """What each part of the stored site was built from: ``docs`` (the project docs and
    the theme, per release), ``home``, and ``catalog:<name>`` (that catalog's pages)."""

    __tablename__ = "site_parts"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(64))  # digest of the release's site sources
    # catalog parts: the catalog generation the pages are up to date with.
    source_generation: Mapped[int | None] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)  # bumped on every write: the site token
    built_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebhookDelivery(db.Model):
    """A signed webhook body that was accepted; the same body again is a replay.

    ``digest`` is the SHA-256 of the hook's name and the body, unique, so of two identical
    deliveries arriving at once one is refused by the database itself.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    hook: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class Preview(db.Model):
    """A preview of a catalog: the catalog indexed from another ref of its repository (a
    pull request's head, a branch), served as catalog ``{base}~{name}`` (``catalog``) and
    left out of catalog lists and search (see :mod:`catalog_server.previews`)."""

    __tablename__ = "previews"
    __table_args__ = (UniqueConstraint("base_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    base_id: Mapped[int] = mapped_column(ForeignKey("catalogs.id", ondelete="CASCADE"))
    # The preview's own catalog row, which holds what was indexed.
    catalog_id: Mapped[int] = mapped_column(
        ForeignKey("catalogs.id", ondelete="CASCADE"), unique=True
    )
    name: Mapped[str] = mapped_column(String(40))  # "pr-42"
    ref: Mapped[str] = mapped_column(String(255))  # "refs/pull/42/head" or a branch
    pull_request: Mapped[int | None] = mapped_column(Integer)
    head_sha: Mapped[str | None] = mapped_column(String(64))  # as the webhook named it
    fork: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by: Mapped[str | None] = mapped_column(String(100))  # token name or "github"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
