"""``SampleServer``: one local HTTP server answering like every real source (formats.md).

Routes (same paths as the real services, so only the base URL differs):

* ``/uss/rss/bizinfoApi.do`` (Bizinfo), ``/B552735/kisedKstartupService01/getAnnouncementInformation01``
  (K-Startup), ``/go/ythip/getPlcy`` (온통청년), ``/api/gov24/v3/serviceList`` (보조금24),
  ``/rss/{policy,pressrelease}.xml`` (정책브리핑)
* ``/boards/garam-si/notice/...`` (table board) and ``/boards/nuri-gu/news...`` (card board),
  ``/robots.txt``
* control: ``POST /_control/fault`` (a ``Fault`` as JSON), ``POST /_control/reset``,
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from collectors.samples import render
from collectors.samples.catalog import SampleCatalog
from collectors.samples.faults import Fault, FaultKind, FaultPlan

log = logging.getLogger(__name__)
SAMPLE_KEY = "SAMPLE-KEY"

_API_ROUTES = {
    "/uss/rss/bizinfoApi.do": "bizinfo",
    "/B552735/kisedKstartupService01/getAnnouncementInformation01": "kstartup",
    "/go/ythip/getPlcy": "youthcenter",
    "/api/gov24/v3/serviceList": "gov24",
}
_PAGE_PARAM = {"bizinfo": ("pageIndex", "pageUnit"), "kstartup": ("page", "perPage"),
               "youthcenter": ("pageNum", "pageSize"), "gov24": ("page", "perPage")}
_KEY_PARAM = {"bizinfo": "crtfcKey", "kstartup": "serviceKey", "youthcenter": "apiKeyNm", "gov24": "serviceKey"}
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
        handler = type("BoundHandler", (_Handler,), {"app": self})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

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
            return Reply(render.rss_feed(self.catalog, feed, self.url), _XML)
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
        if source == "bizinfo":
            return Reply(render.bizinfo_page(self.catalog, page, size))
        if source == "youthcenter":
            return Reply(render.youth_page(self.catalog, page, size))
        with self.catalog.lock:
            rows = [dict(r) for r in getattr(self.catalog, source)]
        return Reply(render.odcloud_page(rows, page, size))

    def _bad_key(self, source: str, key: str) -> Reply:
        if source == "bizinfo":
            message = "인증키를 입력해주세요." if not key else "존재하지 않는 인증키 입니다."
            return Reply(render.dumps({"reqErr": message}))
        if source == "kstartup":
            return Reply(render.data_go_kr_error("30"), _XML)
        if source == "gov24":
            return Reply(render.dumps({"code": -4, "msg": "등록되지 않은 인증키 입니다."}), _JSON, 401)
        return Reply(render.dumps({"resultCode": 401, "resultMessage": "인증키가 유효하지 않습니다.", "result": None}))

    def _garam(self, path: str, query: dict[str, str], use_faults: bool) -> Reply | Fault:
        posts = self.catalog.boards["garam-si"]
        if path.endswith("/list.do"):
            fault = self._take("board:garam-si", _int(query.get("pageIndex"), 1), use_faults)
            return fault or Reply(render.garam_list(posts, _int(query.get("pageIndex"), 1)), _HTML)
        if path.endswith("/view.do"):
            post = next((p for p in posts if p.post_id == query.get("nttId")), None)
            if post is None:
                return Reply(render.html_page("오류", "<p>존재하지 않는 게시물입니다.</p>"), _HTML, 404)
            return Reply(render.garam_view(post), _HTML)
        if path.endswith("/download.do"):
            return Reply(b"HWP Document File sample", "application/octet-stream")
        return Reply(render.html_page("오류", "<p>페이지를 찾을 수 없습니다.</p>"), _HTML, 404)

    def _nuri(self, path: str, query: dict[str, str], use_faults: bool) -> Reply | Fault:
        posts = self.catalog.boards["nuri-gu"]
        if path == "/boards/nuri-gu/news":
            fault = self._take("board:nuri-gu", _int(query.get("page"), 1), use_faults)
            return fault or Reply(render.nuri_list(posts, _int(query.get("page"), 1)), _HTML)
        if match := re.fullmatch(r"/boards/nuri-gu/news/(\d+)", path):
            post = next((p for p in posts if p.post_id == match[1]), None)
            if post is not None:
                return Reply(render.nuri_view(post), _HTML)
        if path.startswith("/boards/nuri-gu/files/"):
            return Reply(b"HWP Document File sample", "application/octet-stream")
        return Reply(render.html_page("오류", "<p>페이지를 찾을 수 없습니다.</p>"), _HTML, 404)

    # -- control --------------------------------------------------------------------------
    def control(self, path: str, body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"{}")
            if path == "/_control/fault":
                self.faults.add(Fault.model_validate(payload))
            elif path == "/_control/reset":
                self.faults.reset()
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

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.debug("sample server: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
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

    def do_POST(self) -> None:  # noqa: N802
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
        if kind is FaultKind.AUTH:
            source = _API_ROUTES.get(path, "korea_rss")
            self._send(self.app._bad_key(source, "WRONG-KEY"))
        elif kind is FaultKind.QUOTA:
            if path in _API_ROUTES and _API_ROUTES[path] in ("kstartup", "gov24"):  # the data.go.kr gateway
                self._send(Reply(render.data_go_kr_error("22"), _XML))
            else:
                self._send(Reply(b"Too Many Requests", "text/plain", 429))
        elif kind is FaultKind.GATEWAY:
            self._send(Reply(render.data_go_kr_error(fault.code), _XML))
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

def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
