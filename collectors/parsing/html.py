"""HTML (and entity-laden text) to clean plain text, keeping paragraph breaks.

HTML is parsed with lxml's ``huge_tree`` option (libxml2 otherwise silently drops everything
below 256 levels, which turned deep markup into empty text) and markup nested deeper than
``MAX_HTML_DEPTH`` is refused with ``DataError`` (DP_2001): that item is rejected, never its page.
"""

from __future__ import annotations

import html
import re

import lxml.html
from lxml import etree

from aegis.errors import DataError, ErrorCode

_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
               "dl", "dt", "dd", "section", "article", "blockquote", "pre", "hr"}
_DROP_TAGS = ("script", "style", "noscript", "iframe", "object", "embed", "head")
_LOOKS_LIKE_HTML = re.compile(r"<\s*(?:[a-zA-Z][a-zA-Z0-9]*)(?:\s[^<>]*)?/?\s*>|</\s*[a-zA-Z]")
_SPACES = re.compile(r"[ \t\u00a0\u3000\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # libxml2 cannot hold them
MAX_HTML_DEPTH = 200
_PARSER = lxml.html.HTMLParser(huge_tree=True, remove_comments=True)


def html_to_text(value: str | None) -> str:
    """Clean text from ``value``: tags removed, entities decoded, one line per block, no blank lines."""
    if value is None:
        return ""
    text = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    # plain text is unescaped twice: some sources double-escape (&amp;amp;)
    text = _strip_markup(text) if _LOOKS_LIKE_HTML.search(text) else html.unescape(html.unescape(text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", "\n".join(lines)).strip()


def parse_fragment(markup: str) -> lxml.html.HtmlElement | None:
    """``markup`` as one ``<div>`` element (None when lxml cannot parse it); DataError when too deep."""
    try:
        root = lxml.html.fragment_fromstring(_CONTROL.sub("", markup), create_parent="div", parser=_PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_HTML_DEPTH:
            raise DataError(f"HTML nested deeper than {MAX_HTML_DEPTH} levels", code=ErrorCode.VALIDATION_FAILED,
                            hint="kept in dead_letters with its raw payload")
        stack.extend((child, depth + 1) for child in element)
    return root


def _strip_markup(markup: str) -> str:
    root = parse_fragment(markup)
    if root is None:
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    for bad in root.iter(*_DROP_TAGS):
        bad.drop_tree()
    for element in root.iter():
        if not isinstance(element.tag, str):  # comments, processing instructions
            continue
        if element.tag in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            if element.tag != "br":
                element.text = "\n" + (element.text or "")
        elif element.tag in ("td", "th"):
            element.tail = " " + (element.tail or "")
    for comment in root.xpath("//comment()"):
        comment.drop_tree()
    return html.unescape(root.text_content())


def unescape(value: str | None) -> str | None:
    """Decode HTML entities in a short plain value (``기술개발(R&amp;D)``) and trim it."""
    if value is None:
        return None
    cleaned = " ".join(html.unescape(value).split())
    return cleaned or None
