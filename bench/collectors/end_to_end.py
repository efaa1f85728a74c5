"""Collector end to end: HTTP from the sample server -> parse -> map -> PostgreSQL, as
`aegis collect --once --source bizinfo` runs it (rate limit lifted, pages of 500).

    .venv/bin/python -m bench.collectors.end_to_end [--records 20000]

Prints records/min of a first pass (all new) and a second pass (all unchanged). The rows are
deleted at the end (they are stored under source_system ``bizinfo``: run it on a scratch stack).
"""

from __future__ import annotations

import argparse
import os
import sys

from aegis.db import connect
from aegis.settings import load_settings
from collectors.runner import Collector
from collectors.samples.catalog import SampleCatalog
from collectors.samples.server import SampleServer


def cleanup(conn) -> None:
    with conn.transaction():
        ids = [str(r[0]) for r in conn.execute("SELECT id FROM policies WHERE source_system = 'bizinfo'")]
        conn.execute("DELETE FROM processing_history WHERE policy_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM policies WHERE source_system = 'bizinfo'")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    settings = load_settings()
    catalog = SampleCatalog(scale=0.01)
    catalog.bizinfo = catalog.bizinfo[:5] + catalog.generated_bizinfo(args.records - 5)
    with SampleServer(catalog=catalog) as server, connect(settings.postgres, role="owner", autocommit=True) as conn:
        sources = settings.sources.model_copy(update={"samples_url": server.url})
        bizinfo = settings.source_apis["bizinfo"].model_copy(update={"page_size": 500, "requests_per_second": 1000.0})
        collector = Collector(settings.model_copy(update={"sources": sources,
                                                          "source_apis": {**settings.source_apis, "bizinfo": bizinfo}}))
        cleanup(conn)
        try:
            for label in ("first pass (new)", "second pass (unchanged)"):
                result = collector.run_once(["bizinfo"])
                (summary,) = result.summaries
                print(f"{label:<24} {summary.fetched:>7,} records in {summary.seconds:6.1f} s = "
                      f"{summary.fetched / summary.seconds * 60:>9,.0f} records/min  (new {summary.new:,}, "
                      f"unchanged {summary.unchanged:,}, error {summary.error.code if summary.error else None})"
                      f"  load {os.getloadavg()[0]:.0f}")
        finally:
            cleanup(conn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
