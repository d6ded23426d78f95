"""Relevance-ranked template search over the database's own full-text engine.

The search index is one row per served template, written by the indexer in the same
transaction as the template (:func:`write_entry`) and removed with it (a trigger on SQLite,
a cascading foreign key on PostgreSQL). It holds four weighted fields: name (the template
id and its name: weight A), keywords (chart keywords and categories: B), description (C)
and README (D). Two implementations honour one interface, :class:`SearchIndex`:

- SQLite: an FTS5 table (``template_search``) ranked by ``bm25`` with per-field weights;
- PostgreSQL: a table with a weighted ``tsvector`` (GIN index) ranked by ``ts_rank``, plus
  trigram similarity on the name (``pg_trgm``, where the extension could be created) so
  that a misspelt name still finds its template: used when the words match nothing.

A query is reduced to its words (letters and digits; everything else, FTS syntax included,
is a separator), each matched as a word prefix, all of them required. Whatever the engine,
the order is: templates whose name (or id) is the query exactly, then those whose name
starts with it, then the rest by score; ties by name. Highlights are computed here, the
same way for both engines: which words of which field matched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Integer, String, any_, bindparam, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Subquery

TABLE = "template_search"
# A README is indexed up to this many characters: enough for what a search should find
# in it, and a bound on what one template costs the index.
README_CHARS = 20_000
MAX_TERMS = 12
MAX_TERM_CHARS = 64
SNIPPET_CHARS = 160

# SQLite's unicode61 tokenizer splits on everything but letters and digits, and so do we.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class SearchQuery:
    """A query reduced to what every engine reads the same way.

    ``terms``: the lower-cased words (at most MAX_TERMS, each cut to MAX_TERM_CHARS);
    ``key``: the words joined by single spaces, compared with a name's own key
    (:func:`name_key`) for the exact and prefix tiers. No terms: nothing matches.
    """

    terms: tuple[str, ...]

    @property
    def key(self) -> str:
        return " ".join(self.terms)


def parse_query(q: str) -> SearchQuery:
    """The words of ``q``; FTS operators, quotes and other punctuation only separate words."""
    words = [w[:MAX_TERM_CHARS] for w in _WORD.findall(q.lower())]
    return SearchQuery(tuple(words[:MAX_TERMS]))


def name_key(name: str | None) -> str:
    """A name as the exact and prefix tiers compare it: its lower-cased words, one space
    between ("Prometheus-Adapter" and "prometheus adapter" are the same key)."""
    return " ".join(_WORD.findall((name or "").lower()))


@dataclass(frozen=True)
class SearchEntry:
    """What the index holds of one template."""

    template_id: int
    name: str  # the template id and its name
    keywords: str  # chart keywords and categories
    description: str
    readme: str
    name_key: str
    slug_key: str


def entry_for(
    template_id: int,
    slug: str,
    name: str | None,
    description: str | None,
    categories: list[str],
    keywords: list[str],
    readme: str | None,
) -> SearchEntry:
    folder = slug.rsplit("*", 1)[-1]  # "charts*prometheus": the base is no part of the name
    return SearchEntry(
        template_id=template_id,
        name=f"{folder} {name or ''}".strip(),
        keywords=" ".join(dict.fromkeys([*keywords, *categories])),
        description=description or "",
        readme=(readme or "")[:README_CHARS],
        name_key=name_key(name or folder),
        slug_key=name_key(folder),
    )


# What a search finds: template id -> score.
Matched = dict[int, float]


class SearchIndex(Protocol):
    """One engine's search index. Every method runs inside the caller's transaction."""

    def create(self, conn: Connection) -> None:
        """Create the index's tables, indexes and triggers (a migration step)."""

    def drop(self, conn: Connection) -> None:
        """Remove what :meth:`create` made."""

    def fill(self, conn: Connection) -> None:
        """Index every template already in the database (a migration step)."""

    def write(self, session: Session | Connection, entries: list[SearchEntry]) -> None:
        """Replace the entries of these templates."""

    def copy(self, session: Session, from_catalog: int, to_catalog: int) -> None:
        """Give each template of catalog ``to_catalog`` the entry of the template of
        ``from_catalog`` with the same id (slug), as it is indexed (a preview's seed)."""

    def matches(self, session: Session, query: SearchQuery, scored: bool = True) -> Matched:
        """The templates that match, by id, with their score (higher is better; 0 unless
        ``scored``, which a filter or a count does not need)."""

    def keys(self) -> Subquery:
        """Every indexed template's name keys: columns ``template_id``, ``name_key`` and
        ``slug_key`` (what :func:`tier` compares the query with)."""

    def stored(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        """(keywords, readme) of these templates, as indexed."""

    def id_in(self, column: Any, ids: list[int]) -> ColumnElement[bool]:
        """``column`` is one of ``ids`` (any number of them, as one bound value)."""


# The templates of catalog :source joined with their namesakes in catalog :target.
_SAME_TEMPLATE = (
    "JOIN templates old ON old.id = s.{key} "
    "JOIN templates new ON new.slug = old.slug AND new.catalog_id = :target "
    "WHERE old.catalog_id = :source"
)
_KEY_COLUMNS = {"template_id": Integer, "name_key": String, "slug_key": String}


class SqliteIndex:
    """FTS5, one row per template (rowid = template id), ranked by bm25; the name keys of
    the exact and prefix tiers in a plain table beside it (``template_search_keys``): read
    from FTS5's own rows, each template would read its README too."""

    # bm25 weights of name, keywords, description, readme.
    WEIGHTS = "10.0, 4.0, 2.0, 1.0"
    KEYS = f"{TABLE}_keys"

    def create(self, conn: Connection) -> None:
        conn.execute(
            text(
                f"CREATE VIRTUAL TABLE {TABLE} USING fts5(name, keywords, description, readme, "
                "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4')"
            )
        )
        conn.execute(
            text(
                f"CREATE TABLE {self.KEYS} (template_id INTEGER PRIMARY KEY, "
                "name_key TEXT NOT NULL, slug_key TEXT NOT NULL)"
            )
        )
        # A template removed by any path (a sync, a removed catalog) leaves the index too.
        conn.execute(
            text(
                f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON templates BEGIN "
                f"DELETE FROM {TABLE} WHERE rowid = old.id; "
                f"DELETE FROM {self.KEYS} WHERE template_id = old.id; END"
            )
        )

    def drop(self, conn: Connection) -> None:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {TABLE}_delete"))
        conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        conn.execute(text(f"DROP TABLE IF EXISTS {self.KEYS}"))

    def fill(self, conn: Connection) -> None:
        fill_from_templates(self, conn)

    def write(self, session: Session | Connection, entries: list[SearchEntry]) -> None:
        if not entries:
            return
        ids = [{"id": e.template_id} for e in entries]
        session.execute(text(f"DELETE FROM {TABLE} WHERE rowid = :id"), ids)
        session.execute(text(f"DELETE FROM {self.KEYS} WHERE template_id = :id"), ids)
        rows = [e.__dict__ for e in entries]
        session.execute(
            text(
                f"INSERT INTO {TABLE} (rowid, name, keywords, description, readme) "
                "VALUES (:template_id, :name, :keywords, :description, :readme)"
            ),
            rows,
        )
        session.execute(
            text(
                f"INSERT INTO {self.KEYS} (template_id, name_key, slug_key) "
                "VALUES (:template_id, :name_key, :slug_key)"
            ),
            rows,
        )

    def copy(self, session: Session, from_catalog: int, to_catalog: int) -> None:
        params = {"source": from_catalog, "target": to_catalog}
        session.execute(
            text(
                f"INSERT INTO {TABLE} (rowid, name, keywords, description, readme) "
                "SELECT new.id, s.name, s.keywords, s.description, s.readme "
                f"FROM {TABLE} s {_SAME_TEMPLATE.format(key='rowid')}"
            ),
            params,
        )
        session.execute(
            text(
                f"INSERT INTO {self.KEYS} (template_id, name_key, slug_key) "
                "SELECT new.id, s.name_key, s.slug_key "
                f"FROM {self.KEYS} s {_SAME_TEMPLATE.format(key='template_id')}"
            ),
            params,
        )

    def matches(self, session: Session, query: SearchQuery, scored: bool = True) -> Subquery:
        # Every word quoted (FTS5 reads nothing inside quotes as syntax) and a prefix.
        fts = " AND ".join(f'"{term}"*' for term in query.terms)
        score = f"-bm25({TABLE}, {self.WEIGHTS})" if scored else "0.0"
        rows = session.execute(
            text(f"SELECT rowid, {score} FROM {TABLE} WHERE {TABLE} MATCH :fts"),
            {"fts": "{name keywords description readme} : (" + fts + ")"},
        )
        return {row[0]: row[1] or 0.0 for row in rows}

    def keys(self) -> Subquery:
        stmt = text(f"SELECT template_id, name_key, slug_key FROM {self.KEYS}")
        return stmt.columns(**_KEY_COLUMNS).subquery("keys")

    def stored(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        rows = session.execute(
            text(f"SELECT rowid, keywords, readme FROM {TABLE} WHERE rowid IN ({_ints(ids)})")
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def id_in(self, column: Any, ids: list[int]) -> ColumnElement[bool]:
        values = select(literal_column("value")).select_from(func.json_each(json.dumps(ids)))
        return column.in_(values.scalar_subquery())


class PostgresIndex:
    """A weighted tsvector (GIN) and, with pg_trgm, trigram similarity on the name key.

    The row holds no README text (highlights read it from the template): a row kept under
    PostgreSQL's 2 kB TOAST threshold keeps its tsvector uncompressed, which a full-text
    test of a row and its rank read (a test of every row cost a fifth as much so)."""

    # ts_rank's weights of D, C, B, A: README, description, keywords, name.
    WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"

    def __init__(self) -> None:
        self._trigram: dict[str, bool] = {}

    def create(self, conn: Connection) -> None:
        conn.execute(
            text(
                f"CREATE TABLE {TABLE} ("
                "template_id INTEGER PRIMARY KEY REFERENCES templates (id) ON DELETE CASCADE, "
                "name_key TEXT NOT NULL, slug_key TEXT NOT NULL, keywords TEXT NOT NULL, "
                "document TSVECTOR NOT NULL)"
            )
        )
        conn.execute(text(f"CREATE INDEX ix_{TABLE}_document ON {TABLE} USING gin (document)"))
        if self._create_trigram(conn):
            conn.execute(
                text(
                    f"CREATE INDEX ix_{TABLE}_name_trgm ON {TABLE} "
                    "USING gin (name_key gin_trgm_ops)"
                )
            )

    @staticmethod
    def _create_trigram(conn: Connection) -> bool:
        """Create pg_trgm where the role may; search works without it (no typo matches)."""
        if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
            return True
        available = conn.execute(
            text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        ).first()
        if not available:
            return False
        savepoint = conn.begin_nested()
        try:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except Exception:  # not allowed for this role: full-text search alone
            savepoint.rollback()
            return False
        savepoint.commit()
        return True

    def drop(self, conn: Connection) -> None:
        conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))

    _DOCUMENT = (
        "setweight(to_tsvector('simple', {name}), 'A') || "
        "setweight(to_tsvector('simple', {keywords}), 'B') || "
        "setweight(to_tsvector('simple', {description}), 'C') || "
        "setweight(to_tsvector('simple', {readme}), 'D')"
    )

    def fill(self, conn: Connection) -> None:
        fill_from_templates(self, conn)

    def write(self, session: Session | Connection, entries: list[SearchEntry]) -> None:
        if not entries:
            return
        rows = [{**e.__dict__, "readme": _pg_text(e.readme)} for e in entries]
        session.execute(
            text(f"DELETE FROM {TABLE} WHERE template_id = :template_id"),
            [{"template_id": e.template_id} for e in entries],
        )
        document = self._DOCUMENT.format(
            name=":name", keywords=":keywords", description=":description", readme=":readme"
        )
        session.execute(
            text(
                f"INSERT INTO {TABLE} (template_id, name_key, slug_key, keywords, document) "
                f"VALUES (:template_id, :name_key, :slug_key, :keywords, {document})"
            ),
            rows,
        )

    def copy(self, session: Session, from_catalog: int, to_catalog: int) -> None:
        session.execute(
            text(
                f"INSERT INTO {TABLE} (template_id, name_key, slug_key, keywords, document) "
                "SELECT new.id, s.name_key, s.slug_key, s.keywords, s.document "
                f"FROM {TABLE} s {_SAME_TEMPLATE.format(key='template_id')}"
            ),
            {"source": from_catalog, "target": to_catalog},
        )

    def trigram(self, session: Session) -> bool:
        """Whether pg_trgm is installed (read once per database per process)."""
        url = str(session.get_bind().url)
        if url not in self._trigram:
            found = session.execute(
                text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            ).first()
            self._trigram[url] = found is not None
        return self._trigram[url]

    @staticmethod
    def _any_match(session: Session, tsquery: str) -> bool:
        """Whether the words match any template at all."""
        found = session.execute(
            text(f"SELECT 1 FROM {TABLE} WHERE document @@ to_tsquery('simple', :q) LIMIT 1"),
            {"q": tsquery},
        ).first()
        return found is not None

    @staticmethod
    def _similar(session: Session, key: str) -> list[int]:
        """The templates with a part of their name similar to ``key`` or, when there are
        none, with their whole name similar to it, found through the trigram index. The
        whole-name test goes second because its index answer is broad (a name of three
        common words shares trigrams with thousands): rechecking it cost 40 ms at 10,000
        templates. The planner, which does not know what a similarity test of every name
        costs, is told not to scan the table for either."""
        session.execute(text("SET LOCAL enable_seqscan = off"))
        try:
            for operator in ("%>", "%"):
                found = list(
                    session.scalars(
                        text(f"SELECT template_id FROM {TABLE} WHERE name_key {operator} :key"),
                        {"key": key},
                    )
                )
                if found:
                    return found
            return []
        finally:
            session.execute(text("SET LOCAL enable_seqscan TO DEFAULT"))

    def matches(self, session: Session, query: SearchQuery, scored: bool = True) -> Matched:
        # Words of letters and digits only, so nothing in them is tsquery syntax.
        tsquery = " & ".join(f"{term}:*" for term in query.terms)
        # Misspelt names: only when the words themselves match nothing (a similarity test
        # of every name costs more than the full-text match of the same rows).
        trigram = self.trigram(session) and not self._any_match(session, tsquery)
        score = f"ts_rank('{self.WEIGHTS}', document, query)" if scored else "0.0"
        where = "document @@ query"
        if trigram:
            # Similar to a part of the name, or to the whole of it (the closer the whole
            # name, the higher).
            where = "template_id = ANY(:similar)"
            if scored:
                score = "(similarity(name_key, :key) + word_similarity(:key, name_key)) / 2"
        params: dict[str, Any] = {"tsquery": tsquery}
        if trigram:
            params["similar"] = self._similar(session, query.key)
            if scored:
                params["key"] = query.key
        # One row of two arrays: a broad prefix matches thousands, and a row each costs
        # this process more than the database (10,000 matches: 18 ms against 13).
        stmt = text(
            f"SELECT array_agg(template_id), array_agg({score}) "
            f"FROM {TABLE}, to_tsquery('simple', :tsquery) AS query WHERE {where}"
        )
        # Through the GIN index (or the primary key), never a scan of the table: the
        # planner prices a full-text test of every row about as low as the index, but a
        # word prefix that a quarter of 10,000 templates match costs 6 ms that way
        # against 1.5 through the index, and one that nearly all match no less.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        try:
            ids, scores = session.execute(stmt, params).one()
        finally:
            session.execute(text("SET LOCAL enable_seqscan TO DEFAULT"))
        return {i: score or 0.0 for i, score in zip(ids or (), scores or (), strict=True)}

    def keys(self) -> Subquery:
        stmt = text(f"SELECT template_id, name_key, slug_key FROM {TABLE}")
        return stmt.columns(**_KEY_COLUMNS).subquery("keys")

    def stored(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        rows = session.execute(
            text(
                f"SELECT s.template_id, s.keywords, left(t.readme, {README_CHARS}) "
                f"FROM {TABLE} s JOIN templates t ON t.id = s.template_id "
                f"WHERE s.template_id IN ({_ints(ids)})"
            )
        )
        return {row[0]: (row[1], row[2] or "") for row in rows}

    def id_in(self, column: Any, ids: list[int]) -> ColumnElement[bool]:
        return column == any_(bindparam("search_ids", ids, type_=ARRAY(Integer), unique=True))


def fill_from_templates(index: SearchIndex, conn: Connection) -> None:
    """Index the templates in the database, a thousand at a time. Chart keywords are not
    kept apart on the templates row: its search text (which holds them) stands in."""
    rows = conn.execute(
        text("SELECT id, slug, name, description, search_text, readme FROM templates")
    )
    while batch := rows.fetchmany(1000):
        index.write(
            conn,
            [
                entry_for(r.id, r.slug, r.name, r.description, [], [r.search_text or ""], r.readme)
                for r in batch
            ],
        )


def _ints(ids: list[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


def _pg_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL.
    return value.replace("\x00", " ")


_INDEXES: dict[str, SearchIndex] = {"sqlite": SqliteIndex(), "postgresql": PostgresIndex()}


def index_for(dialect: str) -> SearchIndex:
    """The search index of a database dialect ("sqlite" or "postgresql")."""
    try:
        return _INDEXES[dialect]
    except KeyError:
        raise ValueError(f"no search index for the {dialect!r} database") from None


def session_index(session: Session) -> SearchIndex:
    return index_for(session.get_bind().dialect.name)


def copy_entries(session: Session, from_catalog: int, to_catalog: int) -> None:
    """Index the templates of catalog ``to_catalog`` as their namesakes in ``from_catalog``
    are indexed (a preview seeded from its base, :func:`catalog_server.previews.seed`)."""
    session_index(session).copy(session, from_catalog, to_catalog)


def find(session: Session, query: SearchQuery, scored: bool) -> Matched:
    """Every template that matches ``query``, with its score when ``scored`` (else 0).
    Asked once per query and transaction: a list, its count and its facets share it."""
    known = transaction_memo(session, "search_matches")
    for key in ((query.terms, True), (query.terms, scored)):
        if key in known:
            return known[key]
    matched = session_index(session).matches(session, query, scored)
    known[(query.terms, scored)] = matched
    return matched


def transaction_memo(session: Session, name: str) -> dict:
    """A dict kept on the session for its current transaction only: what was read in it is
    not served once the session has committed or rolled back (and may see other rows)."""
    # The session's connection lasts as long as its transaction (a commit or a rollback
    # hands it back to the pool; the next statement checks out a new one).
    connection = session.connection()
    kept = session.info.get(name)
    if kept is None or kept[0] is not connection:
        kept = session.info[name] = (connection, {})
    return kept[1]


def tier(query: SearchQuery, name_key: str, slug_key: str) -> int:
    """0: the name or id is the query; 1: it starts with the query; 2: anything else."""
    key = query.key
    if key in (name_key, slug_key):
        return 0
    return 1 if name_key.startswith(key) or slug_key.startswith(key) else 2


def write_entry(session: Session, entry: SearchEntry) -> None:
    """Index (or index again) one template, in the caller's transaction."""
    session_index(session).write(session, [entry])


# PostgreSQL only (migration 0013): the templates' columns a search's list reads, in an
# index, so that joining thousands of matches to their templates reads the index alone
# rather than every wide template row (14 ms instead of 24 for 2,827 of 10,000).
LIST_INDEX = "ix_templates_search_list"
LIST_INDEX_DDL = (
    f"CREATE INDEX {LIST_INDEX} ON templates (id) "
    "INCLUDE (catalog_id, hidden, kind, slug, name, categories)"
)


def include_in_schema(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's ``include_name``: the search index is made by raw DDL per engine (an FTS5
    table and its shadow tables, or a tsvector table, and PostgreSQL's list index), not by
    the models, so a comparison of the models with the database leaves it out."""
    if type_ == "table" and name is not None:
        return not name.startswith(TABLE)
    if type_ == "index":
        return name != LIST_INDEX
    return True


# --- highlights ------------------------------------------------------------------------


def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    """A word that begins with one of the terms (the longest term tried first)."""
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})[^\W_]*", re.IGNORECASE)


def _snippet(value: str, pattern: re.Pattern[str]) -> tuple[str, list[list[int]]] | None:
    first = pattern.search(value)
    if first is None:
        return None
    start = 0
    if len(value) > SNIPPET_CHARS:
        start = max(0, first.start() - SNIPPET_CHARS // 4)
        space = value.find(" ", start, first.start())
        start = space + 1 if space >= 0 else start  # begin at a word
    fragment = value[start : start + SNIPPET_CHARS]
    spans = [[m.start(), m.end()] for m in pattern.finditer(fragment)]
    return fragment, spans


def highlights(query: SearchQuery, fields: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Where the query's words match, per field: ``{"field", "fragment", "matches"}`` with
    ``matches`` as [start, end) character offsets into ``fragment`` (the field's whole
    text, or a window of it for long ones). Fields without a match are left out."""
    found = []
    pattern = _pattern(query.terms)
    for field, value in fields:
        if not value:
            continue
        snippet = _snippet(value, pattern)
        if snippet is not None:
            found.append({"field": field, "fragment": snippet[0], "matches": snippet[1]})
    return found


def template_highlights(session: Session, q: str, templates: list[Any]) -> dict[int, list]:
    """Highlights (:func:`highlights`) of a page of templates for the query ``q``, by
    template id: in the name, the keywords and categories, the description and the README."""
    query = parse_query(q)
    if not query.terms or not templates:
        return {}
    stored = session_index(session).stored(session, [t.id for t in templates])
    found = {}
    for t in templates:
        keywords, readme = stored.get(t.id, ("", ""))
        found[t.id] = highlights(
            query,
            [
                ("name", t.name),
                ("id", t.slug if t.slug != t.name else None),
                ("keywords", keywords),
                ("description", t.description),
                ("readme", readme),
            ],
        )
    return found
