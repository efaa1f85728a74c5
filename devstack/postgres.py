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
from devstack.base import Service

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
    def dir(self) -> Path:
        """The service directory; under a root-only path (e.g. /root) it is a symlink to /var/tmp,
        because the server runs as the `postgres` user, which must be able to reach it."""
        wanted = self.root / self.name
        if self.run_as is None or wanted.exists() or _traversable_by_others(self.root):
            return wanted.resolve()
        import hashlib
        root_digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:10]
        fallback = Path("/var/tmp") / f"aegis-sync-{root_digest}" / self.name
        fallback.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        wanted.symlink_to(fallback, target_is_directory=True)
        return fallback

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
        if (self.data_dir / "PG_VERSION").exists():
            return
        result = subprocess.run(
            [self._bin("initdb"), "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8", "--locale=C",
             "--auth-local=trust", "--auth-host=scram-sha-256"],
            user=self.run_as, capture_output=True, text=True, cwd="/")
        if result.returncode != 0:
            raise StackError(f"postgres: initdb failed (exit {result.returncode})",
                             hint=f"output:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")

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
        """The four least-privilege roles (docs/deploy.md) and the database, owned by the migration owner.

        A database made before the owner role existed belonged to the application role: its objects
        are handed to the owner once (``REASSIGN OWNED``), and ``aegis db migrate`` grants again.
        """
        pg = self.settings.postgres
        with self._superuser() as conn:
            plain = "LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION"
            _ensure_role(conn, pg.owner_user, pg.owner_password.get_secret_value(), plain)
            _ensure_role(conn, pg.user, pg.password.get_secret_value(), plain)
            _ensure_role(conn, pg.reader_user, pg.reader_password.get_secret_value(), plain)
            _ensure_role(conn, pg.debezium_user, pg.debezium_password.get_secret_value(),
                         "LOGIN REPLICATION NOSUPERUSER NOCREATEROLE NOCREATEDB")
            owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                                 (pg.db,)).fetchone()
            database, owner_role = sql.Identifier(pg.db), sql.Identifier(pg.owner_user)
            if owner is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, owner_role))
            elif owner[0] != pg.owner_user:
                conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, owner_role))
            for role in (pg.user, pg.reader_user, pg.debezium_user):
                conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, sql.Identifier(role)))
        with psycopg.connect(host=str(self.socket_dir), port=self.port, user="postgres", dbname=pg.db,
                             autocommit=True, connect_timeout=2) as conn:
            # Objects of a database made when the application role still owned everything.
            if conn.execute("SELECT 1 FROM pg_class WHERE relowner = %s::regrole "
                            "AND relnamespace = 'public'::regnamespace LIMIT 1", (pg.user,)).fetchone():
                conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(sql.Identifier(pg.user),
                                                                        sql.Identifier(pg.owner_user)))

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` (a scratch database of a test or benchmark), closing its sessions."""
        if name == self.settings.postgres.db:
            raise ValueError(f"refusing to drop the configured database {name!r}")
        with self._superuser() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _traversable_by_others(path: Path) -> bool:
    """True when every existing directory on the way to ``path`` can be entered by any user."""
    return not any(directory.exists() and not directory.stat().st_mode & 0o001 for directory in [path, *path.parents])


def _ensure_role(conn: psycopg.Connection, name: str, password: str, options: str) -> None:
    verb = "ALTER" if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() else "CREATE"
    conn.execute(sql.SQL(f"{verb} ROLE {{}} WITH {options} PASSWORD {{}}").format(
        sql.Identifier(name), sql.Literal(password)))
