"""The one configuration tree, read once at start-up and passed down.

Each group reads its own environment variables (seed §11 names where they exist, e.g.
``POSTGRES_HOST``, ``KAFKA_BOOTSTRAP_SERVERS``, ``QUALITY_SCORE_THRESHOLD``) and the same
names from a ``.env`` file. Nothing here is read at import time: call ``load_settings()``
once in the entry point and hand the result to whatever needs it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aegis.errors import ConfigError

_COMMON = dict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(**_COMMON)

    service_name: str = "data-pipeline"
    environment: str = "development"
    log_level: str = "INFO"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value.upper()


class PostgresSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSTGRES_", **_COMMON)

    host: str = "127.0.0.1"
    port: int = Field(55432, ge=1, le=65535)
    user: str = "aegis"
    password: SecretStr = SecretStr("aegis")
    db: str = "aegis"
    # Least-privilege role Debezium connects as (REPLICATION + SELECT on published tables).
    debezium_user: str = "aegis_debezium"
    debezium_password: SecretStr = SecretStr("aegis_debezium")
    publication: str = "aegis_publication"
    slot_name: str = "aegis_slot"

    def conninfo(self, *, user: str | None = None, password: SecretStr | None = None,
                 dbname: str | None = None) -> str:
        """libpq connection string (contains the password: never log it)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(host=self.host, port=self.port, user=user or self.user,
                             password=(password or self.password).get_secret_value(),
                             dbname=dbname or self.db, connect_timeout=5)


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", **_COMMON)

    bootstrap_servers: str = "127.0.0.1:59092"
    topic_policy_events: str = "policy-events"
    topic_dlq: str = "data-pipeline-dlq"
    topic_prefix: str = "aegis"
    connect_url: str = "http://127.0.0.1:58083"


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDIS_", **_COMMON)

    host: str = "127.0.0.1"
    port: int = Field(56379, ge=1, le=65535)
    password: SecretStr | None = None
    db: int = 0


class StackSettings(BaseSettings):
    """The native local stack started by ``aegis stack up``."""

    model_config = SettingsConfigDict(env_prefix="AEGIS_STACK_", **_COMMON)

    state_dir: Path = Path(".stack")
    start_timeout_seconds: float = Field(120.0, gt=0)
    stop_timeout_seconds: float = Field(30.0, gt=0)
    kafka_controller_port: int = Field(59093, ge=1, le=65535)
    kafka_heap: str = "1g"
    connect_heap: str = "1g"
    java_home: Path | None = None
    maven_command: str = "mvn"

    @property
    def state_path(self) -> Path:
        return self.state_dir.resolve()


class ConnectorSettings(BaseSettings):
    """The Debezium source connector rendered from ``connectors/policies-source.json``.

    Tuning defaults are the measured ones (bench/changestream, bench/RESULTS.md).
    """

    model_config = SettingsConfigDict(env_prefix="AEGIS_CONNECTOR_", **_COMMON)

    name: str = "aegis-policies-source"
    # Host/port Kafka Connect uses to reach PostgreSQL (default: POSTGRES_HOST/POSTGRES_PORT).
    database_host: str | None = None
    database_port: int | None = Field(None, ge=1, le=65535)
    snapshot_mode: str = "initial"
    heartbeat_interval_ms: int = Field(10_000, ge=100)
    poll_interval_ms: int = Field(5, ge=1)
    max_batch_size: int = Field(2048, ge=1)
    max_queue_size: int = Field(8192, ge=2)
    producer_linger_ms: int = Field(0, ge=0)
    request_timeout_seconds: float = Field(15.0, gt=0)

    @field_validator("snapshot_mode")
    @classmethod
    def _known_snapshot_mode(cls, value: str) -> str:
        modes = {"initial", "initial_only", "no_data", "when_needed", "always"}
        if value not in modes:
            raise ValueError(f"must be one of {', '.join(sorted(modes))}")
        return value


class CollectionSettings(BaseSettings):
    model_config = SettingsConfigDict(**_COMMON)

    collection_interval_hours: int = Field(6, ge=1)
    scraping_interval_hours: int = Field(24, ge=1)
    max_concurrent_collections: int = Field(5, ge=1)


class ProcessingSettings(BaseSettings):
    model_config = SettingsConfigDict(**_COMMON)

    hot_path_timeout_seconds: int = Field(1, ge=1)
    cold_path_batch_size: int = Field(100, ge=1)
    quality_score_threshold: float = Field(0.7, ge=0, le=1)


class Settings(BaseModel):
    """Everything Aegis Sync can be configured with."""

    service: ServiceSettings
    postgres: PostgresSettings
    kafka: KafkaSettings
    connector: ConnectorSettings
    redis: RedisSettings
    stack: StackSettings
    collection: CollectionSettings
    processing: ProcessingSettings


_GROUPS = {
    "service": ServiceSettings,
    "postgres": PostgresSettings,
    "kafka": KafkaSettings,
    "connector": ConnectorSettings,
    "redis": RedisSettings,
    "stack": StackSettings,
    "collection": CollectionSettings,
    "processing": ProcessingSettings,
}


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read the whole tree from the environment (and ``env_file`` if it exists).

    Raises ``ConfigError`` (DP_5001) naming every invalid variable and why.
    """
    values = {}
    problems: list[str] = []
    for name, group in _GROUPS.items():
        try:
            values[name] = group(_env_file=env_file)
        except ValidationError as exc:
            prefix = group.model_config.get("env_prefix", "")
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"])
                problems.append(f"{(prefix + field).upper()}: {err['msg']} (got {err.get('input')!r})")
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems),
                          hint="fix these environment variables (or .env entries); "
                               "the README's configuration table lists every setting and its default")
    return Settings(**values)
