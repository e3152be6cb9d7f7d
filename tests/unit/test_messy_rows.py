"""Clean data in: messy source values, whole messy rows, and generated rows of several locales.

1. ``tests/corpus/messy_rows.yaml``: hand-picked edge cases, each checked through ``make_coercer`` against
   its expected normalised value (compared with its type) or its error code. An entry with ``bug:`` states
   the correct outcome of a known bug and is ``xfail(strict=True)``, so the fix makes it fail until the
   marker is removed.
2. Whole rows through :class:`RowMapper`: a clean but messy row, a row with several bad columns (the
   rejection names the first and lists the others), NULL vs empty vs whitespace, an empty matching key.
3. Faker rows in six locales, deterministic: the expected values are computed here, independently of the
   code under test (emails lower-cased, names stripped, dates as the generated date objects, phone numbers
   built from ``phonenumbers`` metadata with their E.164 form).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
import yaml
from faker import Faker

from customer_import.mapping import errors
from customer_import.mapping.coerce import make_coercer
from customer_import.mapping.errors import Rejection, ValueRejected
from customer_import.mapping.mapper import Record, RowMapper
from customer_import.spec.database import FieldDef
from customer_import.spec.import_spec import MappingItem, PhoneOptions
from customer_import.spec.vocab import FieldType
from tests.helpers import make_database, make_spec

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "messy_rows.yaml"
ENTRIES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
DATABASE = make_database()
FIELDS: dict[str, FieldDef] = DATABASE.all_fields()
CODES = frozenset(v for k, v in vars(errors).items() if k.isupper() and isinstance(v, str))

ENTRY_KEYS = frozenset({"field", "raw", "options", "expect", "reject", "note", "bug"})
OPTION_KEYS = frozenset({"date_format", "default_region", "timezone"})


def same(actual: Any, expected: Any) -> bool:
    """Equal and of the same type, all the way down (True is not 1, 1000 is not 1000.0)."""
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same(actual[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, dt.datetime):
        return actual == expected and actual.utcoffset() == expected.utcoffset()
    return bool(actual == expected)


def coercer_for(entry: dict[str, Any]) -> Any:
    options = entry.get("options") or {}
    region = options.get("default_region")
    item = MappingItem(
        field=entry["field"],
        column="raw",
        date_format=options.get("date_format"),
        phone=PhoneOptions(default_region=region) if region else None,
    )
    return make_coercer(FIELDS[entry["field"]], item, options.get("timezone", "UTC"))


def _entry_id(index: int, entry: dict[str, Any]) -> str:
    raw = repr(entry["raw"])
    return f"{index:03d}-{entry['field']}-{raw if len(raw) <= 40 else raw[:37] + '...'}"


def _params() -> list[Any]:
    params = []
    for index, entry in enumerate(ENTRIES):
        marks = [pytest.mark.xfail(strict=True, reason=entry["bug"])] if "bug" in entry else []
        params.append(pytest.param(entry, id=_entry_id(index, entry), marks=marks))
    return params


# --- 1. the corpus ----------------------------------------------------------------------------------------


def test_corpus_is_well_formed_and_covers_every_field_type() -> None:
    assert len(ENTRIES) >= 80
    for index, entry in enumerate(ENTRIES):
        where = f"entry {index} ({entry!r})"
        assert set(entry) <= ENTRY_KEYS, where
        assert {"field", "raw"} <= set(entry), where
        assert ("expect" in entry) != ("reject" in entry), f"{where}: exactly one of expect / reject"
        assert entry["field"] in FIELDS, where
        assert set(entry.get("options") or {}) <= OPTION_KEYS, where
        if "reject" in entry:
            assert entry["reject"] in CODES, where
    accepted = {FIELDS[e["field"]].type for e in ENTRIES if "expect" in e and e["expect"] is not None}
    rejected = {FIELDS[e["field"]].type for e in ENTRIES if "reject" in e}
    assert accepted == rejected == set(FieldType)


@pytest.mark.parametrize("entry", _params())
def test_messy_value(entry: dict[str, Any]) -> None:
    coerce = coercer_for(entry)
    if "reject" in entry:
        with pytest.raises(ValueRejected) as caught:
            coerce(entry["raw"])
        assert caught.value.code == entry["reject"], caught.value.message
        assert caught.value.message
    else:
        result = coerce(entry["raw"])
        assert same(result, entry["expect"]), f"{result!r} ({type(result).__name__}) != {entry['expect']!r}"


@pytest.mark.parametrize("raw", ["fe80::1%\x00", "fe80::1%a b", "fe80::1%" + "x" * 300])
def test_ip_zone_id_never_carries_garbage_into_the_store(raw: str) -> None:
    # Either outcome is correct: the address without its zone id, or a rejection.
    coerce = coercer_for({"field": "ip", "raw": raw})
    try:
        outcome = coerce(raw)
    except ValueRejected as rejected:
        outcome = rejected.code
    assert outcome in ("fe80::1", errors.INVALID_IP)


# --- 2. whole rows through the mapper --------------------------------------------------------------------

ROW_SPEC_CHANGES: dict[str, Any] = {
    "source": {
        "conn_id": "src",
        "query": "SELECT * FROM customers WHERE id > {lastItem}",
        "cursor": {"column": "id", "start_value": 0},
    },
    "mapping": [
        {"field": "email", "column": "email"},
        {"field": "phone", "column": "phone", "phone": {"default_region": "DE"}},
        {"field": "first_name", "column": "first_name"},
        {"field": "birth_date", "column": "birthday", "date_format": "%d.%m.%Y"},
        {"field": "ip", "column": "last_ip"},
        {"field": "crm_id", "column": "crm_id"},
        {"field": "tier", "column": "tier"},
        {"field": "interests", "column": "interests"},
        {"field": "vip", "column": "vip"},
        {"field": "extra", "column": "extra"},
    ],
}
ROW_SPEC = make_spec(**ROW_SPEC_CHANGES)
ROW_COLUMNS = (
    "id",
    "email",
    "phone",
    "first_name",
    "birthday",
    "last_ip",
    "crm_id",
    "tier",
    "interests",
    "vip",
    "extra",
)
MESSY_ROW = (
    17,
    "  Ann.Lee@Example.COM ",
    "030 1234567",
    "\u00a0Zoë ",
    "29.02.2024",
    " 2001:0DB8:0000::1 ",
    "1e3",
    "GOLD",
    "vip; newsletter, vip",
    " yes ",
    '{"src": "crm", "score": 1.5}',
)
MESSY_ROW_VALUES = {
    "email": "ann.lee@example.com",
    "phone": "+49301234567",
    "first_name": "Zoë",
    "birth_date": dt.date(2024, 2, 29),
    "ip": "2001:db8::1",
    "crm_id": 1000,
    "tier": "gold",
    "interests": ["vip", "newsletter"],
    "vip": True,
    "extra": {"src": "crm", "score": 1.5},
}


def row_mapper(columns: tuple[str, ...] = ROW_COLUMNS, **spec_changes: Any) -> RowMapper:
    spec = make_spec(**{**ROW_SPEC_CHANGES, **spec_changes})
    return RowMapper(spec, DATABASE, columns, timezone="Europe/Berlin")


def test_a_messy_but_valid_row_becomes_a_clean_record() -> None:
    result = row_mapper().map(MESSY_ROW, 1)
    assert result == Record(row_no=1, cursor=17, key="ann.lee@example.com", values=MESSY_ROW_VALUES)
    assert all(same(result.values[k], v) for k, v in MESSY_ROW_VALUES.items())


def test_result_column_names_are_found_case_insensitively() -> None:
    # Oracle upper-cases unquoted column names.
    result = row_mapper(tuple(c.upper() for c in ROW_COLUMNS)).map(MESSY_ROW, 3)
    assert result == Record(row_no=3, cursor=17, key="ann.lee@example.com", values=MESSY_ROW_VALUES)


def test_a_row_with_several_bad_columns_names_the_first_and_lists_the_others() -> None:
    row = (
        18,
        "Ann <ann@example.com>",  # invalid_email: the first bad column
        "12",  # invalid_phone
        "Zoë",
        "29.02.2023",  # invalid_date
        "10.0.0.1",
        "1.5",  # type_mismatch
        "platinum",  # invalid_enum
        "a, b",
        "maybe",  # type_mismatch
        "{bad",  # invalid_json
    )
    result = row_mapper().map(row, 2)
    assert isinstance(result, Rejection)
    assert (result.row, result.cursor, result.column, result.code) == (2, 18, "email", errors.INVALID_EMAIL)
    assert result.value == "Ann <ann@example.com>"
    with pytest.raises(ValueRejected) as first:
        make_coercer(FIELDS["email"], ROW_SPEC.mapping[0], "UTC")(row[1])
    assert result.message.startswith(first.value.message)
    others = [
        "phone: invalid_phone",
        "birthday: invalid_date",
        "crm_id: type_mismatch",
        "tier: invalid_enum",
        "vip: type_mismatch",
        "extra: invalid_json",
    ]
    positions = [result.message.find(other) for other in others]
    assert -1 not in positions, result.message
    assert positions == sorted(positions), "the others are listed in mapping order"
    assert "email: invalid_email" not in result.message
    assert (
        "first_name" not in result.message
        and "last_ip" not in result.message
        and "interests" not in result.message
    )


def test_one_bad_column_is_reported_alone() -> None:
    row = (*MESSY_ROW[:7], "platinum", *MESSY_ROW[8:])
    result = row_mapper().map(row, 4)
    assert isinstance(result, Rejection)
    assert (result.column, result.code, result.value, result.cursor) == (
        "tier",
        errors.INVALID_ENUM,
        "platinum",
        17,
    )
    assert "also" not in result.message


def test_null_empty_and_whitespace_cells_are_all_empty_values() -> None:
    row = (19, "b@example.com", None, "", "   ", None, "\t", "\u00a0", "", None, "\n")
    result = row_mapper().map(row, 5)
    assert isinstance(result, Record)
    assert result.key == "b@example.com"
    assert result.values == {"email": "b@example.com", **dict.fromkeys(list(MESSY_ROW_VALUES)[1:])}


@pytest.mark.parametrize("email", [None, "", "   ", b"  "])
def test_an_empty_matching_value_rejects_the_row(email: Any) -> None:
    row = (20, email, *MESSY_ROW[2:])
    result = row_mapper().map(row, 6)
    assert isinstance(result, Rejection)
    assert (result.column, result.code, result.cursor, result.row) == ("email", errors.EMPTY_MATCH_KEY, 20, 6)
    assert result.value == email


def test_a_bad_value_is_reported_before_an_empty_matching_value() -> None:
    row = (21, "  ", *MESSY_ROW[2:6], "1.5", *MESSY_ROW[7:])
    result = row_mapper().map(row, 7)
    assert isinstance(result, Rejection)
    assert (result.column, result.code) == ("crm_id", errors.TYPE_MISMATCH)


def test_custom_matching_uses_the_normalised_key() -> None:
    mapper = row_mapper(
        target={"database": "shop", "mode": "upsert", "matching": {"by": "custom", "field": "crm_id"}}
    )
    result = mapper.map(MESSY_ROW, 8)
    assert isinstance(result, Record)
    assert same(result.key, 1000)


def test_profile_id_matching_takes_the_key_out_of_the_values() -> None:
    mapping = [{"field": "profile_id", "column": "id"}, *ROW_SPEC_CHANGES["mapping"]]
    mapper = row_mapper(
        target={"database": "shop", "mode": "update_only", "matching": {"by": "profile_id"}}, mapping=mapping
    )
    result = mapper.map((" 42 ", *MESSY_ROW[1:]), 9)
    assert result == Record(row_no=9, cursor=" 42 ", key=42, values=MESSY_ROW_VALUES)
    bad = mapper.map(("4.2", *MESSY_ROW[1:]), 10)
    assert isinstance(bad, Rejection)
    assert (bad.column, bad.code) == ("id", errors.TYPE_MISMATCH)


# --- 3. Faker rows in several locales --------------------------------------------------------------------

SEED = 20260501
ROWS_PER_LOCALE = 200
# locale -> (phone default_region, the date_format its sources typically use)
LOCALES: dict[str, tuple[str, str]] = {
    "de_DE": ("DE", "%d.%m.%Y"),
    "fr_FR": ("FR", "%d/%m/%Y"),
    "en_GB": ("GB", "%d/%m/%Y"),
    "ja_JP": ("JP", "%Y年%m月%d日"),
    "pt_BR": ("BR", "%d/%m/%Y"),
    "pl_PL": ("PL", "%d.%m.%Y"),
}
FAKER_COLUMNS = ("email", "first_name", "birth_date", "ip", "registration_ip", "phone")
PADDING = ("", "", " ", "  ", "\t", "\n", "\u00a0", "\u3000")
PHONE_TYPES = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
# faker.date_of_birth() counts back from today; a fixed reference keeps the rows the same on every run.
BIRTH_RANGE = (dt.date(1911, 1, 1), dt.date(2026, 1, 1))


def faker_mapper(region: str, date_format: str) -> RowMapper:
    spec = make_spec(
        mapping=[
            {"field": "email", "column": "email"},
            {"field": "first_name", "column": "first_name"},
            {"field": "birth_date", "column": "birth_date", "date_format": date_format},
            {"field": "ip", "column": "ip"},
            {"field": "registration_ip", "column": "registration_ip"},
            {"field": "phone", "column": "phone", "phone": {"default_region": region}},
        ]
    )
    return RowMapper(spec, DATABASE, FAKER_COLUMNS, timezone="UTC")


def pad(rng: random.Random, text: str) -> str:
    return rng.choice(PADDING) + text + rng.choice(PADDING)


def messy_case(rng: random.Random, email: str) -> str:
    local, domain = email.split("@")
    return rng.choice(
        [email, email.upper(), email.title(), f"{local}@{domain.upper()}", f"{local.upper()}@{domain}"]
    )


def valid_number(rng: random.Random, region: str) -> phonenumbers.PhoneNumber:
    """A valid number of the region: its example number with random last digits, kept only if valid."""
    example = phonenumbers.example_number_for_type(region, rng.choice(PHONE_TYPES))
    digits = str(example.national_number)
    while True:
        tail = "".join(rng.choice("0123456789") for _ in range(4))
        number = phonenumbers.PhoneNumber(
            country_code=example.country_code, national_number=int(digits[:-4] + tail)
        )
        if phonenumbers.is_valid_number(number):
            return number


def phone_cell(rng: random.Random, fake: Faker, region: str) -> tuple[str, str | None]:
    """A phone text and its expected E.164 (None: not a valid number, the row is rejected)."""
    if rng.random() < 0.3:
        # Faker's numbers are often invalid: the expectation comes from phonenumbers directly.
        text = fake.phone_number()
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return text, None
        if not phonenumbers.is_valid_number(parsed):
            return text, None
        return text, phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    number = valid_number(rng, region)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    formats = [
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        e164,
    ]
    if phonenumbers.PhoneMetadata.metadata_for_region(region).international_prefix == "00":
        formats.append("00 " + e164[1:])
    return pad(rng, rng.choice(formats)), e164


def ipv6_cell(rng: random.Random, address: str) -> str:
    parsed = ipaddress.IPv6Address(address)
    return pad(rng, rng.choice([address, address.upper(), parsed.exploded, parsed.exploded.upper()]))


@pytest.mark.parametrize("locale", list(LOCALES))
def test_faker_rows_are_normalised_exactly(locale: str) -> None:
    region, date_format = LOCALES[locale]
    fake = Faker(locale)
    fake.seed_instance(SEED)
    rng = random.Random(f"{SEED}-{locale}")
    mapper = faker_mapper(region, date_format)
    records = rejected_phones = 0
    for row_no in range(1, ROWS_PER_LOCALE + 1):
        email = fake.email()
        first_name = fake.first_name()
        birth_date = fake.date_between_dates(*BIRTH_RANGE)
        ipv4 = fake.ipv4_private()
        ipv6 = fake.ipv6()
        phone, e164 = phone_cell(rng, fake, region)
        row = (
            pad(rng, messy_case(rng, email)),
            pad(rng, first_name),
            birth_date if rng.random() < 0.1 else pad(rng, birth_date.strftime(date_format)),
            pad(rng, ipv4),
            ipv6_cell(rng, ipv6),
            phone,
        )
        result = mapper.map(row, row_no)
        if e164 is None:
            assert isinstance(result, Rejection), (row, result)
            assert (result.column, result.code, result.value) == ("phone", errors.INVALID_PHONE, phone)
            assert "also" not in result.message, result.message
            rejected_phones += 1
            continue
        expected = {
            "email": email.lower(),
            "first_name": first_name,
            "birth_date": birth_date,
            "ip": ipv4,
            "registration_ip": str(ipaddress.IPv6Address(ipv6)),
            "phone": e164,
        }
        assert result == Record(row_no=row_no, cursor=None, key=email.lower(), values=expected), row
        records += 1
    assert records + rejected_phones == ROWS_PER_LOCALE
    assert records >= ROWS_PER_LOCALE * 0.7
