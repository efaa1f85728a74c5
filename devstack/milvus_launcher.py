"""Start the `milvus` package's standalone server in the foreground: ``python -m devstack.milvus_launcher``.

The package's own ``default_server.start()`` runs Milvus as a child of the calling Python process
and lets the embedded etcd take its fixed default ports (2379/2380), so two stacks on one machine
collide. This launcher renders the package's config template for our ports, points the embedded
etcd at ports of its own (an etcd config file), caps the graceful-stop time, unpacks the bundled
binaries once, and then *replaces itself* with the Milvus process (``exec``), so the stack
manager's pid file, signals and log capture apply to Milvus itself.

Ports used, from the gRPC port P: P (proxy), P+1 proxy internal, P+2 root coord, P+3 query coord,
P+4 query node, P+5 index coord, P+6 index node, P+7 data coord, P+8 data node, P+9 etcd client,
P+10 etcd peer, P+11 metrics and ``/healthz``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

PORT_OFFSETS = {
    "proxy_port": 0,
    "proxy_internal_port": 1,
    "root_coord_port": 2,
    "query_coord_port": 3,
    "query_node_port": 4,
    "index_coord_port": 5,
    "index_node_port": 6,
    "data_coord_port": 7,
    "data_node_port": 8,
    "etcd_port": 9,
}
ETCD_PEER_OFFSET = 10
HEALTH_OFFSET = 11
COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
# Strong-consistency reads wait for the next time tick (Milvus default 200 ms): 50 ms cuts commit →
# searchable to p99 0.64 s at 10/s (bench/RESULTS.md, Milvus sink); idle it costs ~5-8 % more of a core.
TIME_TICK_MS = 50
GRACEFUL_STOP_SECONDS = 10
# Milvus does not revoke its etcd sessions when it stops, and the embedded etcd restarts their
# leases with the full TTL: until the old sessions expire, root coord waits for their time ticks and
# every Strong read after a restart times out (default 30 s: a restarted Milvus served Strong reads
# ~36 s after start). Keep-alives are local calls to the embedded etcd, every TTL/3.
SESSION_TTL_SECONDS = 10
# A restarted Milvus replays each channel from its last checkpoint before it serves Strong reads;
# the data node moves the checkpoint when it syncs a segment, by default every 600 s, so a server
# that ran for minutes under load replayed minutes of changes first.
SYNC_PERIOD_SECONDS = 30


def ports(base: int) -> dict[str, int]:
    """Every port the server binds, by name, for gRPC port ``base``."""
    named = {key: base + offset for key, offset in PORT_OFFSETS.items()}
    named["etcd_peer_port"] = base + ETCD_PEER_OFFSET
    named["health_port"] = base + HEALTH_OFFSET
    return named


def write_etcd_config(path: Path, data_dir: Path, client_port: int, peer_port: int) -> None:
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    path.write_text(yaml.safe_dump({
        "name": "aegis-milvus",
        "data-dir": str(data_dir),
        "listen-client-urls": client,
        "advertise-client-urls": client,
        "listen-peer-urls": peer,
        "initial-advertise-peer-urls": peer,
        "initial-cluster": f"aegis-milvus={peer}",
        "initial-cluster-state": "new",
    }))


def tune(document: dict) -> None:
    """Our settings over the package's config: loopback only, quick stop, short ticks and sessions."""
    for component in COMPONENTS:
        document.setdefault(component, {})["ip"] = "127.0.0.1"
    common = document.setdefault("common", {})
    common["gracefulStopTimeout"] = GRACEFUL_STOP_SECONDS
    common.setdefault("session", {})["ttl"] = SESSION_TTL_SECONDS
    document.setdefault("proxy", {})["timeTickInterval"] = TIME_TICK_MS
    document.setdefault("dataNode", {}).setdefault("segment", {})["syncPeriod"] = SYNC_PERIOD_SECONDS


def render_config(base_dir: Path, base_port: int) -> Path:
    """Write ``base_dir/configs/milvus.yaml`` for our ports; return the Milvus executable."""
    from milvus import MilvusServerConfig, _initialize_data_files

    named = ports(base_port)
    config = MilvusServerConfig(data_dir=str(base_dir))
    # Not ``config.resolve()``: it test-binds every port without SO_REUSEADDR, which fails for a
    # port still in TIME_WAIT right after a restart. Milvus binds with SO_REUSEADDR itself.
    for key in PORT_OFFSETS:
        config.set(key, named[key])
    config.resolve_storage()
    config.write_config()
    config_file = base_dir / "configs" / "milvus.yaml"
    document = yaml.safe_load(config_file.read_text())
    etcd_config = base_dir / "configs" / "etcd.yaml"
    write_etcd_config(etcd_config, base_dir / "data" / "etcd.data",
                      named["etcd_port"], named["etcd_peer_port"])
    document["etcd"]["config"] = {"path": str(etcd_config)}
    tune(document)
    config_file.write_text(yaml.safe_dump(document, sort_keys=False))
    _initialize_data_files(str(base_dir))
    return base_dir / "bin" / "milvus"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-dir", type=Path, required=True, help="Data, logs and config of this server.")
    parser.add_argument("--port", type=int, required=True, help="gRPC port; the next 11 ports are used too.")
    args = parser.parse_args(argv)
    base_dir = args.base_dir.resolve()
    base_dir.mkdir(parents=True, exist_ok=True)
    executable = render_config(base_dir, args.port)
    env = dict(os.environ)
    env.update({
        "DEPLOY_MODE": "STANDALONE",
        "METRICS_PORT": str(ports(args.port)["health_port"]),
        "MILVUS_RUN_DIR": str(base_dir / "run"),
        "LD_LIBRARY_PATH": ":".join(filter(None, [str(executable.parent), os.environ.get("LD_LIBRARY_PATH")])),
    })
    os.chdir(base_dir)  # Milvus reads configs/milvus.yaml relative to its working directory
    sys.stdout.flush()
    os.execve(str(executable), [str(executable), "run", "standalone"], env)


if __name__ == "__main__":
    main()
