"""A small Kafka Connect REST client with errors translated at the boundary.

* unreachable worker, timeouts, 5xx and 409 (a rebalance is in progress) → ``TransientError``;
* any other 4xx → ``TerminalError`` carrying Kafka Connect's own message;
* 404 on a named connector → ``ConnectorNotFound`` (a ``TerminalError``), so callers can tell
  "absent" from "broken".
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from aegis.errors import ErrorCode, TerminalError, TransientError
from aegis.retry import RetryPolicy, retry_call

_CONNECTOR_CODE = ErrorCode.CONNECTOR_FAILED
VALIDATE_TIMEOUT_SECONDS = 90.0


class ConnectorNotFound(TerminalError):
    default_code = _CONNECTOR_CODE


class TaskState(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: int
    state: str
    worker_id: str | None = None
    trace: str | None = None


class ConnectorState(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    state: str
    worker_id: str | None = None
    trace: str | None = None


class ConnectorStatusDoc(BaseModel):
    """``GET /connectors/{name}/status`` as Kafka Connect returns it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    connector: ConnectorState
    tasks: list[TaskState] = Field(default_factory=list)
    type: str | None = None


class ValidationProblem(BaseModel):
    """One invalid property from the config-validate endpoint."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: str | None
    errors: list[str]


class ConnectClient:
    """Calls one Kafka Connect worker. Use as a context manager (or call ``close``)."""

    def __init__(self, base_url: str, *, timeout: float = 15.0, retry: RetryPolicy = RetryPolicy(attempts=6),
                 transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"Accept": "application/json"})

    def __enter__(self) -> ConnectClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- transport ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise TransientError(f"Kafka Connect at {self.base_url} timed out on {method} {path}",
                                 code=_CONNECTOR_CODE,
                                 hint="the worker may be overloaded or rebalancing; try again") from None
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach Kafka Connect at {self.base_url}: {exc}",
                                 code=_CONNECTOR_CODE,
                                 hint="start it with `aegis stack up kafka-connect`, or check KAFKA_CONNECT_URL",
                                 ) from None
        if response.status_code == 409 or response.status_code >= 500:
            raise TransientError(f"Kafka Connect answered {response.status_code} to {method} {path}: "
                                 f"{_message(response)}", code=_CONNECTOR_CODE,
                                 hint="a rebalance or restart is in progress; retry in a few seconds")
        return response

    def request(self, method: str, path: str, *, not_found: str | None = None, missing_ok: bool = False,
                **kwargs: Any) -> httpx.Response:
        """Send with bounded retries of transient failures; raise on any other error status.

        A 404 is returned as is when ``missing_ok``, raised as ``ConnectorNotFound(not_found)`` when
        ``not_found`` is given, and is a ``TerminalError`` otherwise.
        """
        response = retry_call(lambda: self._send(method, path, **kwargs), self.retry,
                              what=f"Kafka Connect {method} {path}")
        if response.status_code == 404 and missing_ok:
            return response
        if response.status_code == 404 and not_found:
            raise ConnectorNotFound(not_found, hint="`aegis connectors list` shows what exists; "
                                                    "`aegis connectors apply` creates it")
        if response.status_code >= 400:
            raise TerminalError(f"Kafka Connect refused {method} {path} ({response.status_code}): "
                                f"{_message(response)}", code=_CONNECTOR_CODE,
                                hint="check the connector configuration and the worker log "
                                     "(.stack/logs/kafka-connect.log)")
        return response

    # -- API ---------------------------------------------------------------------------------

    def list_connectors(self) -> list[str]:
        return sorted(self.request("GET", "/connectors").json())

    def get_config(self, name: str) -> dict[str, str] | None:
        """The stored (unresolved) config of ``name``, or None when it does not exist."""
        response = self.request("GET", f"/connectors/{name}/config", missing_ok=True)
        if response.status_code == 404:
            return None
        return {str(k): str(v) for k, v in response.json().items()}

    def put_config(self, name: str, config: dict[str, str]) -> bool:
        """Create or update ``name``; True when it was created."""
        return self.request("PUT", f"/connectors/{name}/config", json=config).status_code == 201

    def validate(self, connector_class: str, config: dict[str, str]) -> list[ValidationProblem]:
        """Run the plugin's config validation; return every property with errors."""
        plugin = connector_class.rsplit(".", 1)[-1]
        # Debezium's validation connects to PostgreSQL: give it longer than an ordinary call
        body = self.request("PUT", f"/connector-plugins/{plugin}/config/validate", json=config,
                            timeout=max(self.timeout, VALIDATE_TIMEOUT_SECONDS)).json()
        problems = []
        for entry in body.get("configs", []):
            value = entry.get("value") or {}
            if value.get("errors"):
                name = value.get("name", "?")
                shown = value.get("value") if value.get("value") is not None else config.get(name)
                problems.append(ValidationProblem(name=name, value=shown,
                                                  errors=[str(e) for e in value["errors"]]))
        return problems

    def status(self, name: str) -> ConnectorStatusDoc:
        doc = self.request("GET", f"/connectors/{name}/status", not_found=f"connector {name} does not exist").json()
        return ConnectorStatusDoc.model_validate(doc)

    def restart(self, name: str, *, include_tasks: bool = True, only_failed: bool = False) -> None:
        self.request("POST", f"/connectors/{name}/restart",
                     params={"includeTasks": str(include_tasks).lower(), "onlyFailed": str(only_failed).lower()},
                     not_found=f"connector {name} does not exist")

    def pause(self, name: str) -> None:
        self.request("PUT", f"/connectors/{name}/pause", not_found=f"connector {name} does not exist")

    def stop(self, name: str) -> None:
        """Stop ``name``: its tasks shut down (unlike a pause), its config and offsets stay; ``resume`` restarts it."""
        self.request("PUT", f"/connectors/{name}/stop", not_found=f"connector {name} does not exist")

    def resume(self, name: str) -> None:
        self.request("PUT", f"/connectors/{name}/resume", not_found=f"connector {name} does not exist")

    def delete(self, name: str) -> bool:
        """Delete ``name``; False when it did not exist."""
        return self.request("DELETE", f"/connectors/{name}", missing_ok=True).status_code != 404


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])[:2000]
    return str(body)[:500]
