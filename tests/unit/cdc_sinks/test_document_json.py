"""``PolicyDocument.to_json`` is ``model_dump_json`` byte for byte, for any document."""

from datetime import UTC, timedelta, timezone

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_sinks.base import PolicyDocument

_text = st.text(max_size=40)
_zones = st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-3, minutes=-30)), None])
_documents = st.builds(
    PolicyDocument,
    id=st.integers(min_value=1, max_value=2**63 - 1),
    source_system=_text, source_id=_text, title=_text, content=_text, issuing_organization=_text,
    status=st.sampled_from(["active", "archived", "rejected"]),
    quality_score=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    updated_at=st.none() | st.datetimes(timezones=_zones),
    executing_organization=st.none() | _text,
    target_regions=st.lists(_text, max_size=5),
    target_group=st.none() | _text,
    application_start_date=st.none() | st.dates(),
    application_end_date=st.none() | st.dates(),
    application_always_open=st.booleans(),
    contact_email=st.none() | _text,
)


@settings(max_examples=400, deadline=None)
@given(_documents)
def test_to_json_is_model_dump_json(document):
    assert document.to_json() == document.model_dump_json().encode()


@settings(max_examples=100, deadline=None)
@given(_documents, st.integers(min_value=0, max_value=2**63 - 1))
def test_bookkeeping_follows_the_documents_own_fields(document, lsn):
    written = orjson.loads(document.to_json(lsn=lsn, removed=False))
    assert written == {**orjson.loads(document.model_dump_json()), "lsn": lsn, "removed": False}
    assert list(written)[-2:] == ["lsn", "removed"]
