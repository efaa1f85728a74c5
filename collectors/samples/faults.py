"""Error shapes the sample server can be told to answer with (each as the real source sends it)."""

from __future__ import annotations

import threading
from enum import Enum

from pydantic import BaseModel, Field


class FaultKind(str, Enum):
    AUTH = "auth"              # the source's own bad-key answer (Bizinfo reqErr, data.go.kr XML 30, odcloud 401)
    QUOTA = "quota"            # data.go.kr XML code 22 with HTTP 200 (K-Startup, 보조금24); HTTP 429 elsewhere
    GATEWAY = "gateway"        # data.go.kr error with the given ``code`` in the given ``form``, HTTP 200
    HTTP_ERROR = "http_error"  # HTTP ``status`` (default 503) with an HTML error page
    SLOW = "slow"              # answer normally after ``delay`` seconds
    TRUNCATED = "truncated"    # connection closed half-way through the declared body
    CUT_JSON = "cut_json"      # a complete HTTP response whose JSON body is cut off
    ENTITY_BOMB = "entity_bomb"  # XML with entity declarations (billion laughs)


class Fault(BaseModel):
    source: str                # source name, e.g. "kstartup" or "board:garam-si"
    kind: FaultKind
    times: int = Field(1, ge=-1)  # how many requests get it; -1 = every request until reset
    page: int | None = None    # only requests for this page (None = any)
    code: str = "30"
    form: str = Field("xml", pattern="^(xml|openapi-json|classic-xml|classic-json)$")  # how a gateway error is written
    status: int = 503
    delay: float = 0.0


class FaultPlan:
    """Faults waiting to happen, and how many requests each source has received."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._requests: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._requests.clear()

    def take(self, source: str, page: int | None) -> Fault | None:
        """Count a request for ``source`` and return the fault it should get, if any."""
        with self._lock:
            self._requests[source] = self._requests.get(source, 0) + 1
            for fault in self._faults:
                if fault.source == source and (fault.page is None or fault.page == page) and fault.times != 0:
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    def requests(self, source: str) -> int:
        with self._lock:
            return self._requests.get(source, 0)

    def all_requests(self) -> dict[str, int]:
        with self._lock:
            return dict(self._requests)


def parse_fault_option(text: str) -> Fault:
    """``SOURCE=KIND[:ARG][/FORM][@PAGE][xTIMES]`` (CLI form), e.g. ``kstartup=gateway:22``,
    ``gov24=gateway:22/classic-json``, ``bizinfo=http_error:500@2x3``, ``gov24=slow:5``,
    ``youthcenter=authx-1``. FORM (gateway and quota errors): xml (the gateway's
    OpenAPI_ServiceResponse, default), openapi-json, classic-xml, classic-json (response/header/resultCode)."""
    source, _, rest = text.partition("=")
    times = 1
    if "x" in rest and rest.rsplit("x", 1)[1].lstrip("-").isdigit():
        rest, times_text = rest.rsplit("x", 1)
        times = int(times_text)
    page = None
    if "@" in rest:
        rest, page_text = rest.split("@", 1)
        page = int(page_text)
    rest, _, form = rest.partition("/")
    kind, _, arg = rest.partition(":")
    fault = Fault(source=source.strip(), kind=FaultKind(kind.strip()), times=times, page=page,
                  form=form.strip() or "xml")
    if arg:
        if fault.kind is FaultKind.GATEWAY:
            fault.code = arg
        elif fault.kind is FaultKind.HTTP_ERROR:
            fault.status = int(arg)
        elif fault.kind is FaultKind.SLOW:
            fault.delay = float(arg)
    return fault
