"""Helpers shared by the collector integration tests (a uniquely named module, not conftest)."""

from __future__ import annotations

from collectors.samples.server import SampleServer

SOURCE_SYSTEMS = ["bizinfo", "kstartup", "youthcenter", "gov24", "korea_rss", "portal:mss-notices", "board:garam-si",
                  "board:nuri-gu", "board:closed-gu"]

CAPTURE_SQL = """
CREATE TABLE IF NOT EXISTS collectors_test_outbox_capture (
    seq BIGSERIAL PRIMARY KEY, aggregateid TEXT NOT NULL, type TEXT NOT NULL, payload JSONB NOT NULL);
CREATE OR REPLACE FUNCTION collectors_test_capture() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    INSERT INTO collectors_test_outbox_capture (aggregateid, type, payload)
    VALUES (NEW.aggregateid, NEW.type, NEW.payload);
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS collectors_test_capture ON outbox;
CREATE TRIGGER collectors_test_capture AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION collectors_test_capture();
"""
DROP_CAPTURE_SQL = """
DROP TRIGGER IF EXISTS collectors_test_capture ON outbox;
DROP FUNCTION IF EXISTS collectors_test_capture();
DROP TABLE IF EXISTS collectors_test_outbox_capture;
"""


def wipe_collected(conn, systems: list[str] | None = None) -> None:
    """Remove what earlier runs of these tests collected (only our source systems, or ``systems``)."""
    systems = systems or SOURCE_SYSTEMS
    with conn.transaction():
        ids = [str(r[0]) for r in conn.execute("SELECT id FROM policies WHERE source_system = ANY(%s)", (systems,))]
        conn.execute("DELETE FROM processing_history WHERE policy_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM policies WHERE source_system = ANY(%s)", (systems,))
        conn.execute("DELETE FROM dead_letters WHERE source_system = ANY(%s)", (systems,))
        conn.execute("DELETE FROM collectors_test_outbox_capture")


def events(conn) -> list[tuple[str, str, dict]]:
    return conn.execute("SELECT aggregateid, type, payload FROM collectors_test_outbox_capture ORDER BY seq").fetchall()


def settings_for(stack, server: SampleServer, apis: dict[str, dict] | None = None, **overrides):
    """The stack's settings with every source on ``server``, fast rates and fast retries; ``overrides``
    change SOURCE_* settings, ``apis`` an API source's own (``{"korea_rss": {"timeout_seconds": 0.5}}``)."""
    fast = {"samples_url": server.url, "retry_base_delay_seconds": 0.01, "retry_max_delay_seconds": 0.05,
            "board_requests_per_second": 40.0, "board_timeout_seconds": 5.0, **overrides}
    changes = apis or {}
    apis = {name: api.model_copy(update={"requests_per_second": 200.0, **changes.get(name, {})})
            for name, api in stack.source_apis.items()}
    return stack.model_copy(update={"sources": stack.sources.model_copy(update=fast), "source_apis": apis})
