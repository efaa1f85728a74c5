"""Real-shape variants the sample server can answer with, and what the collectors do with each.

Real public APIs send the same data in many envelopes, encodings and value types
(formats.md §8). A variant is set per source (``--shape SOURCE=SHAPE[,SHAPE...]`` on
``aegis sources serve-samples``, or ``POST /_control/shape {"source", "shapes"}``) and stays until
``/_control/reset``. Variants combine: an envelope, an encoding and a value variant at once
(``kstartup=classic-xml,bom``). Encoding variants apply to error answers (faults) too.

``CASES`` is the matrix docs/collectors.md shows (``shapes_table``) and the integration tests
run through real HTTP: for every source, every shape it accepts and the expected outcome.
"""

from __future__ import annotations

import codecs
import json
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any
from xml.sax.saxutils import escape


class Shape(str, Enum):
    # envelopes of the list of items
    LIST = "list"                   # a JSON list (the default; classic envelope: items/item repeated)
    SINGLE = "single"               # a one-record listing sent as the bare object
    ITEM_LIST = "item-list"         # {"item": [...]}
    ITEM_OBJECT = "item-object"     # a one-record listing as {"item": {...}}
    EMPTY_STRING = "empty-string"   # an empty listing as ""
    NULL = "null"                   # an empty listing as null
    CHANNEL = "channel"             # Bizinfo's documented {"jsonArray": {"title", "link", "item": [...]}}
    CLASSIC_JSON = "classic-json"   # data.go.kr response/header/resultCode + response/body/items/item, JSON
    CLASSIC_XML = "classic-xml"     # the same in XML
    # encodings and framing
    BOM = "bom"                     # a UTF-8 byte-order mark before the body
    WHITESPACE = "whitespace"       # blank lines and spaces before the body
    EUC_KR = "euc-kr"               # CP949 bytes, charset declared in the HTTP header only
    EUC_KR_BODY = "euc-kr-body"     # CP949 bytes, declared in the XML prolog / HTML <meta>, or not at all (JSON)
    # values
    TYPES = "types"                 # numbers as strings and numeric strings as numbers
    URLS = "urls"                   # links with &amp;, as markdown, without a scheme, relative, //host
    DATES = "dates"                 # RSS pubDate with KST, as ISO 8601, in GMT
    # one bad item (rejected, DP_2001; the rest of the page is stored)
    WRONG_TYPES = "wrong-types"     # the first record's title is an object, another field a list
    NOT_OBJECT = "not-object"       # a number among the items
    DEEP_ITEM = "deep-item"         # the first record nests 100 levels (HTML: 300 levels of markup)
    # a page that cannot be read (DP_1004, nothing of it stored)
    DEEP_BODY = "deep-body"         # a body nested 100,000 levels
    RENAMED = "renamed"             # the list under a key the collector does not know: not zero records


class Outcome(str, Enum):
    SAME = "same records"                 # exactly the records of the default shape
    ONE = "1 record"                      # the one record of a one-record listing
    NONE = "0 records, no error"          # an empty listing
    REJECT_ONE = "1 rejected, rest stored"  # the default records but one, that one in dead_letters
    REJECT_EXTRA = "1 extra rejected, rest stored"  # every default record, plus one rejection
    PAGE_ERROR = "DP_1004, page not stored"


# Which shapes each source accepts and what comes of them (the docs table and the integration tests).
API_JSON = ("bizinfo", "kstartup", "youthcenter", "gov24")
PORTAL = "portal:mss-notices"
BOARDS = ("board:garam-si", "board:nuri-gu")
SOURCES = (*API_JSON, PORTAL, "korea_rss", *BOARDS)

CASES: dict[Shape, tuple[Outcome, tuple[str, ...]]] = {
    Shape.LIST: (Outcome.SAME, SOURCES),
    Shape.SINGLE: (Outcome.ONE, (*API_JSON, PORTAL)),
    Shape.ITEM_LIST: (Outcome.SAME, (*API_JSON, PORTAL)),
    Shape.ITEM_OBJECT: (Outcome.ONE, (*API_JSON, PORTAL)),
    Shape.EMPTY_STRING: (Outcome.NONE, (*API_JSON, PORTAL, "korea_rss")),
    Shape.NULL: (Outcome.NONE, (*API_JSON, PORTAL)),
    Shape.CHANNEL: (Outcome.SAME, ("bizinfo",)),
    Shape.CLASSIC_JSON: (Outcome.SAME, ("kstartup", "gov24", PORTAL)),
    Shape.CLASSIC_XML: (Outcome.SAME, ("kstartup", "gov24", PORTAL)),
    Shape.BOM: (Outcome.SAME, (*API_JSON, PORTAL, "korea_rss")),
    Shape.WHITESPACE: (Outcome.SAME, (*API_JSON, PORTAL, "korea_rss")),
    Shape.EUC_KR: (Outcome.SAME, SOURCES),
    Shape.EUC_KR_BODY: (Outcome.SAME, SOURCES),
    Shape.TYPES: (Outcome.SAME, API_JSON),
    Shape.URLS: (Outcome.SAME, ("bizinfo", "kstartup", "gov24", PORTAL, "korea_rss")),
    Shape.DATES: (Outcome.SAME, ("korea_rss",)),
    Shape.WRONG_TYPES: (Outcome.REJECT_ONE, (*API_JSON, PORTAL)),
    Shape.NOT_OBJECT: (Outcome.REJECT_EXTRA, (*API_JSON, PORTAL)),
    Shape.DEEP_ITEM: (Outcome.REJECT_ONE, SOURCES),
    Shape.DEEP_BODY: (Outcome.PAGE_ERROR, (*API_JSON, PORTAL, "korea_rss")),
    Shape.RENAMED: (Outcome.PAGE_ERROR, (*API_JSON, PORTAL, "korea_rss")),
}

# Error answers (``--fault``) each source understands, with the code the collector reports.
# (fault spec as `aegis sources serve-samples --fault` takes it, code, what the collector does)
ERROR_CASES: list[tuple[str, str, str]] = [
    ("bizinfo=auth", "DP_1001", "Bizinfo reqErr (HTTP 200): not retried, hint names the key setting"),
    ("kstartup=auth", "DP_1001", "data.go.kr XML code 30: not retried"),
    ("gov24=auth", "DP_1001", "odcloud HTTP 401 {code: -4}: not retried"),
    ("youthcenter=auth", "DP_1001", "온통청년 resultCode 401: not retried"),
    ("kstartup=quota", "DP_1002", "gateway code 22 (XML, HTTP 200): source left alone until 00:00 KST"),
    ("gov24=gateway:22/classic-json", "DP_1002", "code 22 in the classic JSON envelope: quota window"),
    (f"{PORTAL}=gateway:22/classic-xml", "DP_1002", "code 22 in the classic XML envelope: quota window"),
    ("kstartup=gateway:30/openapi-json", "DP_1001", "the gateway error envelope as JSON: not retried"),
    ("gov24=gateway:01x-1", "DP_1001", "gateway's own trouble (01/02/04/05/99): retried, then the source stops"),
    ("kstartup=gateway:03", "-", "code 03 NODATA: an empty listing, no error"),
    ("bizinfo=quotax-1", "DP_1002", "HTTP 429: retried with backoff"),
    ("youthcenter=http_error:503x-1", "DP_1001", "HTTP 5xx: retried, then the source stops"),
    ("youthcenter=cut_jsonx-1", "DP_1004", "a cut-off JSON body: retried, then the source stops"),
    ("korea_rss=entity_bombx-1", "DP_1004", "XML entity declarations: refused (defusedxml)"),
    ("kstartup=truncatedx-1", "DP_1001", "connection cut mid-body: retried, then the source stops"),
]
# Every error case also arrives after a UTF-8 BOM or whitespace (``--shape SOURCE=bom``): same code.


def _deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


@dataclass(frozen=True)
class ApiLayout:
    """How one API source lays out its page (the parts a shape changes)."""

    list_path: tuple[str, ...]     # where the list of items sits in the default document
    id: str                        # the item field identifying a record (kept intact by every variant)
    title: str                     # the item field a wrong type is put into
    url: str | None = None         # the item field holding a link
    site: str | None = None        # the site relative links of that field resolve against
    xml: bool = False              # XML by default (the portal example)


LAYOUTS = {
    "bizinfo": ApiLayout(("jsonArray",), "pblancId", "pblancNm", "pblancUrl", "https://www.bizinfo.go.kr"),
    "kstartup": ApiLayout(("data",), "pbanc_sn", "biz_pbanc_nm", "detl_pg_url", "https://www.k-startup.go.kr"),
    "youthcenter": ApiLayout(("result", "youthPolicyList"), "plcyNo", "plcyNm"),
    "gov24": ApiLayout(("data",), "서비스ID", "서비스명", "상세조회URL", "https://www.gov.kr"),
    PORTAL: ApiLayout(("response", "body", "items"), "itemId", "title", "viewUrl", "https://www.mss.go.kr", xml=True),
}
CLASSIC_HEADER = {"resultCode": "00", "resultMsg": "NORMAL SERVICE."}


class ShapePlan:
    """The variants each source answers with until reset."""

    def __init__(self) -> None:
        self._shapes: dict[str, list[Shape]] = {}
        self._lock = threading.Lock()

    def set(self, source: str, shapes: list[Shape]) -> None:
        with self._lock:
            self._shapes[source] = list(shapes)

    def get(self, source: str) -> list[Shape]:
        with self._lock:
            return list(self._shapes.get(source, []))

    def reset(self) -> None:
        with self._lock:
            self._shapes.clear()


def parse_shape_option(text: str) -> tuple[str, list[Shape]]:
    """``SOURCE=SHAPE[,SHAPE...]`` (CLI form), e.g. ``kstartup=classic-xml,bom``."""
    source, _, rest = text.partition("=")
    if not source.strip() or not rest.strip():
        raise ValueError(f"expected SOURCE=SHAPE[,SHAPE...], got {text!r}")
    return source.strip(), [Shape(s.strip()) for s in rest.split(",") if s.strip()]


# -- documents ---------------------------------------------------------------------------------
def one_record_listing(shapes: list[Shape]) -> bool:
    return Shape.SINGLE in shapes or Shape.ITEM_OBJECT in shapes


def empty_listing(shapes: list[Shape]) -> bool:
    return Shape.EMPTY_STRING in shapes or Shape.NULL in shapes


def api_document(source: str, rows: list[dict[str, Any]], page: int, size: int, total: int,
                 shapes: list[Shape]) -> tuple[Any, bool]:
    """The page as data in the source's envelope with ``shapes`` applied, and whether it is XML."""
    layout = LAYOUTS[source]
    rows = [dict(r) for r in rows]
    if Shape.TYPES in shapes:
        rows = [{k: _swap_type(v) for k, v in r.items()} for r in rows]
    if Shape.URLS in shapes and layout.url:
        for index, row in enumerate(rows):
            if isinstance(row.get(layout.url), str):
                row[layout.url] = url_variant(row[layout.url], layout.site or "", index)
    first_page = page <= 1  # one bad item per listing, on its first page
    if rows and first_page and Shape.WRONG_TYPES in shapes:
        rows[0][layout.title] = {"ko": rows[0].get(layout.title)}
        other = next((k for k, v in rows[0].items()
                      if k not in (layout.title, layout.id) and isinstance(v, str) and v), None)
        if other and not layout.xml:
            rows[0][other] = [1, 2]
    if rows and first_page and Shape.DEEP_ITEM in shapes:
        rows[0]["extra"] = _deep(100)
    listing: Any = list(rows)
    if Shape.NOT_OBJECT in shapes and listing and first_page:
        listing.insert(1, 42)
    classic = layout.xml or Shape.CLASSIC_JSON in shapes or Shape.CLASSIC_XML in shapes
    as_xml = (layout.xml and Shape.CLASSIC_JSON not in shapes) or Shape.CLASSIC_XML in shapes
    wrapped = _wrap(listing, shapes, classic)
    if classic:
        items_key = "itemz" if Shape.RENAMED in shapes else "items"
        document: Any = {"response": {"header": dict(CLASSIC_HEADER), "body": {
            items_key: wrapped, "numOfRows": size, "pageNo": page, "totalCount": total}}}
    elif source == "bizinfo":
        if Shape.CHANNEL in shapes or Shape.RENAMED in shapes:
            key = "items" if Shape.RENAMED in shapes else "item"
            wrapped = {"title": "기업마당 지원사업 정보", "link": "https://www.bizinfo.go.kr",
                       "description": "중소기업 지원사업 공고", key: wrapped}
        document = {"jsonArray": wrapped}
    elif source == "youthcenter":
        key = "youthPolicyLst" if Shape.RENAMED in shapes else "youthPolicyList"
        document = {"resultCode": 200, "resultMessage": "성공",
                    "result": {"pagging": {"totCount": total, "pageNum": page, "pageSize": size}, key: wrapped}}
    else:  # odcloud (K-Startup, 보조금24)
        key = "datas" if Shape.RENAMED in shapes else "data"
        document = {"currentCount": len(rows), key: wrapped, "matchCount": total, "page": page, "perPage": size,
                    "totalCount": total + 29_000}
    return document, as_xml


def _wrap(listing: list[Any], shapes: list[Shape], classic: bool) -> Any:
    if Shape.EMPTY_STRING in shapes:
        return ""
    if Shape.NULL in shapes:
        return None
    if Shape.SINGLE in shapes:
        return listing[0] if listing else ""
    if Shape.ITEM_OBJECT in shapes:
        return {"item": listing[0]} if listing else ""
    if Shape.ITEM_LIST in shapes or (classic and Shape.LIST not in shapes):
        return {"item": listing} if listing else ""
    return listing


def _swap_type(value: Any) -> Any:
    """Numbers as strings, numeric strings (no leading zero, short) as numbers."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.isdigit() and len(value) <= 15 and not (len(value) > 1 and value[0] == "0"):
        return int(value)
    return value


def url_variant(url: str, site: str, index: int) -> str:
    """One of the link forms real sources send, in turn: entities, markdown, scheme-less, relative, //host."""
    kind = index % 5
    if kind == 0:
        return url.replace("&", "&amp;")
    if kind == 1:
        return f"[상세보기]({url})"
    if kind == 2:
        return url.split("://", 1)[-1]
    if kind == 3 and site and url.startswith(site + "/"):
        return url[len(site):]
    return "//" + url.split("://", 1)[-1]


def deep_body(as_xml: bool) -> bytes:
    levels = 100_000
    if as_xml:
        return b"<response>" + b"<a>" * levels + b"x" + b"</a>" * levels + b"</response>"
    return b'{"x": ' + b"[" * levels + b"]" * levels + b"}"


# -- serialisation -----------------------------------------------------------------------------
def to_json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def to_xml(document: dict[str, Any]) -> bytes:
    """data.go.kr's XML of a document: objects are elements, lists repeat their element, null is empty."""
    (root, value), = document.items()
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + _element(root, value)).encode("utf-8")


def _element(name: str, value: Any) -> str:
    if isinstance(value, list):
        return "".join(_element(name, v) for v in value)
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_element(k, v) for k, v in value.items()) + f"</{name}>"
    if value is None or value == "":
        return f"<{name}/>"
    return f"<{name}>{escape(str(value))}</{name}>"


def _json_escape(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler writing what CP949 cannot hold as JSON ``\\uXXXX`` escapes."""
    chunk = error.object[error.start:error.end]  # type: ignore[attr-defined]
    return "".join(f"\\u{unit:04x}" for ch in chunk for unit in _utf16_units(ch)), error.end  # type: ignore[attr-defined]


def _utf16_units(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


codecs.register_error("aegis-json-escape", _json_escape)


def encode(body: bytes, content_type: str, shapes: list[Shape]) -> tuple[bytes, str]:
    """``body`` (UTF-8) re-encoded and framed as ``shapes`` ask, with the matching Content-Type."""
    media = content_type.split(";", 1)[0]
    if Shape.EUC_KR in shapes or Shape.EUC_KR_BODY in shapes:
        text = body.decode("utf-8")
        in_body = Shape.EUC_KR_BODY in shapes
        errors = "aegis-json-escape" if media.endswith("json") else "xmlcharrefreplace"
        if media.endswith("xml"):
            declaration = ' encoding="EUC-KR"' if in_body else ""
            text = text.replace(' encoding="UTF-8"', declaration, 1)
            if not text.startswith("<?xml"):
                text = f'<?xml version="1.0"{declaration}?>' + text
        elif media.endswith("html"):
            text = text.replace('<meta charset="utf-8">', '<meta charset="euc-kr">', 1)
        body = text.encode("cp949", errors=errors)
        content_type = media if in_body else f"{media};charset=EUC-KR"
    if Shape.WHITESPACE in shapes:
        body = b"\r\n  \n\t " + body
    if Shape.BOM in shapes:
        body = codecs.BOM_UTF8 + body
    return body, content_type


def shapes_table() -> str:
    """The Markdown table of ``CASES`` for docs/collectors.md."""
    header = "| shape | " + " | ".join(f"`{s}`" for s in SOURCES) + " |"
    lines = [header, "|---|" + "---|" * len(SOURCES)]
    for shape, (outcome, sources) in CASES.items():
        cells = " | ".join("✓" if s in sources else "" for s in SOURCES)
        lines.append(f"| `{shape.value}` → {outcome.value} | {cells} |")
    return "\n".join(lines)


def errors_table() -> str:
    lines = ["| fault (`--fault`) | code | what the collector does |", "|---|---|---|"]
    lines += [f"| `{spec}` | {code} | {what} |" for spec, code, what in ERROR_CASES]
    return "\n".join(lines)


_MARKERS = {"shapes-table": shapes_table, "errors-table": errors_table}


def render_docs(text: str) -> str:
    """docs/collectors.md with the text between each table's markers rendered again (``make docs``)."""
    for name, render in _MARKERS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, found, rest = text.partition(start)
        if not found:
            continue
        _, _, tail = rest.partition(end)
        text = f"{head}{start}\n{render()}\n{end}{tail}"
    return text


if __name__ == "__main__":  # python -m collectors.samples.shapes docs/collectors.md
    import sys
    from pathlib import Path

    path = Path(sys.argv[1])
    path.write_text(render_docs(path.read_text(encoding="utf-8")), encoding="utf-8")
