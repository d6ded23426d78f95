"""Untrusted catalog content made safe to put in a page: Markdown READMEs and SVG icons.

READMEs are rendered with Python-Markdown and then cleaned with nh3 (ammonia): only an
allow-list of tags and attributes survives, so no script, no event handler, no style, no
iframe, and links keep only http, https and mailto URLs. SVG icons are shown with
``<img src>``, which never runs SVG script; they are cleaned as well, because a static web
server may serve a site's icon file to someone who opens it directly.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import markdown
import nh3

URL_SCHEMES = {"http", "https", "mailto"}
# ammonia's default tags, less those that only matter for layout tricks or image maps.
TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map", "center", "acronym", "tt", "strike"}
ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "td": {"align", "colspan", "rowspan"},
}
MARKDOWN_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# Elements that can run script, load documents, or animate an attribute into a script URL.
_SVG_DROP = {"script", "foreignObject", "iframe", "embed", "object", "handler", "listener",
             "animate", "set", "animateTransform", "animateMotion", "use"}  # fmt: skip
MAX_ICON_BYTES = 512 * 1024
# CSS functions a style may call: colours and transforms, nothing that loads a resource.
_CSS_FUNCTIONS = {
    "rgb", "rgba", "hsl", "hsla", "calc", "var", "translate", "translatex", "translatey",
    "rotate", "scale", "scalex", "scaley", "matrix", "skewx", "skewy", "cubic-bezier",
}  # fmt: skip
_CSS_CALL = re.compile(r"([-\w]+)\(\s*(\S?)")  # a function token: name( with no space


def fetches(css: str) -> bool:
    """True when CSS text could make a browser fetch something or escape this check: an
    at-rule that loads (``@import``, ``@font-face``), a backslash (CSS escapes can spell
    ``url``), or a call to any function but the harmless ones, ``url(#id)`` included."""
    lowered = css.lower()
    if "@import" in lowered or "@font-face" in lowered or "\\" in css or "@namespace" in lowered:
        return True
    for name, first in _CSS_CALL.findall(lowered):
        if name == "url" and first == "#":
            continue
        if name not in _CSS_FUNCTIONS:
            return True
    return False


def render_markdown(text: str | None) -> str:
    """Render untrusted Markdown to HTML that holds no script, event handler or script URL.

    Raw HTML in the Markdown is allowed through the renderer and then cleaned, so harmless
    tags (tables, images, details) keep working. Never raises for any input text.
    """
    if not text:
        return ""
    html = markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS, output_format="html")
    return clean_html(html)


def clean_html(html: str) -> str:
    """Clean an HTML fragment with the allow-list above."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        clean_content_tags={"script", "style"},
        link_rel="noopener noreferrer nofollow",
    )


def clean_svg(data: bytes) -> bytes | None:
    """An SVG icon without script, event handlers, external references (links, and styles
    that load anything: see `fetches`) or entity tricks.

    Returns None when the file is not a well-formed SVG document, or declares a DOCTYPE
    (entity expansion is how XML bombs work; icons never need one): the page then shows
    a placeholder instead.
    """
    if len(data) > MAX_ICON_BYTES or b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    if _local(root.tag) != "svg":
        return None
    _clean_svg_element(root)
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _dropped(element: ET.Element) -> bool:
    if not isinstance(element.tag, str) or _local(element.tag) in _SVG_DROP:
        return True
    return _local(element.tag) == "style" and fetches("".join(element.itertext()))


def _clean_svg_element(element: ET.Element) -> None:
    for child in list(element):
        if _dropped(child):
            element.remove(child)
        else:
            _clean_svg_element(child)
    for name in list(element.attrib):
        local = _local(name).lower()
        value = element.attrib[name].strip().lower()
        if local.startswith("on"):
            del element.attrib[name]
        elif (local == "href" or name == XLINK_HREF) and not value.startswith("#"):
            del element.attrib[name]  # only in-document references: nothing is fetched
        elif "javascript:" in value.replace(" ", "") or fetches(value):
            del element.attrib[name]
