"""Avro vs JSON change events: bytes per event on Kafka and the sinks' decode cost (issue 11).

Runs against the local stack with the schema registry (`CHANGE_EVENTS_FORMAT=avro aegis stack up`,
`aegis db migrate`). Two isolated connectors stream the same table — one in the JSON profile, one
in the Avro profile, each with its own slot and topics — so every figure compares the *same*
changes in both encodings:

1. writes ``--rows`` policies shaped like collected ones (Korean title and body, regions, dates,
   no source payload: ``raw_data`` is kept out of the streamed table, docs/privacy.md) and then
   updates each once, in transactions of 100;
2. reads both change topics back and measures each message's key + value bytes, and the topic's
   bytes on the broker's disk (log segments, record-batch overhead included);
3. decodes the same messages in-process with the sinks' decoders (``build_decoder``), best of
   ``--rounds`` passes, warm schema cache; and the Avro-only first-message cost (schema fetch).

    .venv/bin/python -m bench.avro.avro_vs_json --rows 2000 --rounds 5 --write-results

``--write-results`` replaces the "Avro vs JSON" section of bench/RESULTS.md with the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import random
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from confluent_kafka import Consumer

from aegis.changestream.avro_wire import unframe
from aegis.changestream.decoding import AvroChangeDecoder, build_decoder
from aegis.db import connect
from aegis.settings import Settings, load_settings
from testkit.streams import change_topic, isolated_settings, isolated_stream

RESULTS = Path(__file__).resolve().parents[1] / "RESULTS.md"
HEADING = "## Avro vs JSON change events (issue 11)"

_WORDS = ("청년 창업 중소기업 소상공인 지원 사업 정책 자금 융자 보조금 교육 훈련 고용 주거 복지 문화 "
          "농업 어업 수출 기술 개발 연구 디지털 전환 지역 균형 발전 신청 접수 선정 평가 지급").split()
_REGIONS = ["서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기", "강원", "충북", "충남", "전북", "전남",
            "경북", "경남", "제주"]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def policy_rows(rng: random.Random, run: str, count: int) -> list[tuple]:
    """Rows shaped like collected policies (field lengths from the sample sources)."""
    rows = []
    for n in range(count):
        rows.append((run, f"{run}-{n}", _text(rng, 6)[:120], _text(rng, 110), "중소벤처기업부", "창업진흥원",
                     rng.sample(_REGIONS, rng.randint(1, 4)), "청년", "제조업", "창업", "보조금",
                     date(2026, 1, rng.randint(1, 28)), date(2026, 12, rng.randint(1, 28)),
                     f"https://www.bizinfo.go.kr/web/lay1/bbs/S1T122C128/AS/74/view.do?pblancId=PBLN_{n:08d}",
                     "help@example.go.kr", "02-123-4567",
                     f"{rng.getrandbits(256):064x}", round(rng.uniform(0.7, 1.0), 3),
                     rng.choice([None, 10_000_000, 50_000_000])))
    return rows


_INSERT = ("INSERT INTO policies (source_system, source_id, title, content, issuing_organization, executing_organization,"
           " target_regions, target_group, target_industry, support_field, funding_type, application_start_date,"
           " application_end_date, original_url, contact_email, contact_phone, content_hash, quality_score,"
           " support_amount_krw, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
           " %s, %s, %s, 'active')")


def write_changes(settings: Settings, run: str, rows: int, seed: int) -> int:
    data = policy_rows(random.Random(seed), run, rows)
    with connect(settings.postgres, role="owner") as conn:
        for start in range(0, rows, 100):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_INSERT, data[start:start + 100])
        with conn.transaction():
            ids = [r[0] for r in conn.execute("SELECT id FROM policies WHERE source_system = %s ORDER BY id", (run,))]
        for start in range(0, len(ids), 100):
            with conn.transaction():
                conn.execute("UPDATE policies SET title = title || ' (변경)', content_hash = md5(title) || md5(content),"
                             " quality_score = 0.95, updated_at = now() WHERE id = ANY(%s)", (ids[start:start + 100],))
    return 2 * rows


def read_topic(settings: Settings, expected: int, timeout: float = 300.0) -> list[tuple[bytes, bytes | None]]:
    topic = change_topic(settings)
    consumer = Consumer({**settings.kafka.client_config(), "enable.auto.commit": False,
                         "group.id": f"bench-avro-{secrets.token_hex(4)}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    messages, deadline = [], time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=5000, timeout=0.5):
                if not m.error():
                    messages.append((m.key(), m.value()))
    finally:
        consumer.close()
    if len(messages) < expected:
        sys.exit(f"{topic}: {len(messages)} of {expected} messages within {timeout:.0f}s")
    return messages


def disk_bytes(settings: Settings) -> int | None:
    """Bytes of the topic's log segments on the local broker's disk (None when not the local stack)."""
    data = settings.stack.state_path / "kafka" / "data"
    dirs = list(data.glob(f"{change_topic(settings)}-*"))
    return sum(f.stat().st_size for d in dirs for f in d.glob("*.log")) if dirs else None


@dataclass
class DecodeCost:
    per_event_us: float
    events_per_second: float
    parse_only_us: float
    first_message_ms: float | None = None


def measure_decode(streams: dict[str, Settings], messages: dict[str, list], rounds: int) -> dict[str, DecodeCost]:
    """Decode cost per format; rounds alternate between the formats so both see the same machine load."""
    decoders = {name: build_decoder(settings) for name, settings in streams.items()}
    first_ms: dict[str, float | None] = {}
    for name, decoder in decoders.items():
        started = time.perf_counter()
        decoder(*messages[name][0])  # Avro: the key and value schemas come from the registry once
        first_ms[name] = (time.perf_counter() - started) * 1000 if isinstance(decoder, AvroChangeDecoder) else None
    full = {name: [] for name in decoders}
    parse = {name: [] for name in decoders}
    for _ in range(rounds):
        for name, decoder in decoders.items():
            batch = messages[name]
            full[name].append(_timed(lambda: [decoder(k, v) for k, v in batch]))
            parse[name].append(_timed(lambda: _parse_only(decoder, batch)))
    return {name: DecodeCost(per_event_us=min(full[name]) / len(messages[name]) * 1e6,
                             events_per_second=len(messages[name]) / min(full[name]),
                             parse_only_us=min(parse[name]) / len(messages[name]) * 1e6,
                             first_message_ms=first_ms[name])
            for name in decoders}


def _parse_only(decoder, messages: list) -> None:
    """The format's own parsing (json.loads, or fastavro against the cached writer schema), no model."""
    if isinstance(decoder, AvroChangeDecoder):
        import fastavro

        for key, value in messages:
            for data in (key, value):
                framed = unframe(data)
                fastavro.schemaless_reader(io.BytesIO(framed.payload), decoder.schemas.writer_schema(framed.schema_id), None)
    else:
        for key, value in messages:
            json.loads(key)
            json.loads(value)


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def size_stats(messages: list) -> dict[str, float]:
    keys = [len(k) for k, _ in messages]
    values = [len(v) for _, v in messages if v is not None]
    events = [len(k) + len(v) for k, v in messages if v is not None]
    return {"key_mean": statistics.mean(keys), "value_mean": statistics.mean(values),
            "event_mean": statistics.mean(events), "event_median": statistics.median(events),
            "total": sum(events)}


def render(report: dict) -> str:
    j, a = report["json"], report["avro"]
    ratio = lambda x, y: f"{x / y:.2f}×" if y else "-"  # noqa: E731
    disk_j, disk_a = j["disk_bytes"], a["disk_bytes"]
    lines = [
        HEADING, "",
        f"`.venv/bin/python -m bench.avro.avro_vs_json --rows {report['rows']} --rounds {report['rounds']}"
        " --write-results` — two isolated connectors (JSON profile and Avro profile, own slots) stream the"
        f" same {report['events']} changes ({report['rows']} inserts of collected-shaped policies, then one update"
        " each, 100 rows per transaction); every figure compares identical changes. Decoding is the sinks'"
        " decoder (`build_decoder`) in one process, best of the rounds, rounds alternating between the formats, schema cache warm.", "",
        "| measure | JSON | Avro | JSON / Avro |", "|---|---|---|---|",
        f"| key bytes per event (mean) | {j['sizes']['key_mean']:.1f} | {a['sizes']['key_mean']:.1f} |"
        f" {ratio(j['sizes']['key_mean'], a['sizes']['key_mean'])} |",
        f"| value bytes per event (mean) | {j['sizes']['value_mean']:.0f} | {a['sizes']['value_mean']:.0f} |"
        f" {ratio(j['sizes']['value_mean'], a['sizes']['value_mean'])} |",
        f"| key + value bytes per event (median) | {j['sizes']['event_median']:.0f} | {a['sizes']['event_median']:.0f} |"
        f" {ratio(j['sizes']['event_median'], a['sizes']['event_median'])} |",
        f"| topic bytes on the broker's disk per event | {disk_j / report['events']:.0f} |"
        f" {disk_a / report['events']:.0f} | {ratio(disk_j, disk_a)} |" if disk_j and disk_a else
        "| topic bytes on the broker's disk per event | - | - | - |",
        f"| decode to `ChangeEvent`, µs per event | {j['decode']['per_event_us']:.0f} |"
        f" {a['decode']['per_event_us']:.0f} | {ratio(j['decode']['per_event_us'], a['decode']['per_event_us'])} |",
        f"| decode to `ChangeEvent`, events/s (one core) | {j['decode']['events_per_second']:,.0f} |"
        f" {a['decode']['events_per_second']:,.0f} | |",
        f"| of which format parsing only (json.loads / fastavro), µs per event | {j['decode']['parse_only_us']:.0f} |"
        f" {a['decode']['parse_only_us']:.0f} | {ratio(j['decode']['parse_only_us'], a['decode']['parse_only_us'])} |",
        f"| first Avro message (two schema fetches from the registry) | | {a['decode']['first_message_ms']:.0f} ms | |",
        "",
        f"Avro saves {1 - a['sizes']['event_mean'] / j['sizes']['event_mean']:.0%} of the bytes per event: it drops"
        " the field names, but these rows are mostly text (title, body, the source payload kept as JSON text), which"
        " both encodings carry byte for byte. Decoding Avro costs"
        f" {a['decode']['per_event_us'] - j['decode']['per_event_us']:.0f} µs more per event:"
        f" {a['decode']['parse_only_us'] - j['decode']['parse_only_us']:.0f} µs in parsing (fastavro"
        f" {a['decode']['parse_only_us']:.0f} µs against CPython's C json {j['decode']['parse_only_us']:.0f} µs) and the"
        " rest in unframing and building the typed event"
        f" ({a['decode']['per_event_us'] - a['decode']['parse_only_us']:.0f} µs against"
        f" {j['decode']['per_event_us'] - j['decode']['parse_only_us']:.0f} µs; timed alone on one captured change,"
        " building the event costs the same from either document, so that part of the gap is the loaded machine's"
        " noise). One core decodes"
        f" {a['decode']['events_per_second']:,.0f} Avro events/s against {j['decode']['events_per_second']:,.0f} JSON"
        " events/s: below 2,500/s, decoding alone would hold a sink under the per-sink throughput goal of issue 5"
        " (every message is decoded before coalescing). Avro's saving on Kafka is paid in the sinks' CPU. The"
        " machine was shared and loaded (load average below), which inflates both timings alike.",
        "",
        f"Measured {report['date']} on {report['machine']}; Python {report['python']}, fastavro {report['fastavro']},"
        f" Apicurio Registry 2.6.13 + AvroConverter, Debezium 3.6.1, no producer compression."
        f" Load average at the start: {report['load']}.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    current = RESULTS.read_text(encoding="utf-8")
    if HEADING in current:
        head, _, rest = current.partition(HEADING)
        following = rest.find("\n## ")
        tail = rest[following + 1:] if following >= 0 else ""
        updated = head + text + ("\n" + tail if tail else "")
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(updated, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=900.0, help="Longest wait for either topic to hold every change.")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()

    import os

    import fastavro

    base = load_settings()
    tag = secrets.token_hex(3)
    run = f"bench-avro-{tag}"
    streams = {"json": isolated_settings(base, f"bj{tag}", change_format="json"),
               "avro": isolated_settings(base, f"ba{tag}", change_format="avro")}
    report = {"rows": args.rows, "rounds": args.rounds, "date": date.today().isoformat(),
              "machine": f"{os.cpu_count()} cores, {platform.machine()}", "python": platform.python_version(),
              "fastavro": fastavro.__version__, "load": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    try:
        with isolated_stream(streams["json"]), isolated_stream(streams["avro"]):
            report["events"] = write_changes(base, run, args.rows, args.seed)
            messages = {name: read_topic(settings, report["events"], args.timeout) for name, settings in streams.items()}
            costs = measure_decode(streams, messages, args.rounds)
            for name, settings in streams.items():
                report[name] = {"sizes": size_stats(messages[name]), "disk_bytes": disk_bytes(settings),
                                "decode": costs[name].__dict__}
                print(f"{name}: {json.dumps(report[name])}", flush=True)
    finally:
        with connect(base.postgres, role="owner", autocommit=True) as conn:
            conn.execute("DELETE FROM policies WHERE source_system = %s", (run,))
    text = render(report)
    print(text)
    if args.write_results:
        write_section(text)
        print(f"wrote the section to {RESULTS}")


if __name__ == "__main__":
    main()
