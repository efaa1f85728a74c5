"""A generated corpus of policies with personal data planted in every text field, and look-alikes.

``generate(n, seed)`` returns ``n`` ``PolicyRecord``s (source ``pii-corpus``) and the list of what
was planted where: ``Planted(source_id, field, kind, text, personal)``. ``personal`` items must
never leave PostgreSQL as written; the others are look-alikes that must survive intact (dates,
amounts, policy codes, business and corporate registration numbers, and the official contact
numbers of public bodies, which the masking policy keeps: docs/privacy.md).

Personal items are unique random values (checksums made valid where the kind has one), written
in many forms: 주민등록번호 with and without hyphen, labelled or not, checksum-valid and post-2020
(no valid check digit); 외국인등록번호 likewise; mobile numbers as 010-1234-5678, 01012345678,
010 1234 5678, 010.1234.5678, +82 10-1234-5678, +82-10-1234-5678, +821012345678, (010) 1234-5678,
full-width digits; 070 numbers; landlines labelled as a person's own (자택 전화 (051) 860-6600);
e-mail addresses; bank accounts labelled by 계좌 or a bank's name; card numbers labelled 카드번호.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from ko_pii.checksum.business_reg_checksum import compute_check_digit as brn_check
from ko_pii.checksum.corp_reg_checksum import compute_check_digit as corp_check

from aegis.models.policy import PolicyRecord

SOURCE = "pii-corpus"
TEXT_FIELDS = ("title", "content", "issuing_organization", "executing_organization", "target_group",
               "target_industry", "support_field", "funding_type", "application_period_text", "original_url",
               "contact_phone", "contact_email", "contact_address", "attachments", "target_regions")


@dataclass(frozen=True)
class Planted:
    source_id: str
    field: str
    kind: str
    text: str
    personal: bool


_FULLWIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


class _Faker:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.used: set[str] = set()

    def digits(self, n: int) -> str:
        return "".join(self.r.choice("0123456789") for _ in range(n))

    def unique(self, make) -> str:
        for _ in range(1000):
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value
        raise RuntimeError("could not draw a unique value")

    # --- personal data ---------------------------------------------------------------------------
    def _birth(self, first: int, last: int) -> date:
        start = date(first, 1, 1)
        return start + timedelta(days=self.r.randrange((date(last, 12, 31) - start).days))

    def _registration(self, genders: str, first: int, last: int, *, check_offset: int, valid: bool) -> str:
        """``genders``: the two gender digits of the 1900s then the two of the 2000s (e.g. "1234")."""
        def make() -> str:
            born = self._birth(first, last)
            century = genders[:2] if born.year < 2000 else genders[2:]
            head = f"{born:%y%m%d}{self.r.choice(century)}{self.digits(5)}"
            total = sum(int(d) * w for d, w in zip(head, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)))
            check = (check_offset - total % 11) % 10
            last_digit = check if valid else (check + self.r.randint(1, 9)) % 10
            return head + str(last_digit)
        return self.unique(make)

    def rrn(self) -> tuple[str, str]:
        if self.r.random() < 0.3:  # issued after October 2020: random tail, no valid check digit
            return "rrn-post2020", self._registration("1234", 2020, 2024, check_offset=11, valid=False)
        return "rrn", self._registration("1234", 1950, 2005, check_offset=11, valid=True)

    def frn(self) -> tuple[str, str]:
        if self.r.random() < 0.3:
            return "frn-post2020", self._registration("5678", 2020, 2024, check_offset=13, valid=False)
        return "frn", self._registration("5678", 1950, 2005, check_offset=13, valid=True)

    def mobile(self) -> tuple[str, str]:
        body = self.unique(lambda: self.digits(4) + self.digits(4))
        mid, end = body[:4], body[4:]
        forms = [f"010-{mid}-{end}", f"010{mid}{end}", f"010 {mid} {end}", f"010.{mid}.{end}",
                 f"+82 10-{mid}-{end}", f"+82-10-{mid}-{end}", f"+8210{mid}{end}", f"(010) {mid}-{end}",
                 f"010-{mid}-{end}".translate(_FULLWIDTH), f"011-{mid[1:]}-{end}", f"+82 10 {mid} {end}"]
        return "mobile", self.r.choice(forms)

    def voip(self) -> tuple[str, str]:
        return "voip", self.unique(lambda: f"070-{self.digits(4)}-{self.digits(4)}")

    def home_phone(self) -> tuple[str, str]:
        area = self.r.choice(["02", "031", "051", "053", "062", "064"])
        number = self.unique(lambda: f"{self.r.randint(200, 999)}-{self.digits(4)}")
        written = self.r.choice([f"({area}) {number}", f"{area}-{number}", f"{area}){number}"])
        return "home-phone", f"{self.r.choice(['자택 전화', '집 전화', '자택', '보호자 연락처'])} {written}"

    def email(self) -> tuple[str, str]:
        local = self.unique(lambda: self.r.choice(["hong", "kim.minsu", "lee_jy", "park", "choi.s", "user"])
                            + self.digits(4))
        return "email", f"{local}@{self.r.choice(['naver.com', 'gmail.com', 'daum.net', 'hanmail.net', 'korea.kr', 'kakao.com'])}"

    def account(self) -> tuple[str, str]:
        number = self.unique(lambda: f"{self.digits(3)}-{self.digits(3)}-{self.digits(6)}")
        label = self.r.choice(["계좌번호: ", "입금계좌 ", "신한은행 ", "국민은행 계좌 ", "농협 "])
        return "account", f"{label}{number}"

    def card(self) -> tuple[str, str]:
        def luhn(prefix: str) -> str:
            digits = prefix + self.digits(15 - len(prefix))
            total = 0
            for i, d in enumerate(reversed(digits)):
                v = int(d) * (2 if i % 2 == 0 else 1)
                total += v - 9 if v > 9 else v
            return digits + str((10 - total % 10) % 10)
        number = self.unique(lambda: luhn(self.r.choice(["4", "5", "9"])) if self.r.random() < 0.7
                             else self.digits(16))
        grouped = "-".join(number[i:i + 4] for i in range(0, 16, 4))
        return "card", f"{self.r.choice(['카드번호 ', '카드번호: ', '카드 번호 '])}{grouped}"

    def personal(self) -> tuple[str, str]:
        maker = self.r.choice([self.rrn, self.rrn, self.frn, self.mobile, self.mobile, self.mobile, self.voip,
                               self.home_phone, self.email, self.email, self.account, self.card])
        return maker()

    # --- look-alikes that must survive -------------------------------------------------------------
    def brn(self) -> str:
        head = self.digits(9)
        number = head + str(brn_check(head))
        return f"{number[:3]}-{number[3:5]}-{number[5:]}"

    def corp(self) -> str:
        head = f"{self.r.choice(['1101', '1345', '1801', '2001'])}{self.r.choice(['11', '71'])}0{self.digits(5)}"
        number = head + str(corp_check(head))
        return f"{number[:6]}-{number[6:]}"

    def look_alike(self) -> tuple[str, str]:
        y = self.r.randint(2024, 2027)
        m, d = self.r.randint(1, 12), self.r.randint(1, 28)
        choices = [
            ("date", f"{y}-{m:02d}-{d:02d}"), ("date", f"{y}.{m:02d}.{d:02d}"), ("date", f"{y}{m:02d}{d:02d}"),
            ("period", f"{y}-{m:02d}-{d:02d} ~ {y}-12-31"),
            ("amount", f"{self.r.randint(1, 999):,}{self.r.choice([',000,000원', '0,000원', ',500,000원'])}"),
            ("amount", f"{self.r.randint(1, 9)}억 {self.r.randint(1, 9)}천만 원"),
            ("policy-code", f"PBLN_{self.r.randint(1, 999999999999999):015d}"),
            ("policy-code", f"{y}{m:02d}{d:02d}0054001{self.digits(5)}"),
            ("brn", f"사업자등록번호 {self.brn()}"), ("brn", self.brn()),
            ("corp-reg", f"법인등록번호 {self.corp()}"),
            ("official-phone", f"문의 : {self.r.choice(['051-860-6600', '02-2100-1234', '044-203-2000', '031-8008-1234'])}"),
            ("official-phone", f"대표전화 {self.r.choice(['1588-1234', '1644-3000', '1577-9090', '1899-0000'])}"),
            ("official-phone", f"(051) {self.r.randint(200, 999)}-{self.digits(4)} (담당 부서)"),
            ("notice-no", f"공고 제{y}-{self.r.randint(1, 999)}호"),
            ("postal", f"우편번호 {self.r.randint(10000, 63999)}"),
        ]
        return self.r.choice(choices)


def generate(n: int = 600, seed: int = 20261206) -> tuple[list[PolicyRecord], list[Planted]]:
    """``n`` policies with personal data in every text field and look-alikes beside it."""
    fake = _Faker(seed)
    records, planted = [], []
    for i in range(n):
        sid = f"pii-{seed}-{i:05d}"
        items: list[Planted] = []

        def plant(field: str, personal: bool = True) -> str:
            kind, text = fake.personal() if personal else fake.look_alike()
            items.append(Planted(sid, field, kind, text, personal))
            return text

        start = date(2026, 1, 1) + timedelta(days=fake.r.randrange(300))
        title_alike = plant("title", personal=False)
        title = f"{i}번 지원사업 공고 {title_alike} (담당 {plant('title')})"
        paragraphs = [f"<p>□ 사업개요: {plant('content', False)} 기준, 지원 한도 {plant('content', False)}</p>",
                      f"<p>○ 신청자 홍길동 {plant('content')} / 주민등록번호 {plant('content')}</p>",
                      f"<p>○ 문의처: {plant('content', False)}, 담당자 {plant('content')}</p>",
                      f"<p>○ 연락: {plant('content')} 또는 {plant('content')}; 접수 {plant('content', False)}</p>",
                      f"<p>※ {plant('content', False)} / {plant('content', False)} / {plant('content', False)}</p>"]
        email_kind, email_text = fake.email()
        items.append(Planted(sid, "contact_email", email_kind, email_text, True))
        phone_kind, phone_text = fake.mobile()
        items.append(Planted(sid, "contact_phone", phone_kind, phone_text, True))
        record = PolicyRecord(
            source_system=SOURCE, source_id=sid, title=title, content="\n".join(paragraphs),
            issuing_organization=f"부산광역시 일자리경제과 (담당 {plant('issuing_organization')})",
            executing_organization=f"부산경제진흥원 {plant('executing_organization')}",
            target_regions=["부산광역시", f"해운대구 {plant('target_regions')}"],
            target_group=f"청년 (대표 {plant('target_group')})",
            target_industry=f"제조업 {plant('target_industry')}",
            support_field=f"창업 {plant('support_field')}",
            funding_type=f"보조금 {plant('funding_type')}",
            application_start_date=start, application_end_date=start + timedelta(days=60),
            application_period_text=f"{start:%Y.%m.%d} ~ 예산 소진시 (문의 {plant('application_period_text')})",
            original_url=f"https://www.example.go.kr/notice/{i}?writer={plant('original_url')}",
            contact_email=email_text, contact_phone=phone_text,
            contact_address=f"부산광역시 연제구 중앙대로 1001 {plant('contact_address')}",
            attachments=[{"name": f"신청서_{plant('attachments')}.hwp", "url": f"https://www.example.go.kr/f/{i}.hwp"}],
            raw_data={"seq": i, "note": "corpus"},
        )
        records.append(record)
        planted.extend(items)
    return records, planted


def title_look_alikes(planted: list[Planted]) -> dict[str, str]:
    """source id → the look-alike planted in its title (every target stores the title)."""
    return {p.source_id: p.text for p in planted if p.field == "title" and not p.personal}
