"""The text a policy is embedded from: its title and cleaned content, within a token budget.

``embedding_text`` builds ``"<title>\n<content>"`` with HTML tags removed, entities decoded and
whitespace collapsed, cut to ``SOURCE_TEXT_CHARS`` characters (that cut only bounds storage and
tokenizer work; it is far above any token budget). The token budget itself
(``EMBEDDING_MAX_TOKENS``, default 128) is applied by the embedder's tokenizer, which truncates
every text to that many model tokens — the title first, so it always counts.
"""

from __future__ import annotations

import html
import re

from cdc_sinks.base import PolicyDocument

SOURCE_TEXT_CHARS = 2000
"""Characters of source text kept (and stored in Milvus for re-embedding)."""

_TAG = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Plain text from source HTML: tags dropped, entities decoded, whitespace collapsed."""
    without_tags = _TAG.sub(" ", text)
    return _SPACE.sub(" ", html.unescape(without_tags)).strip()


def embedding_text(document: PolicyDocument) -> str:
    """Title and cleaned content, at most ``SOURCE_TEXT_CHARS`` characters."""
    title = clean_text(document.title)
    content = clean_text(document.content)
    text = f"{title}\n{content}" if content and content != title else title
    return text[:SOURCE_TEXT_CHARS]
