"""Each target's client is built with the authentication and TLS settings (no server needed: the
clients are constructed, not connected)."""

from __future__ import annotations

import pytest

from aegis.errors import ConfigError
from aegis.settings import load_settings


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env

    def set_all(**values: str):
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        return load_settings(env_file=None)
    return set_all


def test_redis_client_uses_the_acl_user_and_tls(env, tmp_path):
    from cdc_sinks.redis.sink import redis_client

    ca = tmp_path / "ca.pem"
    settings = env(REDIS_USERNAME="aegis-cache", REDIS_PASSWORD="cache-secret", REDIS_TLS="true",
                   REDIS_TLS_CA_FILE=str(ca))
    client = redis_client(settings)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["username"] == "aegis-cache" and kwargs["password"] == "cache-secret"
    assert kwargs["ssl_ca_certs"] == str(ca) and kwargs["ssl_cert_reqs"] == "required"
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"


def test_redis_user_without_password_is_refused_when_the_client_is_made(env):
    settings = env(REDIS_USERNAME="aegis-cache")
    with pytest.raises(ConfigError, match="REDIS_USERNAME is set without REDIS_PASSWORD"):
        settings.redis.client_kwargs()


def test_elasticsearch_client_sends_the_api_key(env):
    from cdc_sinks.search.elasticsearch_engine import ElasticsearchEngine

    settings = env(SEARCH_ENGINE="elasticsearch", SEARCH_URL="https://search:9200", SEARCH_API_KEY="a2V5OnNlY3JldA==")
    engine = ElasticsearchEngine(settings.search)
    assert engine.client._headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="


def test_elasticsearch_client_uses_basic_auth_without_a_key(env):
    from cdc_sinks.search.elasticsearch_engine import ElasticsearchEngine

    settings = env(SEARCH_ENGINE="elasticsearch", SEARCH_USERNAME="aegis", SEARCH_PASSWORD="pw")
    engine = ElasticsearchEngine(settings.search)
    assert engine.client._headers["authorization"].startswith("Basic ")


def test_opensearch_refuses_an_api_key_and_takes_basic_auth(env):
    from cdc_sinks.search.opensearch_engine import OpenSearchEngine

    with pytest.raises(ConfigError, match="OpenSearch has no API keys"):
        OpenSearchEngine(env(SEARCH_API_KEY="k").search)


def test_opensearch_client_takes_basic_auth(env):
    from cdc_sinks.search.opensearch_engine import OpenSearchEngine

    engine = OpenSearchEngine(env(SEARCH_USERNAME="aegis", SEARCH_PASSWORD="pw").search)
    import base64

    connection = engine.client.transport.get_connection()
    assert connection.headers["authorization"] == "Basic " + base64.b64encode(b"aegis:pw").decode()


def test_milvus_client_gets_token_and_tls(env, tmp_path):
    ca = tmp_path / "milvus-ca.pem"
    settings = env(MILVUS_HOST="milvus.internal", MILVUS_PORT="29530", MILVUS_URI="", MILVUS_TOKEN="aegis:pw", MILVUS_TLS="true",
                   MILVUS_TLS_CA_FILE=str(ca), MILVUS_TLS_SERVER_NAME="milvus")
    kwargs = settings.milvus.client_kwargs()
    assert kwargs["uri"] == "https://milvus.internal:29530" and kwargs["token"] == "aegis:pw"
    assert kwargs["secure"] is True and kwargs["server_pem_path"] == str(ca) and kwargs["server_name"] == "milvus"
    plain = env(MILVUS_TLS="false", MILVUS_TOKEN="").milvus.client_kwargs()
    assert "secure" not in plain and plain["uri"].startswith("http://")


def test_sink_consumer_and_dlq_producer_authenticate(env):
    from cdc_sinks.runtime import SinkRuntime

    settings = env(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="aegis-sinks",
                   KAFKA_SASL_PASSWORD="kafka-secret")

    class _Sink:
        name = "probe"

    config = SinkRuntime(_Sink(), settings).consumer_config()
    assert config["security.protocol"] == "SASL_PLAINTEXT" and config["sasl.username"] == "aegis-sinks"
    assert config["sasl.password"] == "kafka-secret" and config["group.id"] == "aegis-sink-probe"
