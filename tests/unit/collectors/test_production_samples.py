"""ENVIRONMENT=production refuses to collect the bundled sample sources and boards into the
database unless asked explicitly (DP_5001 with the next step); nothing is fetched or stored."""

from __future__ import annotations

from click.testing import CliRunner

from collectors.runner import Collector
from console.cli import cli


def production(settings, **sources):
    service = settings.service.model_copy(update={"environment": "production"})
    postgres = settings.postgres.model_copy(update={"port": 1})  # nothing may be written: no database at all
    return settings.model_copy(update={"service": service, "postgres": postgres,
                                       "sources": settings.sources.model_copy(update=sources)})


def test_production_refuses_every_sample_source_with_a_coded_error(sample_settings, sample_server):
    collector = Collector(production(sample_settings))
    result = collector.run_once(["bizinfo", "portal:mss-notices", "board:garam-si"])
    assert not result.ok
    for summary in result.summaries:
        assert summary.error.code == "DP_5001" and "refusing to collect the bundled sample data" in summary.error.message
        assert summary.new == 0 and summary.pages == 0
    hints = {s.source: s.error.hint for s in result.summaries}
    assert "SOURCE_BIZINFO_API_KEY" in hints["bizinfo"] and "--allow-samples" in hints["bizinfo"]
    assert "SOURCE_PORTAL_API_KEY" in hints["portal:mss-notices"]
    assert "enabled: false" in hints["board:garam-si"]
    assert sample_server.faults.all_requests() == {}                  # not even fetched


def test_production_collects_samples_when_asked(sample_settings):
    for collector in (Collector(production(sample_settings), allow_samples=True),
                      Collector(production(sample_settings, allow_samples_in_production=True))):
        assert not collector.refuse_samples
        (summary,) = collector.run_once(["youthcenter"]).summaries
        assert summary.error.code == "DP_5004"  # not refused: it went on to the (absent) database


def test_development_collects_samples_as_before(sample_settings, sample_server):
    settings = production(sample_settings)
    settings = settings.model_copy(update={"service": settings.service.model_copy(update={"environment": "development"})})
    assert not Collector(settings).refuse_samples


def test_cli_refuses_when_every_selected_source_is_sample_data(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("POSTGRES_PORT", "1")
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent", "collect", "--once", "--source", "gov24",
                                      "--source", "board:nuri-gu"])
    assert result.exit_code == 2, result.output
    assert "DP_5001" in result.output and "gov24, board:nuri-gu" in result.output and "--allow-samples" in result.output
