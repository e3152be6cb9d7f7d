"""The column-wise mapper gives exactly the row mapper's output (customer_import.mapping.columnar).

The row mapper (``RowMapper.map_rows``) is the oracle. Each test maps the same batches with both and
compares every result field by field, with types (True is not 1, an aware datetime's offset counts, a
Rejection's raw value is the row's own object):

1. the value corpus (tests/corpus/messy_rows.yaml): every entry alone in a batch of its own value (the
   column-wise fast paths see one type), and all entries of a field together (mixed types), as the key
   column and beside one;
2. every valid spec of tests/corpus/specs (subscriptions, push and phone matching, ip_location) on rows
   drawn from the corpus' accepted and rejected values;
3. hypothesis: the four spec configurations of test_mapper_properties.py on arbitrary, plausible, hostile
   and phone/email-shaped batches long enough for the vectorised paths;
4. one large batch stream: 200,000 generated rows of the benchmark's shape and more phone regions and
   address shapes (1,000,000 rows go through both mappers with ``benchmarks/import_benchmark.py
   --check-mapper``).

Emails and phones have two column paths: loops (the task process, beside the fetching thread) and Arrow
kernels (mapping worker processes); every test runs both.

Each batch's known rows (customer_import.fingerprints: only the key is read) are compared too: the row
mapper reads their keys column-wise once a ColumnarMapper is built on it.

It also checks that the columnar path is really taken (a test that would pass with the feature removed is
not a test): the batch mapper is a ColumnarMapper for these specs, and the vectorised phone and email
paths answer most values of a clean batch themselves.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customer_import.mapping import columnar
from customer_import.mapping.batches import InlineBatchMapper, batch_mapper
from customer_import.mapping.columnar import ColumnarMapper
from customer_import.mapping.errors import Rejection
from customer_import.mapping.mapper import Record, RowMapper
from customer_import.mapping.phone_columns import ColumnPhoneParser
from customer_import.mapping.phones import FastPhoneParser
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.loader import load_project
from tests.helpers import make_database, make_spec, property_examples
from tests.unit.test_mapper_properties import (
    CONFIGS,
    PHONES,
    any_rows,
    columns_of,
    hostile_rows,
    mostly_good_rows,
)

CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus"
ENTRIES: list[dict[str, Any]] = yaml.safe_load((CORPUS_DIR / "messy_rows.yaml").read_text("utf-8"))
DATABASE = make_database()
FIELDS = DATABASE.all_fields()


# --- the comparison --------------------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type all the way down; an aware datetime's offset counts."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dt.datetime):
        return a == b and a.utcoffset() == b.utcoffset() and a.tzinfo == b.tzinfo
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b)


def assert_identical(expected: Sequence[Record | Rejection], actual: Sequence[Record | Rejection]) -> None:
    assert len(expected) == len(actual)
    for row, (old, new) in enumerate(zip(expected, actual, strict=True)):
        assert type(old) is type(new), (row, old, new)
        if isinstance(old, Rejection):
            assert (old.row, old.column, old.code, old.message) == (
                new.row,
                new.column,
                new.code,
                new.message,
            )
            assert same(old.cursor, new.cursor) and same(old.value, new.value), (row, old, new)
        else:
            assert isinstance(new, Record)
            assert old.row_no == new.row_no and old.key2 == new.key2, (row, old, new)
            assert same(old.cursor, new.cursor) and same(old.key, new.key), (row, old, new)
            assert same(old.values, new.values), (row, old.values, new.values)
            assert old.subscriptions == new.subscriptions, (row, old, new)


def both(
    spec: ImportSpec,
    database: ProfileDatabase,
    columns: tuple[str, ...],
    timezone: str | None = None,
    locator: Any = None,
    vectorised: bool = False,
) -> tuple[RowMapper, ColumnarMapper]:
    """The oracle and the columnar mapper, each with its own row mapper (no cache shared between them).
    ``vectorised``: emails and phones through Arrow (as in a mapping worker process), else in loops."""
    oracle = RowMapper(spec, database, columns, timezone=timezone, locator=locator)
    rows = RowMapper(spec, database, columns, timezone=timezone, locator=locator)
    return oracle, ColumnarMapper(spec, database, rows, vectorised)


def check(oracle: RowMapper, mapper: ColumnarMapper, rows: list[tuple[Any, ...]], first: int = 1) -> None:
    """Both mappers agree on the batch, and on the keys of its rows read as known rows (fingerprints)."""
    numbers = range(first, first + len(rows))
    assert_identical(oracle.map_rows(rows, numbers), mapper.map_rows(rows, numbers))
    assert oracle.key_column is None
    known, read = oracle.known_rows(rows, numbers), mapper._rows.known_rows(rows, numbers)
    assert len(known) == len(read)
    for old, new in zip(known, read, strict=True):
        assert (old is None and new is None) or same(tuple(old or ()), tuple(new or ())), (old, new)


# --- 1. the value corpus ---------------------------------------------------------------------------------

GOOD_EMAILS = [f"person{i}@example.com" for i in range(80)]


def _corpus_groups() -> dict[tuple[str, str, str, str], list[Any]]:
    """Corpus values by (field, date_format, default_region, timezone)."""
    groups: dict[tuple[str, str, str, str], list[Any]] = defaultdict(list)
    for entry in ENTRIES:
        options = entry.get("options") or {}
        key = (
            entry["field"],
            options.get("date_format", ""),
            options.get("default_region", ""),
            options.get("timezone", "UTC"),
        )
        groups[key].append(entry["raw"])
    return groups


GROUPS = _corpus_groups()


def _corpus_spec(field: str, date_format: str, region: str) -> ImportSpec:
    item: dict[str, Any] = {"field": field, "column": "raw"}
    if date_format:
        item["date_format"] = date_format
    if region:
        item["phone"] = {"default_region": region}
    mapping = [item] if field == "email" else [{"field": "email", "column": "email"}, item]
    source = {
        "conn_id": "src",
        "query": "SELECT * FROM t WHERE id > {lastItem}",
        "cursor": {"column": "id", "start_value": 0},
    }
    return make_spec(mapping=mapping, source=source)


@pytest.mark.parametrize("vectorised", [False, True], ids=["loops", "arrow"])
@pytest.mark.parametrize("group", sorted(GROUPS), ids=lambda g: "-".join(p for p in g if p))
def test_the_corpus_maps_identically(group: tuple[str, str, str, str], vectorised: bool) -> None:
    field, date_format, region, timezone = group
    spec = _corpus_spec(field, date_format, region)
    columns = ("id", "email", "raw")
    oracle, mapper = both(spec, DATABASE, columns, timezone, vectorised=vectorised)
    raws = GROUPS[group]

    def row(i: int, raw: Any) -> tuple[Any, ...]:
        return (i, raw if field == "email" else GOOD_EMAILS[i % 80], raw)

    # every value alone, in a batch long enough for the vectorised paths (one type in the column)
    for raw in raws:
        check(oracle, mapper, [row(i, raw) for i in range(70)])
    # all values of the field together, mixed with each other (and with empty values)
    mixed = [row(i, raws[i % len(raws)]) for i in range(max(70, 3 * len(raws)))]
    check(oracle, mapper, mixed)
    check(oracle, mapper, [*mixed, *((i, GOOD_EMAILS[i % 80], None) for i in range(10))])


# --- 2. the corpus specs ---------------------------------------------------------------------------------

ACCEPTED = defaultdict(list)
REJECTED = defaultdict(list)
for _entry in ENTRIES:
    if not (_entry.get("options") or {}):
        (REJECTED if "reject" in _entry else ACCEPTED)[FIELDS[_entry["field"]].type].append(_entry["raw"])


def _specs() -> list[tuple[ImportSpec, ProfileDatabase]]:
    project = load_project(
        sorted((CORPUS_DIR / "specs" / "valid").glob("*.yaml")),
        sorted((CORPUS_DIR / "profile_databases").glob("*.yaml")),
    )
    assert not project.problems, project.problems
    return [
        (loaded.model, project.databases[loaded.model.target.database].model)
        for _, loaded in sorted(project.specs.items())
    ]


SPECS = _specs()


def _pool(spec: ImportSpec, database: ProfileDatabase, column: str) -> list[Any]:
    """Values for one result column, by the role the spec gives it."""
    fields = database.all_fields()
    for item in spec.mapping:
        if item.column == column and item.field in fields:
            kind = fields[item.field].type
            good = ACCEPTED[kind] or ["x"]
            return [*good * 4, *REJECTED[kind], None]
    for subscription in spec.subscriptions:
        if column == subscription.status_column:
            return ["subscribed", " Unsubscribed ", "SUSPENDED", "maybe", None]
        if column == subscription.provider_column:
            return ["fcm", " apns ", "", None]
        if column == subscription.column:
            return [*GOOD_EMAILS[:5], "+49 30 1234567", "030 1234567", "not a contact", None]
    if column == spec.target.matching.provider_column:
        return ["fcm", "apns", None]
    return [*GOOD_EMAILS[:10], "+49 30 1234567", "tok-1", "tok-2", " ", None, 7]


@pytest.mark.parametrize("vectorised", [False, True], ids=["loops", "arrow"])
@pytest.mark.parametrize(("spec", "database"), SPECS, ids=[s.name for s, _ in SPECS])
def test_every_corpus_spec_maps_identically(
    spec: ImportSpec, database: ProfileDatabase, vectorised: bool
) -> None:
    columns = tuple(
        dict.fromkeys(
            c
            for c in (
                spec.source.cursor.column if spec.source.cursor else None,
                *(m.column for m in spec.mapping),
                *(c for s in spec.subscriptions for c in (s.column, s.status_column, s.provider_column)),
                spec.key_column(),
                spec.target.matching.provider_column,
            )
            if c
        )
    )
    from customer_import.geo.locator import locator_for

    oracle, mapper = both(spec, database, columns, locator=locator_for(spec), vectorised=vectorised)
    pools = [_pool(spec, database, column) for column in columns]
    rng = random.Random(spec.name)
    cursor = spec.source.cursor.column if spec.source.cursor else None
    for size in (1, 70, 400):
        rows = [
            tuple(
                i if column == cursor else rng.choice(pool)
                for column, pool in zip(columns, pools, strict=True)
            )
            for i in range(size)
        ]
        check(oracle, mapper, rows)


def test_the_corpus_specs_mostly_go_column_wise() -> None:
    """Most corpus specs take the columnar path (the others: a key not mapped as a field, push)."""
    chosen = [
        isinstance(InlineBatchMapper(spec, database).batch_mapper(_columns_of(spec)), ColumnarMapper)
        for spec, database in SPECS
    ]
    assert sum(chosen) >= len(chosen) // 2, chosen


def _columns_of(spec: ImportSpec) -> tuple[str, ...]:
    cursor = [spec.source.cursor.column] if spec.source.cursor else []
    others = [c for s in spec.subscriptions for c in (s.column, s.status_column, s.provider_column) if c]
    keys = [c for c in (spec.key_column(), spec.target.matching.provider_column) if c]
    return tuple(dict.fromkeys([*cursor, *(m.column for m in spec.mapping), *others, *keys]))


# --- 3. hypothesis ---------------------------------------------------------------------------------------

MAPPERS = {
    (name, vectorised): both(spec, DATABASE, columns_of(spec), timezone, vectorised=vectorised)
    for name, (spec, timezone) in CONFIGS.items()
    for vectorised in (False, True)
}
SHAPED_PHONES = st.one_of(
    PHONES,
    st.from_regex(r"\A ?(\+|00|0)?[0-9]{1,4}[ /.()-]?[0-9]{2,12} ?\Z"),
    st.sampled_from(
        ["+44 20 7946 0018", "0044 20 7946 0018", "+1 650 253 0000", "+7 495 123 45 67", "(030) 1234567"]
    ),
)
SHAPED_EMAILS = st.one_of(
    st.from_regex(r"\A ?[A-Za-z0-9._%+'-]{0,70}@[A-Za-z0-9.-]{0,30} ?\Z"),
    st.sampled_from(["Anna@Example.COM", "a@b", "a..b@example.com", "ünï@example.com", "a@exämple.com"]),
)


def shaped_rows(spec: ImportSpec) -> Any:
    """Plausible rows whose phone and email columns have the shapes the vectorised paths read."""
    base = mostly_good_rows(spec)

    def shape(row: tuple[Any, ...], phone: str, email: str) -> tuple[Any, ...]:
        columns = columns_of(spec)
        out = list(row)
        out[columns.index("phone")] = phone
        out[columns.index("email")] = email
        return tuple(out)

    return st.builds(shape, base, SHAPED_PHONES, SHAPED_EMAILS)


SETTINGS = settings(
    max_examples=property_examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@pytest.mark.parametrize("config", sorted(CONFIGS))
@SETTINGS
@given(data=st.data())
def test_generated_batches_map_identically(config: str, data: st.DataObject) -> None:
    spec, _ = CONFIGS[config]
    kind = data.draw(st.sampled_from(["any", "good", "shaped", "hostile"]), label="kind")
    strategy = {"any": any_rows, "good": mostly_good_rows, "shaped": shaped_rows, "hostile": hostile_rows}[
        kind
    ]
    rows = data.draw(st.lists(strategy(spec), min_size=1, max_size=80), label="rows")
    if kind in ("good", "shaped") and rows:  # long enough for the vectorised paths
        rows = (rows * (1 + 70 // len(rows)))[: max(70, len(rows))]
    check(*MAPPERS[config, data.draw(st.booleans(), label="vectorised")], rows)


@settings(max_examples=property_examples(200), deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), SHAPED_PHONES), min_size=64, max_size=120),
    region=st.sampled_from(["DE", "GB", "US", "FR", "AT", "CH", "JE", "BR"]),
)
def test_the_vectorised_phone_parser_is_the_fast_parser(texts: list[str | None], region: str) -> None:
    fast = FastPhoneParser(region)
    expected = [None if t is None or not t.strip() else fast.e164(t.strip()) for t in texts]
    assert ColumnPhoneParser(region).e164(texts) == expected


# --- 4. a large generated stream -------------------------------------------------------------------------

BENCH_DATABASE = ProfileDatabase.model_validate(
    {
        "name": "bench",
        "fields": {
            "crm_id": {"type": "int", "unique": True},
            "tier": {"type": "enum", "values": ["bronze", "silver", "gold"]},
            "ltv": {"type": "float"},
        },
    }
)
BENCH_MAPPING = [
    {"field": "email", "column": "email"},
    {"field": "phone", "column": "phone", "phone": {"default_region": "DE"}},
    {"field": "first_name", "column": "first_name"},
    {"field": "last_name", "column": "last_name"},
    {"field": "birth_date", "column": "birthday", "date_format": "%d.%m.%Y"},
    {"field": "gender", "column": "gender"},
    {"field": "city", "column": "city"},
    {"field": "country", "column": "country"},
    {"field": "crm_id", "column": "crm_id"},
    {"field": "tier", "column": "tier"},
    {"field": "ltv", "column": "ltv"},
    {"field": "registration_date", "column": "registered_at"},
]
BENCH_COLUMNS = (
    "id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "birthday",
    "gender",
    "city",
    "country",
    "crm_id",
    "tier",
    "ltv",
    "registered_at",
)
FIRST = ["Anna", "Ben", "Clara", "Zoë", "Łukasz", "Søren", "Chloé", " Emma ", "", None]
LAST = ["Müller", "Schmidt", "O'Brien", "García", "Dubois", "Smith", "\u00a0Weber", None]
DOMAINS = ["example.com", "mail.de", "post.at", "exemple.fr", "shop.co.uk", "EXAMPLE.org", "b"]


def generated_rows(start: int, count: int) -> list[tuple[Any, ...]]:
    """The benchmark's shape (benchmarks/import_benchmark.py) with more phone regions and shapes."""
    rng = random.Random(start)
    rows = []
    for i in range(start, start + count):
        n = i - 37 if i % 50 == 3 and i > 37 else i
        domain = DOMAINS[n % len(DOMAINS)]
        email = (
            f"customer{i}@@broken"
            if i % 300 == 7
            else f" Customer{n}@{domain.upper()} "
            if i % 50 == 3
            else f"customer.{n}+tag@{domain}"
            if i % 13 == 0
            else None
            if i % 97 == 0
            else f"customer{n}@{domain}"
        )
        digits = 20_000_000 + i
        phone = (
            None
            if i % 17 == 0
            else rng.choice(
                [
                    f"+49 30 {digits}",
                    f"030 {30_000_000 + i}",
                    f"+43 1 {2_000_000 + i}",
                    f"+33 1 {str(digits)[:2]} {str(digits)[2:4]} {str(digits)[4:6]} {str(digits)[6:]}",
                    f"0044 20 {str(70_000_000 + i)[:4]} {str(70_000_000 + i)[4:]}",
                    f"+44 7700 {900000 + i % 1000:06d}",
                    f"+1 650-253-{i % 10000:04d}",
                    f"0151 {rng.randrange(10**7, 10**8)}",
                    "+49 12",
                    f"(0{i % 1000}) {i}",
                    f"+7 495 {i % 1000:03d} {i % 100:02d} {i % 97:02d}",
                    f"00{i % 1000} {i}",
                    " ",
                    "+49-30-1234567 ext 9",
                ]
            )
        )
        birthday = (
            f"31.02.{1950 + i % 50}"
            if i % 300 == 207
            else (dt.date(1950, 1, 1) + dt.timedelta(days=(i * 7919) % 20000)).strftime("%d.%m.%Y")
        )
        rows.append(
            (
                i,
                email,
                phone,
                FIRST[i % len(FIRST)],
                LAST[(i // 10) % len(LAST)],
                birthday,
                ["male", "female", "Female", None, "divers"][i % 5],
                ["Berlin", "Wien", "Paris", "London"][i % 4],
                ["DE", "AT", "FR", "GB"][i % 4],
                1_000_000_000 + i if i % 211 else None,
                ["bronze", "silver", "gold", "Gold", " SILVER ", "platinum"][(i // 3) % 6],
                round(((i * 37) % 100000) / 100.0, 2) if i % 401 else float("nan"),
                dt.datetime(2015, 1, 1) + dt.timedelta(minutes=7 * i),
            )
        )
    return rows


@pytest.mark.parametrize(("vectorised", "count"), [(False, 200_000), (True, 50_000)], ids=["loops", "arrow"])
def test_200k_generated_rows_map_identically(vectorised: bool, count: int) -> None:
    """200,000 rows as the task process maps them; 50,000 more as a mapping worker does (Arrow)."""
    spec = make_spec(
        name="bench_customers",
        target={"database": "bench", "mode": "upsert", "matching": {"by": "email_profile"}},
        source={
            "conn_id": "src",
            "query": "SELECT * FROM customers WHERE id > {lastItem}",
            "cursor": {"column": "id", "start_value": 0},
        },
        mapping=BENCH_MAPPING,
    )
    oracle, mapper = both(spec, BENCH_DATABASE, BENCH_COLUMNS, vectorised=vectorised)
    batch = 10_000
    for start in range(1, count + 1, batch):
        check(oracle, mapper, generated_rows(start, batch), start)


@pytest.mark.parametrize("vectorised", [False, True], ids=["loops", "arrow"])
def test_the_columnar_paths_answer_clean_batches_themselves(
    monkeypatch: pytest.MonkeyPatch, vectorised: bool
) -> None:
    """The columnar paths decide most values without the row coercer: counted by wrapping it."""
    spec = make_spec(
        name="bench_customers",
        target={"database": "bench", "mode": "upsert", "matching": {"by": "email_profile"}},
        source={
            "conn_id": "src",
            "query": "SELECT * FROM t WHERE id > {lastItem}",
            "cursor": {"column": "id", "start_value": 0},
        },
        mapping=BENCH_MAPPING,
    )
    rows = generated_rows(1, 2000)
    calls: defaultdict[str, int] = defaultdict(int)
    original = columnar._column_path

    def counting(field_def: Any, coerce: Any, item: Any, timezone: str, vectorised: bool) -> Any:
        def counted(value: Any) -> Any:
            calls[str(field_def.type)] += 1
            return coerce(value)

        return original(field_def, counted, item, timezone, vectorised)

    monkeypatch.setattr(columnar, "_column_path", counting)
    _, mapper = both(spec, BENCH_DATABASE, BENCH_COLUMNS, vectorised=vectorised)
    mapper.map_rows(rows, range(1, len(rows) + 1))
    assert calls["email"] < len(rows) // 5, calls
    assert calls["phone"] < len(rows) // 2, calls
    assert calls["int"] == 0 and calls["datetime"] == 0, calls
    assert calls["string"] + calls["enum"] < len(rows), calls  # once per distinct value, not per row
    assert mapper._rows.key_column is not None


def test_the_batch_mapper_is_columnar_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    spec, _ = CONFIGS["email"]
    columns = columns_of(spec)
    assert isinstance(batch_mapper(spec, DATABASE, None, 0).batch_mapper(columns), ColumnarMapper)
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__COLUMNAR_MAPPING", "false")
    assert type(batch_mapper(spec, DATABASE, None, 0).batch_mapper(columns)) is RowMapper


def test_tags_repeated_in_a_batch_are_mapped_once_into_lists_of_their_own() -> None:
    """Tags text is coerced once per distinct text (as other text columns); every row still gets its own list (a
    record that changes its tags never changes another's), and a rejected text is the row mapper's."""
    spec = make_spec(
        mapping=[{"field": "email", "column": "email"}, {"field": "interests", "column": "tags"}]
    )
    database = make_database()
    oracle, mapper = both(spec, database, ("email", "tags"))
    rows = [(f"c{n}@example.com", "golf; tennis" if n % 3 else "[1, [2]]") for n in range(30)]
    rows += [("x@example.com", None), ("y@example.com", "  ")]
    check(oracle, mapper, rows)
    mapped = mapper.map_rows(rows, range(1, len(rows) + 1))
    lists = [m.values["interests"] for m in mapped if isinstance(m, Record) and m.values["interests"]]
    assert len(lists) == 20 and all(tags == ["golf", "tennis"] for tags in lists)
    assert len({id(tags) for tags in lists}) == len(lists)
    assert sum(isinstance(m, Rejection) for m in mapped) == 10


@pytest.mark.parametrize("timezone", ["Europe/Berlin", "UTC", "America/St_Johns"])
def test_datetime_text_read_in_one_loop_is_the_coercers(timezone: str) -> None:
    """ISO timestamps given as text (no date_format) are read column-wise with the row coercer's exact
    answers: naive times in the spec's zone (a DST gap shifted forward, an ambiguous time's first
    occurrence), offsets, padding, blanks, and every text it rejects (mapped again for the message)."""
    spec = make_spec(mapping=[{"field": "email", "column": "email"}, {"field": "seen_at", "column": "s"}])
    texts = [
        "2026-03-29 02:30:00",  # Berlin: in the spring-forward gap
        "2026-10-25 02:30:00",  # Berlin: ambiguous
        "2026-11-01T01:30:00",  # St John's and others: around their own changes
        " 2026-07-01T12:00:00+05:30 ",
        "2026-07-01T12:00:00Z",
        "2026-07-01",
        "20260701T120000",
        "0001-01-01T00:30:00",  # before UTC's year 1 in a zone east of it: out of range
        "9999-12-31T23:59:59-03:00",  # after year 9999 in UTC
        "",
        "   ",
        None,
        "yesterday",
        "2026-02-30 10:00:00",
    ]
    oracle, mapper = both(spec, make_database(), ("email", "s"), timezone=timezone)
    rows = [(f"p{n}@example.com", text) for n, text in enumerate(texts * 3)]
    check(oracle, mapper, rows)
