"""Redis from Debian's packages: the cache target."""

from __future__ import annotations

import shutil
from pathlib import Path

import redis
from pydantic import SecretStr

from aegis.errors import StackError
from devstack.base import Service


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
        """Credentials as config lines in a file only the stack's user reads (not on the command line)."""
        return self.dir / "auth.conf"

    def prepare(self) -> None:
        super().prepare()
        r = self.settings.redis
        if r.tls:
            raise StackError("redis: the local server has no TLS port (REDIS_TLS=true)",
                             hint="use REDIS_TLS=false with the local stack; TLS is for a real server (docs/deploy.md)")
        lines = []
        if r.username:  # the default user off: nothing works without the ACL user's password
            lines = ["user default off", "user " + " ".join(acl_rules(r.username, r.password, self.settings.sinks.redis_key_prefix))]
        elif r.password:
            lines = [f'requirepass "{r.password.get_secret_value()}"']
        self.auth_config.touch(mode=0o600)
        self.auth_config.chmod(0o600)
        self.auth_config.write_text("".join(line + "\n" for line in lines))

    def command(self) -> list[str]:
        return ["redis-server", str(self.auth_config), "--port", str(self.port), "--bind", "127.0.0.1",
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
