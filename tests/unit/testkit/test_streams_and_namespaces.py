"""testkit.streams and testkit.namespaces: what another process reads from their environment is
exactly the isolated stream / the run's corner they describe."""

from __future__ import annotations

import pytest

from aegis.errors import ConfigError
from aegis.settings import load_settings
from cdc_sinks.registry import SPECS, sink_names
from testkit.namespaces import namespace_env, run_env, spec_env
from testkit.streams import isolated_env, isolated_settings, stream_topics


def test_an_isolated_stream_names_everything_after_its_tag():
    base = load_settings(env_file=None)
    iso = isolated_settings(base, "t1", change_format="avro", database="other_db", heartbeat_interval_ms=1000)
    assert (iso.postgres.slot_name, iso.postgres.publication, iso.postgres.db) == ("aegis_iso_t1", "aegis_iso_t1",
                                                                                    "other_db")
    assert iso.connector.name == "aegis-iso-t1" and iso.connector.snapshot_mode == "no_data"
    assert iso.connector.heartbeat_interval_ms == 1000 and iso.change_events.format == "avro"
    assert stream_topics(iso) == ["iso_t1.public.policies", "iso_t1.policy-events", "iso_t1.dlq",
                                  "__debezium-heartbeat.iso_t1"]
    # what it does not name stays as it was
    assert iso.postgres.host == base.postgres.host and iso.kafka.bootstrap_servers == base.kafka.bootstrap_servers
    assert isolated_settings(base, "t2").change_events.format == base.change_events.format


def test_another_process_reads_the_same_stream_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    iso = isolated_settings(load_settings(env_file=None), "t3", change_format="avro", database="other_db",
                            snapshot_mode="initial", poll_interval_ms=7)
    for key, value in isolated_env(iso).items():
        monkeypatch.setenv(key, value)
    seen = load_settings(env_file=None)
    assert seen.connector == iso.connector
    assert (seen.postgres.db, seen.postgres.slot_name, seen.postgres.publication) == (
        iso.postgres.db, iso.postgres.slot_name, iso.postgres.publication)
    assert (seen.kafka.topic_prefix, seen.kafka.topic_policy_events, seen.kafka.topic_dlq) == (
        iso.kafka.topic_prefix, iso.kafka.topic_policy_events, iso.kafka.topic_dlq)
    assert seen.sinks.topic(seen.kafka) == iso.sinks.topic(iso.kafka) and seen.change_events.format == "avro"


def test_a_namespace_gives_every_target_its_own_corner(monkeypatch: pytest.MonkeyPatch):
    env = namespace_env("ns1")
    assert set(env) == {spec.namespace_setting for spec in SPECS.values()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    seen = load_settings(env_file=None)
    assert seen.search.index_alias.startswith("ns1") and seen.sinks.redis_key_prefix.startswith("ns1")
    assert seen.neo4j.namespace.startswith("ns1") and seen.milvus.collection_alias.startswith("ns1")
    assert namespace_env("ns1", ["redis"]) == spec_env(SPECS["redis"], "ns1")


def test_a_run_gets_its_own_consumer_groups_and_no_fixed_metrics_port():
    env = run_env("AB12", sink_names(), prefix="faults")
    assert env["SINKS_GROUP_ID_PREFIX"] == "faults-AB12-" and env["METRICS_PORT"] == "0"
    assert env["SINKS_REDIS_KEY_PREFIX"] == "faults_ab12:policy:"  # lower-cased: valid in every target


@pytest.mark.parametrize("namespace", ["", "1abc", "Upper", "with-dash", "x" * 42])
def test_a_namespace_some_target_cannot_name_is_refused(namespace: str):
    with pytest.raises(ConfigError):
        spec_env(SPECS["search"], namespace)
