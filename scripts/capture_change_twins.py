"""Capture the same policy changes in both encodings, for the unit tests of the Avro decoder.

Runs two isolated Debezium connectors on the local stack — the JSON profile and the Avro profile,
each with its own slot — makes a handful of changes to ``policies`` (every column type, an update,
a status change, a delete), reads both change topics and writes
``tests/unit/aegis/data/debezium_twin_capture.json``: each change once as JSON text and once as
Avro bytes (base64), plus the writer schemas the Avro messages name, as the registry served them.

    CHANGE_EVENTS_FORMAT=avro .venv/bin/aegis stack up postgres schema-registry kafka kafka-connect
    .venv/bin/python scripts/capture_change_twins.py

Re-capture rather than edit the output.
"""

from __future__ import annotations

import base64
import json
import secrets
import sys
import time
from pathlib import Path

import httpx
from confluent_kafka import Consumer, TopicPartition

from aegis.db import connect
from aegis.settings import load_settings
from testkit.streams import change_topic, isolated_settings, isolated_stream

OUT = Path(__file__).resolve().parents[1] / "tests" / "unit" / "aegis" / "data" / "debezium_twin_capture.json"
STEPS = ["insert_full_row", "update_title", "update_to_rejected", "delete", "tombstone", "insert_after_column_values"]


def read_all(settings, topic: str, count: int, timeout: float = 60) -> list:
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"capture-{secrets.token_hex(4)}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    messages, deadline = [], time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            messages.append(m)
    consumer.close()
    if len(messages) < count:
        sys.exit(f"{topic}: got {len(messages)} messages, expected {count}")
    return messages


def make_changes(settings, tag: str) -> None:
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        policy_id = conn.execute(
            "INSERT INTO policies (source_system, source_id, title, content, issuing_organization,"
            " executing_organization, target_regions, target_group, target_industry, support_field, funding_type,"
            " application_start_date, application_end_date, application_period_text, application_always_open,"
            " original_url, contact_email,"
            " contact_phone, contact_address, attachments, raw_data, collection_metadata, content_hash, status,"
            " quality_score, source_updated_at, support_amount_krw) VALUES ('capture', %s, '청년 창업 지원사업',"
            " '사업 내용 \"따옴표\" 포함', '중소벤처기업부', '창업진흥원', '{서울,경기}', '청년', '제조업',"
            " '창업', '보조금',"
            " '2024-01-15', '2024-12-31', '상시', true, 'https://example.go.kr/p/1', 'help@example.go.kr',"
            " '02-123-4567', '서울시 종로구 1', '[{\"name\": \"공고.pdf\", \"url\": \"https://example.go.kr/a.pdf\"}]',"
            " '{\"nested\": {\"a\": [1, 2]}}', '{\"collector\": \"bizinfo\"}', repeat('b', 64), 'active', 0.91,"
            " '2024-01-10 09:00:00+09', NULL) RETURNING id", (f"twin-{tag}",)).fetchone()[0]
        conn.execute("UPDATE policies SET title = '청년 창업 지원사업 (2차)', content_hash = repeat('c', 64),"
                     " updated_at = now() WHERE id = %s", (policy_id,))
        conn.execute("UPDATE policies SET status = 'rejected', updated_at = now() WHERE id = %s", (policy_id,))
        conn.execute("DELETE FROM policies WHERE id = %s", (policy_id,))
        conn.execute("INSERT INTO policies (source_system, source_id, title, content, issuing_organization,"
                     " content_hash, status, support_amount_krw) VALUES ('capture', %s, '소상공인 정책자금', '내용',"
                     " '소상공인시장진흥공단', repeat('d', 64), 'active', 70000000)", (f"twin2-{tag}",))
        conn.execute("DELETE FROM policies WHERE source_system = 'capture'")


def main() -> None:
    base = load_settings()
    tag = secrets.token_hex(3)
    json_settings = isolated_settings(base, f"twj{tag}", change_format="json")
    avro_settings = isolated_settings(base, f"twa{tag}", change_format="avro")
    with isolated_stream(json_settings), isolated_stream(avro_settings):
        make_changes(base, tag)
        count = len(STEPS) + 2  # the cleanup delete of the last row and its tombstone
        json_messages = read_all(json_settings, change_topic(json_settings), count)
        avro_messages = read_all(avro_settings, change_topic(avro_settings), count)
        schema_ids = sorted({int.from_bytes(m[1:5], "big") for msg in avro_messages
                             for m in (msg.key(), msg.value()) if m})
        schemas = {}
        for schema_id in schema_ids:
            response = httpx.get(f"{base.schema_registry.ccompat_url}/schemas/ids/{schema_id}", timeout=10)
            response.raise_for_status()
            schemas[str(schema_id)] = response.json()["schema"]
    pairs = {}
    for name, j, a in zip(STEPS, json_messages, avro_messages, strict=False):
        pairs[name] = {"json": {"key": j.key().decode(), "value": j.value().decode() if j.value() else None},
                       "avro": {"key": base64.b64encode(a.key()).decode(),
                                "value": base64.b64encode(a.value()).decode() if a.value() else None}}
    OUT.write_text(json.dumps({
        "_comment": "The same changes captured twice from Debezium 3.6.1 (pgoutput): connectors/policies-source.json "
                    "(JSON) and the Avro profile (Apicurio 2.6.13 AvroConverter, Confluent wire format), schema up "
                    "to migration 0003. Written by scripts/capture_change_twins.py; re-capture rather than edit.",
        "schemas": schemas, "messages": pairs}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(pairs)} changes, schemas {schema_ids})")


if __name__ == "__main__":
    main()
