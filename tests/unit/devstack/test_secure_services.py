"""The local stack's secured servers, as configured (no server started): Kafka's SASL/TLS listener,
Redis's ACL user and TLS port, the stack's own CA. The servers themselves are exercised by
tests/integration/aegis/test_authenticated_stack.py."""

from __future__ import annotations

import ipaddress

import pytest

from aegis.errors import StackError
from aegis.settings import load_settings


@pytest.fixture
def secured(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    values = {"AEGIS_STACK_STATE_DIR": str(tmp_path / "state"), "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:39092",
              "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "aegis", "KAFKA_SASL_PASSWORD": "kafka-pw",
              "KAFKA_SSL_CA_LOCATION": str(tmp_path / "state" / "tls" / "ca.crt"),
              "REDIS_USERNAME": "aegis-cache", "REDIS_PASSWORD": "redis-pw", "REDIS_TLS": "true",
              "REDIS_TLS_CA_FILE": str(tmp_path / "state" / "tls" / "ca.crt")}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return load_settings(env_file=None)


def _properties(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def test_kafka_listens_with_sasl_over_tls_and_keeps_the_password_private(secured):
    from devstack.kafka import Kafka

    service = Kafka(secured)
    service.dir.mkdir(parents=True)
    path = service.server_properties()
    props = _properties(path)
    assert props["listeners"].startswith("SASL_SSL://127.0.0.1:39092,CONTROLLER://")
    assert props["listener.security.protocol.map"].startswith("SASL_SSL:SASL_SSL")
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert 'password="kafka-pw"' in props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert props["ssl.keystore.type"] == "PEM" and props["ssl.truststore.location"].endswith("tls/ca.crt")
    assert path.stat().st_mode & 0o077 == 0  # only its owner reads it
    assert service._scram_argument() == ["--add-scram", "SCRAM-SHA-512=[name=aegis,password=kafka-pw]"]


def test_kafka_with_tls_needs_clients_to_trust_the_stacks_ca(secured, monkeypatch):
    from devstack.kafka import Kafka

    monkeypatch.setenv("KAFKA_SSL_CA_LOCATION", "/etc/ssl/certs/ca-certificates.crt")
    service = Kafka(load_settings(env_file=None))
    service.dir.mkdir(parents=True)
    with pytest.raises(StackError, match="KAFKA_SSL_CA_LOCATION=.*tls/ca.crt"):
        service.server_properties()


def test_redis_turns_the_default_user_off_and_serves_tls_only(secured):
    from devstack.redis import Redis

    service = Redis(secured)
    service.prepare()
    config = service.auth_config.read_text()
    assert "user default off" in config and "port 0" in config and "tls-auth-clients no" in config
    user = next(line for line in config.splitlines() if line.startswith("user aegis-cache"))
    assert ">redis-pw" in user and "~policy:*" in user and "-@dangerous" in user and "-@admin" in user
    assert service.auth_config.stat().st_mode & 0o077 == 0
    command = service.command()
    assert "--port" not in command and "redis-pw" not in " ".join(command)


def test_the_stacks_ca_signs_a_certificate_for_the_loopback_address(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from devstack.tls import server_certificate

    made = server_certificate(tmp_path, "kafka")
    again = server_certificate(tmp_path, "kafka")
    assert made == again and made.certificate.read_bytes() == again.certificate.read_bytes()  # made once
    leaf, ca = x509.load_pem_x509_certificates(made.certificate.read_bytes())
    assert leaf.issuer == ca.subject == x509.load_pem_x509_certificate(made.ca.read_bytes()).subject
    ca.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm))
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert made.key.stat().st_mode & 0o077 == 0
