"""CI, after `make test`: the user's stack never sees the tests.

1. `make test` ran on the test stack (tests/stack-test.env): the user's state directory holds no
   server data and no process listens on the user's ports;
2. a new user's first `make run` (README, Quick start), in the background, with the user's settings
   (`.env` if present, else the defaults): `aegis status --json` every 10 s, and the first status in
   which every target has caught up (every sink running with zero lag, each target holding
   PostgreSQL's active records, the first reconcile pass done, nothing pending) must be `all well`
   with zero dead letters — leftovers of the tests would show there;
3. with that main job still running, the suites that once wrote into the user's stack (collectors,
   the main job, the poison-record conformance test) run again on a fresh test stack (the test slot's
   ports, a state directory of its own: the main-job test expects a change stream without the
   backlog `make test` left), and the user's stack must be exactly as before: policies (ids,
   statuses, content hashes), every topic's end offsets, the consumer groups and their offsets, the
   dead letters, each target's record count;
4. the main job is stopped with Ctrl-C and the servers with `make stop`, whatever happened.

Exit 0 when all of it holds, 1 otherwise. Run from the repository root, after `make test`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
AEGIS = [str(REPO / ".venv" / "bin" / "aegis")]
CONVERGE_SECONDS = 20 * 60
SERVER_DIRS = ("postgres", "redis", "kafka", "kafka-connect", "neo4j", "opensearch", "milvus", "logs")
BESIDE_STATE = ".stack-test-beside"
WHILE_RUNNING = ["tests/integration/collectors", "tests/integration/aegis/test_main_job.py",
                 "tests/integration/cdc_sinks/conformance/test_conformance.py"
                 "::test_poison_record_is_dead_lettered_and_its_neighbours_applied"]


def say(line: str) -> None:
    print(f"[user stack] {line}", flush=True)


def untouched(settings) -> list[str]:
    """What `make test` may not have left in the user's stack: server data, or a listening port."""
    from devstack.base import port_open
    from devstack.manager import StackManager

    problems = []
    state = settings.stack.state_path
    written = [name for name in SERVER_DIRS if (state / name).exists()]
    if written:
        problems.append(f"the user's state directory {state} holds {', '.join(written)} before the first `make run`")
    for service in StackManager(settings).services:
        if port_open(service.port):
            problems.append(f"port {service.port} ({service.name} of the user's stack) is in use before `make run`")
    return problems


def status() -> tuple[int, dict | None]:
    result = subprocess.run([*AEGIS, "status", "--json"], capture_output=True, text=True, cwd=REPO, timeout=180)
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        return result.returncode, None


def caught_up(s: dict) -> bool:
    active = s.get("postgres_active") or 0
    return (active > 0 and s.get("last_reconcile") is not None
            and not s.get("policies_by_status", {}).get("pending_validation")
            and all(k["state"] == "running" and k["lag_events"] == 0 and k["target_count"] == active
                    for k in s["sinks"]))


def first_run(job: subprocess.Popen, started: float) -> bool:
    s: dict | None = None
    while time.monotonic() - started < CONVERGE_SECONDS:
        if job.poll() is not None:
            say(f"FAIL: `make run` exited with code {job.returncode} (log .ci/user-stack.log)")
            return False
        time.sleep(10)
        code, s = status()
        if s is None or not caught_up(s):
            continue
        dead = s.get("dead_letters")
        say(f"first caught-up status after {time.monotonic() - started:.0f}s: exit {code}, "
            f"active {s['postgres_active']}, dead letters {dead}, attention {s['attention']}")
        print(subprocess.run([*AEGIS, "status"], capture_output=True, text=True, cwd=REPO).stdout, flush=True)
        ok = code == 0 and not s["attention"] and dead == 0
        say("OK: all well, zero dead letters" if ok else "FAIL: the first caught-up status is not all well")
        return ok
    say(f"FAIL: the targets did not catch up within {CONVERGE_SECONDS}s; last status: {json.dumps(s)[:3000]}")
    return False


def snapshot(settings) -> dict:
    """The user's data as the tests must leave it: PostgreSQL, Kafka, the targets."""
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    from aegis.db import connect
    from cdc_sinks.registry import build_sink, sink_names

    found: dict = {}
    with connect(settings.postgres, autocommit=True) as conn:
        found["policies"] = conn.execute(
            "SELECT count(*), "
            "md5(coalesce(string_agg(id || ':' || status || ':' || content_hash, ',' ORDER BY id), '')) "
            "FROM policies").fetchone()
        found["dead_letters"] = conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    kafka = settings.kafka.bootstrap_servers
    admin = AdminClient({"bootstrap.servers": kafka})
    reader = Consumer({"bootstrap.servers": kafka, "group.id": "aegis-ci-snapshot", "enable.auto.commit": False})
    try:
        topics = admin.list_topics(timeout=10).topics
        watched = [t for t in topics if not t.startswith(("__", "_aegis_connect_"))]  # heartbeats, internals
        found["topics"] = sorted(topics)
        found["end_offsets"] = {t: [reader.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]
                                    for p in sorted(topics[t].partitions)] for t in sorted(watched)}
        groups = sorted(g.group_id for g in admin.list_consumer_groups().result(timeout=10).valid
                        if g.group_id.startswith(settings.sinks.group_id_prefix))
        found["groups"] = {}
        for group in groups:
            answer = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(timeout=10)
            found["groups"][group] = sorted((tp.topic, tp.partition, tp.offset) for tp in answer.topic_partitions)
    finally:
        reader.close()
    found["targets"] = {}
    for name in sink_names():
        sink = build_sink(name, settings)
        try:
            found["targets"][name] = sink.count()
        finally:
            sink.close()
    return found


def fresh_test_slot() -> Path:
    """tests/stack-test.env with a state directory of its own (the server jars linked, not resolved again)."""
    state = REPO / BESIDE_STATE
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir()
    for jars in (REPO / ".stack-test").glob("jars*"):
        (state / jars.name).symlink_to(jars, target_is_directory=True)
    env_file = state / "stack-test.env"
    env_file.write_text((REPO / "tests" / "stack-test.env").read_text() + f"\nAEGIS_STACK_STATE_DIR={state}\n")
    return env_file


def tests_while_running(settings) -> bool:
    before = snapshot(settings)
    say(f"user's stack before the tests: {json.dumps(before)[:600]}")
    result = subprocess.run([str(REPO / ".venv" / "bin" / "pytest"), *WHILE_RUNNING, "-m", "integration and not slow",
                             "-q", "-p", "no:cacheprovider"], cwd=REPO,
                            env={**os.environ, "AEGIS_TEST_ENV_FILE": str(fresh_test_slot())})
    after = snapshot(settings)
    changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    if result.returncode != 0:
        say(f"FAIL: the tests failed (exit {result.returncode}) while the user's main job ran")
    if changed:
        say(f"FAIL: the tests changed the user's stack: {json.dumps(changed)[:3000]}")
    else:
        say("OK: the user's stack is exactly as it was (policies, topics, groups, dead letters, targets)")
    return result.returncode == 0 and not changed


def main() -> int:
    from aegis.settings import load_settings

    settings = load_settings(REPO / ".env")
    problems = untouched(settings)
    for p in problems:
        say(f"FAIL: {p}")
    if problems:
        return 1
    say(f"user's stack: state directory {settings.stack.state_path}, PostgreSQL port {settings.postgres.port}")
    log = (REPO / ".ci" / "user-stack.log").open("w")
    started = time.monotonic()
    job = subprocess.Popen(["make", "run"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if not first_run(job, started):
            return 1
        return 0 if tests_while_running(settings) else 1
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGINT)
            try:
                job.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(job.pid, signal.SIGKILL)
        subprocess.run(["make", "stop"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        shutil.rmtree(REPO / BESIDE_STATE, ignore_errors=True)
        log.close()


if __name__ == "__main__":
    sys.exit(main())
