"""The generated reference pages cover every lint rule and every API route."""

from __future__ import annotations

import re

from catalog_server.docs.build import reference_pages
from catalog_server.docs.reference import api_routes, md_text
from catalog_server.openapi import openapi_document
from catalog_server.validation import RULES


def test_every_lint_rule_is_documented():
    page = reference_pages()["reference/lint-rules.md"]
    for rule in RULES.values():
        row = next((line for line in page.splitlines() if f"`{rule.id}`" in line), None)
        assert row is not None, f"{rule.id} missing from the lint rule reference"
        assert rule.severity in row


def test_every_api_route_is_documented(app):
    """Every route the app serves under /api/, /helm/ and /v2/ is in the generated API page."""
    page = reference_pages()["reference/api.md"]
    documented = set(api_routes(openapi_document()))
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        if not path.startswith(("/api/", "/helm/", "/v2/")):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert f"### {method} `{path}`" in page, f"{method} {path} missing from the API page"
    for method, path in documented:
        assert f"### {method} `{path}`" in page


def test_markdown_text_is_inert():
    assert md_text("<script>x</script> | *a* [b](javascript:c)") == (
        "&lt;script&gt;x&lt;/script&gt; \\| \\*a\\* \\[b\\](javascript:c)"
    )
