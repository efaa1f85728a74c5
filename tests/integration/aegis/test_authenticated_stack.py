"""The authenticated paths for real: a second, private local stack (own state dir and ports) whose
Kafka broker requires SASL/SCRAM over TLS and whose Redis speaks TLS only, with the default user
off and an ACL user; both certificates are signed by the stack's own CA (devstack/tls.py).

Through them: the Kafka Connect worker (its internal topics), a real `aegis sinks run redis`
process (its consumer, its DLQ producer), `aegis dlq list` and the status' lag reader all
authenticate over TLS; clients without credentials, with a wrong password, without TLS or not
trusting the CA, and commands outside the cache user's ACL are refused by the servers themselves.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time

import httpx
import pytest
import redis
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from aegis.settings import Settings, load_settings
from devstack.manager import StackManager
from testkit.envelopes import envelope

pytestmark = pytest.mark.integration

OFFSET = 700  # ports of this private stack: the session stack's plus 700 (the lifecycle test uses 900)
SERVICES = ["redis", "kafka", "kafka-connect"]
PREFIX = "authit"
KEY_PREFIX = f"{PREFIX}:policy:"


@pytest.fixture(scope="module")
def secure_env(tmp_path_factory, settings: Settings) -> dict[str, str]:
    state = tmp_path_factory.mktemp("secure-stack")
    kafka_port = int(settings.kafka.bootstrap_servers.rsplit(":", 1)[1]) + OFFSET
    return {
        "AEGIS_STACK_STATE_DIR": str(state),
        "REDIS_PORT": str(settings.redis.port + OFFSET),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        "AEGIS_STACK_KAFKA_CONTROLLER_PORT": str(settings.stack.kafka_controller_port + OFFSET),
        "KAFKA_CONNECT_URL": f"http://127.0.0.1:{httpx.URL(settings.kafka.connect_url).port + OFFSET}",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SSL_CA_LOCATION": str(state / "tls" / "ca.crt"),
        "REDIS_TLS": "true",
        "REDIS_TLS_CA_FILE": str(state / "tls" / "ca.crt"),
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "aegis-it",
        "KAFKA_SASL_PASSWORD": f"kafka-{secrets.token_hex(8)}",
        "KAFKA_TOPIC_PREFIX": PREFIX,
        "KAFKA_TOPIC_DLQ": f"{PREFIX}-dlq",
        "REDIS_USERNAME": "aegis-cache",
        "REDIS_PASSWORD": f"redis-{secrets.token_hex(8)}",
        "SINKS_REDIS_KEY_PREFIX": KEY_PREFIX,
        "METRICS_PORT": "0",
        "AEGIS_STACK_KAFKA_HEAP": "512m",
        "AEGIS_STACK_CONNECT_HEAP": "512m",
    }


@pytest.fixture(scope="module")
def secure(secure_env: dict[str, str], settings: Settings):
    mp = pytest.MonkeyPatch()
    for key, value in secure_env.items():
        mp.setenv(key, value)
    try:
        private = load_settings(env_file=None)
    finally:
        mp.undo()
    manager = StackManager(private)
    # the jars are the session stack's (resolved once); this stack only has its own data
    for jars in settings.stack.state_path.glob("jars*"):
        (private.stack.state_path / jars.name).symlink_to(jars.resolve(), target_is_directory=True)
    try:
        manager.up(SERVICES, progress=lambda line: print(f"[secure stack] {line}"))
        yield private
    finally:
        manager.down(SERVICES)


def _aegis(env: dict[str, str], *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, **kwargs)


def _envelope(policy_id: int, lsn: int) -> bytes:
    """A change event in Debezium's real envelope (the unit tests' captured one)."""
    return json.dumps(envelope(policy_id, lsn, op="c", title=f"인증 경로 {policy_id}")).encode()


def test_kafka_refuses_clients_without_the_right_credentials(secure: Settings):
    kafka = secure.kafka
    untrusting = {k: v for k, v in kafka.client_config().items() if k != "ssl.ca.location"}  # the system's CAs only
    for config in ({"bootstrap.servers": kafka.bootstrap_servers},  # PLAINTEXT against the SASL_SSL listener
                   {**kafka.client_config(), "security.protocol": "SASL_PLAINTEXT"},  # no TLS
                   untrusting,
                   {**kafka.client_config(), "sasl.password": "not-the-password"}):
        admin = AdminClient({**config, "socket.timeout.ms": 3000})
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=4)
    assert AdminClient(kafka.client_config()).list_topics(timeout=10).brokers


def test_redis_refuses_anonymous_wrong_password_and_commands_outside_its_acl(secure: Settings):
    r = secure.redis
    tls = {k: v for k, v in r.client_kwargs().items() if k.startswith("ssl")}
    with pytest.raises(redis.ConnectionError):  # the right credentials, but no TLS
        redis.Redis(host=r.host, port=r.port, username=r.username, password=r.password.get_secret_value(),
                    socket_timeout=3).ping()
    with pytest.raises(redis.ConnectionError):  # TLS, but not trusting the stack's CA
        redis.Redis(host=r.host, port=r.port, username=r.username, password=r.password.get_secret_value(),
                    ssl=True, ssl_cert_reqs="required", socket_timeout=3).ping()
    anonymous = redis.Redis(host=r.host, port=r.port, **tls)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=r.host, port=r.port, username=r.username, password="not-the-password", **tls).ping()
    default_user = redis.Redis(host=r.host, port=r.port, password=r.password.get_secret_value(), **tls)
    with pytest.raises(redis.AuthenticationError):  # the default user is off, whatever the password
        default_user.ping()

    cache = redis.Redis(**r.client_kwargs())
    assert cache.ping()
    cache.set(f"{KEY_PREFIX}acl-probe", "1", ex=60)
    for command in (("FLUSHALL",), ("CONFIG", "GET", "maxmemory"), ("KEYS", "*"), ("SCRIPT", "FLUSH"),
                    ("SET", "outside:the:prefix", "1"), ("GET", "outside:the:prefix"), ("ACL", "LIST")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            cache.execute_command(*command)
    assert cache.get(f"{KEY_PREFIX}acl-probe") == b"1"  # FLUSHALL did nothing


def test_connect_worker_authenticates_to_kafka(secure: Settings):
    plugins = httpx.get(f"{secure.kafka.connect_url}/connector-plugins", timeout=10).json()
    assert "io.debezium.connector.postgresql.PostgresConnector" in {p["class"] for p in plugins}
    topics = AdminClient(secure.kafka.client_config()).list_topics(timeout=10).topics
    assert {"_aegis_connect_configs", "_aegis_connect_offsets", "_aegis_connect_status"} <= set(topics)


def test_a_sink_process_its_dead_letters_and_the_lag_reader_use_sasl_and_the_acl_user(secure: Settings,
                                                                                     secure_env: dict[str, str]):
    from console.ops.status import consumer_lag

    topic = secure.sinks.topic(secure.kafka)
    producer = Producer({**secure.kafka.client_config(), "acks": "all"})
    ids = [910_001, 910_002, 910_003]
    for offset, policy_id in enumerate(ids):
        producer.produce(topic, key=json.dumps({"id": policy_id}).encode(), value=_envelope(policy_id, 5_000 + offset))
    producer.produce(topic, key=b'{"id": 910009}', value=b"\xff not a change event")  # a poison message
    assert producer.flush(30) == 0

    sink = subprocess.Popen([sys.executable, "-m", "console.cli", "sinks", "run", "redis"],
                            env={**os.environ, **secure_env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        cache = redis.Redis(**secure.redis.client_kwargs())  # read back with the server's own client
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and sink.poll() is None:
            docs = [cache.get(f"{KEY_PREFIX}{policy_id}") for policy_id in ids]
            if all(docs) and consumer_lag(secure, f"{secure.sinks.group_id_prefix}redis", topic)[0] == 0:
                break
            time.sleep(1)
        assert sink.poll() is None, sink.stdout.read()
        assert [json.loads(cache.get(f"{KEY_PREFIX}{i}"))["title"] for i in ids] == [f"인증 경로 {i}" for i in ids]
        assert consumer_lag(secure, f"{secure.sinks.group_id_prefix}redis", topic)[0] == 0
    finally:
        sink.send_signal(signal.SIGTERM)
        output, _ = sink.communicate(timeout=60)
    assert sink.returncode == 0, output
    assert secure_env["KAFKA_SASL_PASSWORD"] not in output and secure_env["REDIS_PASSWORD"] not in output

    listed = _aegis(secure_env, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    letters, page = [d for d in lines if "page" not in d], lines[-1]["page"]  # the last line describes the page
    assert [(d["sink"], d["error_code"]) for d in letters] == [("redis", "DP_3006")]
    assert page["complete"] and page["read"] == 1
