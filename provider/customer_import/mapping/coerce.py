"""Coercion of raw source values into the normalised Python values the profile store writes.

:func:`make_coercer` builds, once per mapped field, a function ``raw value -> value`` (``None`` for an empty
value) that raises :class:`~customer_import.mapping.errors.ValueRejected` for a value it cannot accept. All
setup (zone lookups, enum tables, caches) happens in the builders below, so the per-row path stays small.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import re
import unicodedata
import uuid
import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT_INTL

from customer_import.mapping.errors import (
    INVALID_DATE,
    INVALID_DATETIME,
    INVALID_EMAIL,
    INVALID_ENCODING,
    INVALID_ENUM,
    INVALID_IP,
    INVALID_JSON,
    INVALID_PHONE,
    INVALID_TIMEZONE,
    TOO_LONG,
    TYPE_MISMATCH,
    UNREADABLE_VALUE,
    ValueRejected,
)
from customer_import.mapping.phones import FastPhoneParser
from customer_import.sources import values as source_values
from customer_import.spec.database import FieldDef
from customer_import.spec.import_spec import MappingItem
from customer_import.spec.vocab import FieldType

Coercer = Callable[[Any], Any]
_Builder = Callable[[FieldDef, MappingItem | None, str], Coercer]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_ISO_DATE = "YYYY-MM-DD (ISO 8601)"
_ISO_DATETIME = "ISO 8601 (YYYY-MM-DD HH:MM[:SS][+HH:MM])"
_TRUE = frozenset({"true", "yes", "y", "t", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "off"})
_TAG_SEPARATORS = re.compile(r"[,;]")
_NOT_IANA = frozenset({"localtime", "posixrules"})  # files of the zone database that are not zone names


def make_coercer(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    """Return a function raw_value -> normalised Python value, or None for an empty value.

    Raises customer_import.mapping.errors.ValueRejected(code, message) for a value it cannot accept.
    Strings are trimmed and bytes decoded as UTF-8 before the type's conversion sees them.
    A value its driver could not read (:class:`customer_import.sources.values.Unreadable`) is rejected
    with a code of its kind (:func:`unreadable`).
    """
    convert = _BUILDERS[field_def.type](field_def, item, timezone)

    def coerce(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
        elif isinstance(value, bytes | bytearray | memoryview):
            value = _decode(value)
            if not value:
                return None
        try:  # no cost unless a value is rejected: no converter accepts a marker (tested)
            return convert(value)
        except ValueRejected:
            if type(value) is _UNREADABLE:
                raise unreadable(value) from None
            raise

    return coerce


_UNREADABLE = source_values.Unreadable
_UNREADABLE_CODES = {
    source_values.DATE: INVALID_DATE,
    source_values.DATETIME: INVALID_DATETIME,
    source_values.ENCODING: INVALID_ENCODING,
}


def unreadable(value: source_values.Unreadable) -> ValueRejected:
    """The rejection of a value the source driver could not read (the mapper adds the column's name)."""
    return ValueRejected(
        _UNREADABLE_CODES.get(value.kind, UNREADABLE_VALUE),
        # raw text shows bytes that are not UTF-8 as \xNN already: not doubled by repr
        f"the source value {_show(value.raw).replace(chr(92) * 2, chr(92))} cannot be read as {value.kind}: "
        f"{_clip(value.reason)}",
    )


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value: Any, limit: int = 60) -> str:
    """The value as it appears in a message: its repr, shortened."""
    try:
        text = repr(value)
    except ValueError:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        if isinstance(value, int):
            return f"<an integer of {value.bit_length()} bits>"
        return f"<a {type(value).__name__} holding an integer too long to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _str(value: Any, code: str = TYPE_MISMATCH) -> str:
    """``str(value)`` of a number; an integer too long to write as text is rejected with ``code``."""
    try:
        return str(value)
    except ValueError:  # more digits than Python converts (4,300 by default)
        raise ValueRejected(code, f"{_show(value)} has too many digits to be used as text") from None


def _mismatch(value: Any, expected: str) -> ValueRejected:
    return ValueRejected(TYPE_MISMATCH, f"{_show(value)} ({type(value).__name__}) is not {expected}")


def _decode(value: bytes | bytearray | memoryview) -> str:
    try:
        return bytes(value).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueRejected(TYPE_MISMATCH, f"{_show(bytes(value))} is not UTF-8 text") from None


def _storable(text: str) -> bool:
    """Text every store can hold: no NUL (PostgreSQL) and no unpaired surrogate (not encodable as UTF-8)."""
    if "\x00" in text:
        return False
    if text.isascii():  # O(1) in CPython: ASCII text has no surrogates
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_no_nul(text: str, original: Any, code: str = TYPE_MISMATCH) -> str:
    # One value a store cannot hold would fail the whole batch, so it is rejected here.
    if not _storable(text):
        raise ValueRejected(code, f"{_show(original)} contains a NUL character or broken Unicode")
    return text


def _json_storable(value: Any, original: Any) -> Any:
    """Every string (key or value) in a JSON value must be storable text."""
    if isinstance(value, str):
        _check_no_nul(value, original, INVALID_JSON)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_no_nul(key, original, INVALID_JSON)
            _json_storable(item, original)
    elif isinstance(value, list):
        for item in value:
            _json_storable(item, original)
    return value


# --- numbers -------------------------------------------------------------------------------------------


def _build_int(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    def in_range(number: int, value: Any) -> int:
        if INT64_MIN <= number <= INT64_MAX:
            return number
        raise ValueRejected(TYPE_MISMATCH, f"{_show(value)} is outside the 64-bit integer range")

    def from_decimal(number: Decimal, value: Any) -> int:
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueRejected(TYPE_MISMATCH, f"{_show(value)} is not a whole number")
        if not INT64_MIN <= number <= INT64_MAX:  # checked before int(): '1e999999' must not be expanded
            raise ValueRejected(TYPE_MISMATCH, f"{_show(value)} is outside the 64-bit integer range")
        return int(number)

    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise _mismatch(value, "a whole number")
        if isinstance(value, int):
            return in_range(int(value), value)
        if isinstance(value, str):
            if "_" in value:  # Python reads 1_000 as 1000; a source value like 12_5 is not a number
                raise ValueRejected(TYPE_MISMATCH, f"{_show(value)} is not a whole number")
            try:
                return in_range(int(value), value)
            except ValueError:
                pass
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise ValueRejected(TYPE_MISMATCH, f"{_show(value)} is not a whole number") from None
            return from_decimal(number, value)
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueRejected(TYPE_MISMATCH, f"{_show(value)} is not a whole number")
            return in_range(int(value), value)
        if isinstance(value, Decimal):
            return from_decimal(value, value)
        raise _mismatch(value, "a whole number")

    return convert


def _build_float(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise _mismatch(value, "a number")
        if isinstance(value, str) and "_" in value:  # Python reads 1_000.5 as 1000.5; a source must not
            raise ValueRejected(TYPE_MISMATCH, f"{_show(value)} is not a number")
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise ValueRejected(TYPE_MISMATCH, f"{_show(value)} is not a number") from None
        if not math.isfinite(number):  # NaN or infinity (also a value too large for a float)
            raise ValueRejected(TYPE_MISMATCH, f"{_show(value)} is not a finite number")
        return number

    return convert


# --- text ----------------------------------------------------------------------------------------------


def _build_string(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    max_length = field_def.max_length

    def convert(value: Any) -> str:
        if isinstance(value, str):
            text = value
        elif isinstance(value, int | float | Decimal | uuid.UUID) and not isinstance(value, bool):
            text = _str(value)
        elif isinstance(value, date):
            text = value.isoformat()
        else:
            raise _mismatch(value, "text")
        if max_length is not None and len(text) > max_length:
            raise ValueRejected(TOO_LONG, f"{_show(text)} has {len(text)} characters; at most {max_length}")
        return _check_no_nul(text, value)

    return convert


def _build_enum(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    declared = field_def.values or []
    by_key = {v.strip().lower(): v for v in declared}
    allowed = ", ".join(declared)

    def convert(value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = _str(value, INVALID_ENUM)
        if isinstance(value, str):
            found = by_key.get(value.lower())
            if found is not None:
                return found
            raise ValueRejected(INVALID_ENUM, f"{_show(value)} is not one of: {allowed}")
        raise _mismatch(value, f"one of: {allowed}")

    return convert


def _build_tags(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    def items_of(value: Any) -> list[Any]:
        if isinstance(value, list | tuple):
            return list(value)
        if isinstance(value, str):
            if value.startswith("["):
                try:
                    parsed = json.loads(value)
                except (ValueError, RecursionError):
                    raise ValueRejected(TYPE_MISMATCH, f"{_show(value)} is not a valid JSON array") from None
                if isinstance(parsed, list):
                    return parsed
            return _TAG_SEPARATORS.split(value)
        raise _mismatch(value, "a list of tags or text separated by ',' or ';'")

    def convert(value: Any) -> list[str] | None:
        tags: dict[str, None] = {}
        for raw in items_of(value):
            if raw is None:
                continue
            if isinstance(raw, list | tuple | dict | set):
                raise _mismatch(raw, "a tag (a nested list or object is not)")
            tag = (raw if isinstance(raw, str) else _str(raw)).strip()
            if tag:
                tags[_check_no_nul(tag, raw)] = None
        return list(tags) or None

    return convert


# --- dates and times -----------------------------------------------------------------------------------


def _localize(naive: datetime, zone: tzinfo) -> datetime:
    """Attach the wall-clock zone. fold=0 (PEP 495): an ambiguous time takes its first occurrence, and a
    time in a DST gap is read with the offset before the gap, i.e. shifted forward as pendulum does
    (02:30 on the spring-forward night in Europe/Berlin becomes 03:30 CEST = 01:30 UTC)."""
    return naive.replace(tzinfo=zone)


def _build_date(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    zone = zoneinfo.ZoneInfo(timezone)
    fmt = item.date_format if item is not None else None
    described = fmt or _ISO_DATE

    def of_datetime(moment: datetime) -> date:
        return (moment if moment.tzinfo is None else moment.astimezone(zone)).date()

    @functools.lru_cache(maxsize=65536)
    def parsed(text: str) -> date | None:
        """The date, or None where the text is not one (cached too: strptime's failures are slow)."""
        try:
            if fmt is not None:
                return of_datetime(datetime.strptime(text, fmt))
            try:
                return date.fromisoformat(text)
            except ValueError:
                return of_datetime(datetime.fromisoformat(text))
        except (ValueError, OverflowError):
            return None

    def parse(text: str) -> date:
        value = parsed(text)
        if value is None:
            raise ValueRejected(INVALID_DATE, f"{_show(text)} is not a date in format {described}")
        return value

    def convert(value: Any) -> date:
        if isinstance(value, str):
            return parse(value)
        if isinstance(value, datetime):
            try:
                return of_datetime(value)
            except (ValueError, OverflowError):
                raise ValueRejected(INVALID_DATE, f"{_show(value)} is out of the date range") from None
        if isinstance(value, date):
            return value
        raise _mismatch(value, f"a date (format {described})")

    return convert


def _build_datetime(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    zone = zoneinfo.ZoneInfo(timezone)
    fmt = item.date_format if item is not None else None
    described = fmt or _ISO_DATETIME

    def to_utc(moment: datetime) -> datetime:
        return (_localize(moment, zone) if moment.tzinfo is None else moment).astimezone(UTC)

    @functools.lru_cache(maxsize=65536)
    def parse(text: str) -> datetime:
        try:
            moment = datetime.strptime(text, fmt) if fmt is not None else datetime.fromisoformat(text)
            return to_utc(moment)
        except (ValueError, OverflowError):
            raise ValueRejected(
                INVALID_DATETIME, f"{_show(text)} is not a date and time in format {described}"
            ) from None

    def convert(value: Any) -> datetime:
        if isinstance(value, str):
            return parse(value)
        if isinstance(value, date):
            moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
            try:
                return to_utc(moment)
            except (ValueError, OverflowError):
                raise ValueRejected(
                    INVALID_DATETIME, f"{_show(value)} is out of the datetime range"
                ) from None
        raise _mismatch(value, f"a date and time (format {described})")

    return convert


# --- other scalars -------------------------------------------------------------------------------------


def _build_bool(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    def convert(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            key = value.lower()
            if key in _TRUE:
                return True
            if key in _FALSE:
                return False
        elif isinstance(value, int | float | Decimal) and not (isinstance(value, Decimal) and value.is_nan()):
            if value == 1:
                return True
            if value == 0:
                return False
        raise ValueRejected(
            TYPE_MISMATCH, f"{_show(value)} is not a boolean (true/false, yes/no, 1/0, on/off)"
        )

    return convert


# An IPv4 address as ipaddress writes it (ASCII digits, no leading zero, each part at most 255): the
# library parses exactly these texts to themselves, so they need no parse (timeit here: 0.35 µs a value
# instead of 3.3 µs; about 11 µs under a profiler).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}\Z")


def _build_ip(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    canonical_ipv4 = _CANONICAL_IPV4.match

    def convert(value: Any) -> str:
        if isinstance(value, str) and canonical_ipv4(value):
            return value
        if isinstance(value, ipaddress.IPv4Interface | ipaddress.IPv6Interface):  # before Address: a subclass
            return value.ip.compressed
        if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return value.compressed
        if isinstance(value, str):
            address, _, zone = value.partition("%")  # fe80::1%eth0: the zone is local to one host
            if zone and ":" not in address:
                raise ValueRejected(INVALID_IP, f"{_show(value)} is not an IPv4 or IPv6 address")
            try:
                return ipaddress.ip_address(address).compressed
            except ValueError:
                raise ValueRejected(INVALID_IP, f"{_show(value)} is not an IPv4 or IPv6 address") from None
        raise ValueRejected(INVALID_IP, f"{_show(value)} ({type(value).__name__}) is not an IP address text")

    return convert


_MAX_JSON_DIGITS = 4000  # below Python's limit for writing an integer as text (4,300 digits)
_MAX_JSON_INT_BITS = 13_000  # about 3,900 digits


def _build_json(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    def finite_float(text: str) -> float:
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(f"{text} is too large for a number")
        return number

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            try:
                parsed = json.loads(value, parse_float=finite_float, parse_constant=reject_constant)
            except (ValueError, RecursionError) as error:
                raise ValueRejected(INVALID_JSON, f"{_show(value)} is not valid JSON: {error}") from None
            return _json_storable(parsed, value)
        if isinstance(value, bool | int):
            if value.bit_length() > _MAX_JSON_INT_BITS:  # json.dumps could not write it (nor the store)
                raise ValueRejected(INVALID_JSON, f"{_show(value)} has too many digits for a JSON number")
            return value
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueRejected(INVALID_JSON, f"{_show(value)} is not a finite number")
            if value == value.to_integral_value() and value.adjusted() < _MAX_JSON_DIGITS:
                return int(value)
            number = float(value)  # 1E+999999 is not expanded into a million digits
            if not math.isfinite(number):
                raise ValueRejected(INVALID_JSON, f"{_show(value)} is too large for a JSON number")
            return number
        if isinstance(value, float | dict | list | tuple):
            # A round trip normalises what JSON cannot keep (tuples, non-string keys) and rejects the rest.
            try:
                normalised = json.loads(json.dumps(value, allow_nan=False))
            except (TypeError, ValueError, RecursionError) as error:
                raise ValueRejected(INVALID_JSON, f"{_show(value)} is not JSON-compatible: {error}") from None
            return _json_storable(normalised, value)
        raise ValueRejected(INVALID_JSON, f"{_show(value)} ({type(value).__name__}) is not a JSON value")

    return convert


# --- contacts and zones --------------------------------------------------------------------------------


# An unquoted ASCII local part (RFC 5322 dot-atom): for these, email-validator's verdict depends on the domain
# alone, which it checks once per distinct domain below; anything else gets the full check every time.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_MAX_LOCAL, _MAX_EMAIL = 64, 254
_DOT_ATOM_INTL = DOT_ATOM_TEXT_INTL  # email-validator's own pattern for an internationalised local part
_SAFE_CATEGORIES = frozenset("LNPSM")
# Longer text is refused before the library sees it. Generous: Unicode normalisation can shorten an
# address (combining characters), so the library decides anything up to this length.
_MAX_EMAIL_TEXT = 4 * _MAX_EMAIL


@functools.lru_cache(maxsize=65536)
def _safe_char(c: str) -> bool:
    """A letter, number, punctuation, symbol or mark (the categories check_unsafe_chars lets through)."""
    return unicodedata.category(c)[0] in _SAFE_CATEGORIES


def _safe_text(text: str) -> bool:
    """email-validator's check_unsafe_chars passes non-empty ``text`` (no space allowed): letters,
    numbers, punctuation and symbols, and marks anywhere but first."""
    return unicodedata.category(text[0])[0] != "M" and all(map(_safe_char, text))


def _international_email(value: str, domain_of: Callable[[str], str | None]) -> str | None:
    """The normalised form of an address whose local part is not ASCII, where email-validator's answer
    is certain without calling it; None where it is not (the caller asks the library then).

    ``validate_email(value)`` accepts such an address, and its answer is the local part NFC-normalised,
    an @ and the domain, lowercased, exactly when: the local part is a dot-atom of email-validator's
    internationalised characters (so no quote, @, < or space: the split is at the one @), before and after
    NFC, with only safe characters; the domain is ASCII, valid (``domain_of``) and without Punycode
    labels (its Unicode form is then its ASCII form); and the address before and after normalisation is
    at most 254 UTF-8 bytes. The same rules as the library's (email_validator.syntax, 2.x); the
    equivalence is tested against the library on generated addresses (tests/unit/test_email_fast_path.py)."""
    local, at, domain = value.rpartition("@")
    if not at or local.isascii() or not domain.isascii() or not _DOT_ATOM_INTL.match(local):
        return None
    normalised = domain_of(domain)
    if normalised is None or "xn--" in normalised or not _safe_text(local):
        return None
    nfc = unicodedata.normalize("NFC", local)
    if nfc != local and not (_DOT_ATOM_INTL.match(nfc) and _safe_text(nfc)):
        return None
    address = f"{nfc}@{normalised}"
    if len(value.encode("utf-8")) > _MAX_EMAIL or len(address.encode("utf-8")) > _MAX_EMAIL:
        return None
    return address.lower()


def _build_email(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    def full_check(value: str) -> str:
        if len(value) > _MAX_EMAIL_TEXT:  # the library takes about 0.4 s for a megabyte of text
            raise ValueRejected(
                INVALID_EMAIL,
                f"{_show(value)} is not a valid email address: {len(value)} characters (at most {_MAX_EMAIL})",
            )
        try:
            valid = validate_email(value, check_deliverability=False)
        except EmailNotValidError as error:
            raise ValueRejected(
                INVALID_EMAIL, f"{_show(value)} is not a valid email address: {error}"
            ) from None
        return (valid.ascii_email or valid.normalized).lower()

    @functools.lru_cache(maxsize=16384)
    def domain_of(domain: str) -> str | None:
        """The normalised domain, or None when the domain alone makes an address invalid."""
        try:
            return validate_email(f"a@{domain}", check_deliverability=False).ascii_domain.lower()
        except EmailNotValidError:
            return None

    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise _mismatch(value, "an email address")
        text = value.strip()
        local, at, domain = text.rpartition("@")
        if at and len(local) <= _MAX_LOCAL and len(text) <= _MAX_EMAIL and _DOT_ATOM.match(local):
            normalised = domain_of(domain)
            if normalised is not None:
                return f"{local.lower()}@{normalised}"
        international = _international_email(value, domain_of)
        if international is not None:
            return international
        return full_check(value)  # rare shapes, and every invalid address: the library says why

    return convert


def _build_phone(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    region = item.phone.default_region if item is not None and item.phone is not None else None
    e164 = phonenumbers.PhoneNumberFormat.E164
    fast = FastPhoneParser(region).e164  # the library's answer for simple shapes, else None

    def parse(text: str) -> str:
        answer = fast(text)
        return answer if answer is not None else library_parse(text)

    @functools.lru_cache(maxsize=4096)
    def library_parse(text: str) -> str:
        # Without a region only "+CC" is understood; "00" is the international prefix of most countries.
        international = "+" + text[2:] if region is None and text.startswith("00") else text
        try:
            number = phonenumbers.parse(international, region)
        except phonenumbers.NumberParseException as error:
            raise ValueRejected(INVALID_PHONE, f"{_show(text)} is not a phone number: {error._msg}") from None
        if not phonenumbers.is_valid_number(number):
            raise ValueRejected(INVALID_PHONE, f"{_show(text)} is not a valid phone number")
        return str(phonenumbers.format_number(number, e164))

    def convert(value: Any) -> str:
        if isinstance(value, str):
            return parse(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise ValueRejected(INVALID_PHONE, f"{_show(value)} is not a phone number (negative)")
            # An integer column cannot keep a leading '+' or '00': without a region it is international.
            return parse(
                _str(value, INVALID_PHONE) if region is not None else f"+{_str(value, INVALID_PHONE)}"
            )
        raise _mismatch(value, "a phone number")

    return convert


@functools.cache
def _zone_names() -> dict[str, str]:
    """IANA zone names by their lower-case form."""
    return {name.lower(): name for name in zoneinfo.available_timezones() if name not in _NOT_IANA}


def _build_timezone(field_def: FieldDef, item: MappingItem | None, timezone: str) -> Coercer:
    names = _zone_names()

    def convert(value: Any) -> str:
        if isinstance(value, zoneinfo.ZoneInfo):
            value = value.key
        if isinstance(value, str):
            name = names.get(value.lower())
            if name is not None:
                return name
            raise ValueRejected(
                INVALID_TIMEZONE, f"{_show(value)} is not an IANA time zone (e.g. Europe/Berlin)"
            )
        raise _mismatch(value, "an IANA time zone name")

    return convert


_BUILDERS: dict[FieldType, _Builder] = {
    FieldType.INT: _build_int,
    FieldType.FLOAT: _build_float,
    FieldType.STRING: _build_string,
    FieldType.DATE: _build_date,
    FieldType.DATETIME: _build_datetime,
    FieldType.BOOL: _build_bool,
    FieldType.ENUM: _build_enum,
    FieldType.IP: _build_ip,
    FieldType.TAGS: _build_tags,
    FieldType.JSON: _build_json,
    FieldType.EMAIL: _build_email,
    FieldType.PHONE: _build_phone,
    FieldType.TIMEZONE: _build_timezone,
}
