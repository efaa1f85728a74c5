"""PostgreSQL from Debian's packages, with logical decoding on, as the project's source of truth."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from aegis.errors import StackError
from aegis.stack.base import Service

_INSTALL_HINT = "run `make install` (installs the Debian package postgresql) or `apt-get install -y postgresql`"


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin holding a server, else the directory of a `postgres` on PATH."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1].parent
    found = shutil.which("postgres")
    return Path(found).parent if found else None


class Postgres(Service):
    name = "postgres"
    stop_signal = 2  # SIGINT: PostgreSQL's "fast" shutdown

    @property
    def port(self) -> int:
        return self.settings.postgres.port

    @property
    def run_as(self) -> str | None:
        # initdb and postgres refuse to run as root.
        return "postgres" if os.geteuid() == 0 else None

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.dir / "run"

    def _bin(self, tool: str) -> str:
        bindir = find_bindir()
        if bindir is None or not (bindir / tool).exists():
            raise self.missing(f"PostgreSQL server binary `{tool}`", _INSTALL_HINT)
        return str(bindir / tool)

    def check_installed(self) -> None:
        self._bin("postgres")
        self._bin("initdb")
        if self.run_as:
            try:
                pwd.getpwnam(self.run_as)
            except KeyError:
                raise self.missing("the `postgres` OS user", _INSTALL_HINT) from None

    def prepare(self) -> None:
        super().prepare()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            for path in (self.dir, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            self._check_traversable(user.pw_uid)
        if (self.data_dir / "PG_VERSION").exists():
            return
        result = subprocess.run(
            [self._bin("initdb"), "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8", "--locale=C",
             "--auth-local=trust", "--auth-host=scram-sha-256"],
            user=self.run_as, capture_output=True, text=True, cwd="/")
        if result.returncode != 0:
            raise StackError(f"postgres: initdb failed (exit {result.returncode})",
                             hint=f"output:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")

    def _check_traversable(self, uid: int) -> None:
        for parent in self.dir.parents:
            mode = parent.stat().st_mode
            if parent.stat().st_uid != uid and not mode & 0o001:
                raise StackError(
                    f"postgres: the server runs as the `postgres` user, which cannot enter {parent}",
                    hint="set AEGIS_STACK_STATE_DIR to a directory under a world-traversable path "
                         f"(or `chmod o+x {parent}`)")

    def command(self) -> list[str]:
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.socket_dir),
            "wal_level": "logical",
            "max_replication_slots": "10",
            "max_wal_senders": "10",
            "max_connections": "200",
            "shared_buffers": "512MB",
            "wal_compression": "on",
            "log_min_messages": "warning",
        }
        cmd = [self._bin("postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for key, value in options.items():
            cmd += ["-c", f"{key}={value}"]
        return cmd

    def _superuser(self) -> psycopg.Connection:
        return psycopg.connect(host=str(self.socket_dir), port=self.port, user="postgres",
                               dbname="postgres", autocommit=True, connect_timeout=2)

    def probe(self) -> bool:
        try:
            with self._superuser() as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def bootstrap(self) -> None:
        """The application role owning its database, and Debezium's least-privilege role."""
        pg = self.settings.postgres
        with self._superuser() as conn:
            _ensure_role(conn, pg.user, pg.password.get_secret_value(), "LOGIN")
            _ensure_role(conn, pg.debezium_user, pg.debezium_password.get_secret_value(), "LOGIN REPLICATION")
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg.db,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(pg.db), sql.Identifier(pg.user)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(pg.db), sql.Identifier(pg.debezium_user)))


def _ensure_role(conn: psycopg.Connection, name: str, password: str, options: str) -> None:
    verb = "ALTER" if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() else "CREATE"
    conn.execute(sql.SQL(f"{verb} ROLE {{}} WITH {options} PASSWORD {{}}").format(
        sql.Identifier(name), sql.Literal(password)))
