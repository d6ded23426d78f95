"""Read-side queries over the index. Readers never touch git; the indexer alone writes.

Each function runs a small, fixed number of queries whatever the size of the answer.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import astuple, dataclass, replace
from operator import itemgetter
from typing import Any

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session, defer, load_only, selectinload

from catalog_server import listing, search, versions
from catalog_server.constraints import (
    ConstraintError,
    Version,
    parse_constraint,
    parse_version,
)
from catalog_server.models import (
    Catalog,
    ProblemRow,
    Template,
    TemplateCategory,
    TemplateVersion,
    VersionFile,
)
from catalog_server.problems import TemplateNotFound

# How a template list may be ordered; relevance is the default when there is a query.
SORTS = ("relevance", "name", "updated")


@dataclass
class TemplateFilter:
    """What a template list is filtered by.

    ``kube_version`` keeps the Helm charts with a version whose Kubernetes ranges
    (``catalog.cattle.io/kube-version`` and Chart.yaml's ``kubeVersion``, each where given)
    both contain it; ``rancher_version`` the templates with a version whose
    ``catalog.cattle.io/rancher-version`` range contains it or, without that range, whose
    minimum/maximum_rancher_version (inclusive) surround it. Ranges are read as Helm and
    Rancher read them (:mod:`catalog_server.constraints`). Hidden templates are left out
    unless ``include_hidden``; previews' templates (:mod:`catalog_server.previews`) unless
    ``include_previews`` or ``catalog`` names a preview.
    """

    q: str | None = None
    catalog: str | None = None
    kind: str | None = None
    category: str | None = None
    include_hidden: bool = False
    kube_version: str | None = None
    rancher_version: str | None = None
    include_previews: bool = False


# Previews (catalog_server.previews) are catalogs of their own, listed only when asked for.
PREVIEW = "preview"


def _no_previews(stmt: Select, include: bool, catalog: str | None = None) -> Select:
    if include or catalog:
        return stmt
    return stmt.where(Catalog.managed_by != PREVIEW)


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int


def catalog_state(session: Session) -> list[tuple[Any, ...]]:
    """What every cached answer depends on, one row per catalog: name, revision and
    generation (the content served), then the sync bookkeeping the catalog answers show,
    then the catalog's id and time of indexing (a catalog removed and added again at the
    same commit is served from new rows: its answers are not the old ones')."""
    return [
        tuple(row)
        for row in session.execute(
            select(
                Catalog.name,
                Catalog.revision,
                Catalog.generation,
                Catalog.sync_state,
                Catalog.failures,
                Catalog.last_attempt_at,
                Catalog.refresh_requested_at,
                Catalog.refresh_interval,
                Catalog.url,
                Catalog.branch,
                Catalog.id,
                Catalog.indexed_at,
            ).order_by(Catalog.name)
        )
    ]


def list_catalogs(
    session: Session, include_previews: bool = False
) -> list[tuple[Catalog, int, int]]:
    """Every catalog (previews too with ``include_previews``) with its count of templates
    and of problems."""
    templates = (
        select(func.count())
        .where(Template.catalog_id == Catalog.id)
        .correlate(Catalog)
        .scalar_subquery()
    )
    problems = (
        select(func.count())
        .where(ProblemRow.catalog_id == Catalog.id)
        .correlate(Catalog)
        .scalar_subquery()
    )
    stmt = _no_previews(select(Catalog, templates, problems), include_previews)
    return [(c, t, p) for c, t, p in session.execute(stmt.order_by(Catalog.name))]


def get_catalog(session: Session, name: str) -> tuple[Catalog, int, int]:
    for row in list_catalogs(session, include_previews=True):
        if row[0].name == name:
            return row
    raise TemplateNotFound(f"catalog {name!r} not found")


def _in_range(range_text: str | None, version: Version) -> bool:
    if range_text is None:
        return True
    try:
        return parse_constraint(range_text).contains(version)
    except ConstraintError:  # Helm refuses to install a chart whose range does not parse
        return False


def _fits(f: TemplateFilter, row: listing.RangeSet) -> bool:
    """Whether a version with these ranges fits the filter's versions."""
    if f.kube_version is not None:
        kube = parse_version(f.kube_version)
        if row.kind != "helm" or not all(
            _in_range(r, kube) for r in (row.kube_version, row.chart_kube_version)
        ):
            return False
    if f.rancher_version is not None:
        if row.rancher_version is not None:
            return _in_range(row.rancher_version, parse_version(f.rancher_version))
        rancher = versions.parse_version(f.rancher_version)
        low, high = (
            versions.parse_version(row.minimum_rancher_version),
            versions.parse_version(row.maximum_rancher_version),
        )
        if rancher is None or (low and rancher < low) or (high and rancher > high):
            return False
    return True


def _matched(session: Session, f: TemplateFilter, scored: bool = False):
    """(the templates that match ``f.q`` with their scores, the clause that keeps them);
    (None, None) without a query. The match runs once per query and session."""
    if not f.q:
        return None, None
    query = search.parse_query(f.q)
    if not query.terms:  # nothing but punctuation: nothing matches
        return {}, false()
    matched = search.find(session, query, scored)
    if not matched:
        return matched, false()
    return matched, search.session_index(session).id_in(Template.id, list(matched))


def _fitting(session: Session, f: TemplateFilter) -> frozenset[int] | None:
    """Ids of the templates, of any catalog, with a version that fits the filter's
    Kubernetes and Rancher versions; None when it names neither. From the process's kept
    ranges (:func:`catalog_server.listing.version_ranges`). Raises ConstraintError for a
    version that does not parse."""
    if f.kube_version is None and f.rancher_version is None:
        return None
    ranges = listing.version_ranges(session)
    return ranges.fitting((f.kube_version, f.rancher_version), lambda r: _fits(f, r))


def _fitting_clause(session: Session, f: TemplateFilter) -> Any:
    """The clause that keeps the templates `_fitting` gives (any number of them, as one
    bound value); None when the filter names no version."""
    fitting = _fitting(session, f)
    if fitting is None:
        return None
    return search.session_index(session).id_in(Template.id, sorted(fitting))


def _filtered(
    stmt: Select,
    f: TemplateFilter,
    skip: str | None = None,
    fitting: Any = None,
    matched=None,
) -> Select:
    if fitting is not None:  # _fitting_clause's
        stmt = stmt.where(fitting)
    stmt = _no_previews(stmt, f.include_previews, f.catalog if skip != "catalog" else None)
    if not f.include_hidden:
        stmt = stmt.where(Template.hidden.is_(False))
    if f.catalog and skip != "catalog":
        stmt = stmt.where(Catalog.name == f.catalog)
    if f.kind and skip != "kind":
        stmt = stmt.where(Template.kind == f.kind)
    if f.category and skip != "category":
        stmt = stmt.where(
            Template.id.in_(
                select(TemplateCategory.template_id).where(TemplateCategory.name == f.category)
            )
        )
    if matched is not None:  # the search's clause (catalog_server.search)
        stmt = stmt.where(matched)
    return stmt


# The list never loads READMEs, icons or metadata: only what a card shows.
_SUMMARY_COLUMNS = load_only(
    Template.slug,
    Template.kind,
    Template.base,
    Template.folder,
    Template.name,
    Template.description,
    Template.categories,
    Template.default_version,
    Template.latest_version,
    Template.version_count,
    Template.icon_media_type,
    Template.hidden,
    Template.flags,
)


def _updated():
    """When a template last changed: the newest commit time of its versions."""
    return (
        select(func.max(TemplateVersion.created))
        .where(TemplateVersion.template_id == Template.id)
        .correlate(Template)
        .scalar_subquery()
    )


def search_templates(
    session: Session, f: TemplateFilter, page: int, per_page: int, sort: str | None = None
) -> Page:
    """A page of the templates the filter keeps, in ``sort`` order (one of SORTS):

    - ``relevance`` (the default with a query): templates whose name or id is the query,
      then those whose name or id starts with it, then the rest by the search index's
      score (:mod:`catalog_server.search`); without a query, by name;
    - ``name``: by name, case-insensitively;
    - ``updated``: the most recently changed first (the newest commit time of a version).

    Ties go by name, catalog and id. Raises ConstraintError for a Kubernetes or Rancher
    version that does not parse."""
    sort = sort or ("relevance" if f.q else "name")
    by_name = (func.lower(Template.name), Catalog.name, Template.slug)
    if f.q and sort == "relevance":
        # Every match's place, in Python: the database gave the scores, the process's
        # listing (catalog_server.listing) the rest of what orders and filters them.
        kept = [
            m for m in _search_rows(session, f) if _kind_fits(f, m[1]) and _category_fits(f, m[1])
        ]
        first = _first_by_relevance(search.parse_query(f.q), kept, page * per_page)
        page_ids = [template_id for template_id, _, _ in first[(page - 1) * per_page :]]
        found = {
            t.id: (t, c)
            for t, c in session.execute(
                select(Template, Catalog.name)
                .join(Catalog, Template.catalog_id == Catalog.id)
                .where(Template.id.in_(page_ids))
                .options(_SUMMARY_COLUMNS)
            )
        }
        return Page([found[i] for i in page_ids if i in found], len(kept), page, per_page)
    _, matched = _matched(session, f)
    fitting = _fitting_clause(session, f)
    order = (_updated().desc(), *by_name) if sort == "updated" else by_name
    base = select(Template, Catalog.name).join(Catalog, Template.catalog_id == Catalog.id)
    stmt = _filtered(base, f, fitting=fitting, matched=matched)
    total = session.scalar(
        _filtered(
            select(func.count(Template.id)).join(Catalog, Template.catalog_id == Catalog.id),
            f,
            fitting=fitting,
            matched=matched,
        )
    )
    rows = session.execute(
        stmt.options(_SUMMARY_COLUMNS)
        .order_by(*order)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([(t, c) for t, c in rows], total or 0, page, per_page)


Match = tuple[int, listing.ListedTemplate, float]  # template id, its listing, score


def _first_by_relevance(query: search.SearchQuery, matches: list[Match], count: int) -> list[Match]:
    """The first ``count`` of ``matches`` by relevance: tier (catalog_server.search.tier),
    score (highest first), lower-cased name, catalog, id. What sorting them all gives,
    without placing each of the thousands a broad prefix matches: the names that start
    with the query (tiers 0 and 1) are sorted, and of the rest only those that score
    as high as the last one a page needs."""

    def place(match: Match):
        _, t, score = match
        return (search.tier(query, t.name_key, t.slug_key), -score, t.name, t.catalog, t.slug)

    key = query.key
    named: list[Match] = []
    rest: list[Match] = []
    for match in matches:
        t = match[1]
        (named if t.name_key.startswith(key) or t.slug_key.startswith(key) else rest).append(match)
    named.sort(key=place)
    wanted = count - len(named)
    if wanted <= 0:
        return named[:count]
    best = heapq.nlargest(wanted, rest, key=itemgetter(2))
    if len(best) == wanted:  # and those tied with the last of them
        best = [m for m in rest if m[2] >= best[-1][2]]
    best.sort(key=place)
    return named + best[:wanted]


def _search_rows(session: Session, f: TemplateFilter) -> list[Match]:
    """(template id, listed template, score) of each of the search's matches that the
    filters other than kind and category keep. Once per filter and transaction: a list
    and its facets share it. The database gives the matches and their scores; the
    process's listing the columns that filter and order them (a broad prefix matches
    thousands, and reading their templates cost five times the match)."""
    broad = replace(f, kind=None, category=None)
    key = astuple(broad)
    known = search.transaction_memo(session, "search_rows")
    if key not in known:
        query = search.parse_query(broad.q or "")
        if not query.terms:  # nothing but punctuation: nothing matches
            known[key] = []
            return known[key]
        scores = search.find(session, query, scored=True)
        # The Kubernetes and Rancher version filters are read from the versions of the
        # matches (by ids).
        fitting = _fitting(session, broad)
        templates = listing.listing(session, scores).templates
        known[key] = [
            (template_id, t, score)
            for template_id, score in scores.items()
            if (t := templates.get(template_id)) is not None
            and _listed(broad, t)
            and (fitting is None or template_id in fitting)
        ]
    return known[key]


def _listed(f: TemplateFilter, t: listing.ListedTemplate) -> bool:
    """Whether the filter's catalog, hidden and previews keep a template (as _filtered)."""
    if not (f.include_previews or f.catalog) and t.managed_by == PREVIEW:
        return False
    if not f.include_hidden and t.hidden:
        return False
    return not f.catalog or t.catalog == f.catalog


def _kind_fits(f: TemplateFilter, t: listing.ListedTemplate) -> bool:
    return not f.kind or t.kind == f.kind


def _category_fits(f: TemplateFilter, t: listing.ListedTemplate) -> bool:
    return not f.category or f.category in t.categories


def template_facets(session: Session, f: TemplateFilter) -> dict[str, dict[str, int]]:
    """Counts per category and per kind, each under all the other filters."""
    if f.q:  # from the search's rows, which the list has read already
        rows = [t for _, t, _ in _search_rows(session, f)]
        kinds = Counter(t.kind for t in rows if _category_fits(f, t))
        names = Counter(c for t in rows if _kind_fits(f, t) for c in dict.fromkeys(t.categories))
        return {"category": dict(sorted(names.items())), "kind": dict(sorted(kinds.items()))}
    _, matched = _matched(session, f)
    fitting = _fitting_clause(session, f)
    by_category = session.execute(
        _filtered(
            select(TemplateCategory.name, func.count())
            .join(Template, TemplateCategory.template_id == Template.id)
            .join(Catalog, Template.catalog_id == Catalog.id),
            f,
            skip="category",
            fitting=fitting,
            matched=matched,
        )
        .group_by(TemplateCategory.name)
        .order_by(TemplateCategory.name)
    ).all()
    by_kind = session.execute(
        _filtered(
            select(Template.kind, func.count()).join(Catalog, Template.catalog_id == Catalog.id),
            f,
            skip="kind",
            fitting=fitting,
            matched=matched,
        )
        .group_by(Template.kind)
        .order_by(Template.kind)
    ).all()
    return {"category": dict(by_category), "kind": dict(by_kind)}


def categories(
    session: Session, catalog: str | None = None, include_previews: bool = False
) -> list[tuple[str, int]]:
    """Categories with their count of listed (not hidden) templates; previews' templates
    only with ``include_previews`` or when ``catalog`` names one."""
    stmt = (
        select(TemplateCategory.name, func.count())
        .join(Template, TemplateCategory.template_id == Template.id)
        .join(Catalog, Template.catalog_id == Catalog.id)
        .where(Template.hidden.is_(False))
    )
    if catalog:
        stmt = stmt.where(Catalog.name == catalog)
    stmt = _no_previews(stmt, include_previews, catalog)
    return list(
        session.execute(stmt.group_by(TemplateCategory.name).order_by(TemplateCategory.name))
    )


def get_template(session: Session, catalog: str, slug: str, *, with_versions: bool = True):
    """The template with its versions (newest first). Raises TemplateNotFound."""
    stmt = (
        select(Template)
        .join(Catalog, Template.catalog_id == Catalog.id)
        .where(Catalog.name == catalog, Template.slug == slug)
        .options(defer(Template.icon))
    )
    if with_versions:
        stmt = stmt.options(
            selectinload(Template.versions).options(
                load_only(
                    TemplateVersion.version,
                    TemplateVersion.folder,
                    TemplateVersion.revision,
                    TemplateVersion.position,
                    TemplateVersion.app_version,
                    TemplateVersion.upgrade_from,
                    TemplateVersion.minimum_rancher_version,
                    TemplateVersion.maximum_rancher_version,
                    TemplateVersion.kube_version,
                    TemplateVersion.chart_kube_version,
                    TemplateVersion.rancher_version,
                    TemplateVersion.created,
                )
            )
        )
    template = session.scalar(stmt)
    if template is None:
        raise TemplateNotFound(f"template {slug!r} not found in catalog {catalog!r}")
    return template


def template_icon(session: Session, catalog: str, slug: str) -> tuple[bytes, str]:
    row = session.execute(
        select(Template.icon, Template.icon_media_type)
        .join(Catalog, Template.catalog_id == Catalog.id)
        .where(Catalog.name == catalog, Template.slug == slug)
    ).first()
    if row is None:
        raise TemplateNotFound(f"template {slug!r} not found in catalog {catalog!r}")
    if row.icon is None:
        raise TemplateNotFound(f"template {slug!r} has no icon")
    return row.icon, row.icon_media_type or "application/octet-stream"


def get_version(session: Session, catalog: str, slug: str, version: str) -> TemplateVersion:
    """A version by its version string, else by its folder name. Raises TemplateNotFound."""
    rows = session.scalars(
        select(TemplateVersion)
        .join(Template, TemplateVersion.template_id == Template.id)
        .join(Catalog, Template.catalog_id == Catalog.id)
        .where(
            Catalog.name == catalog,
            Template.slug == slug,
            (TemplateVersion.version == version) | (TemplateVersion.folder == version),
        )
        .options(
            selectinload(TemplateVersion.files).options(defer(VersionFile.content)),
        )
        .order_by(TemplateVersion.position)
    ).all()
    if not rows:
        get_template(session, catalog, slug, with_versions=False)  # 404 for the template first
        raise TemplateNotFound(f"version {version!r} of {slug!r} not found")
    exact = [v for v in rows if v.version == version]
    return (exact or rows)[0]


def version_file(session: Session, version: TemplateVersion, path: str) -> VersionFile:
    row = session.scalar(
        select(VersionFile).where(VersionFile.version_id == version.id, VersionFile.path == path)
    )
    if row is None or row.content is None:
        raise TemplateNotFound(f"{path!r} is not a file of version {version.version!r}")
    return row


def version_contents(
    session: Session, version: TemplateVersion, paths: Iterable[str]
) -> dict[str, bytes]:
    """The contents of those of ``paths`` that ``version`` has and kept, in one query."""
    rows = session.execute(
        select(VersionFile.path, VersionFile.content).where(
            VersionFile.version_id == version.id, VersionFile.path.in_(list(paths))
        )
    )
    return {path: content for path, content in rows if content is not None}


def problems(
    session: Session,
    *,
    catalog: str | None = None,
    template: str | None = None,
    version: str | None = None,
    severity: str | None = None,
    page: int = 1,
    per_page: int = 100,
    include_previews: bool = False,
) -> Page:
    """A page of the recorded problems; previews' only with ``include_previews`` or when
    ``catalog`` names one."""
    stmt = select(ProblemRow, Catalog.name).join(Catalog, ProblemRow.catalog_id == Catalog.id)
    count = select(func.count(ProblemRow.id)).join(Catalog, ProblemRow.catalog_id == Catalog.id)
    conditions = []
    if catalog:
        conditions.append(Catalog.name == catalog)
    if template:
        conditions.append(ProblemRow.template == template)
    if version:
        conditions.append(ProblemRow.version == version)
    if severity:
        conditions.append(ProblemRow.severity == severity)
    if not include_previews and not catalog:
        conditions.append(Catalog.managed_by != PREVIEW)
    stmt, count = stmt.where(*conditions), count.where(*conditions)
    rows = session.execute(
        stmt.order_by(
            Catalog.name, ProblemRow.template, ProblemRow.file, ProblemRow.line, ProblemRow.id
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([(p, c) for p, c in rows], session.scalar(count) or 0, page, per_page)


def versions_with_files(session: Session, template: Template) -> list[TemplateVersion]:
    """Every version of ``template``, newest first, with its file list (contents not
    loaded): what the template's pages show, in two queries."""
    return list(
        session.scalars(
            select(TemplateVersion)
            .where(TemplateVersion.template_id == template.id)
            .options(selectinload(TemplateVersion.files).options(defer(VersionFile.content)))
            .order_by(TemplateVersion.position)
        )
    )


def template_generations(
    session: Session, catalog: str | None = None
) -> list[tuple[str, str, int]]:
    """(catalog, template id, generation) of every served template, hidden ones included;
    ``generation`` is the catalog generation that last wrote it."""
    stmt = select(Catalog.name, Template.slug, Template.generation).join(
        Catalog, Template.catalog_id == Catalog.id
    )
    if catalog is not None:
        stmt = stmt.where(Catalog.name == catalog)
    return [tuple(row) for row in session.execute(stmt.order_by(Catalog.name, Template.slug))]
