"""Reconciler integration helpers: the CLI in-process, convergence, report reading, and a WAL tap on the outbox
(policy rows: ``testkit.policies``)."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner, Result

from aegis.db import connect
from aegis.settings import Settings
from console.cli import cli


class Aegis:
    """Runs `aegis ...` in-process with the module's environment."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.runner = CliRunner()  # click 8.2+: stdout and stderr kept apart

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(cli, ["--env-file", "/nonexistent/.env", *args], env=self.env,
                                  catch_exceptions=False)

    def report(self, *args: str) -> tuple[int, dict]:
        result = self("reconcile", "--once", "--json", *args)
        assert result.exit_code in (0, 1, 2), result.output
        return result.exit_code, json.loads(result.stdout)


def converge(aegis: Aegis, *targets: str, deep: bool = False) -> None:
    """Bring the targets in step (leftovers of other tests included), then require a clean dry run."""
    import pytest

    only = [arg for name in targets for arg in ("--target", name)] + (["--deep"] if deep else [])
    for _ in range(3):
        code, report = aegis.report(*only)
        assert code == 0, [(t["target"], t["status"], t["error"]) for t in report["targets"]]
        code, report = aegis.report("--dry-run", *only)
        if code == 0:
            return
    pytest.fail(f"targets do not converge: {report['inconsistencies'][:5]}")


def listed(report: dict, *, in_flight: bool = False) -> set[tuple[str, str, int]]:
    """(target, kind, id) of every record the report names (drift, or with ``in_flight`` the lag)."""
    return {(i["target"], i["kind"], i["policy_id"]) for i in report["inconsistencies"]
            if i.get("in_flight", False) is in_flight}


class WalTap:
    """Outbox events as Debezium sees them: a test_decoding slot read as the replication role.

    The outbox row is inserted and deleted in one transaction, so the table never shows it: the
    WAL is where an event exists.
    """

    _INSERT = re.compile(r"table public\.outbox: INSERT: .*?aggregateid\[text\]:'([^']*)' type\[text\]:'([^']*)' "
                         r"schema_version\[text\]:'[^']*' payload\[jsonb\]:'((?:[^']|'')*)'")

    def __init__(self, settings: Settings, name: str):
        self.settings = settings
        self.name = name
        self.conn = connect(settings.postgres, autocommit=True, user=settings.postgres.debezium_user,
                            password=settings.postgres.debezium_password)
        self.conn.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (name,))

    def events(self) -> list[tuple[str, str, dict]]:
        """(aggregate id, type, payload) of every outbox insert since the last call."""
        rows = self.conn.execute("SELECT data FROM pg_logical_slot_get_changes(%s, NULL, NULL)", (self.name,))
        found = []
        for (data,) in rows:
            match = self._INSERT.search(data)
            if match:
                found.append((match[1], match[2], json.loads(match[3].replace("''", "'"))))
        return found

    def close(self) -> None:
        self.conn.execute("SELECT pg_drop_replication_slot(%s)", (self.name,))
        self.conn.close()
