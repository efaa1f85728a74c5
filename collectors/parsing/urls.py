"""Canonical absolute URLs from whatever a source puts in a URL field (formats.md §8).

``canonical_url(value, base)`` accepts, in this order:

* HTML entities (``&amp;``, also double-escaped ``&amp;amp;``) — decoded;
* a markdown link ``[text](url)`` or an HTML anchor ``<a href="url">`` — its target;
* ``//host/path`` (protocol-relative) and a scheme-less host (``www.k-startup.go.kr/...``,
  ``bizinfo.go.kr``) — ``https://`` is added;
* a relative link (``/cmm/fms/x.do``, ``view.do?id=1``, ``../a``) — resolved against ``base``, the
  source's own site;
* text around one URL (``홈페이지: https://...``) — the URL.

The result is made canonical with w3lib (percent-encoding of non-ASCII and unsafe characters,
IDNA host) and urllib: lower-case scheme and host, no default port, no fragment, no user info.
``http://`` stays ``http://``: forcing ``https`` on a site that serves only ``http`` would store a
broken link. Anything else — ``javascript:``, ``mailto:``, ``#``, free text, a host that cannot be
one — raises ``InvalidUrl`` (a ``DataError``, DP_2001): the item is rejected with its field named.
"""

from __future__ import annotations

import html
import ipaddress
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

from aegis.errors import DataError, ErrorCode

MAX_URL_CHARS = 2048
_MARKDOWN = re.compile(r"^\s*!?\[[^\]]*\]\("  # [text](
                       r"\s*<?([^()\s<>]+(?:\([^()\s]*\)[^()\s<>]*)*)>?"  # the URL, balanced parentheses allowed
                       r"(?:\s+[\"'][^\"']*[\"'])?\s*\)\s*$")  # an optional "title", then )
_ANCHOR = re.compile(r"""<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_EMBEDDED = re.compile(r"(?:https?:)?//[^\s<>\"'()\[\]{}]+|https?://[^\s<>\"'()\[\]{}]+", re.I)
_LEADS_AS_URL = re.compile(r"^(?:https?://|//|/)\S", re.I)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# A scheme-less host: labels with a TLD we know sources use, then a path, query or the end.
_BARE_HOST = re.compile(
    r"^(?:www\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:kr|com|net|org|go\.kr|info|io|co|biz|gov|edu|asia|site|xyz|me|tv|한국)(?::\d{1,5})?(?=[/?#]|$)",
    re.I)
_HOST = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# An absolute URL that ``_canonical`` would return unchanged: lower-case scheme and host, no port,
# user info, fragment, space or non-ASCII, every % a valid escape (a property test holds them equal).
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PATH_CHARS = r"(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9\-._~!$&'()*+,;=:@/])"
_QUERY = r"(?:\?(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9\-._~!$&()*+,;=:@/?])+)?"  # no empty query (dropped), no quote (escaped)
_CANONICAL = re.compile(rf"https?://(?:{_LABEL}\.)*{_LABEL}(?:/{_PATH_CHARS}*{_QUERY})?")
_HAS_PATH = re.compile(r"https?://[^/]+/")
_CANONICAL_PATH = re.compile(rf"/(?!/)(?:(?!;){_PATH_CHARS})*{_QUERY}")  # no ";": urljoin drops empty params
_ORIGIN = re.compile(rf"https?://(?:{_LABEL}\.)*{_LABEL}(?=/|$)")
# "/." or "/.." (also percent-encoded) as a whole segment: w3lib removes it, so the fast paths must not skip w3lib.
_DOT_SEGMENT = re.compile(r"/(?:\.|%2[eE]){1,2}(?=[/?]|$)")


class InvalidUrl(DataError):
    """A URL field that holds something that is not a URL."""

    default_code = ErrorCode.VALIDATION_FAILED


def canonical_url(value: object, base: str | None = None, *, field: str = "url") -> str | None:
    """The canonical absolute URL ``value`` stands for; None for an empty value (see module docstring)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidUrl(f"{field}: expected a URL, got {type(value).__name__}")
    text = html.unescape(html.unescape(value)).strip()
    if len(text) >= 2 and (text[0], text[-1]) in (("<", ">"), ('"', '"'), ("'", "'")) and not _ANCHOR.search(text):
        text = text[1:-1].strip()  # <https://...> or a quoted URL
    if not text:
        return None
    if len(text) > MAX_URL_CHARS:
        raise InvalidUrl(f"{field}: a URL of {len(text):,} characters (more than {MAX_URL_CHARS:,})")
    if _CANONICAL.fullmatch(text) and not _DOT_SEGMENT.search(text):  # most links: nothing for the URL library to do
        return text if _HAS_PATH.match(text) else text + "/"
    if base and _CANONICAL_PATH.fullmatch(text) and not _DOT_SEGMENT.search(text) and (origin := _ORIGIN.match(base)):
        return origin[0] + text  # a root-relative link on a canonical site (Bizinfo's attachments)
    candidate = _target(text)
    if candidate is None:
        raise InvalidUrl(f"{field}: not a URL")
    return _canonical(candidate, base, field)


def _target(text: str) -> str | None:
    if match := _MARKDOWN.match(text):
        return match[1]
    if match := _ANCHOR.search(text):
        return next(g for g in match.groups() if g is not None).strip() or None
    if not any(c.isspace() for c in text) or _LEADS_AS_URL.match(text):
        return text  # a space inside a URL (file names) is encoded, not a reason to reject
    found = _EMBEDDED.findall(text)
    return found[0] if len(found) == 1 else None


def _canonical(candidate: str, base: str | None, field: str) -> str:
    if candidate.startswith("//"):
        candidate = "https:" + candidate
    elif (scheme := _SCHEME.match(candidate)) is None or _BARE_HOST.match(candidate):
        if _BARE_HOST.match(candidate):
            candidate = "https://" + candidate
        elif base:
            if candidate.startswith("#"):
                raise InvalidUrl(f"{field}: a fragment is not a link")
            candidate = urljoin(base, candidate)
        else:
            raise InvalidUrl(f"{field}: a relative link and no site to resolve it against")
    elif scheme[1].lower() not in _DEFAULT_PORTS:
        raise InvalidUrl(f"{field}: not a web link ({scheme[1].lower()}:)")
    try:
        safe = safe_url_string(candidate)
        parts = urlsplit(safe)
        port = parts.port
    except ValueError:
        raise InvalidUrl(f"{field}: not a URL") from None
    scheme_name = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme_name not in _DEFAULT_PORTS or not _valid_host(host):
        raise InvalidUrl(f"{field}: not a URL (no valid host)")
    shown = f"[{host}]" if ":" in host else host
    netloc = shown if port is None or port == _DEFAULT_PORTS[scheme_name] else f"{shown}:{port}"
    return urlunsplit((scheme_name, netloc, parts.path or "/", parts.query, ""))


def _valid_host(host: str) -> bool:
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return bool(host) and len(host) <= 253 and bool(_HOST.match(host))

