"""`aegis collect` and `aegis sources` as a person uses them (no database needed here)."""

from __future__ import annotations

from click.testing import CliRunner

from console.cli import cli


def test_collect_needs_a_mode():
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent", "collect"])
    assert result.exit_code == 2 and "DP_5001" in result.output and "--once or --schedule" in result.output


def test_unknown_source_is_named_with_the_known_ones():
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent", "collect", "--once", "--source", "nope"])
    assert result.exit_code == 2 and "unknown source(s): nope" in result.output and "bizinfo" in result.output


def test_sources_list_never_shows_keys(monkeypatch):
    monkeypatch.setenv("SOURCE_KSTARTUP_API_KEY", "TOP-SECRET-KEY")
    monkeypatch.setenv("SOURCE_SAMPLES_URL", "http://127.0.0.1:1")
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent", "sources", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert lines["kstartup"][2:] == ["live", "https://apis.data.go.kr"]
    assert lines["bizinfo"][2:] == ["samples", "http://127.0.0.1:1"]
    assert lines["board:garam-si"][1] == "board"
    assert "TOP-SECRET-KEY" not in result.output


def test_help_texts():
    for args in (["collect", "--help"], ["sources", "serve-samples", "--help"], ["sources", "list", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Usage:" in result.output


def test_scheduler_serves_metrics_and_readiness():
    import httpx

    from collectors import metrics  # noqa: F401 - registers the seed §6.4 collection metrics
    from collectors.models import SourceError, SourceSummary
    from collectors.observability import CollectorHealth, ObservabilityServer
    from collectors.runner import PassResult

    health = CollectorHealth()
    server = ObservabilityServer(health, "127.0.0.1", 0).start()
    try:
        assert "data_collection_total" in httpx.get(server.url + "/metrics").text
        assert httpx.get(server.url + "/health").status_code == 200
        assert httpx.get(server.url + "/health/ready").status_code == 200
        failed = SourceSummary(source="bizinfo", error=SourceError(code="DP_1001", message="down"))
        health.record(PassResult(run_id="r1", summaries=[failed], seconds=1.0))
        ready = httpx.get(server.url + "/health/ready")
        assert ready.status_code == 503 and ready.json()["failed_sources"] == ["bizinfo"]
        health.record(PassResult(run_id="r2", summaries=[failed, SourceSummary(source="gov24", new=3)], seconds=1.0))
        assert httpx.get(server.url + "/health/ready").status_code == 200
    finally:
        server.stop()
