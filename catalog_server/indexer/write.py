"""Writing a loaded template into the database: its row, its versions and files, and its
problems (inside the sync's one transaction)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from catalog_server import search
from catalog_server.indexer.stamps import Stamp
from catalog_server.loaders.model import VERSION_TEXT_FIELDS, LoadedTemplate, LoadedVersion
from catalog_server.models import (
    Catalog,
    ProblemRow,
    Template,
    TemplateCategory,
    TemplateVersion,
    VersionFile,
)
from catalog_server.problems import PROBLEM_FIELDS, Problem
from catalog_server.versions import sort_versions

if TYPE_CHECKING:
    pass


def remove_templates(session: Session, catalog_id: int, slugs: list[str]) -> None:
    """Delete the templates whose folder is gone (their versions and files with them)."""
    if slugs:
        session.execute(
            delete(Template).where(Template.catalog_id == catalog_id, Template.slug.in_(slugs))
        )


def clear_problems(session: Session, catalog_id: int, slugs: list[str]) -> None:
    """Remove the recorded problems of these templates and the catalog's own (a sync
    records them again)."""
    session.execute(
        delete(ProblemRow).where(
            ProblemRow.catalog_id == catalog_id,
            (ProblemRow.template.in_(slugs)) | ProblemRow.template.is_(None),
        )
    )


def insert_problems(session: Session, catalog_id: int, problems: Iterable[Problem]) -> None:
    rows = [problem_row(catalog_id, p) for p in problems]
    if rows:
        session.execute(insert(ProblemRow.__table__), rows)


def problem_row(catalog_id: int, p: Problem) -> dict[str, Any]:
    return {"catalog_id": catalog_id} | {name: getattr(p, name) for name in PROBLEM_FIELDS}


def write_template(
    session: Session,
    catalog: Catalog,
    loaded: LoadedTemplate,
    template_id: int | None,
    stamps: dict[int, Stamp],
    commit: str | None,
    generation: int,
) -> int:
    """Write one loaded template, marked with the catalog ``generation`` this sync serves;
    return 1 when it could not be loaded at all, else 0."""
    if not loaded.usable:
        return 1  # its last good rows (if any) stay as they are
    kept = []  # (version, folder, revision) of last good versions that stay
    if template_id is not None:
        old = session.execute(
            select(
                TemplateVersion.id,
                TemplateVersion.folder,
                TemplateVersion.version,
                TemplateVersion.revision,
            ).where(TemplateVersion.template_id == template_id)
        ).all()
        broken = {v.folder for v in loaded.versions if not v.usable}
        keep_ids = [row.id for row in old if row.folder in broken]
        kept = [row for row in old if row.folder in broken]
        session.execute(
            delete(TemplateVersion).where(
                TemplateVersion.template_id == template_id, TemplateVersion.id.not_in(keep_ids)
            )
        )
    new_versions = [v for v in loaded.versions if v.usable]
    if not new_versions and not kept:
        if template_id is not None:
            session.execute(delete(Template).where(Template.id == template_id))
        return 0
    order = positions(new_versions, kept)
    values = template_values(catalog.id, loaded, new_versions, kept, order)
    values["generation"] = generation
    if template_id is None:
        template_id = session.execute(
            insert(Template.__table__).returning(Template.__table__.c.id), values
        ).scalar_one()
    else:
        table = Template.__table__
        session.execute(update(table).where(table.c.id == template_id).values(**values))
        session.execute(delete(TemplateCategory).where(TemplateCategory.template_id == template_id))
    search.write_entry(
        session,
        search.entry_for(
            template_id,
            loaded.id,
            values["name"],
            loaded.description,
            values["categories"],
            chart_keywords(new_versions),
            loaded.readme,
        ),
    )
    if loaded.categories:
        session.execute(
            insert(TemplateCategory.__table__),
            [{"template_id": template_id, "name": c} for c in dict.fromkeys(loaded.categories)],
        )
    for row in kept:
        session.execute(
            update(TemplateVersion)
            .where(TemplateVersion.id == row.id)
            .values(position=order[("kept", row.id)])
        )
    if new_versions:
        version_rows = [
            version_values(template_id, v, order[("new", i)], stamps[id(v)], commit)
            for i, v in enumerate(new_versions)
        ]
        ids = session.scalars(
            insert(TemplateVersion.__table__).returning(
                TemplateVersion.__table__.c.id, sort_by_parameter_order=True
            ),
            version_rows,
        ).all()
        file_rows = [
            {
                "version_id": vid,
                "path": f.path,
                "size": f.size,
                "sha256": f.sha256 or None,
                "content": f.content,
            }
            for vid, v in zip(ids, new_versions, strict=True)
            for f in v.files
        ]
        if file_rows:
            session.execute(insert(VersionFile.__table__), file_rows)
    return 0


def positions(new_versions: list[LoadedVersion], kept: list) -> dict[tuple[str, int], int]:
    """Newest-first positions for the new and the kept versions together."""
    items = [(("new", i), v.version, v.revision) for i, v in enumerate(new_versions)]
    items += [(("kept", row.id), row.version, row.revision) for row in kept]
    ordered = sort_versions(items, version=lambda it: it[1], revision=lambda it: it[2])
    return {item[0]: pos for pos, item in enumerate(ordered)}


def template_values(catalog_id, loaded: LoadedTemplate, new_versions, kept, order):
    newest = min(
        [(order[("new", i)], v.version) for i, v in enumerate(new_versions)]
        + [(order[("kept", row.id)], row.version) for row in kept]
    )[1]
    versions = {v.version for v in new_versions} | {row.version for row in kept}
    default = loaded.default_version if loaded.default_version in versions else newest
    keywords = chart_keywords(new_versions)
    search_text = " ".join(
        [loaded.id, loaded.name or "", loaded.description or "", *loaded.categories, *keywords]
    ).lower()
    return {
        "catalog_id": catalog_id,
        "slug": loaded.id,
        "folder": loaded.folder,
        "kind": loaded.kind,
        "base": loaded.base,
        "name": loaded.name or loaded.id,
        "description": loaded.description,
        "categories": list(dict.fromkeys(loaded.categories)),
        "maintainer": loaded.maintainer,
        "license": loaded.license,
        "project_url": loaded.project_url,
        "labels": loaded.labels,
        "icon": loaded.icon,
        "icon_media_type": loaded.icon_media_type,
        "default_version": default,
        "latest_version": newest,
        "version_count": len(new_versions) + len(kept),
        "readme": loaded.readme,
        "metadata": loaded.metadata,
        "hidden": loaded.hidden,
        "flags": loaded.flags or None,
        "search_text": search_text,
    }


def chart_keywords(new_versions: list[LoadedVersion]) -> list[str]:
    keywords = []
    for v in new_versions:
        chart = v.metadata.get("chart") if isinstance(v.metadata, dict) else None
        if isinstance(chart, dict) and isinstance(chart.get("keywords"), list):
            keywords.extend(str(k) for k in chart["keywords"])
    return list(dict.fromkeys(keywords))


def range_text(text: str | None) -> str | None:
    """A version range for a 500-character column. Longer ones (which no range parser here
    reads anyway) are cut and marked with "...", so they still fit no version."""
    if text is None or len(text) <= 500:
        return text
    return text[:497] + "..."


def version_values(template_id: int, v: LoadedVersion, position: int, stamp: Stamp, commit):
    created, digest, size = stamp
    return {
        "template_id": template_id,
        "version": v.version,
        "folder": v.folder,
        "revision": v.revision,
        "position": position,
        "name": v.name,
        "description": v.description,
        **{name: getattr(v, name) for name in VERSION_TEXT_FIELDS},
        "chart_kube_version": range_text(v.chart_kube_version),
        "questions": v.questions,
        "metadata": v.metadata,
        "readme": v.readme,
        "created": created,
        "commit": commit,
        "chart_digest": digest,
        "chart_size": size,
        "images": v.images.to_json() if v.images is not None else None,
    }
