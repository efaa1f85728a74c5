"""Response bodies in each source's real format (formats.md), from the sample catalog."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from collectors.samples.catalog import BoardPost, SampleCatalog

DATA_GO_KR_ERRORS = {
    "01": "APPLICATION_ERROR", "02": "DB_ERROR", "03": "NODATA_ERROR", "04": "HTTP_ERROR", "05": "SERVICETIME_OUT",
    "10": "INVALID_REQUEST_PARAMETER_ERROR", "11": "NO_MANDATORY_REQUEST_PARAMETERS_ERROR",
    "12": "NO_OPENAPI_SERVICE_ERROR", "20": "SERVICE_ACCESS_DENIED_ERROR",
    "21": "TEMPORARILY_DISABLE_THE_SERVICEKEY_ERROR", "22": "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR",
    "30": "SERVICE_KEY_IS_NOT_REGISTERED_ERROR", "31": "DEADLINE_HAS_EXPIRED_ERROR", "32": "UNREGISTERED_IP_ERROR",
    "33": "UNSIGNED_CALL_ERROR", "99": "UNKNOWN_ERROR",
}


JSON_TYPE = "application/json;charset=UTF-8"
XML_TYPE = "text/xml;charset=UTF-8"


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def page_slice(rows: list[Any], page: int, size: int) -> list[Any]:
    start = (max(page, 1) - 1) * size
    return rows[start:start + size]


def data_go_kr_error(code: str, form: str = "xml") -> tuple[bytes, str]:
    """A data.go.kr gateway answer with ``code``, as (body, content type). ``form``: ``xml`` (the
    gateway's OpenAPI_ServiceResponse, what most APIs send), ``openapi-json``, ``classic-xml`` or
    ``classic-json`` (the classic envelope's response/header/resultCode)."""
    name = DATA_GO_KR_ERRORS.get(code, "UNKNOWN_ERROR")
    if form == "openapi-json":
        return dumps({"OpenAPI_ServiceResponse": {"cmmMsgHeader": {
            "errMsg": "SERVICE ERROR", "returnAuthMsg": name, "returnReasonCode": code}}}), JSON_TYPE
    if form in ("classic-xml", "classic-json"):
        document = {"response": {"header": {"resultCode": code, "resultMsg": name}, "body": None}}
        if form == "classic-json":
            return dumps(document), JSON_TYPE
        return (f'<?xml version="1.0" encoding="UTF-8"?><response><header><resultCode>{code}</resultCode>'
                f"<resultMsg>{name}</resultMsg></header></response>").encode(), XML_TYPE
    return ("<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg>"
            f"<returnAuthMsg>{name}</returnAuthMsg><returnReasonCode>{code}</returnReasonCode>"
            "</cmmMsgHeader></OpenAPI_ServiceResponse>").encode(), XML_TYPE


def rss_feed(catalog: SampleCatalog, feed: str, base: str, *, empty: bool = False,
             pub_date: Callable[[str, int], str] | None = None, link: Callable[[str, int], str] | None = None,
             deep_first: bool = False, root: str = "rss") -> bytes:
    """A 정책브리핑 feed; the keyword arguments give its real-shape variants (``shapes``)."""
    with catalog.lock:
        items = [] if empty else [dict(i) for i in catalog.rss[feed]]
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<{root} version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
             f"<title><![CDATA[정책브리핑 - {'정책뉴스' if feed == 'policy' else '보도자료'}]]></title>",
             f"<link>{base}/</link><description>대한민국 정책브리핑</description><language>ko</language>"]
    for index, item in enumerate(items):
        view = f"https://www.korea.kr/news/policyNewsView.do?newsId={item['newsId']}"
        body = item["body"]
        if deep_first and index == 0:
            body = "<div>" * 300 + body + "</div>" * 300
        description = (f'<a href="{view}" target="_blank"><img src="https://www.korea.kr/images/rss/btn_view.gif" '
                       f'alt="기사 원문 보기"></a>{body}')
        shown_link = view + "&call_from=rsslink"
        if link is not None:
            shown_link = link(shown_link, index)
        parts.append(
            f"<item><title><![CDATA[{item['title']}]]></title>"
            f"<link>{escape(shown_link)}</link>"
            f"<description><![CDATA[{description}]]></description>"
            f"<pubDate>{pub_date(item['pubDate'], index) if pub_date else item['pubDate']}</pubDate>"
            f"<guid>{escape(view)}</guid>"
            f"<dc:creator>{escape(item['creator'])}</dc:creator></item>")
    parts.append(f"</channel></{root}>")
    return "\n".join(parts).encode("utf-8")


ENTITY_BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
               b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]><rss version="2.0"><channel><item>'
               b"<title>&lol3;</title></item></channel></rss>")

ROBOTS_TXT = b"""# Sample sites of the Aegis Sync test server
User-agent: *
Disallow: /boards/garam-si/notice/private/
Disallow: /boards/closed-gu/
Crawl-delay: 1
"""


def html_page(title: str, body: str) -> bytes:
    return (f'<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            '<link rel="stylesheet" href="/static/site.css"></head><body>'
            '<div id="skip"><a href="#contents">본문 바로가기</a></div>'
            '<header id="header"><a href="https://www.gov.kr/" class="gov">정부24</a>'
            '<nav class="gnb"><a href="/boards/">전체메뉴</a></nav></header>'
            f'<main id="contents">{body}</main>'
            '<footer id="footer">Copyright © 샘플 지자체. All rights reserved.</footer>'
            "</body></html>").encode()


GARAM_PER_PAGE = 10


def garam_list(posts: list[BoardPost], page: int) -> bytes:
    chunk = page_slice(posts, page, GARAM_PER_PAGE)
    pages = (len(posts) + GARAM_PER_PAGE - 1) // GARAM_PER_PAGE
    rows = []
    if page == 1:
        rows.append('<tr class="notice"><td class="num">공지</td><td class="subject">'
                    '<a href="https://www.gov.kr/portal/main">정부24 바로가기 (외부 사이트)</a></td>'
                    '<td class="dept">총무과</td><td class="date">2025-01-02</td><td class="file"></td></tr>')
        rows.append('<tr class="notice"><td class="num">공지</td><td class="subject">'
                    '<a href="private/view.do?nttId=9001">[내부] 직원 전용 게시물</a></td>'
                    '<td class="dept">총무과</td><td class="date">2025-01-02</td><td class="file"></td></tr>')
    for index, post in enumerate(chunk):
        number = len(posts) - ((page - 1) * GARAM_PER_PAGE + index)
        clip = '<img src="/images/ico_file.gif" alt="첨부파일">' if post.attachments else ""
        rows.append(f'<tr><td class="num">{number}</td><td class="subject">'
                    f'<a href="view.do?nttId={post.post_id}&amp;pageIndex={page}" title="{html.escape(post.title)}">'
                    f'{html.escape(post.title)}</a></td><td class="dept">{post.department}</td>'
                    f'<td class="date">{post.date}</td><td class="file">{clip}</td></tr>')
    current = ' class="on"'
    links = " ".join(f'<a href="list.do?pageIndex={n}"{current if n == page else ""}>{n}</a>'
                     for n in range(1, pages + 1))
    nxt = f' <a class="next" href="list.do?pageIndex={page + 1}">다음</a>' if page < pages else ""
    body = ('<h2>고시공고</h2><table class="board-list"><caption>고시공고 목록</caption><thead><tr><th>번호</th>'
            '<th>제목</th><th>담당부서</th><th>등록일</th><th>첨부</th></tr></thead><tbody>'
            + "".join(rows) + f'</tbody></table><div class="paging">{links}{nxt}</div>')
    return html_page("고시공고 | 가람시", body)


def garam_view(post: BoardPost) -> bytes:
    files = "".join(f'<li><a href="download.do?fileId={fid}">{html.escape(name)}</a>'
                    ' <span class="size">(48KB)</span></li>' for fid, name in post.attachments)
    rows = [("담당부서", post.department), ("등록일", post.date)]
    if post.period:
        rows.append(("접수기간", post.period))
    if post.contact:
        rows.append(("문의처", post.contact))
    info = "".join(f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    body = (f'<div class="board-view"><h3 class="view-title">{html.escape(post.title)}</h3>'
            f'<table class="view-info">{info}</table><div class="view-content">{post.body_html}</div>'
            f'<ul class="file-list">{files}</ul><div class="btns"><a href="list.do">목록</a></div></div>')
    return html_page(f"{post.title} | 가람시", body)


NURI_PER_PAGE = 8


def nuri_list(posts: list[BoardPost], page: int) -> bytes:
    chunk = page_slice(posts, page, NURI_PER_PAGE)
    pages = (len(posts) + NURI_PER_PAGE - 1) // NURI_PER_PAGE
    cards = "".join(
        f'<li class="card"><a href="/boards/nuri-gu/news/{p.post_id}">'
        f'<strong class="tit">{html.escape(p.title)}</strong>'
        f'<span class="meta"><em class="dept">{p.department}</em>'
        f'<time datetime="{p.date.replace(".", "-")}">{p.date}</time></span></a></li>' for p in chunk)
    pager = f'<a rel="next" href="/boards/nuri-gu/news?page={page + 1}">다음 페이지</a>' if page < pages else ""
    body = (f'<section class="news"><h2>구정소식</h2><ul class="bbs-cards">{cards}</ul>'
            f'<nav class="pager" aria-label="페이지">{pager}</nav></section>')
    return html_page("구정소식 | 누리구", body)


def nuri_view(post: BoardPost) -> bytes:
    meta = [f'<dt>작성부서</dt><dd class="dept">{post.department}</dd>',
            f"<dt>작성일</dt><dd><time>{post.date}</time></dd>"]
    if post.period:
        meta.append(f'<dt>신청기간</dt><dd class="period">{html.escape(post.period)}</dd>')
    if post.contact:
        meta.append(f'<dt>문의</dt><dd class="contact">{html.escape(post.contact)}</dd>')
    files = "".join(f'<a class="attach-file" href="/boards/nuri-gu/files/{fid}" data-name="{html.escape(name)}">'
                    f"{html.escape(name)} 내려받기</a>" for fid, name in post.attachments)
    body = (f'<article class="post"><header><h1>{html.escape(post.title)}</h1>'
            f'<dl class="post-meta">{"".join(meta)}</dl></header><section id="post-body">{post.body_html}</section>'
            f'<footer><div class="attach">{files}</div><a href="/boards/nuri-gu/news">목록으로</a></footer></article>')
    return html_page(f"{post.title} | 누리구", body)
