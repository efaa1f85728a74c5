"""Reconciler integration helpers: the CLI in-process, policy rows, and a WAL tap on the outbox."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone

import psycopg
from click.testing import CliRunner, Result

from console.cli import cli
from aegis.db import connect
from aegis.settings import Settings


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


def content_hash(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def good_policy(source_system: str, source_id: str, **overrides) -> dict:
    """Column values of a complete, fresh policy, as a collector would store it."""
    today = date.today()
    values = dict(
        source_system=source_system, source_id=source_id,
        title=f"{today.year}년 청년 창업 사업화 지원사업 공고 {source_id}",
        content="청년 창업기업의 사업화를 위해 시제품 제작, 마케팅, 지식재산권 비용을 최대 1억원까지 지원합니다.",
        issuing_organization="중소벤처기업부", executing_organization="창업진흥원", target_regions=["전국"],
        target_group="만 39세 이하 예비창업자", support_field="창업", funding_type="보조금",
        application_start_date=today - timedelta(days=5), application_end_date=today + timedelta(days=40),
        original_url=f"https://www.bizinfo.go.kr/view.do?pblancId={source_id}",
        contact_email="help@kised.or.kr", contact_phone="02-2110-2500",
        source_updated_at=datetime.now(timezone.utc) - timedelta(days=2), status="pending_validation")
    values.update(overrides)
    return values


def insert_policy(conn: psycopg.Connection, values: dict) -> int:
    values = dict(values)
    values.setdefault("content_hash", content_hash(values))
    columns = ", ".join(values)
    placeholders = ", ".join(f"%({k})s" for k in values)
    return conn.execute(f"INSERT INTO policies ({columns}) VALUES ({placeholders}) RETURNING id", values).fetchone()[0]


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
