"""An idle change stream still confirms WAL: the heartbeat action query keeps the slot advancing.

"Idle" from the slot's point of view: no change to a published table. WAL written to a table
outside the publication (or by other databases) is never sent to Debezium, so without the
heartbeat message the slot's confirmed LSN would stay where the last policy change left it and
PostgreSQL would keep every WAL segment since.

The CI test uses a 1 s heartbeat and waits ~15 s; the `slow` test runs the shipped 10 s heartbeat
for 10 minutes (`pytest -m slow tests/integration/connectors`).
"""

from __future__ import annotations

import time

import pytest

from aegis.db import connect
from connectors.slot import slot_info
from testkit.streams import isolated_settings, new_tag, running_connector


def _current_wal_lsn(settings) -> int:
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        return conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").fetchone()[0]


def _write_unpublished_wal(settings, table: str, rows: int) -> None:
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (id bigint, filler text)")
        conn.execute(f"INSERT INTO {table} SELECT n, repeat('x', 200) FROM generate_series(1, %s) n", (rows,))


def _drop(settings, table: str) -> None:
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _confirmed_passes(settings, target: int, timeout: float) -> list[int]:
    """Sample the slot's confirmed LSN each second until it reaches ``target``; return the samples."""
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples.append(slot_info(settings.postgres).confirmed_flush_lsn_int)
        if samples[-1] >= target:
            break
        time.sleep(1)
    return samples


@pytest.mark.integration
def test_slot_confirms_wal_it_has_no_changes_for(stream_stack):
    settings = isolated_settings(stream_stack, new_tag(), heartbeat_interval_ms=1000)
    filler = f"cstest_wal_filler_{settings.connector.name.rsplit('-', 1)[-1]}"
    try:
        with running_connector(settings):
            start = slot_info(settings.postgres).confirmed_flush_lsn_int
            _write_unpublished_wal(settings, filler, 20_000)  # ~5 MB of WAL the slot never sees a change in
            target = _current_wal_lsn(settings)
            assert target - start > 1_000_000
            samples = _confirmed_passes(settings, target, timeout=60)
            assert samples[-1] >= target, f"confirmed LSN stuck: start {start}, target {target}, samples {samples}"
            # and it keeps going while nothing at all happens
            idle_from = slot_info(settings.postgres).confirmed_flush_lsn_int
            time.sleep(6)
            assert slot_info(settings.postgres).confirmed_flush_lsn_int > idle_from
    finally:
        _drop(settings, filler)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # ten minutes of waiting, beyond the suite's 600 s default
def test_ten_idle_minutes_with_the_shipped_heartbeat(stream_stack):
    settings = isolated_settings(stream_stack, new_tag())  # the shipped heartbeat interval
    filler = f"cstest_wal_filler_{settings.connector.name.rsplit('-', 1)[-1]}"
    try:
        with running_connector(settings):
            history = [slot_info(settings.postgres).confirmed_flush_lsn_int]
            for minute in range(10):
                _write_unpublished_wal(settings, filler, 2_000)  # WAL from elsewhere keeps arriving
                target = _current_wal_lsn(settings)
                time.sleep(60)
                confirmed = slot_info(settings.postgres).confirmed_flush_lsn_int
                print(f"minute {minute + 1}: confirmed {confirmed}, WAL written by then {target}")
                assert confirmed >= target, f"minute {minute + 1}: confirmed {confirmed} < {target}"
                history.append(confirmed)
            assert history == sorted(history) and len(set(history)) == len(history)
    finally:
        _drop(settings, filler)
