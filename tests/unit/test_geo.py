"""IP location (``target.ip_location``): the country-level default, a MaxMind-format .mmdb file built here
with mmdb-writer, private and reserved addresses, IPv6, the per-run cache, and the mapper never
overwriting a field the spec maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from customer_import.geo import (
    COUNTRY_FIELDS,
    GEO_FIELDS,
    GeoDatabaseError,
    GeoLocator,
    Location,
    fields_to_fill,
    locator_for,
    make_locator,
    public_address,
)
from customer_import.geo.tzdb import country_codes, single_zone_countries
from customer_import.mapping.mapper import Record, RowMapper
from customer_import.spec.import_spec import IpLocation
from customer_import.spec.vocab import FieldType
from customer_import.store.writer import plan_for, written_fields
from tests.helpers import make_database, make_spec

MMDB_ENV = "AIRFLOW__CUSTOMER_IMPORT__IP_LOCATION_MMDB"


def _city(
    country: str,
    city: str | None,
    region: str | None,
    region_code: str | None,
    time_zone: str | None,
    postal: str | None,
) -> dict[str, Any]:
    """A record in the GeoLite2-City layout."""
    record: dict[str, Any] = {
        "continent": {"code": "EU", "names": {"en": "Europe"}},
        "country": {"iso_code": country, "names": {"en": country}},
        "registered_country": {"iso_code": country},
        "location": {"latitude": 52.5, "longitude": 13.4, "accuracy_radius": 20},
    }
    if city is not None:
        record["city"] = {"geoname_id": 1, "names": {"de": city + " (de)", "en": city}}
    if region is not None:
        record["subdivisions"] = [{"iso_code": region_code, "names": {"en": region}}]
    if time_zone is not None:
        record["location"]["time_zone"] = time_zone
    if postal is not None:
        record["postal"] = {"code": postal}
    return record


# Public networks (documentation ranges are not global, so they would never be looked up).
NETWORKS: dict[str, dict[str, Any]] = {
    "81.2.69.0/24": _city("GB", "London", "England", "ENG", "Europe/London", "SW1A"),
    "89.160.20.112/28": _city("SE", "Linköping", "Östergötland County", "E", "Europe/Stockholm", "58x"),
    "5.9.0.0/16": _city("DE", "Berlin", "Land Berlin", "BE", "Europe/Berlin", "10115"),
    # DB-IP Lite records have no time zone and no postal code: the single zone of FR fills the zone.
    "2.1.0.0/16": _city("FR", "Paris", "Île-de-France", "IDF", None, None),
    "2001:218::/32": _city("JP", "Tokyo", "Tokyo", "13", "Asia/Tokyo", "100-0001"),
    # What a field cannot hold is left out: an unknown zone, a city longer than 255 characters.
    "193.0.0.0/24": _city("NL", "x" * 300, "Noord-Holland", "NH", "Mars/Olympus_Mons", "1012"),
}


def write_city_mmdb(path: Path, database_type: str = "GeoLite2-City") -> Path:
    """A small IPv6 database (IPv4 in its ::/96 subtree, as GeoLite2-City) with the records above."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en", "de"],
        description={"en": "customer-import test database", "de": "Testdatenbank"},
    )
    for network, record in NETWORKS.items():
        if database_type.endswith("Country"):
            record = {k: v for k, v in record.items() if k in ("continent", "country", "registered_country")}
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def city_mmdb(tmp_path: Path) -> Path:
    return write_city_mmdb(tmp_path / "GeoLite2-City-test.mmdb")


class CountingSource:
    """A location source that counts the lookups that reach it."""

    description = "counting test source"
    fields = GEO_FIELDS

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find(self, ip: str) -> Location | None:
        self.asked.append(ip)
        return Location(country="GB", region="England", city="London", timezone="Europe/London")


# --- addresses -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("81.2.69.160", "81.2.69.160"),
        (" 81.2.69.160 ", "81.2.69.160"),
        ("2001:0218:0000:0000:0000:0000:0000:0001", "2001:218::1"),
        ("2A00:1450:4001::1", "2a00:1450:4001::1"),
        ("::ffff:81.2.69.160", "81.2.69.160"),  # IPv4-mapped IPv6 is its IPv4 address
        ("10.1.2.3", None),  # private
        ("172.16.0.1", None),
        ("192.168.1.1", None),
        ("127.0.0.1", None),  # loopback
        ("100.64.0.1", None),  # shared (carrier-grade NAT)
        ("169.254.1.1", None),  # link-local
        ("224.0.0.1", None),  # multicast
        ("240.0.0.1", None),  # reserved
        ("0.0.0.0", None),
        ("203.0.113.9", None),  # documentation
        ("::1", None),
        ("fe80::1", None),
        ("fd00::1", None),  # unique local
        ("ff02::1", None),
        ("2001:db8::1", None),
        ("::ffff:10.0.0.1", None),
        ("not an ip", None),
        ("", None),
    ],
)
def test_only_public_unicast_addresses_are_located(ip: str, expected: str | None) -> None:
    assert public_address(ip) == expected


def test_private_and_reserved_addresses_never_reach_the_database() -> None:
    source = CountingSource()
    locator = GeoLocator(source)
    for ip in ("10.0.0.1", "192.168.0.10", "127.0.0.1", "::1", "fe80::1", "240.0.0.1", "garbage"):
        assert locator.lookup(ip) is None
    assert source.asked == []


# --- the tz database -------------------------------------------------------------------------------------


def test_time_zone_only_for_countries_with_exactly_one_zone() -> None:
    zones = single_zone_countries()
    assert zones["FR"] == "Europe/Paris"
    assert zones["JP"] == "Asia/Tokyo"
    assert zones["GB"] == "Europe/London"
    for several in ("US", "RU", "BR", "ES", "PT", "AU", "DE"):  # DE: Europe/Berlin and Europe/Busingen
        assert several not in zones
    assert {"DE", "US", "FR"} <= country_codes()
    assert "EU" not in country_codes()


# --- the country-level default (iptocc) --------------------------------------------------------------------


def test_default_locator_is_country_level_and_works_offline() -> None:
    locator = make_locator(None)
    assert locator.fields == COUNTRY_FIELDS == ("country", "timezone")
    assert locator.lookup("1.0.16.1") == Location(country="JP", timezone="Asia/Tokyo")
    assert locator.lookup("2001:218::1") == Location(country="JP", timezone="Asia/Tokyo")  # IPv6
    # Several zones: the country only, no guessed zone.
    assert locator.lookup("8.8.8.8") == Location(country="US")
    assert locator.lookup("5.9.0.1") == Location(country="DE")
    assert locator.lookup("::ffff:8.8.8.8") == Location(country="US")
    assert locator.lookup("192.168.0.1") is None


def test_default_locator_drops_registry_codes_that_are_no_country(monkeypatch: pytest.MonkeyPatch) -> None:
    from customer_import.geo.country import CountrySource

    source = CountrySource()
    monkeypatch.setattr(source, "_country_code", lambda ip: {"1.1.1.1": "EU", "2.2.2.2": "fr"}.get(ip))
    assert source.find("1.1.1.1") is None
    assert source.find("2.2.2.2") == Location(country="FR", timezone="Europe/Paris")
    assert source.find("3.3.3.3") is None


# --- a MaxMind-format city database ------------------------------------------------------------------------


def test_mmdb_gives_city_region_country_zone_and_postal_code(city_mmdb: Path) -> None:
    locator = make_locator(str(city_mmdb))
    assert locator.fields == GEO_FIELDS
    assert locator.lookup("81.2.69.160") == Location("GB", "England", "London", "Europe/London", "SW1A")
    assert locator.lookup("89.160.20.120") == Location(
        "SE", "Östergötland County", "Linköping", "Europe/Stockholm", "58x"
    )
    assert locator.lookup("::ffff:5.9.1.2") == Location(
        "DE", "Land Berlin", "Berlin", "Europe/Berlin", "10115"
    )


def test_mmdb_ipv6(city_mmdb: Path) -> None:
    locator = make_locator(city_mmdb)
    assert locator.lookup("2001:218:1234::42") == Location("JP", "Tokyo", "Tokyo", "Asia/Tokyo", "100-0001")
    assert locator.lookup("2a00:1450:4001::1") is None  # public, but not in this database


def test_mmdb_record_without_zone_takes_the_zone_of_a_single_zone_country(city_mmdb: Path) -> None:
    assert make_locator(city_mmdb).lookup("2.1.3.4") == Location(
        "FR", "Île-de-France", "Paris", "Europe/Paris"
    )


def test_mmdb_unknown_and_private_addresses_have_no_location(city_mmdb: Path) -> None:
    locator = make_locator(city_mmdb)
    assert locator.lookup("8.8.8.8") is None
    assert locator.lookup("10.0.0.1") is None
    assert locator.lookup("::1") is None


def test_a_country_mmdb_fills_the_country_fields_only(tmp_path: Path) -> None:
    path = write_city_mmdb(tmp_path / "GeoLite2-Country.mmdb", database_type="GeoLite2-Country")
    locator = make_locator(path)
    assert locator.fields == COUNTRY_FIELDS
    assert locator.lookup("81.2.69.1") == Location(country="GB", timezone="Europe/London")


def test_a_missing_or_unreadable_mmdb_fails_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(
        GeoDatabaseError, match=r"'/no/such/City\.mmdb' \(from \[customer_import\] ip_location"
    ):
        make_locator("/no/such/City.mmdb")
    not_mmdb = tmp_path / "notes.mmdb"
    not_mmdb.write_text("not a MaxMind database")
    with pytest.raises(GeoDatabaseError, match="is not a readable MaxMind DB file"):
        make_locator(not_mmdb, origin="target.ip_location.mmdb")


# --- the per-run cache -------------------------------------------------------------------------------------


def test_lookups_are_cached_by_the_normalised_address() -> None:
    source = CountingSource()
    locator = GeoLocator(source)
    forms = ["81.2.69.160", " 81.2.69.160", "::ffff:81.2.69.160", "81.2.69.160"]
    results = {locator.lookup(ip) for ip in forms}
    assert len(results) == 1
    assert source.asked == ["81.2.69.160"]
    for ip in ("2A00:1450:4001:0:0:0:0:1", "2a00:1450:4001::1"):
        locator.lookup(ip)
    assert source.asked == ["81.2.69.160", "2a00:1450:4001::1"]
    info = locator.cache_info()
    assert (info.misses, info.hits) == (2, 4)


def test_the_cache_is_an_lru_of_bounded_size() -> None:
    source = CountingSource()
    locator = GeoLocator(source, cache_size=2)
    for ip in ("1.0.16.1", "8.8.8.8", "1.0.16.1", "5.9.0.1", "8.8.8.8"):
        locator.lookup(ip)
    # 1.0.16.1 was used again, so 8.8.8.8 was the least recently used when 5.9.0.1 came in.
    assert source.asked == ["1.0.16.1", "8.8.8.8", "5.9.0.1", "8.8.8.8"]


def test_one_lookup_per_distinct_address_in_a_mapped_part() -> None:
    source = CountingSource()
    mapper = RowMapper(_geo_spec(), make_database(), ("email", "ip"), locator=GeoLocator(source))
    for n in range(50):
        mapper.map((f"user{n}@example.com", "81.2.69.160" if n % 2 else "81.2.69.161"), n)
    assert sorted(source.asked) == ["81.2.69.160", "81.2.69.161"]


# --- the mapper: filling, and never overwriting a mapped field ---------------------------------------------


def _geo_spec(ip_location: Any = True, extra: list[dict[str, str]] | None = None) -> Any:
    mapping = [{"field": "email", "column": "email"}, {"field": "ip", "column": "ip"}, *(extra or [])]
    return make_spec(target={"ip_location": ip_location}, mapping=mapping)


def test_mapper_fills_every_unmapped_geo_field(city_mmdb: Path) -> None:
    mapper = RowMapper(_geo_spec(), make_database(), ("email", "ip"), locator=make_locator(city_mmdb))
    record = mapper.map(("a@example.com", "81.2.69.160"), 1)
    assert isinstance(record, Record)
    assert record.values == {
        "email": "a@example.com",
        "ip": "81.2.69.160",
        "country": "GB",
        "region": "England",
        "city": "London",
        "timezone": "Europe/London",
        "postal_code": "SW1A",
    }


def test_a_mapped_field_keeps_the_source_value_even_when_empty(city_mmdb: Path) -> None:
    spec = _geo_spec(
        extra=[{"field": "city", "column": "city"}, {"field": "timezone", "column": "tz"}],
    )
    columns = ("email", "ip", "city", "tz")
    mapper = RowMapper(spec, make_database(), columns, locator=make_locator(city_mmdb))
    record = mapper.map(("a@example.com", "81.2.69.160", "Westminster", None), 1)
    assert isinstance(record, Record)
    assert record.values["city"] == "Westminster"  # the source's value, not London
    assert record.values["timezone"] is None  # mapped and empty: stays empty
    assert (record.values["country"], record.values["region"]) == ("GB", "England")
    empty = mapper.map(("b@example.com", "81.2.69.160", "  ", None), 2)
    assert isinstance(empty, Record)
    assert empty.values["city"] is None


def test_registration_ip_is_used_when_ip_is_empty(city_mmdb: Path) -> None:
    spec = _geo_spec(extra=[{"field": "registration_ip", "column": "signup_ip"}])
    mapper = RowMapper(spec, make_database(), ("email", "ip", "signup_ip"), locator=make_locator(city_mmdb))
    record = mapper.map(("a@example.com", None, "2001:218::7"), 1)
    assert isinstance(record, Record)
    assert (record.values["country"], record.values["city"]) == ("JP", "Tokyo")
    # With an ip, the ip wins, even when it has no location.
    private = mapper.map(("b@example.com", "10.0.0.1", "2001:218::7"), 2)
    assert isinstance(private, Record)
    assert private.values == {"email": "b@example.com", "ip": "10.0.0.1", "registration_ip": "2001:218::7"}


def test_no_location_leaves_the_geo_fields_out(city_mmdb: Path) -> None:
    mapper = RowMapper(_geo_spec(), make_database(), ("email", "ip"), locator=make_locator(city_mmdb))
    for n, ip in enumerate(("192.168.0.7", "8.8.8.8", None)):
        record = mapper.map((f"u{n}@example.com", ip), n)
        assert isinstance(record, Record)
        assert set(record.values) == {"email", "ip"}


def test_values_a_field_cannot_hold_are_left_empty(city_mmdb: Path) -> None:
    mapper = RowMapper(_geo_spec(), make_database(), ("email", "ip"), locator=make_locator(city_mmdb))
    record = mapper.map(("a@example.com", "193.0.0.10"), 1)
    assert isinstance(record, Record)
    assert record.values["country"] == "NL"
    assert record.values["region"] == "Noord-Holland"
    assert record.values["city"] is None  # 300 characters > max_length 255
    assert record.values["timezone"] is None  # not an IANA zone


def test_without_ip_location_the_mapper_fills_nothing(city_mmdb: Path) -> None:
    spec = _geo_spec(ip_location=False)
    mapper = RowMapper(spec, make_database(), ("email", "ip"), locator=make_locator(city_mmdb))
    record = mapper.map(("a@example.com", "81.2.69.160"), 1)
    assert isinstance(record, Record)
    assert set(record.values) == {"email", "ip"}


# --- what the store writes ----------------------------------------------------------------------------------


def test_written_fields_add_the_filled_fields_the_mapping_does_not_name() -> None:
    spec = _geo_spec(extra=[{"field": "city", "column": "city"}])
    database = make_database()
    filled = fields_to_fill(spec, database, GEO_FIELDS)
    assert filled == ("country", "region", "timezone", "postal_code")
    assert written_fields(spec, database, filled) == (
        ("email", FieldType.EMAIL),
        ("ip", FieldType.IP),
        ("city", FieldType.STRING),
        ("country", FieldType.STRING),
        ("region", FieldType.STRING),
        ("timezone", FieldType.TIMEZONE),
        ("postal_code", FieldType.STRING),
    )
    # The country-level default fills two fields: the others (city set by another import) are not touched.
    country_only = fields_to_fill(spec, database, COUNTRY_FIELDS)
    assert [name for name, _ in plan_for(spec, database, country_only).fields] == [
        "email",
        "ip",
        "city",
        "country",
        "timezone",
    ]
    assert fields_to_fill(_geo_spec(ip_location=False), database, GEO_FIELDS) == ()
    assert written_fields(spec, database) == (
        ("email", FieldType.EMAIL),
        ("ip", FieldType.IP),
        ("city", FieldType.STRING),
    )


# --- the spec forms and the configuration option ----------------------------------------------------------


def test_locator_for_follows_the_spec_then_the_configuration(
    city_mmdb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MMDB_ENV, raising=False)
    assert locator_for(_geo_spec(ip_location=False)) is None
    assert locator_for(_geo_spec()).fields == COUNTRY_FIELDS  # type: ignore[union-attr]

    monkeypatch.setenv(MMDB_ENV, str(city_mmdb))
    configured = locator_for(_geo_spec())
    assert configured is not None and configured.fields == GEO_FIELDS
    assert configured.lookup("81.2.69.1") == Location("GB", "England", "London", "Europe/London", "SW1A")

    other = write_city_mmdb(tmp_path / "other.mmdb", database_type="GeoLite2-Country")
    monkeypatch.setenv(MMDB_ENV, str(tmp_path / "gone.mmdb"))
    from_spec = locator_for(_geo_spec(ip_location={"mmdb": str(other)}))  # the spec's file wins
    assert from_spec is not None and from_spec.fields == COUNTRY_FIELDS

    with pytest.raises(GeoDatabaseError) as caught:
        locator_for(_geo_spec())
    assert str(tmp_path / "gone.mmdb") in str(caught.value)
    assert "AIRFLOW__CUSTOMER_IMPORT__IP_LOCATION_MMDB" in str(caught.value)


def test_ip_location_is_a_bool_or_an_mmdb_object() -> None:
    assert _geo_spec(ip_location=True).target.ip_location is True
    spec = _geo_spec(ip_location={"mmdb": "/data/GeoLite2-City.mmdb"})
    assert spec.target.ip_location == IpLocation(mmdb="/data/GeoLite2-City.mmdb")
    assert spec.target.ip_location_mmdb == "/data/GeoLite2-City.mmdb"
    assert _geo_spec(ip_location=True).target.ip_location_mmdb is None
    home = _geo_spec(ip_location={"mmdb": "~/geo/City.mmdb"}).target.ip_location_mmdb
    assert home is not None and home.startswith("/") and home.endswith("/geo/City.mmdb")


def test_json_schema_offers_both_forms() -> None:
    from customer_import.spec.schema import spec_json_schema

    schema = spec_json_schema()
    prop = schema["$defs"]["Target"]["properties"]["ip_location"]
    assert prop["oneOf"] == [{"type": "boolean"}, {"$ref": "#/$defs/IpLocation"}]
    assert "ip_location_mmdb" in prop["description"]
    assert schema["$defs"]["IpLocation"]["required"] == ["mmdb"]
    assert schema["$defs"]["IpLocation"]["additionalProperties"] is False


def test_the_option_is_declared_in_the_provider_manifest() -> None:
    from customer_import.get_provider_info import get_provider_info

    option = get_provider_info()["config"]["customer_import"]["options"]["ip_location_mmdb"]
    assert option["default"] == ""
    assert option["type"] == "string"
