"""The graph projection of a policy: name normalisation and the rows the batch upsert receives."""

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone

from cdc_sinks.base import PolicyDocument, SinkRecord
from cdc_sinks.checksums import row_digest
from cdc_sinks.neo4j import normalise
from cdc_sinks.neo4j.model import DIMENSIONS, TEMPORAL_PROPERTIES, GraphPolicy, epoch_parts


def _document(**overrides) -> PolicyDocument:
    fields = dict(id=7, source_system="bizinfo", source_id="PBLN_1", title="수출바우처", content="본문",
                  issuing_organization="중소벤처기업부", status="active",
                  contact_email="a***@x.kr", contact_phone="01*******78")
    fields.update(overrides)
    return PolicyDocument(**fields)


def test_organisation_spellings_share_one_key():
    spellings = ["중소벤처기업부", " 중소 벤처기업부 ", "중소벤처기업부.", "（재）중소벤처기업부", "재단법인 중소벤처기업부"]
    keys = {normalise.organisation(s).key for s in spellings}
    assert keys == {"중소벤처기업부"}
    assert normalise.organisation("㈜ 한국기술") == normalise.organisation("(주)한국기술")
    assert normalise.organisation("KOTRA").key == normalise.organisation("kotra").key


def test_empty_names_make_no_node():
    assert normalise.organisation(None) is None
    assert normalise.organisation(" ( ) ") is None
    assert normalise.region("") is None
    assert normalise.categories(" , ;") == []


def test_region_aliases_map_to_the_official_name():
    assert normalise.region("서울").name == "서울특별시"
    assert normalise.region("서울시").key == normalise.region("서울특별시").key == "서울특별시"
    assert normalise.region("강원도").name == "강원특별자치도"
    assert normalise.region("전라북도").name == "전북특별자치도"
    assert normalise.region("광주").name == "광주광역시"
    # a city that is not a 시도 keeps its own (cleaned) name
    assert normalise.region(" 수원시 ").name == "수원시"
    assert normalise.region("광주시").name == "광주시"


def test_categories_split_on_list_separators_and_drop_duplicates():
    names = [c.name for c in normalise.categories("청년, 대학생||청년 / 중소기업;R&D")]
    assert names == ["청년", "대학생", "중소기업", "R&D"]
    # a middle dot joins one name, it does not separate two
    assert [c.name for c in normalise.categories("중소·중견기업")] == ["중소·중견기업"]


def test_projection_rows_carry_version_node_properties_and_dimensions():
    record = SinkRecord(policy_id=7, lsn=123, content_hash="abc", document=_document(
        executing_organization="(재)중소벤처기업부", target_regions=["서울", "서울특별시", "경기"],
        support_field="수출", target_group="중소기업, 소상공인", funding_type="바우처",
        application_end_date=date(2026, 12, 31)))
    row = GraphPolicy.from_record(record).to_parameters()
    assert (row["id"], row["lsn"], row["content_hash"]) == (7, 123, "abc")
    assert row["props"]["title"] == "수출바우처"
    # temporal properties travel outside props, as ISO dates and epoch parts (Cypher makes them temporal again)
    assert row["application_end_date"] == "2026-12-31" and row["application_start_date"] is None
    assert (row["updated_at_seconds"], row["updated_at_nanos"]) == (None, None)
    assert not set(TEMPORAL_PROPERTIES) & set(row["props"])
    assert row["issued_by"] == row["executed_by"] == ["중소벤처기업부"]
    assert row["regions"] == ["서울특별시", "경기도"]
    assert row["target_groups"] == ["중소기업", "소상공인"]
    assert row["sources"] == ["bizinfo"]
    # names travel only where one differs from its key
    assert row["regions_names"] is None and row["sources_names"] is None
    assert set(row) == {"id", "lsn", "content_hash", "row_digest", "props", "links", "links_hash",
                        "application_start_date", "application_end_date", "updated_at_seconds", "updated_at_nanos",
                        *(d.field for d in DIMENSIONS),
                        *(f"{d.field}_names" for d in DIMENSIONS)}
    assert row["row_digest"] == row_digest(row["id"], row["content_hash"])
    links = row["links"].split("\n")
    assert "TARGETS_REGION:경기도" in links and links == sorted(links)
    assert row["links_hash"] == hashlib.sha256(row["links"].encode()).hexdigest()


def test_names_that_differ_from_their_keys_travel_beside_them():
    record = SinkRecord(policy_id=7, lsn=1, content_hash="h", document=_document(
        issuing_organization="Korea Trade  Agency", support_field="R&D, 수출"))
    row = GraphPolicy.from_record(record).to_parameters()
    assert row["issued_by"] == ["koreatradeagency"] and row["issued_by_names"] == ["Korea Trade Agency"]
    assert row["fields"] == ["r&d", "수출"] and row["fields_names"] == ["R&D", "수출"]
    assert all("\n" not in value for value in (*row["issued_by"], *row["issued_by_names"]))


def test_links_hash_follows_the_links_not_the_content():
    base = dict(target_regions=["서울"], support_field="수출")
    first = GraphPolicy.from_record(SinkRecord(7, 1, "h1", _document(**base))).to_parameters()
    retitled = GraphPolicy.from_record(SinkRecord(7, 2, "h2", _document(title="새 제목", **base))).to_parameters()
    moved = GraphPolicy.from_record(SinkRecord(7, 3, "h3", _document(target_regions=["부산"], support_field="수출"))
                                    ).to_parameters()
    assert first["links_hash"] == retitled["links_hash"]
    assert first["links_hash"] != moved["links_hash"]


def test_no_text_body_or_personal_data_reaches_the_graph():
    props = GraphPolicy.from_record(SinkRecord(7, 1, "h", _document())).to_parameters()["props"]
    assert not {"content", "contact_email", "contact_phone", "contact_address"} & set(props)


def test_normalised_names_are_remembered_and_a_caller_cannot_change_them():
    first = normalise.categories("청년, 대학생")
    first.append(normalise.DimensionName("x", "x"))  # the caller's own list
    assert [d.key for d in normalise.categories("청년, 대학생")] == ["청년", "대학생"]
    assert normalise.organisation("(재) 한국청년재단") is normalise.organisation("(재) 한국청년재단")


def test_dimensions_are_derived_once_per_set_of_values_and_their_row_fields_built_once():
    def graph(policy_id: int, title: str) -> GraphPolicy:
        return GraphPolicy.from_record(SinkRecord(policy_id, 1, "h", _document(
            id=policy_id, title=title, target_regions=["서울", "경기"], target_group="청년, 대학생")))

    first, second = graph(7, "하나"), graph(8, "둘")
    assert first.dimensions is second.dimensions
    row, again = first.to_parameters(), second.to_parameters()
    assert row["regions"] is again["regions"]  # shared: rows only go to the driver
    row["target_groups_names"] = ["x"]  # each row is a dict of its own
    assert again["regions"] == ["서울특별시", "경기도"] and again["target_groups"] == ["청년", "대학생"]
    assert again["target_groups_names"] is None and row["id"] == 7 and again["id"] == 8
    assert first.links == sorted(first.links) and "TARGETS_REGION:서울특별시" in first.links


def test_updated_at_travels_as_epoch_seconds_and_nanoseconds_with_a_naive_value_read_as_utc():
    aware = datetime(2026, 12, 7, 12, 37, 17, 737388, tzinfo=UTC)
    assert epoch_parts(aware) == (1796647037, 737388000)
    assert epoch_parts(aware.replace(tzinfo=None)) == epoch_parts(aware)
    assert epoch_parts(aware.astimezone(timezone(timedelta(hours=9)))) == epoch_parts(aware)
    assert epoch_parts(datetime(1969, 12, 31, 23, 59, 58, 999999, tzinfo=UTC)) == (-2, 999999000)
    row = GraphPolicy.from_record(SinkRecord(7, 1, "h", _document(updated_at=aware))).to_parameters()
    assert (row["updated_at_seconds"], row["updated_at_nanos"]) == (1796647037, 737388000)
