"""A 공공데이터포털 (data.go.kr) API described by a YAML file instead of code (seed §4.1.1).

Files live in ``collectors/sources/portal/*.yaml`` (the shipped example) and in
``SOURCE_PORTAL_DIR``; each becomes the source ``portal:<name>``. The key is
``SOURCE_PORTAL_API_KEY`` (a data.go.kr key belongs to the account and serves every API it is
approved for); without one the API is read from the sample server at the same path.

A field of the policy model is mapped from:

* ``fieldName`` — one field of the item;
* ``{field: fieldName}`` — the same, written out;
* ``{value: "text"}`` — a constant (e.g. the issuing ministry of a one-ministry API);
* ``{fields: [a, b], join: ", "}`` — several fields joined.

``content`` takes a list of sections (``fieldName`` or ``{field, label}``), each HTML cleaned to
text and ``[label]``-prefixed. Dates take ``application_start``/``application_end`` (two fields)
or ``application_period`` (one free-text field such as ``2025.04.01~2026.03.31``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aegis.errors import ConfigError

BUNDLED_DIR = Path(__file__).with_name("portal")
KEY_SETTING = "SOURCE_PORTAL_API_KEY"


class Constant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str


class OneField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str


class JoinedFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: list[str] = Field(min_length=1)
    join: str = ", "


FieldSpec = str | OneField | Constant | JoinedFields


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    label: str | None = None


class Attachments(BaseModel):
    """Attachment names and URLs: each a list (repeated XML elements) or one text joined by ``separator``."""

    model_config = ConfigDict(extra="forbid")

    urls: str
    names: str | None = None
    separator: str = "@"


class Paging(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_param: str = "pageNo"
    size_param: str = "numOfRows"
    first_page: int = Field(1, ge=0)
    page_size: int | None = Field(None, ge=1, le=1000)  # default SOURCE_PORTAL_PAGE_SIZE


class FieldMapping(BaseModel):
    """Where each policy field comes from (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    title: FieldSpec
    content: list[str | Section] = Field(min_length=1)
    issuing_organization: FieldSpec
    executing_organization: FieldSpec | None = None
    target_regions: FieldSpec | None = None
    target_group: FieldSpec | None = None
    target_industry: FieldSpec | None = None
    support_field: FieldSpec | None = None
    funding_type: FieldSpec | None = None
    application_start: str | None = None
    application_end: str | None = None
    application_period: str | None = None
    original_url: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    contact_address: FieldSpec | None = None
    attachments: Attachments | None = None
    source_updated_at: str | None = None

    @model_validator(mode="after")
    def _one_way_to_dates(self) -> FieldMapping:
        if self.application_period and (self.application_start or self.application_end):
            raise ValueError("give application_period or application_start/application_end, not both")
        return self


class PortalApi(BaseModel):
    """One data.go.kr API."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,60}$")
    title: str
    endpoint: str                      # the live operation URL, e.g. https://apis.data.go.kr/1421000/.../getbizList_v2
    key_param: str = "serviceKey"
    params: dict[str, str] = Field(default_factory=dict)  # fixed query parameters (returnType, filters)
    paging: Paging = Field(default_factory=Paging)
    items_path: list[str] | None = None  # default: odcloud `data`, else classic response/body/items
    total_path: list[str] | None = None  # default: odcloud matchCount/totalCount, else response/body/totalCount
    id: str                            # the item field that identifies a record
    site_url: str                      # relative links in records resolve against it
    volatile: list[str] = Field(default_factory=list)  # raw fields that change without the record changing
    fields: FieldMapping
    timeout_seconds: float | None = Field(None, gt=0)
    requests_per_second: float | None = Field(None, gt=0)
    enabled: bool = True

    @field_validator("endpoint", "site_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("items_path", "total_path", mode="before")
    @classmethod
    def _path(cls, value: object) -> object:
        return [p for p in value.split(".") if p] if isinstance(value, str) else value

    @property
    def source_system(self) -> str:
        return f"portal:{self.name}"

    @property
    def live_base(self) -> str:
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def path(self) -> str:
        return urlsplit(self.endpoint).path


def load_api(path: Path) -> PortalApi:
    """Read one API file; errors name the file and the field (DP_5001)."""
    try:
        return PortalApi.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"data.go.kr API config {path} cannot be read: {exc}", hint="fix the YAML file") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"data.go.kr API config {path} is invalid: {problems}",
                          hint="see docs/collectors.md, 'Adding a data.go.kr API'") from None


def load_apis(extra_dir: Path | None = None) -> list[PortalApi]:
    """Every enabled API: the shipped ones, then those in ``extra_dir`` (the same name overrides)."""
    apis: dict[str, PortalApi] = {}
    for directory in (BUNDLED_DIR, extra_dir):
        if directory is None:
            continue
        if not directory.is_dir():
            raise ConfigError(f"data.go.kr API config directory {directory} does not exist",
                              hint="fix SOURCE_PORTAL_DIR")
        for path in sorted(directory.glob("*.y*ml")):
            api = load_api(path)
            apis[api.name] = api
    return [a for a in apis.values() if a.enabled]
