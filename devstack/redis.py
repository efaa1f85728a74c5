"""Redis from Debian's packages: the cache target."""

from __future__ import annotations

import shutil

import redis

from devstack.base import Service


class Redis(Service):
    name = "redis"

    @property
    def port(self) -> int:
        return self.settings.redis.port

    def check_installed(self) -> None:
        if not shutil.which("redis-server"):
            raise self.missing("`redis-server`", "run `make install` (installs the Debian package redis-server)")

    def command(self) -> list[str]:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
               "--daemonize", "no", "--logfile", "", "--save", "",
               "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory", self.settings.stack.redis_maxmemory]
        if self.settings.redis.password:
            cmd += ["--requirepass", self.settings.redis.password.get_secret_value()]
        return cmd

    def probe(self) -> bool:
        r = self.settings.redis
        client = redis.Redis(host=r.host, port=self.port, socket_timeout=1, socket_connect_timeout=1,
                             password=r.password.get_secret_value() if r.password else None)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
