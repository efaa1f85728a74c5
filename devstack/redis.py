"""Redis from Debian's packages: the cache target."""

from __future__ import annotations

import shutil
from pathlib import Path

import redis
from pydantic import SecretStr

from aegis.errors import StackError
from devstack.base import Service
from devstack.tls import local_ca_path, server_certificate


def acl_rules(user: str, password: SecretStr | None, key_prefix: str) -> list[str]:
    """The cache user's ACL: its own keys (SINKS_REDIS_KEY_PREFIX*), reads, writes and scripts, nothing
    dangerous or administrative (no FLUSHALL, CONFIG, KEYS, SCRIPT FLUSH, pub/sub); TIME for the scripts."""
    secret = password.get_secret_value() if password else ""
    if not secret or any(c.isspace() for c in user + secret + key_prefix):
        raise StackError("redis: the ACL user needs a password, and neither may contain spaces",
                         hint="set REDIS_USERNAME and REDIS_PASSWORD without spaces")
    return [user, "on", f">{secret}", f"~{key_prefix}*", "resetchannels", "-@all", "+@read", "+@write",
            "+@scripting", "+@connection", "+time", "-@dangerous", "-@admin", "-script|flush", "-script|kill"]


class Redis(Service):
    name = "redis"

    @property
    def port(self) -> int:
        return self.settings.redis.port

    def check_installed(self) -> None:
        if not shutil.which("redis-server"):
            raise self.missing("`redis-server`", "run `make install` (installs the Debian package redis-server)")

    @property
    def auth_config(self) -> Path:
        """Credentials and TLS as config lines in a file only the stack's user reads (not on the command line)."""
        return self.dir / "auth.conf"

    def prepare(self) -> None:
        super().prepare()
        r = self.settings.redis
        lines = []
        if r.tls:  # TLS only (no plain port), a certificate of the stack's own CA (devstack/tls.py)
            expected = local_ca_path(self.root)
            if r.tls_ca_file is None or Path(r.tls_ca_file).resolve() != expected.resolve():
                raise StackError(f"redis: REDIS_TLS on the local stack needs REDIS_TLS_CA_FILE={expected}",
                                 hint="the local server's certificate is signed by the stack's own CA, made there")
            cert = server_certificate(self.root, "redis")
            lines += ["port 0", f"tls-port {self.port}", f'tls-cert-file "{cert.certificate}"',
                      f'tls-key-file "{cert.key}"', f'tls-ca-cert-file "{cert.ca}"', "tls-auth-clients no"]
        if r.username:  # the default user off: nothing works without the ACL user's password
            rules = acl_rules(r.username, r.password, self.settings.sinks.redis_key_prefix)
            lines += ["user default off", "user " + " ".join(rules)]
        elif r.password:
            lines += [f'requirepass "{r.password.get_secret_value()}"']
        self.auth_config.touch(mode=0o600)
        self.auth_config.chmod(0o600)
        self.auth_config.write_text("".join(line + "\n" for line in lines))

    def command(self) -> list[str]:
        port = [] if self.settings.redis.tls else ["--port", str(self.port)]  # TLS: tls-port in the config file
        return ["redis-server", str(self.auth_config), *port, "--bind", "127.0.0.1",
                "--dir", str(self.dir), "--daemonize", "no", "--logfile", "", "--save", "",
                "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory", self.settings.stack.redis_maxmemory]

    def probe(self) -> bool:
        client = redis.Redis(**self.settings.redis.client_kwargs(), socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
