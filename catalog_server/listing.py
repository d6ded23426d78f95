"""The served templates as a search's list reads them, kept in process.

A search ordered by relevance places every match (:func:`catalog_server.queries.search_templates`):
it filters them by catalog, kind, category, hidden and previews, orders them by tier,
score, lower-cased name, catalog and id, and counts the kinds and categories of what it
keeps. Read from the database with each search, those columns of a broad query's matches
cost several times the match itself (2,000 matches: 15 ms against 3), so each process
keeps them for every served template, read once per served state and shared by every
request: the database answers a search with (template id, score) pairs alone.

The served state is, per catalog, its id, name, owner, revision, generation and time of
indexing. Templates are written only in the transaction that bumps their catalog's
generation (a sync's swap, a re-signing, a preview's seed), so the same state means the
same templates. A match the kept list lacks (a sync that committed between the read of
the state and the match) has the list read again.

The Kubernetes and Rancher version ranges of the versions, which a list filtered by
``kube_version`` or ``rancher_version`` tests (what Rancher's UI asks with every list),
are kept the same way (:func:`version_ranges`): each distinct set of ranges once, with the
templates that have a version of it. Versions of a template mostly share their ranges, so
a filter tests a few hundred sets, not every version of the catalog (100,000).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog_server import search
from catalog_server.models import Catalog, Template, TemplateVersion

# Listings kept at once, one per database (a process serves one; tests open many).
KEPT_DATABASES = 2
# Answers to version filters kept per served state (a cluster asks for its own versions).
KEPT_FITS = 64


class ListedTemplate(NamedTuple):
    """What a search's list reads of one template."""

    catalog: str
    managed_by: str  # the catalog's: "preview" for a preview's
    hidden: bool
    kind: str
    name: str  # lower-cased, as the database lower-cases it
    slug: str
    categories: tuple[str, ...]
    name_key: str  # search.name_key of the name and of the id, as indexed
    slug_key: str


@dataclass(frozen=True)
class Listing:
    """Every indexed template of one served state, by template id."""

    state: tuple[tuple[Any, ...], ...]
    templates: dict[int, ListedTemplate]


_kept: OrderedDict[str, Listing] = OrderedDict()
_lock = threading.Lock()


class RangeSet(NamedTuple):
    """The ranges a version filter tests, as one version has them."""

    kind: str  # the template's
    kube_version: str | None
    chart_kube_version: str | None
    rancher_version: str | None
    minimum_rancher_version: str | None
    maximum_rancher_version: str | None


class VersionRanges:
    """Every distinct RangeSet of one served state's versions, with the ids of the
    templates that have a version of it; and the answers to the filters asked so far."""

    def __init__(self, state: tuple[tuple[Any, ...], ...], sets: dict[RangeSet, list[int]]):
        self.state = state
        self.sets = sets
        self._fits: OrderedDict[Hashable, frozenset[int]] = OrderedDict()
        # Most filters give one of a few answers: each kept once, however many ask it.
        self._answers: dict[frozenset[int], frozenset[int]] = {}
        self._lock = threading.Lock()

    def fitting(self, key: Hashable, fits: Callable[[RangeSet], bool]) -> frozenset[int]:
        """The templates with a version whose ranges ``fits`` keeps; kept under ``key``
        (what the filter asked) for the next request of this state."""
        with self._lock:
            found = self._fits.get(key)
            if found is not None:
                self._fits.move_to_end(key)
                return found
        found = frozenset(i for ranges, ids in self.sets.items() if fits(ranges) for i in ids)
        with self._lock:
            found = self._answers.setdefault(found, found)
            self._fits[key] = found
            if len(self._fits) > KEPT_FITS:
                while len(self._fits) > KEPT_FITS:
                    self._fits.popitem(last=False)
                self._answers = {kept: kept for kept in self._fits.values()}
        return found


_kept_ranges: OrderedDict[str, VersionRanges] = OrderedDict()


def version_ranges(session: Session) -> VersionRanges:
    """The version ranges of the served state this transaction sees."""
    database = str(session.get_bind().url)
    state = listing_key(session)
    kept = _kept_ranges.get(database)
    if kept is not None and kept.state == state:
        return kept
    with _lock:
        kept = _kept_ranges.get(database)
        if kept is not None and kept.state == state:
            return kept
        return _keep(_kept_ranges, database, VersionRanges(state, _read_ranges(session)))


def _read_ranges(session: Session) -> dict[RangeSet, list[int]]:
    rows = session.execute(
        select(
            TemplateVersion.template_id,
            Template.kind,
            TemplateVersion.kube_version,
            TemplateVersion.chart_kube_version,
            TemplateVersion.rancher_version,
            TemplateVersion.minimum_rancher_version,
            TemplateVersion.maximum_rancher_version,
        )
        .join(Template, TemplateVersion.template_id == Template.id)
        .distinct()
    )
    sets: dict[RangeSet, list[int]] = {}
    for row in rows:
        sets.setdefault(RangeSet(*row[1:]), []).append(row[0])
    return sets


def listing_key(session: Session) -> tuple[tuple[Any, ...], ...]:
    """The served state the listing depends on, one row per catalog: id, name, owner,
    revision, generation, time of indexing (read once per transaction)."""
    memo = search.transaction_memo(session, "listing_state")
    if "state" not in memo:
        memo["state"] = tuple(
            tuple(row)
            for row in session.execute(
                select(
                    Catalog.id,
                    Catalog.name,
                    Catalog.managed_by,
                    Catalog.revision,
                    Catalog.generation,
                    Catalog.indexed_at,
                ).order_by(Catalog.id)
            )
        )
    return memo["state"]


def listing(session: Session, ids: Iterable[int] = ()) -> Listing:
    """The listing of the served state this transaction sees, read again when it lacks
    any of ``ids`` (templates the caller found)."""
    database = str(session.get_bind().url)
    state = listing_key(session)
    wanted = list(ids)

    def current() -> Listing | None:
        kept = _kept.get(database)
        if kept and kept.state == state and all(i in kept.templates for i in wanted):
            return kept
        return None

    kept = current()
    if kept is not None:
        return kept
    with _lock:  # one read per process, whichever request needs it first
        kept = current()
        if kept is not None:
            return kept
        return _keep(_kept, database, Listing(state, _read(session)))


def _keep(kept: OrderedDict[str, Any], database: str, value: Any) -> Any:
    """Keep ``value`` as the database's, with at most KEPT_DATABASES databases kept."""
    kept[database] = value
    kept.move_to_end(database)
    while len(kept) > KEPT_DATABASES:
        kept.popitem(last=False)
    return value


def _read(session: Session) -> dict[int, ListedTemplate]:
    keys = search.session_index(session).keys()
    rows = session.execute(
        select(
            Template.id,
            Catalog.name,
            Catalog.managed_by,
            Template.hidden,
            Template.kind,
            func.lower(Template.name),
            Template.slug,
            Template.categories,
            keys.c.name_key,
            keys.c.slug_key,
        )
        .join(Catalog, Template.catalog_id == Catalog.id)
        .join(keys, keys.c.template_id == Template.id)
    )
    # Catalog names, kinds and categories repeat: one string each, shared.
    shared: dict[str, str] = {}
    one = shared.setdefault
    return {
        row[0]: ListedTemplate(
            one(row[1], row[1]),
            one(row[2], row[2]),
            bool(row[3]),
            one(row[4], row[4]),
            row[5],
            row[6],
            tuple(one(c, c) for c in row[7] or ()),
            row[8],
            row[9],
        )
        for row in rows
    }
