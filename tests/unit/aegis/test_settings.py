import pytest

from aegis.errors import ConfigError, ErrorCode
from aegis.settings import load_settings


def test_defaults_are_usable_without_any_configuration(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env_file=None)
    assert settings.postgres.port == 25432
    assert settings.kafka.topic_policy_events == "policy-events"
    assert settings.processing.quality_score_threshold == 0.7
    assert settings.collection.collection_interval_hours == 6


def test_seed_names_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("POSTGRES_HOST", "db.internal")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("QUALITY_SCORE_THRESHOLD", "0.8")
    monkeypatch.setenv("MAX_CONCURRENT_COLLECTIONS", "3")
    settings = load_settings(env_file=None)
    assert settings.postgres.host == "db.internal"
    assert settings.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert settings.processing.quality_score_threshold == 0.8
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
