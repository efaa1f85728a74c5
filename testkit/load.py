"""The load: a realistic mix of policy changes committed at a fixed rate, and who has seen them.

Every change is one autocommit statement on its own connection's writer thread:

=============  ===========================================  ==========================================
kind           statement                                    each target must then show
=============  ===========================================  ==========================================
insert         new ``active`` policy                        the policy with its content hash
update         new content (embedded again) and hash        the new hash
deactivate     ``status = 'archived'`` (leaves the view)    no policy (a removal marker)
reactivate     ``status = 'active'`` again, same content    the policy with its hash again
delete         ``DELETE``                                   no policy (the final marker)
=============  ===========================================  ==========================================

Before each statement the writer reads ``pg_current_wal_insert_lsn()``: the change's own LSN
(Debezium's ``source.lsn``, which every target stores) is at least that. A change is *visible*
in a target when the target holds, for its id, a version with LSN ≥ that floor and the expected
content (hash, or removal). Because the previous change to the same id committed before the floor
was read, nothing older can match — not even a reactivation whose hash equals the one before.
"""

from __future__ import annotations

import math
import random
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from aegis.db import connect
from aegis.settings import Settings
from testkit.policies import sample_texts

KINDS = ("insert", "update", "deactivate", "reactivate", "delete")
DEFAULT_MIX = {"insert": 0.15, "update": 0.55, "deactivate": 0.10, "reactivate": 0.10, "delete": 0.10}
INSERT = ("INSERT INTO policies (source_system, source_id, title, content, issuing_organization, target_regions,"
          " support_field, content_hash, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'active') RETURNING id")


@dataclass
class Change:
    kind: str
    policy_id: int | None
    content_hash: str | None  # None: the policy must be absent (a removal)
    lsn_floor: int = 0
    committed: float = 0.0  # time.monotonic() when the commit returned


class Generator:
    """Chooses the next change: kind by the mix, policy round-robin so each id rests between changes.

    An id is taken out of its pool while its change is in flight, so no two writers touch one id; an
    archived policy comes back only after ``rest`` seconds (as an active one is changed again only
    after the round-robin went through the working set), so a change is superseded by the next
    one of its policy only if it was not visible for that long.
    """

    def __init__(self, source: str, active: list[int], hashes: dict[int, str], mix: dict[str, float],
                 seed: int = 10, rest: float = 10.0):
        self.source, self.rng, self.mix, self.rest = source, random.Random(seed), mix, rest
        self.active: deque[int] = deque(active)
        self.inactive: deque[tuple[int, float]] = deque()
        self.hashes = dict(hashes)
        self.texts = sample_texts(500, seed)
        self.floor_size = max(len(active) // 2, 1)
        self.lock = threading.Lock()
        self.counter = 0

    def next(self) -> Change:
        with self.lock:
            kind = self.rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
            if kind == "reactivate" and (not self.inactive or time.monotonic() - self.inactive[0][1] < self.rest):
                kind = "update"
            if kind in ("update", "deactivate", "delete") and len(self.active) < self.floor_size:
                kind = "insert"
            self.counter += 1
            if kind == "insert":
                return Change(kind, None, secrets.token_hex(32))
            if kind == "reactivate":
                policy_id = self.inactive.popleft()[0]
                return Change(kind, policy_id, self.hashes[policy_id])
            policy_id = self.active.popleft()
            return Change(kind, policy_id, secrets.token_hex(32) if kind == "update" else None)

    def text(self) -> tuple[str, str, str, list[str], str]:
        with self.lock:
            return self.texts[self.rng.randrange(len(self.texts))]

    def done(self, change: Change) -> None:
        with self.lock:
            if change.kind == "delete":
                self.hashes.pop(change.policy_id, None)
            elif change.kind == "deactivate":
                self.inactive.append((change.policy_id, time.monotonic()))
            else:
                self.hashes[change.policy_id] = change.content_hash
                self.active.append(change.policy_id)

    def live_ids(self) -> list[int]:
        """Every id this run created and did not delete (for clean-up)."""
        with self.lock:
            return list(self.hashes)


def current_lsn(conn) -> int:
    return int(conn.execute("SELECT pg_current_wal_insert_lsn() - '0/0'").fetchone()[0])


def apply(conn, gen: Generator, change: Change, *, lsn_floor: int | None = None) -> None:
    """Commit ``change`` on ``conn`` (autocommit), stamping its LSN floor and commit time.

    Inside a transaction of several changes, pass the LSN read before it began as ``lsn_floor``
    (every change of it lands after that) and stamp ``committed`` once the transaction commits.
    """
    change.lsn_floor = current_lsn(conn) if lsn_floor is None else lsn_floor
    if change.kind == "insert":
        title, content, org, regions, support = gen.text()
        change.policy_id = conn.execute(INSERT, (gen.source, secrets.token_hex(8), title, content, org, regions,
                                                 support, change.content_hash)).fetchone()[0]
    elif change.kind == "update":
        title, content, *_ = gen.text()
        conn.execute("UPDATE policies SET title = %s, content = %s, content_hash = %s, updated_at = now()"
                     " WHERE id = %s", (title, f"{content}<p>변경 {gen.counter}</p>", change.content_hash,
                                        change.policy_id))
    elif change.kind in ("deactivate", "reactivate"):
        status = "archived" if change.kind == "deactivate" else "active"
        conn.execute("UPDATE policies SET status = %s, updated_at = now() WHERE id = %s", (status, change.policy_id))
    else:
        conn.execute("DELETE FROM policies WHERE id = %s", (change.policy_id,))
    change.committed = time.monotonic()


@dataclass
class TargetLog:
    """Per target: changes not yet visible, and the lag of those that became visible."""

    name: str
    pending: dict[int, Change] = field(default_factory=dict)
    lags: list[tuple[float, float]] = field(default_factory=list)  # (commit time, lag seconds)
    superseded: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, change: Change) -> None:
        with self.lock:
            self.superseded += change.policy_id in self.pending
            self.pending[change.policy_id] = change


class Poller(threading.Thread):
    """Reads one target every ``interval`` seconds and resolves the pending changes it shows.

    ``reads`` keeps the size of every read it made, so that a benchmark can replay the same reads
    afterwards and tell what they cost the target's server (``replay_reads``)."""

    def __init__(self, reader, log: TargetLog, interval: float = 0.02):
        super().__init__(name=f"poll-{log.name}", daemon=True)
        self.reader, self.log, self.interval = reader, log, interval
        self.stop = threading.Event()
        self.errors = 0
        self.reads: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            with self.log.lock:
                snapshot = dict(self.log.pending)
            ids = list(snapshot)
            for start in range(0, len(ids), 1000):
                chunk = ids[start:start + 1000]
                self.reads.append(len(chunk))
                try:
                    seen = self.reader.versions(chunk)
                except Exception:  # noqa: BLE001 - a failed read is retried next turn, and counted
                    self.errors += 1
                    continue
                now = time.monotonic()
                with self.log.lock:
                    for policy_id in chunk:
                        change = snapshot[policy_id]
                        if self.log.pending.get(policy_id) is change and visible(seen.get(policy_id), change):
                            self.log.lags.append((change.committed, now - change.committed))
                            del self.log.pending[policy_id]
            self.stop.wait(self.interval)


def replay_reads(reader, sizes: list[int], ids: list[int]) -> int:
    """Make reads of ``sizes`` ids each (taken in turn from ``ids``) through ``reader``, as a poller
    made them; returns the reads that failed."""
    failed, at = 0, 0
    for size in sizes:
        chunk = [ids[(at + k) % len(ids)] for k in range(size)]
        at = (at + size) % len(ids)
        try:
            reader.versions(chunk)
        except Exception:  # noqa: BLE001 - counted, as the poller counts its own
            failed += 1
    return failed


def visible(version, change: Change) -> bool:
    # (a Neo4j read racing the commit that creates a node can see it before its properties)
    if version is None or version.lsn is None or version.lsn < change.lsn_floor:
        return False
    if change.content_hash is None:
        return version.removed
    return not version.removed and version.content_hash == change.content_hash


def run_load(settings: Settings, gen: Generator, logs: list[TargetLog], rate: float, seconds: float,
             writers: int, per_transaction: int = 1) -> tuple[int, float]:
    """Commit changes at ``rate``/s for ``seconds`` on ``writers`` threads; (changes, achieved rate).

    With ``per_transaction`` > 1 each writer commits its changes in transactions of that many (one
    commit and one LSN read per transaction instead of per change): how a Python writer reaches
    thousands of changes/s. Every change's latency still counts from its own transaction's commit.
    """
    started = time.monotonic()
    total = math.floor(rate * seconds)
    slots = iter(range(total))
    slot_lock = threading.Lock()
    done = [0]
    errors: list[BaseException] = []

    def write() -> None:
        conn = connect(settings.postgres, role="owner", autocommit=True)
        try:
            while True:
                with slot_lock:
                    taken = [k for k in (next(slots, None) for _ in range(per_transaction)) if k is not None]
                if not taken:
                    return
                delay = started + taken[-1] / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                changes = [gen.next() for _ in taken]
                if len(changes) == 1:
                    apply(conn, gen, changes[0])
                else:
                    with conn.transaction():
                        floor = current_lsn(conn)
                        for change in changes:
                            apply(conn, gen, change, lsn_floor=floor)
                    committed = time.monotonic()
                    for change in changes:
                        change.committed = committed
                for change in changes:
                    for log in logs:
                        log.expect(change)
                    gen.done(change)
                with slot_lock:
                    done[0] += len(changes)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=write, name=f"writer-{i}", daemon=True) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return done[0], done[0] / (time.monotonic() - started)
