"""Removal markers in every real target: purged when old, kept when asked, and guarding while kept."""

from __future__ import annotations

import secrets
import time

import pytest

from cdc_sinks.base import Removal, SinkRecord
from cdc_sinks.registry import build_sink, sink_names
from reconciler.drift import ActiveView
from testkit.policies import good_policy, insert_policy, sink_record

pytestmark = pytest.mark.integration


def record(pg, policy_id: int, lsn: int) -> SinkRecord:
    return sink_record(ActiveView(pg).rows([policy_id])[policy_id], lsn, as_active=True)


@pytest.mark.parametrize("name", sink_names())
def test_old_markers_go_kept_ones_stay_and_still_refuse_an_older_write(name, rsettings, pg):
    tag = secrets.token_hex(3)
    purged_id, kept_id = (insert_policy(pg, good_policy("gov24", f"mk-{tag}-{i}", status="archived"))
                          for i in range(2))
    sink = build_sink(name, rsettings)
    try:
        sink.ensure_ready()
        sink.upsert_batch([record(pg, purged_id, 100), record(pg, kept_id, 100)])
        sink.remove_batch([Removal(purged_id, 200), Removal(kept_id, 200)])
        assert sink.purge_markers(time.time() - 3600, keep=set()) == 0  # written just now: younger than that
        assert sink.purge_markers(time.time() + 5, keep={kept_id}) >= 1
        assert sink.purge_markers(time.time() + 5, keep={kept_id}) == 0  # gone: nothing old is left but the kept one
        sink.upsert_batch([record(pg, kept_id, 150)])  # an older replay: the kept marker still refuses it
        assert kept_id not in sink.read_records([kept_id])
    finally:
        sink.remove_batch([Removal(purged_id, 300), Removal(kept_id, 300)])
        sink.close()
