"""The OpenAPI parts of the ranked template search (:mod:`catalog_server.search`): the
``q`` and ``sort`` parameters of /api/v1/templates and the ``highlights`` of its items."""

from __future__ import annotations

from typing import Any

from catalog_server.openapi.common import TEXT, param

SEARCH_QUERY = param(
    "q",
    "query",
    "Words to search for: each must begin a word of the template's id or name, "
    "keywords or categories, description or README (anything but letters and digits "
    "only separates words). Ranked by relevance: a name or id equal to the query "
    "first, then names starting with it, then by a full-text score that weighs the "
    "name over keywords and categories over the description over the README; on "
    "PostgreSQL with pg_trgm, a query whose words match nothing finds misspelt names. "
    "Each item then carries `highlights`.",
    TEXT,
)
SORT = param(
    "sort",
    "query",
    "relevance (the default with q; without q it is name), name (case-insensitive), "
    "or updated (the template with the most recently committed version first).",
    {"type": "string", "enum": ["relevance", "name", "updated"]},
)
HIGHLIGHTS: dict[str, Any] = {
    "type": "array",
    "description": "Only in a search (q): where the query's words matched, per "
    "field (name, id, keywords, description, readme). `fragment` is the field's "
    "text (a window of it for long ones) and `matches` the [start, end) "
    "character offsets of the matched words in it. The text is as the catalog "
    "wrote it: escape it before showing it as HTML.",
    "items": {
        "type": "object",
        "required": ["field", "fragment", "matches"],
        "properties": {
            "field": {
                "type": "string",
                "enum": ["name", "id", "keywords", "description", "readme"],
            },
            "fragment": {"type": "string"},
            "matches": {
                "type": "array",
                "items": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
        },
    },
}
