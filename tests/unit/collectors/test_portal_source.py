"""A 공공데이터포털 API defined by a YAML file (no code): the shipped example against the sample
server, and config errors that name the file and the field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from aegis.errors import ConfigError, TerminalError
from collectors.http.quota import QuotaExceededError
from collectors.samples.faults import Fault, FaultKind
from collectors.samples.shapes import Shape
from collectors.sources.portal_config import BUNDLED_DIR, load_api, load_apis
from collectors.sources.registry import CollectorState, build_sources

EXAMPLE = (BUNDLED_DIR / "mss-notices.yaml").read_text(encoding="utf-8")


def collect(settings, name="portal:mss-notices"):
    (source,) = build_sources(settings, CollectorState(), [name])
    try:
        pages = list(source.pages())
        mapped = [source.map_page(p) for p in pages]
    finally:
        source.close()
    return pages, {r.source_id: r for m in mapped for r in m.records}, [r for m in mapped for r in m.rejections]


def test_the_shipped_example_is_collected_from_the_sample_server(sample_settings, sample_server):
    portal = sample_settings.source_apis["portal"].model_copy(update={"page_size": 20, "requests_per_second": 500.0})
    settings = sample_settings.model_copy(update={"source_apis": {**sample_settings.source_apis, "portal": portal}})
    pages, records, rejections = collect(settings)
    assert [p.number for p in pages] == [1, 2, 3] and len(records) == 45 and not rejections
    smart = records["1071373"]
    assert smart.source_system == "portal:mss-notices" and smart.title == "2025년 스마트공장 구축 및 고도화 지원사업 공고"
    assert smart.content.startswith("□ 사업목적\n- 중소·중견기업의 스마트공장") and "최대 2억원" in smart.content
    assert smart.issuing_organization == "중소벤처기업부" and smart.executing_organization == "스마트제조혁신과"
    assert (smart.application_start_date, smart.application_end_date) == (date(2025, 3, 10), date(2025, 4, 4))
    assert smart.original_url == "https://www.mss.go.kr/site/smba/ex/bbs/View.do?cbIdx=310&bcIdx=1071373&parentSeq=1071373"
    assert (smart.contact_phone, smart.contact_email) == ("044-204-7710", "smart@mss.go.kr")
    assert [a["name"] for a in smart.attachments] == ["2025 스마트공장 지원사업 공고문.hwp", "사업계획서 양식.hwpx"]
    assert records["1071402"].application_end_date is None and len(records["1071402"].attachments) == 1
    assert records["1071455"].title == "2025년 수출바우처 사업 참여기업 모집 공고 (R&D 연계)"
    assert records["1071455"].attachments == []


def test_the_example_gets_the_gateway_handling_of_the_built_ins(sample_settings, sample_server):
    sample_server.faults.add(Fault(source="portal:mss-notices", kind=FaultKind.QUOTA))
    with pytest.raises(QuotaExceededError):
        collect(sample_settings)
    sample_server.faults.add(Fault(source="portal:mss-notices", kind=FaultKind.GATEWAY, code="30", form="classic-json"))
    sample_server.shapes.set("portal:mss-notices", [Shape.BOM])
    with pytest.raises(TerminalError, match="SERVICE_KEY_IS_NOT_REGISTERED_ERROR"):
        collect(sample_settings)


def test_another_api_is_added_with_a_file_only(tmp_path: Path, sample_settings, sample_server):
    """A second API (here the example under another name and with renamed fields) needs no code."""
    (tmp_path / "mss-copy.yaml").write_text(EXAMPLE.replace("name: mss-notices", "name: mss-copy")
                                            .replace("  executing_organization: writerPosition\n",
                                                     "  executing_organization: {fields: [writerPosition, writerName], join: ' / '}\n"),
                                            encoding="utf-8")
    settings = sample_settings.model_copy(update={"sources": sample_settings.sources.model_copy(update={
        "portal_dir": tmp_path})})
    assert {a.name for a in load_apis(tmp_path)} == {"mss-notices", "mss-copy"}
    (source,) = build_sources(settings, CollectorState(), ["portal:mss-copy"])
    source.close()
    assert source.api.path == "/1421000/mssBizService_v2/getbizList_v2" and source.endpoint.using_samples


@pytest.mark.parametrize("change, message", [
    (("id: itemId\n", ""), "id: Field required"),
    (("  title: title\n", "  title: [title]\n"), "fields.title"),
    (("  original_url: viewUrl\n", "  original_url: viewUrl\n  colour: blue\n"), "fields.colour: Extra inputs"),
    (("endpoint: https://", "endpoint: ftp://"), "endpoint: Value error, must be an absolute http(s) URL"),
    (("  application_end: applicationEndDate\n", "  application_end: applicationEndDate\n  application_period: x\n"),
     "not both"),
])
def test_config_errors_name_the_file_and_the_field(tmp_path: Path, change, message):
    path = tmp_path / "broken.yaml"
    path.write_text(EXAMPLE.replace(*change), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_api(path)
    assert str(path) in raised.value.message and message in raised.value.message
    assert raised.value.code.value == "DP_5001"
