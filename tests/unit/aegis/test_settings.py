import pytest

from aegis.errors import ConfigError, ErrorCode
from aegis.settings import load_settings


def test_defaults_are_usable_without_any_configuration(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env_file=None)
    assert settings.postgres.port == 25432
    assert settings.kafka.topic_policy_events == "policy-events"
    assert settings.reconciler.quality_score_threshold == 0.7
    assert settings.collection.collection_interval_hours == 6


def test_seed_names_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("POSTGRES_HOST", "db.internal")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("QUALITY_SCORE_THRESHOLD", "0.8")
    monkeypatch.setenv("MAX_CONCURRENT_COLLECTIONS", "3")
    settings = load_settings(env_file=None)
    assert settings.postgres.host == "db.internal"
    assert settings.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert settings.reconciler.quality_score_threshold == 0.8
    assert settings.collection.max_concurrent_collections == 3


def test_env_file_is_read_and_environment_wins(monkeypatch, tmp_path):
    env_file = tmp_path / "test.env"
    env_file.write_text("POSTGRES_DB=from_file\nPOSTGRES_USER=file_user\n")
    monkeypatch.setenv("POSTGRES_USER", "env_user")
    settings = load_settings(env_file=env_file)
    assert settings.postgres.db == "from_file"
    assert settings.postgres.user == "env_user"


def test_secrets_never_show_in_repr_or_dump(monkeypatch):
    monkeypatch.setenv("POSTGRES_PASSWORD", "s3cret-value")
    settings = load_settings(env_file=None)
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in settings.model_dump_json()
    assert settings.postgres.password.get_secret_value() == "s3cret-value"


def test_invalid_values_are_reported_together_by_variable_name(monkeypatch):
    monkeypatch.setenv("POSTGRES_PORT", "not-a-port")
    monkeypatch.setenv("QUALITY_SCORE_THRESHOLD", "1.5")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    text = str(caught.value)
    assert caught.value.code is ErrorCode.CONFIG_INVALID
    assert "POSTGRES_PORT" in text and "QUALITY_SCORE_THRESHOLD" in text
    assert "README" in text  # the next step


def test_log_level_is_checked(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        load_settings(env_file=None)


def test_an_invalid_secret_is_named_but_never_shown(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "short7!")  # too short: Neo4j wants 8+
    monkeypatch.setenv("POSTGRES_PORT", "not-a-port")  # an ordinary value is still shown
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    text = str(caught.value)
    assert "NEO4J_PASSWORD" in text and "at least 8 characters" in text and "not shown" in text
    assert "short7!" not in text and "not-a-port" in text


def test_sasl_without_credentials_fails_when_a_client_is_made_not_at_load(monkeypatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "kafka-pw-only")
    settings = load_settings(env_file=None)  # a process without Kafka clients still starts
    with pytest.raises(ConfigError, match="KAFKA_SASL_USERNAME") as caught:
        settings.kafka.client_config()
    assert "kafka-pw-only" not in str(caught.value)


def test_kafka_client_config_carries_sasl_and_tls(monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "aegis-sinks")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", 'p"w\\d')
    monkeypatch.setenv("KAFKA_SSL_CA_LOCATION", str(ca))
    kafka = load_settings(env_file=None).kafka
    config = kafka.client_config()
    assert config["security.protocol"] == "SASL_SSL" and config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.username"] == "aegis-sinks" and config["sasl.password"] == 'p"w\\d'
    assert config["ssl.ca.location"] == str(ca) and config["ssl.endpoint.identification.algorithm"] == "https"
    java = kafka.java_client_properties()
    assert java["sasl.jaas.config"] == ('org.apache.kafka.common.security.scram.ScramLoginModule required '
                                        'username="aegis-sinks" password="p\\"w\\\\d";')
    assert java["ssl.truststore.type"] == "PEM" and java["ssl.truststore.location"] == str(ca)


def test_plaintext_kafka_has_no_security_options():
    kafka = load_settings(env_file=None).kafka
    assert set(kafka.client_config()) == {"bootstrap.servers", "security.protocol"}


def test_postgres_roles_have_their_own_credentials_and_tls(monkeypatch, tmp_path):
    monkeypatch.setenv("POSTGRES_READER_PASSWORD", "reader-secret")
    monkeypatch.setenv("POSTGRES_SSLMODE", "verify-full")
    monkeypatch.setenv("POSTGRES_SSLROOTCERT", str(tmp_path / "root.crt"))
    pg = load_settings(env_file=None).postgres
    conninfo = pg.conninfo(role="reader")
    assert "user=aegis_reader" in conninfo and "password=reader-secret" in conninfo
    assert "sslmode=verify-full" in conninfo and "root.crt" in conninfo
    assert "user=aegis_owner" in pg.conninfo(role="owner")


def test_each_api_source_reads_its_own_variables(monkeypatch):
    monkeypatch.setenv("SOURCE_BIZINFO_API_KEY", "bizinfo-key")
    monkeypatch.setenv("SOURCE_KSTARTUP_BASE_URL", "https://k.example")
    monkeypatch.setenv("SOURCE_PORTAL_PAGE_SIZE", "800")
    monkeypatch.setenv("SOURCE_KOREA_RSS_TIMEOUT_SECONDS", "3")
    apis = load_settings(env_file=None).source_apis
    assert apis["bizinfo"].api_key.get_secret_value() == "bizinfo-key" and "bizinfo-key" not in repr(apis)
    assert apis["bizinfo"].timeout_seconds == 30.0 and apis["gov24"].timeout_seconds == 15.0
    assert apis["kstartup"].base_url == "https://k.example" and apis["portal"].page_size == 800
    assert apis["korea_rss"].timeout_seconds == 3.0 and apis["korea_rss"].api_key is None


def test_an_api_source_keeps_its_own_limits(monkeypatch):
    monkeypatch.setenv("SOURCE_BIZINFO_TIMEOUT_SECONDS", "5")  # Bizinfo's floor is 20 s
    monkeypatch.setenv("SOURCE_GOV24_PAGE_SIZE", "800")  # the portal's APIs allow 1000, the others 500
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    text = str(caught.value)
    assert "SOURCE_BIZINFO_TIMEOUT_SECONDS" in text and "SOURCE_GOV24_PAGE_SIZE" in text


def test_every_collector_api_source_has_its_settings():
    from aegis.settings import API_SOURCE_SETTINGS
    from collectors.sources.registry import API_SOURCES

    assert set(API_SOURCES) | {"portal"} == {source.name for source in API_SOURCE_SETTINGS}


def test_local_stack_knobs_are_one_group_and_their_former_names_still_work(monkeypatch):
    monkeypatch.setenv("AEGIS_STACK_OPENSEARCH_HEAP", "768m")
    monkeypatch.setenv("NEO4J_HEAP", "1g")  # a former name
    monkeypatch.setenv("PROMETHEUS_IN_STACK", "true")  # a former name
    monkeypatch.setenv("AEGIS_STACK_PROMETHEUS_PORT", "19090")
    stack = load_settings(env_file=None).stack
    assert (stack.opensearch_heap, stack.neo4j_heap, stack.prometheus, stack.prometheus_port) == ("768m", "1g", True, 19090)


def test_an_invalid_renamed_setting_is_reported_by_its_name(monkeypatch):
    monkeypatch.setenv("SEARCH_TRANSPORT_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="AEGIS_STACK_OPENSEARCH_TRANSPORT_PORT"):
        load_settings(env_file=None)


def test_with_variables_sets_settings_by_their_variable_names_on_a_copy():
    from aegis.settings import default_settings, with_variables

    settings = default_settings()
    scratch = with_variables(settings, {"NEO4J_NAMESPACE": "warmup_1_", "search_index_alias": "warmup_1-policies"})
    assert scratch.neo4j.namespace == "warmup_1_" and scratch.search.index_alias == "warmup_1-policies"
    assert settings.neo4j.namespace == "" and scratch.redis == settings.redis  # the original is untouched
    with pytest.raises(ConfigError, match="NO_SUCH_SETTING"):
        with_variables(settings, {"NO_SUCH_SETTING": "x"})
