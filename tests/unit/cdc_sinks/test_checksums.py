"""Range checksums: the digest is the same in Python and in PostgreSQL's generated column."""

import hashlib
from pathlib import Path

from cdc_sinks.checksums import ROW_DIGEST_SQL, RangeChecksum, row_digest

MIGRATION = Path(__file__).parents[3] / "aegis" / "db" / "migrations" / "0006_policies_row_digest.sql"


def test_the_generated_column_computes_the_documented_expression():
    assert ROW_DIGEST_SQL in MIGRATION.read_text()


def test_row_digest_is_unsigned_32_bit_and_ignores_char_padding():
    h = "ab" * 32
    expected = int.from_bytes(hashlib.md5(f"7:{h}".encode()).digest()[:4], "big")
    assert row_digest(7, h) == row_digest(7, h + "   ") == expected
    assert 0 <= expected < 2**32


def test_checksums_add_merge_and_compare():
    a, b = RangeChecksum(), RangeChecksum()
    a.add(1, "x" * 64)
    a.add(2, "y" * 64)
    b.add_digest(row_digest(2, "y" * 64))
    b.merge(RangeChecksum(count=1, digest=row_digest(1, "x" * 64)))
    assert a == b
