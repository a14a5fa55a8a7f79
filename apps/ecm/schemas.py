"""Request models for ECM, validated before any database work (422 names the field)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from apps.common.types import Name, Text

Language = Literal["en", "fr", "es", "ar", "ru", "zh"]
SecurityLevel = Literal["public", "internal", "confidential", "strictly_confidential"]
CONFIDENTIAL = ("confidential", "strictly_confidential")
# UN document symbols: "A/HRC/55/12", "S/RES/2334 (2016)", "E/CN.6/2024/L.3".
Symbol = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z][A-Za-z0-9.()\- ]*(/[A-Za-z0-9.()\- ]+)+$", max_length=100),
]
MediaType = Annotated[str, StringConstraints(pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=100)]
Filename = Annotated[str, StringConstraints(pattern=r"^[^/\\\x00]{0,255}$")]
MAX_CONTENT = 20 * 1024 * 1024


def decode_b64(value: str) -> bytes:
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be valid base64") from exc
    if len(data) > MAX_CONTENT:
        raise ValueError(f"content larger than {MAX_CONTENT} bytes")
    return data


class Content(BaseModel):
    content_b64: str = Field(max_length=MAX_CONTENT * 4 // 3 + 4)
    media_type: MediaType = "text/plain"
    filename: Filename = ""

    @field_validator("content_b64")
    @classmethod
    def _b64(cls, value: str) -> str:
        decode_b64(value)
        return value

    def data(self) -> bytes:
        return decode_b64(self.content_b64)


class DocumentIn(Content):
    model_config = ConfigDict(extra="forbid")
    title: Name
    author: Name
    language: Language
    date: dt.date
    symbol: Symbol | None = None
    classification: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,8}(\.[A-Z]{2,8})*$")]
    security_level: SecurityLevel = "internal"


class DocumentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Name | None = None
    author: Name | None = None
    language: Language | None = None
    date: dt.date | None = None
    symbol: Symbol | None = None
    classification: (
        Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,8}(\.[A-Z]{2,8})*$")] | None
    ) = None
    security_level: SecurityLevel | None = None


class CheckIn(Content):
    model_config = ConfigDict(extra="forbid")
    comment: Text = ""


class Grant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Name
    access: Literal["read", "write", "none"]


class Declare(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schedule: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9-]{1,40}$")]


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9-]{1,40}$")]
    title: Name
    retention_days: int = Field(ge=0, le=365 * 200)
    disposition_action: Literal["destroy", "transfer"] = "destroy"


class LegalHold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Name
