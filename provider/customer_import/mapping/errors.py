"""Row problems as data: a rejected value or row carries a code, a message and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Error codes of the report (PRODUCT.md "Reports"); one name per reason.
INVALID_EMAIL = "invalid_email"
INVALID_PHONE = "invalid_phone"
INVALID_DATE = "invalid_date"
INVALID_DATETIME = "invalid_datetime"
INVALID_IP = "invalid_ip"
INVALID_ENUM = "invalid_enum"
INVALID_JSON = "invalid_json"
INVALID_TIMEZONE = "invalid_timezone"
INVALID_STATUS = "invalid_status"
TYPE_MISMATCH = "type_mismatch"
TOO_LONG = "too_long"
EMPTY_MATCH_KEY = "empty_match_key"
AMBIGUOUS_MATCH = "ambiguous_match"
DUPLICATE_KEY = "duplicate_key"
# A source value its driver could not convert (customer_import.sources.values.Unreadable): text that is
# not valid in the connection's encoding; a time or interval Python cannot hold (dates: invalid_date,
# invalid_datetime).
INVALID_ENCODING = "invalid_encoding"
UNREADABLE_VALUE = "unreadable_value"


class ValueRejected(Exception):
    """Raised by a coercer for a value it cannot accept; the mapper turns it into a :class:`Rejection`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejected row: which row, which column, why, and the raw value."""

    row: int  # 1-based row number within the run
    cursor: Any  # the row's cursor-column value, when the import has a cursor
    column: str | None
    code: str
    message: str
    value: Any = None
