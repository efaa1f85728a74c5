"""A certificate authority of the local stack's own, for servers run with TLS (Kafka, Redis).

Made once per state directory (``<state>/tls/``): ``ca.crt`` (what clients trust:
``KAFKA_SSL_CA_LOCATION``, ``REDIS_TLS_CA_FILE``), and per server a key and a certificate for
``127.0.0.1`` and ``localhost`` signed by it. Keys are written readable by their owner only.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from aegis.errors import StackError


@dataclass(frozen=True)
class ServerCertificate:
    ca: Path
    certificate: Path
    key: Path


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_bytes(data)


def local_ca_path(state_dir: Path) -> Path:
    return state_dir / "tls" / "ca.crt"


def server_certificate(state_dir: Path, name: str, *, readable_by: int | None = None) -> ServerCertificate:
    """The CA (made if missing) and ``name``'s certificate and PKCS#8 key (made if missing)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = state_dir / "tls"
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert_path, ca_key_path = directory / "ca.crt", directory / "ca.key"
    now = datetime.datetime.now(datetime.UTC)
    if not (ca_cert_path.exists() and ca_key_path.exists()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aegis local stack CA")])
        ca_cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .sign(ca_key, hashes.SHA256()))
        _write_private(ca_key_path, ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
        ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    if not (cert_path.exists() and key_path.exists()):
        issuer_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(issuer_key, ec.EllipticCurvePrivateKey):  # this module writes EC keys only
            raise StackError(f"{ca_key_path} is not the stack CA's EC key",
                             hint=f"delete {directory} to make a new local CA (its servers then get new certificates)")
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"aegis local {name}")]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(issuer_key, hashes.SHA256()))
        _write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                              + ca_cert.public_bytes(serialization.Encoding.PEM))
    if readable_by is not None:
        import os
        os.chown(key_path, readable_by, -1)
    return ServerCertificate(ca=ca_cert_path, certificate=cert_path, key=key_path)
