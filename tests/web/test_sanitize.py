"""Markdown from catalogs is rendered without script; SVG icons lose what could run."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_server.docs.sanitize import clean_svg, render_markdown

HOSTILE = Path(__file__).parent.parent / "data" / "site-catalog" / "templates" / "hostile"


def test_markdown_keeps_formatting():
    html = render_markdown(
        "# Title\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n```\ncode\n```\n[x](https://e.com)"
    )
    assert "<h1>Title</h1>" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "<pre><code>code" in html
    assert 'href="https://e.com"' in html and "noopener" in html


def test_hostile_readme_loses_every_active_part():
    html = render_markdown((HOSTILE / "README.md").read_text()).lower()
    assert "Ordinary text first".lower() in html
    for bad in ("<script", "onerror", "onmouseover", "javascript:", "<iframe", "style="):
        assert bad not in html, bad


@pytest.mark.parametrize(
    "text",
    [
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="java&#x09;script:alert(1)">x</a>',
        "[x](javascript&#58;alert(1))",
        "<svg><script>alert(1)</script></svg>",
        '<img src="x" onerror="alert(1)">',
        '<object data="x.swf"></object><embed src="x.swf">',
        '<form action="javascript:alert(1)"><input></form>',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    ],
)
def test_script_vectors_are_removed(text):
    html = render_markdown(text).lower()
    assert "alert" not in html or ("<" not in html.split("alert")[0][-20:] and "href" not in html)
    for bad in ("<script", "onerror", "javascript:", "<object", "<embed", "<form", "data:text"):
        assert bad not in html


def test_clean_svg_drops_script_and_handlers():
    cleaned = clean_svg((HOSTILE / "catalogIcon-hostile.svg").read_bytes())
    assert cleaned is not None
    text = cleaned.decode()
    assert "<circle" in text
    assert "script" not in text and "onload" not in text


def test_clean_svg_refuses_entities_and_non_svg():
    bomb = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>'
    assert clean_svg(bomb) is None
    assert clean_svg(b"<html><body>no</body></html>") is None
    assert clean_svg(b"not xml at all <") is None


def test_clean_svg_keeps_internal_references_only():
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<linearGradient id="g"/><rect fill="url(#g)"/>'
        b'<a xlink:href="javascript:alert(1)"><text>x</text></a>'
        b'<image href="https://tracker.example/p.png"/>'
        b"<foreignObject><div>html</div></foreignObject></svg>"
    )
    text = clean_svg(svg).decode()
    assert 'fill="url(#g)"' in text
    assert "javascript" not in text and "tracker" not in text and "foreignObject" not in text


@pytest.mark.parametrize(
    "css",
    [
        "@import url(https://evil.example/x.css);",
        "@import 'https://evil.example/x.css';",
        ".a { fill: url(https://evil.example/x#p) }",
        ".a { fill: url(#ok) } .b { background: url( 'https://evil.example/p.png' ) }",
        ".a { background: \\75 rl(https://evil.example/p.png) }",
        ".a { background-image: image-set('https://evil.example/p.png' 1x) }",
        "@font-face { font-family: x; src: local(x), url(//evil.example/f.woff) }",
    ],
)
def test_clean_svg_keeps_no_style_that_fetches(css):
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg"><style>' + css + "</style>"
        '<rect class="a" style="' + css.replace('"', "'") + '" width="1" height="1"/></svg>'
    ).encode()
    text = clean_svg(svg).decode()
    assert "evil.example" not in text
    assert "<rect" in text


def test_clean_svg_keeps_harmless_style():
    css = ".st0{fill:#0075a8;stroke:rgb(1,2,3)} .st1{fill:url(#gradient);opacity:.5}"
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><style>' + css + "</style></svg>").encode()
    assert css in clean_svg(svg).decode()
