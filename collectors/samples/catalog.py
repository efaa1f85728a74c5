"""The sample server's data: hand-written records (checked field by field by tests, in
``data/*.json``) plus deterministic generated ones in each source's real shape.

Everything is generated from a seed, so two servers with the same seed and scale serve the
same bytes. ``update`` changes one upstream record (to test change detection).
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

_SIDO_SHORT = ["서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기", "강원", "충북", "충남",
               "전북", "전남", "경북", "경남", "제주"]
_ZIP_PREFIX = ["11", "26", "27", "28", "29", "30", "31", "36", "41", "51", "43", "44", "52", "46", "47", "48", "50"]
_MINISTRIES = ["중소벤처기업부", "산업통상자원부", "과학기술정보통신부", "고용노동부", "보건복지부", "국토교통부",
               "문화체육관광부", "농림축산식품부", "해양수산부", "환경부"]
_AGENCIES = ["창업진흥원", "중소기업기술정보진흥원", "소상공인시장진흥공단", "한국산업기술진흥원", "정보통신산업진흥원",
             "한국콘텐츠진흥원", "대한무역투자진흥공사", "신용보증기금", "기술보증기금", "한국관광공사"]
_TOPICS = ["스마트공장 보급", "수출 마케팅", "청년 창업", "기술 사업화", "디지털 전환", "탄소중립 설비",
           "소상공인 경영개선", "글로벌 진출", "R&D 기획", "지식재산 보호", "온라인 판로", "인력 양성"]
_KINDS = ["지원사업", "참여기업 모집", "바우처", "특별지원", "육성사업", "지원 공고"]
_FIELDS = [("금융", "융자"), ("기술", "기술개발(R&D)"), ("인력", "인력양성"), ("수출", "해외마케팅"),
           ("내수", "판로"), ("창업", "사업화"), ("경영", "컨설팅"), ("기타", "기타")]
_FREE_PERIODS = ["예산 소진시까지", "상시 접수", "사업별 상이", "추후 공지"]
_KS_CLASSES = ["사업화", "기술개발(R&amp;D)", "시설ㆍ공간ㆍ보육", "멘토링ㆍ컨설팅ㆍ교육", "융자", "행사ㆍ네트워크"]
_YOUTH_CLASSES = [("일자리", "취업"), ("일자리", "창업"), ("주거", "주거비 지원"), ("교육", "역량개발"),
                  ("복지문화", "건강"), ("참여권리", "정책참여")]
_GOV24_FIELDS = ["생활안정", "주거·자립", "보육·교육", "고용·창업", "보건·의료", "행정·안전", "농림축산어업",
                 "문화·환경"]
_GOV24_TYPES = ["현금", "현물", "서비스", "이용권", "현금||서비스", "현금(감면)"]


ID_FIELDS = {"bizinfo": "pblancId", "kstartup": "pbanc_sn", "youthcenter": "plcyNo", "gov24": "서비스ID",
             "korea_rss": "newsId", "portal:mss-notices": "itemId"}
_MSS_DEPARTMENTS = ["스마트제조혁신과", "소상공인정책과", "글로벌성장정책과", "창업정책과", "기술혁신정책과",
                    "지역혁신정책과"]


def _load(name: str) -> Any:
    return json.loads(resources.files("collectors.samples").joinpath("data", name).read_text("utf-8"))


@dataclass
class BoardPost:
    post_id: str
    title: str
    date: str
    department: str
    body_html: str
    period: str | None
    contact: str | None
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (file id, file name)


class SampleCatalog:
    """All sample records, by source. Thread-safe for reads while a test updates one record."""

    def __init__(self, scale: float = 1.0, seed: int = 20250301):
        self._rng = random.Random(seed)
        self.lock = threading.Lock()
        n = lambda base: max(1, int(base * scale))  # noqa: E731
        self.bizinfo = _load("bizinfo.json") + [self._bizinfo(i) for i in range(n(225))]
        self.kstartup = _load("kstartup.json") + [self._kstartup(i) for i in range(n(177))]
        self.youthcenter = _load("youthcenter.json") + [self._youth(i) for i in range(n(118))]
        self.gov24 = _load("gov24.json") + [self._gov24(i) for i in range(n(148))]
        golden = _load("korea_rss.json")
        self.rss = {feed: golden[feed] + [self._rss(feed, i) for i in range(11)] for feed in ("policy", "pressrelease")}
        self.rss["pressrelease"].append(dict(self.rss["policy"][0]))  # one article in both feeds
        for number, row in enumerate(self.kstartup, start=1):
            row["id"] = number
        self.boards = {"garam-si": self._garam_posts(), "nuri-gu": self._nuri_posts()}
        mss_rng = random.Random(seed + 1)  # its own generator: the other sources' data stays as it was
        self.portal = {"mss-notices": _load("mss.json") + [self._mss(mss_rng, i) for i in range(n(42))]}

    # -- change detection support -------------------------------------------------------------
    def update(self, source: str, source_id: str, changes: dict[str, Any]) -> None:
        """Change fields of one upstream record (raises KeyError if there is no such record)."""
        with self.lock:
            for record in self.records(source):
                if str(self._id(source, record)) == source_id:
                    record.update(changes)
                    return
        raise KeyError(f"{source} has no record {source_id}")

    def records(self, source: str) -> list[dict[str, Any]]:
        if source == "korea_rss":
            return [r for feed in self.rss.values() for r in feed]
        if source.startswith("portal:"):
            return self.portal[source.split(":", 1)[1]]
        return getattr(self, source)

    @staticmethod
    def _id(source: str, record: dict[str, Any]) -> Any:
        return record.get(ID_FIELDS[source])

    def generated_bizinfo(self, count: int) -> list[dict[str, Any]]:
        """``count`` more generated Bizinfo items (benchmarks), not added to the catalog."""
        return [self._bizinfo(i) for i in range(count)]

    # -- generators ---------------------------------------------------------------------------
    def _date(self, year: int = 2025) -> tuple[int, int, int]:
        return year, self._rng.randint(1, 12), self._rng.randint(1, 28)

    def _bizinfo(self, i: int) -> dict[str, Any]:
        r = self._rng
        number = 130000 + i
        large, medium = r.choice(_FIELDS)
        topic, kind = r.choice(_TOPICS), r.choice(_KINDS)
        y, m, d = self._date()
        style = r.random()
        if style < 0.2:
            period = r.choice(_FREE_PERIODS)
        elif style < 0.3:
            period = f"{y}{m:02d}{d:02d} ~ {y}{min(m + 1, 12):02d}{d:02d}"
        else:
            period = f"{y}-{m:02d}-{d:02d} ~ {y}-{min(m + 1, 12):02d}-{d:02d}"
        regions = _SIDO_SHORT if r.random() < 0.4 else r.sample(_SIDO_SHORT, r.randint(1, 3))
        files = r.randint(0, 3)
        return {
            "pblancId": f"PBLN_{number:015d}", "pblancNm": f"{y}년 {topic} {kind} ({i + 1}차)",
            "pblancUrl": f"https://www.bizinfo.go.kr/web/lay1/bbs/S1T122C128/AS/74/view.do?pblancId=PBLN_{number:015d}",
            "jrsdInsttNm": r.choice(_MINISTRIES), "excInsttNm": r.choice(_AGENCIES),
            "bsnsSumryCn": f"<p>□ 사업목적</p><p>&nbsp;- {topic} 역량 강화를 통한 기업 경쟁력 제고</p>"
                           f"<p>□ 지원내용</p><ul><li>기업당 최대 {r.randint(1, 30) * 1000:,}만원</li>"
                           f"<li>지원기간 : 협약일로부터 {r.randint(3, 12)}개월</li></ul>",
            "trgetNm": r.choice(["중소기업", "소상공인", "중견기업", "예비창업자", "중소기업,중견기업"]),
            "pldirSportRealmLclasCodeNm": large, "pldirSportRealmMlsfcCodeNm": medium,
            "reqstBeginEndDe": period, "reqstMthPapersCn": "<p>온라인 신청</p>",
            "refrncNm": f"{r.choice(_AGENCIES)} 02-{r.randint(200, 999)}-{r.randint(1000, 9999)}",
            "rceptEngnHmpgUrl": "https://www.bizinfo.go.kr",
            "hashtags": ",".join([topic.split()[0], *regions]),
            "creatPnttm": f"{y}-{m:02d}-{d:02d} 09:00:00", "updtPnttm": f"{y}-{m:02d}-{d:02d} 17:30:00",
            "inqireCo": str(r.randint(0, 20000)),
            "flpthNm": "@".join(f"/cmm/fms/getImageFile.do?atchFileId=FILE_{number:012d}&fileSn={k}"
                                for k in range(files)),
            "fileNm": "@".join(f"첨부{k + 1}_{topic}.hwp" for k in range(files)),
        }

    def _kstartup(self, i: int) -> dict[str, Any]:
        r = self._rng
        sn = 172000 + i
        y, m, d = self._date()
        return {
            "id": 0, "pbanc_sn": sn, "biz_pbanc_nm": f"{y}년 {r.choice(_TOPICS)} {r.choice(_KINDS)}",
            "pbanc_ctnt": f"{r.choice(_TOPICS)} 분야 창업기업을 지원합니다.\r\n- 지원규모: {r.randint(5, 50)}개사",
            "supt_biz_clsfc": r.choice(_KS_CLASSES),
            "supt_regin": r.choice(["전국", *_SIDO_SHORT]),
            "aply_trgt": r.choice(["일반기업", "대학생", "일반인, 대학생", "1인 창조기업"]),
            "aply_trgt_ctnt": r.choice([None, "창업 7년 이내 기업"]), "aply_excl_trgt_ctnt": None,
            "biz_enyy": r.choice(["예비창업자", "3년미만", "7년미만"]), "biz_trgt_age": None,
            "pbanc_rcpt_bgng_dt": f"{y}{m:02d}{d:02d}", "pbanc_rcpt_end_dt": f"{y}{min(m + 1, 12):02d}{d:02d}",
            "rcrt_prgs_yn": r.choice(["Y", "N"]), "pbanc_ntrp_nm": r.choice(_AGENCIES),
            "sprv_inst": r.choice(["민간", "공공기관", "지자체", "교육기관"]), "biz_prch_dprt_nm": "창업지원팀",
            "prch_cnpl_no": f"02-{r.randint(200, 999)}-{r.randint(1000, 9999)}",
            "detl_pg_url": f"https://www.k-startup.go.kr/web/contents/bizpbanc-ongoing.do?schM=view&pbancSn={sn}",
            "biz_gdnc_url": None, "biz_aply_url": None, "aply_mthd_onli_rcpt_istc": "온라인 접수",
            "aply_mthd_eml_rcpt_istc": None, "aply_mthd_vst_rcpt_istc": None, "aply_mthd_fax_rcpt_istc": None,
            "aply_mthd_pssr_rcpt_istc": None, "aply_mthd_etc_rcpt_istc": None, "intg_pbanc_yn": "N",
            "intg_pbanc_biz_nm": None,
        }

    def _youth(self, i: int) -> dict[str, Any]:
        r = self._rng
        large, medium = r.choice(_YOUTH_CLASSES)
        y, m, d = self._date()
        always = r.random() < 0.25
        prefix = r.choice(_ZIP_PREFIX)
        return {
            "plcyNo": f"2025{m:02d}{d:02d}0054{i:010d}", "plcyNm": f"청년 {r.choice(_TOPICS)} 지원 ({i + 1})",
            "plcyKywdNm": f"{medium},청년", "plcyExplnCn": f"청년의 {medium} 부담을 덜어 주는 정책입니다.",
            "plcySprtCn": f"1인당 최대 {r.randint(10, 300)}만원 지원", "lclsfNm": large, "mclsfNm": medium,
            "sprvsnInstCdNm": r.choice(_MINISTRIES), "operInstCdNm": "지자체",
            "aplyPrdSeCd": "0057002" if always else "0057001",
            "aplyYmd": "" if always else f"{y}{m:02d}{d:02d} ~ {y}{min(m + 2, 12):02d}{d:02d}",
            "bizPrdBgngYmd": "", "bizPrdEndYmd": "", "aplyUrlAddr": "", "refUrlAddr1": "", "refUrlAddr2": "",
            "sprtTrgtMinAge": str(r.choice([0, 18, 19])), "sprtTrgtMaxAge": str(r.choice([0, 34, 39])),
            "zipCd": ",".join(f"{prefix}{r.randint(110, 890):03d}" for _ in range(r.randint(1, 4))),
            "frstRegDt": f"{y}-{m:02d}-{d:02d} 09:00:00", "lastMdfcnDt": f"{y}-{m:02d}-{d:02d} 10:00:00",
            "inqCnt": str(r.randint(0, 5000)),
        }

    def _gov24(self, i: int) -> dict[str, Any]:
        r = self._rng
        y, m, d = self._date()
        central = r.random() < 0.5
        sido = r.choice(["서울특별시", "부산광역시", "경기도", "전라남도", "제주특별자치도"])
        return {
            "서비스ID": f"{140000000000 + i}",
            "서비스명": f"{r.choice(_TOPICS)} {r.choice(['지원금', '바우처', '서비스'])}",
            "서비스목적요약": "국민의 생활 안정을 돕습니다.", "지원유형": r.choice(_GOV24_TYPES),
            "지원대상": "○ 대상\r\n - 관내 거주자", "선정기준": r.choice(["", "중위소득 100% 이하"]),
            "지원내용": f"<p>○ 월 {r.randint(5, 100)}만원</p>", "신청방법": "온라인 또는 방문 신청",
            "신청기한": r.choice(["상시신청", f"{y}.{m:02d}.{d:02d}~{y}.12.31", "예산 소진 시까지"]),
            "상세조회URL": f"https://www.gov.kr/portal/rcvfvrSvc/dtlEx/{140000000000 + i}",
            "소관기관코드": str(1000000 + i), "소관기관명": r.choice(_MINISTRIES) if central else f"{sido} 복지정책과",
            "부서명": "정책과", "조회수": r.randint(0, 100000),
            "소관기관유형": "중앙행정기관" if central else "지방자치단체",
            "사용자구분": r.choice(["개인", "개인||가구", "소상공인", "법인/시설/단체"]),
            "서비스분야": r.choice(_GOV24_FIELDS), "접수기관": "읍면동 행정복지센터",
            "전화문의": f"정책과/0{r.randint(2, 64)}-{r.randint(200, 999)}-{r.randint(1000, 9999)}",
            "등록일시": f"{y}{m:02d}{d:02d}090000", "수정일시": f"{y}{m:02d}{d:02d}180000",
        }

    @staticmethod
    def _mss(r: random.Random, i: int) -> dict[str, Any]:
        """중소벤처기업부_사업공고 (data.go.kr 15113297): one file is one value, several are repeated."""
        item_id = str(1072000 + i)
        m, d = r.randint(1, 11), r.randint(1, 28)
        files = r.randint(0, 3)
        urls = [f"https://www.mss.go.kr/common/board/Download.do?bcIdx={item_id}&cbIdx=310&fileNo={k + 1}"
                for k in range(files)]
        names = [f"첨부{k + 1}_{item_id}.hwp" for k in range(files)]
        return {
            "itemId": item_id, "title": f"2025년 {r.choice(_TOPICS)} {r.choice(_KINDS)} ({i + 1})",
            "dataContents": f"<p>□ 지원내용</p><p>- 기업당 최대 {r.randint(1, 20) * 1000:,}만원</p>",
            "applicationStartDate": f"2025-{m:02d}-{d:02d}",
            "applicationEndDate": f"2025-{m + 1:02d}-{d:02d}" if r.random() < 0.8 else None,
            "writerName": r.choice(["김민수", "이수진", "박지훈"]), "writerPosition": r.choice(_MSS_DEPARTMENTS),
            "writerPhone": f"044-204-{r.randint(7000, 7999)}", "writerEmail": f"notice{i}@mss.go.kr",
            "viewUrl": f"https://www.mss.go.kr/site/smba/ex/bbs/View.do?cbIdx=310&bcIdx={item_id}&parentSeq={item_id}",
            "fileName": names[0] if files == 1 else (names or None),
            "fileUrl": urls[0] if files == 1 else (urls or None),
        }

    def _rss(self, feed: str, i: int) -> dict[str, Any]:
        r = self._rng
        ministry = r.choice(_MINISTRIES)
        base = 148950000 if feed == "policy" else 156680000
        return {
            "newsId": str(base + i), "title": f"{ministry}, {r.choice(_TOPICS)} 추진계획 발표",
            "creator": ministry, "pubDate": f"Wed, {i + 1:02d} Jan 2025 09:00:00 +0900",
            "body": f"<p>{ministry}는 {r.choice(_TOPICS)} 관련 지원을 강화한다고 밝혔다.</p>"
                    f"<p>[자료제공 : {ministry} 정책기획관실]</p>",
        }

    def _garam_posts(self) -> list[BoardPost]:
        posts = [BoardPost("5012", "2025년 가람시 청년 창업공간 입주기업 모집 공고", "2025-03-05", "일자리경제과",
                           "<p>가람시는 청년 창업기업의 성장을 돕기 위해 창업공간 입주기업을 모집합니다.</p>"
                           "<table><tr><th>모집규모</th><td>10개 기업</td></tr>"
                           "<tr><th>입주기간</th><td>최대 2년</td></tr></table>",
                           "2025. 3. 10.(월) ~ 2025. 3. 21.(금) 18:00", "일자리경제과 창업지원팀 031-8075-2345",
                           [("F5012A", "모집공고문.hwp"), ("F5012B", "입주신청서.hwpx")])]
        for i in range(23):
            pid = str(5011 - i)
            posts.append(BoardPost(pid, f"가람시 {self._rng.choice(_TOPICS)} {self._rng.choice(_KINDS)} 안내 ({i + 1})",
                                   f"2025-02-{28 - i:02d}",
                                   self._rng.choice(["일자리경제과", "기업지원과", "청년정책과"]),
                                   f"<p>{self._rng.choice(_TOPICS)} 지원 안내입니다.</p>",
                                   self._rng.choice([None, "상시 접수", "2025-03-01 ~ 2025-03-31"]),
                                   f"기업지원과 031-8075-{2000 + i}",
                                   [(f"F{pid}", "안내문.pdf")] if i % 3 == 0 else []))
        return posts

    def _nuri_posts(self) -> list[BoardPost]:
        posts = [BoardPost("4521", "누리구 소상공인 간판 개선 지원사업 참여자 모집", "2025.03.02", "지역경제과",
                           "<div class='txt'><p>노후 간판 교체 비용의 80%(최대 300만원)를 지원합니다.</p>"
                           "<p>※ 신청서는 구청 지역경제과 방문 접수</p></div>",
                           "상시 접수 (예산 소진 시 조기 마감)", "지역경제과 051-749-1234, biz@nuri.go.kr",
                           [("a7f3", "간판개선_신청서.hwp")])]
        for i in range(17):
            pid = str(4520 - i)
            posts.append(BoardPost(pid, f"누리구 {self._rng.choice(_TOPICS)} 설명회 개최 ({i + 1})",
                                   f"2025.02.{27 - i:02d}", self._rng.choice(["지역경제과", "복지정책과"]),
                                   f"<p>{self._rng.choice(_TOPICS)} 설명회를 개최합니다.</p>",
                                   None, "지역경제과 051-749-1200", []))
        return posts
