"""Input types shared by the request models: PostgreSQL text cannot hold NUL characters."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(_no_nul)]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    AfterValidator(_no_nul),
]
Body = Annotated[str, StringConstraints(max_length=1_000_000), AfterValidator(_no_nul)]
# PostgreSQL bigint range, so out-of-range numbers are a 422 rather than a database error.
BIGINT_MAX = 2**63 - 1
