"""Board configuration: which pages to read and which selectors pick each field.

A selector is CSS (Scrapy/parsel syntax, ``::text`` and ``::attr(name)`` allowed) unless it
starts with ``xpath:``. Board files live in ``collectors/spider/boards/*.yaml`` (and in
``SOURCE_BOARDS_DIR``); ``{samples_url}`` in a URL is replaced by the sample server's address.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aegis.errors import ConfigError

BUNDLED_DIR = Path(__file__).with_name("boards")


class ListSelectors(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: str                      # one element per announcement
    link: str                      # within a row: the detail page href
    title: str | None = None       # within a row
    date: str | None = None
    department: str | None = None
    next_page: str | None = None   # on the list page: href of the next list page


class DetailSelectors(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str                      # the element holding the body HTML (its inner HTML is kept)
    title: str | None = None
    date: str | None = None
    department: str | None = None
    application_period: str | None = None
    contact: str | None = None
    attachments: str | None = None  # anchors; each gives href and text
    attachment_name: str = "::text"  # within an attachment anchor


class BoardConfig(BaseModel):
    """One board of one local government."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,60}$")
    title: str
    organization: str              # issuing organisation of every post
    region: str                    # the 시도 (or 시군구 under it) the board serves
    start_url: str
    allowed_prefix: str            # never follow a link that does not start with this
    id_pattern: str                # regex with one group, applied to the detail URL
    max_pages: int = Field(5, ge=1, le=500)
    drop_query_params: list[str] = Field(default_factory=list)  # e.g. the list page a post was linked from
    list: ListSelectors
    detail: DetailSelectors
    enabled: bool = True

    @field_validator("id_pattern")
    @classmethod
    def _one_group(cls, value: str) -> str:
        if re.compile(value).groups != 1:
            raise ValueError("id_pattern needs exactly one capturing group")
        return value

    @property
    def source_system(self) -> str:
        return f"board:{self.name}"

    @property
    def domain(self) -> str:
        return urlsplit(self.start_url).hostname or ""

    def allows(self, url: str) -> bool:
        return url.startswith(self.allowed_prefix)

    def canonical(self, url: str) -> str:
        """``url`` without ``drop_query_params``, so a post keeps one URL whichever list page linked it."""
        if not self.drop_query_params:
            return url
        parts = urlsplit(url)
        kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in self.drop_query_params]
        return urlunsplit(parts._replace(query=urlencode(kept)))

    def source_id(self, url: str) -> str | None:
        match = re.search(self.id_pattern, url)
        return match.group(1) if match else None


def load_board(path: Path, samples_url: str) -> BoardConfig:
    """Read one board file, filling in ``{samples_url}``; errors name the file and field (DP_5001)."""
    try:
        text = path.read_text(encoding="utf-8").replace("{samples_url}", samples_url.rstrip("/"))
        return BoardConfig.model_validate(yaml.safe_load(text))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"board config {path} cannot be read: {exc}", hint="fix the YAML file") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"board config {path} is invalid: {problems}",
                          hint="see docs/collectors.md, 'Adding a board'") from None


def load_boards(samples_url: str, extra_dir: Path | None = None) -> list[BoardConfig]:
    """Every enabled board: the bundled ones, then those in ``extra_dir`` (same name overrides)."""
    boards: dict[str, BoardConfig] = {}
    for directory in (BUNDLED_DIR, extra_dir):
        if directory is None:
            continue
        if not directory.is_dir():
            raise ConfigError(f"board config directory {directory} does not exist", hint="fix SOURCE_BOARDS_DIR")
        for path in sorted(directory.glob("*.y*ml")):
            board = load_board(path, samples_url)
            boards[board.name] = board
    return [b for b in boards.values() if b.enabled]
