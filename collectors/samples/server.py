"""``SampleServer``: one local HTTP server answering like every real source (formats.md).

Routes (same paths as the real services, so only the base URL differs):

* ``/uss/rss/bizinfoApi.do`` (Bizinfo), ``/B552735/kisedKstartupService01/getAnnouncementInformation01``
  (K-Startup), ``/go/ythip/getPlcy`` (온통청년), ``/api/gov24/v3/serviceList`` (보조금24),
  ``/rss/{policy,pressrelease}.xml`` (정책브리핑), ``/1421000/mssBizService_v2/getbizList_v2``
  (중소벤처기업부 사업공고, the shipped data.go.kr API config ``portal:mss-notices``)
* ``/boards/garam-si/notice/...`` (table board) and ``/boards/nuri-gu/news...`` (card board),
  ``/robots.txt``
* control: ``POST /_control/fault`` (a ``Fault`` as JSON), ``POST /_control/shape``
  (``{"source", "shapes": [...]}``, see ``shapes.Shape``), ``POST /_control/reset``,
  ``POST /_control/update`` (``{"source", "id", "changes"}``), ``GET /_control/requests``

Only the sample key (``SAMPLE-KEY``) is accepted; any other key gets the source's real
bad-key answer.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from collectors.samples import render
from collectors.samples.catalog import BoardPost, SampleCatalog
from collectors.samples.faults import Fault, FaultKind, FaultPlan
from collectors.samples.shapes import (
    Shape,
    ShapePlan,
    api_document,
    deep_body,
    empty_listing,
    encode,
    one_record_listing,
    to_json,
    to_xml,
    url_variant,
)

log = logging.getLogger(__name__)
SAMPLE_KEY = "SAMPLE-KEY"

_API_ROUTES = {
    "/uss/rss/bizinfoApi.do": "bizinfo",
    "/B552735/kisedKstartupService01/getAnnouncementInformation01": "kstartup",
    "/go/ythip/getPlcy": "youthcenter",
    "/api/gov24/v3/serviceList": "gov24",
    "/1421000/mssBizService_v2/getbizList_v2": "portal:mss-notices",
}
_PAGE_PARAM = {"bizinfo": ("pageIndex", "pageUnit"), "kstartup": ("page", "perPage"),
               "youthcenter": ("pageNum", "pageSize"), "gov24": ("page", "perPage"),
               "portal:mss-notices": ("pageNo", "numOfRows")}
_KEY_PARAM = {"bizinfo": "crtfcKey", "kstartup": "serviceKey", "youthcenter": "apiKeyNm", "gov24": "serviceKey",
              "portal:mss-notices": "serviceKey"}
_JSON = "application/json;charset=UTF-8"
_XML = "text/xml;charset=UTF-8"
_HTML = "text/html;charset=UTF-8"


class Reply:
    def __init__(self, body: bytes, content_type: str = _JSON, status: int = 200):
        self.body, self.content_type, self.status = body, content_type, status


class SampleServer:
    """Serve the sample sources on ``host:port`` (port 0 picks a free one; see ``url``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, catalog: SampleCatalog | None = None):
        self.catalog = catalog or SampleCatalog()
        self.faults = FaultPlan()
        self.shapes = ShapePlan()
        handler = type("BoundHandler", (_Handler,), {"app": self})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SampleServer:
        """Serve in a background thread (tests, and `aegis collect` when no server is running)."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sample-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop a server started with ``start``."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def close(self) -> None:
        """Release the socket after ``serve_forever`` returned."""
        self._httpd.server_close()

    def __enter__(self) -> SampleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routing --------------------------------------------------------------------------
    def route(self, path: str, query: dict[str, str], use_faults: bool = True) -> Reply | Fault:
        """The reply for a GET, or the ``Fault`` to answer with instead (when ``use_faults``)."""
        if path in _API_ROUTES:
            return self._api(_API_ROUTES[path], query, use_faults)
        if match := re.fullmatch(r"/rss/([a-z_0-9]+)\.xml", path):
            feed = match[1]
            fault = self._take("korea_rss", None, use_faults)
            if fault:
                return fault
            if feed not in self.catalog.rss:
                return Reply(b"<html><body>404 Not Found</body></html>", _HTML, 404)
            return self._rss(feed)
        if path == "/robots.txt":
            return Reply(render.ROBOTS_TXT, "text/plain;charset=UTF-8")
        if path.startswith("/boards/garam-si/notice/"):
            return self._garam(path, query, use_faults)
        if path.startswith("/boards/nuri-gu/"):
            return self._nuri(path, query, use_faults)
        return Reply(b"<html><body><h1>404</h1></body></html>", _HTML, 404)

    def _take(self, source: str, page: int | None, use_faults: bool) -> Fault | None:
        return self.faults.take(source, page) if use_faults else None

    def _api(self, source: str, query: dict[str, str], use_faults: bool) -> Reply | Fault:
        page_param, size_param = _PAGE_PARAM[source]
        page = _int(query.get(page_param), 1)
        size = min(_int(query.get(size_param), 10), 500)
        fault = self._take(source, page, use_faults)
        if fault:
            return fault
        key = query.get(_KEY_PARAM[source], "")
        if key != SAMPLE_KEY:
            return self._bad_key(source, key)
        return self._listing(source, page, size, self.shapes.get(source))

    def _listing(self, source: str, page: int, size: int, shapes: list[Shape]) -> Reply:
        with self.catalog.lock:
            records = [dict(r) for r in self.catalog.records(source)]
        if one_record_listing(shapes):
            records = records[:1]
        if empty_listing(shapes):
            records = []
        total = len(records)
        rows = render.page_slice(records, page, size)
        if source == "bizinfo":
            rows = [dict(r, totCnt=str(total)) for r in rows]
        document, as_xml = api_document(source, rows, page, size, total, shapes)
        body = deep_body(as_xml) if Shape.DEEP_BODY in shapes else to_xml(document) if as_xml else to_json(document)
        return self._shaped(source, body, _XML if as_xml else _JSON)

    def _shaped(self, source: str, body: bytes, content_type: str, status: int = 200) -> Reply:
        body, content_type = encode(body, content_type, self.shapes.get(source))
        return Reply(body, content_type, status)

    def _bad_key(self, source: str, key: str) -> Reply:
        if source == "bizinfo":
            message = "인증키를 입력해주세요." if not key else "존재하지 않는 인증키 입니다."
            return self._shaped(source, render.dumps({"reqErr": message}), _JSON)
        if source in ("kstartup", "portal:mss-notices"):
            return self._shaped(source, *render.data_go_kr_error("30"))
        if source == "gov24":
            return self._shaped(source, render.dumps({"code": -4, "msg": "등록되지 않은 인증키 입니다."}), _JSON, 401)
        return self._shaped(source, render.dumps({"resultCode": 401, "resultMessage": "인증키가 유효하지 않습니다.",
                                                  "result": None}), _JSON)

    def _rss(self, feed: str) -> Reply:
        shapes = self.shapes.get("korea_rss")
        if Shape.DEEP_BODY in shapes:
            return self._shaped("korea_rss", b"<rss><channel>" + deep_body(True) + b"</channel></rss>", _XML)
        body = render.rss_feed(self.catalog, feed, self.url, empty=Shape.EMPTY_STRING in shapes,
                               pub_date=_rss_date if Shape.DATES in shapes else None,
                               link=(lambda link, i: url_variant(link, "https://www.korea.kr", i))
                               if Shape.URLS in shapes else None,
                               deep_first=Shape.DEEP_ITEM in shapes and feed == "policy",
                               root="feed" if Shape.RENAMED in shapes else "rss")
        return self._shaped("korea_rss", body, _XML)

    def _board_page(self, board: str, body: bytes) -> Reply:
        return self._shaped(f"board:{board}", body, _HTML)

    def _board_post(self, board: str, post: BoardPost, posts: list[BoardPost]) -> BoardPost:
        """The post as served: with ``deep-item``, the board's first post nests 300 levels of markup."""
        if Shape.DEEP_ITEM in self.shapes.get(f"board:{board}") and post is posts[0]:
            from dataclasses import replace
            return replace(post, body_html="<div>" * 300 + post.body_html + "</div>" * 300)
        return post

    def _garam(self, path: str, query: dict[str, str], use_faults: bool) -> Reply | Fault:
        posts = self.catalog.boards["garam-si"]
        if path.endswith("/list.do"):
            fault = self._take("board:garam-si", _int(query.get("pageIndex"), 1), use_faults)
            return fault or self._board_page("garam-si", render.garam_list(posts, _int(query.get("pageIndex"), 1)))
        if path.endswith("/view.do"):
            post = next((p for p in posts if p.post_id == query.get("nttId")), None)
            if post is None:
                return Reply(render.html_page("오류", "<p>존재하지 않는 게시물입니다.</p>"), _HTML, 404)
            return self._board_page("garam-si", render.garam_view(self._board_post("garam-si", post, posts)))
        if path.endswith("/download.do"):
            return Reply(b"HWP Document File sample", "application/octet-stream")
        return Reply(render.html_page("오류", "<p>페이지를 찾을 수 없습니다.</p>"), _HTML, 404)

    def _nuri(self, path: str, query: dict[str, str], use_faults: bool) -> Reply | Fault:
        posts = self.catalog.boards["nuri-gu"]
        if path == "/boards/nuri-gu/news":
            fault = self._take("board:nuri-gu", _int(query.get("page"), 1), use_faults)
            return fault or self._board_page("nuri-gu", render.nuri_list(posts, _int(query.get("page"), 1)))
        if match := re.fullmatch(r"/boards/nuri-gu/news/(\d+)", path):
            post = next((p for p in posts if p.post_id == match[1]), None)
            if post is not None:
                return self._board_page("nuri-gu", render.nuri_view(self._board_post("nuri-gu", post, posts)))
        if path.startswith("/boards/nuri-gu/files/"):
            return Reply(b"HWP Document File sample", "application/octet-stream")
        return Reply(render.html_page("오류", "<p>페이지를 찾을 수 없습니다.</p>"), _HTML, 404)

    # -- control --------------------------------------------------------------------------
    def control(self, path: str, body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"{}")
            if path == "/_control/fault":
                self.faults.add(Fault.model_validate(payload))
            elif path == "/_control/shape":
                self.shapes.set(str(payload["source"]), [Shape(s) for s in payload["shapes"]])
            elif path == "/_control/reset":
                self.faults.reset()
                self.shapes.reset()
            elif path == "/_control/update":
                self.catalog.update(payload["source"], str(payload["id"]), payload["changes"])
            else:
                return Reply(render.dumps({"error": "unknown control path"}), status=404)
        except (ValueError, KeyError) as exc:
            return Reply(render.dumps({"error": str(exc)}), status=400)
        return Reply(render.dumps({"ok": True}))


class _Handler(BaseHTTPRequestHandler):
    app: SampleServer
    protocol_version = "HTTP/1.1"
    server_version = "AegisSampleSources/0.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Path only: the query may carry a key.
        log.debug("sample server: %s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: object) -> None:  # stdlib signature
        log.debug("sample server: " + format, *args)

    def do_GET(self) -> None:  # stdlib name
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path == "/_control/requests":
            self._send(Reply(render.dumps(self.app.faults.all_requests())))
            return
        result = self.app.route(parts.path, query)
        if isinstance(result, Fault):
            self._fault(result, parts.path, query)
        else:
            self._send(result)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._send(self.app.control(urlsplit(self.path).path, self.rfile.read(length)))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _fault(self, fault: Fault, path: str, query: dict[str, str]) -> None:
        kind = fault.kind
        if kind is FaultKind.SLOW:
            time.sleep(fault.delay)
            result = self.app.route(path, query, use_faults=False)
            self._send(result if isinstance(result, Reply) else Reply(b"{}"))
            return
        source = _API_ROUTES.get(path, fault.source)
        if kind is FaultKind.AUTH:
            self._send(self.app._bad_key(source, "WRONG-KEY"))
        elif kind is FaultKind.QUOTA:
            if source in ("kstartup", "gov24", "portal:mss-notices"):  # the data.go.kr gateway
                self._send(self.app._shaped(source, *render.data_go_kr_error("22", fault.form)))
            else:
                self._send(Reply(b"Too Many Requests", "text/plain", 429))
        elif kind is FaultKind.GATEWAY:
            self._send(self.app._shaped(source, *render.data_go_kr_error(fault.code, fault.form)))
        elif kind is FaultKind.HTTP_ERROR:
            self._send(Reply(f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>".encode(),
                             _HTML, fault.status))
        elif kind is FaultKind.TRUNCATED:
            body = self._normal_body(path, query)
            self.send_response(200)
            self.send_header("Content-Type", _JSON)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif kind is FaultKind.CUT_JSON:
            body = self._normal_body(path, query)
            self._send(Reply(body[: len(body) // 2]))
        elif kind is FaultKind.ENTITY_BOMB:
            self._send(Reply(render.ENTITY_BOMB, _XML))

    def _normal_body(self, path: str, query: dict[str, str]) -> bytes:
        result = self.app.route(path, query, use_faults=False)
        return result.body if isinstance(result, Reply) else b"{}"

def _rss_date(pub_date: str, index: int) -> str:
    """The item's ``+0900`` date in another form real feeds use, in turn: KST, ISO 8601, GMT."""
    from email.utils import format_datetime, parsedate_to_datetime

    when = parsedate_to_datetime(pub_date)
    form = index % 3
    if form == 0:
        return pub_date.replace("+0900", "KST")
    if form == 1:
        return when.isoformat()
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
