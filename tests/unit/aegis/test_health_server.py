"""The shared /metrics, /health, /health/ready server (no external server needed)."""

from __future__ import annotations

import httpx

from aegis.health_server import HealthServer


def test_health_and_readiness_follow_the_process_state():
    state = {"alive": True, "ready": False, "detail": "starting"}
    server = HealthServer("127.0.0.1", 0, metrics=lambda: b"up 1\n", metrics_content_type="text/plain",
                          alive=lambda: state["alive"], readiness=lambda: {"ready": state["ready"],
                                                                          "detail": state["detail"]},
                          thread_name="test-health").start()
    try:
        assert httpx.get(f"{server.url}/metrics").text == "up 1\n"
        assert httpx.get(f"{server.url}/health").json() == {"alive": True}
        not_ready = httpx.get(f"{server.url}/health/ready")
        assert not_ready.status_code == 503 and not_ready.json()["detail"] == "starting"
        state.update(ready=True, detail="consuming")
        assert httpx.get(f"{server.url}/health/ready").status_code == 200
        state["alive"] = False
        assert httpx.get(f"{server.url}/health").status_code == 503
        assert httpx.get(f"{server.url}/nope").status_code == 404
    finally:
        server.stop()
