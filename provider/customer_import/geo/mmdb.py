"""A city-level location database: a MaxMind-format ``.mmdb`` file read with ``maxminddb``.

Records follow the GeoLite2-City / GeoIP2-City layout, which DB-IP's City databases share::

    {"country": {"iso_code": "DE"}, "subdivisions": [{"iso_code": "BE", "names": {"en": "Land Berlin"}}],
     "city": {"names": {"en": "Berlin"}}, "location": {"time_zone": "Europe/Berlin"}, "postal": {"code": "10115"}}

Names are the English ones (else any one the record has). A record without ``location.time_zone`` (DB-IP
Lite) takes the zone of a single-zone country. A Country database (GeoLite2-Country) fills the country only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from customer_import.geo.locator import COUNTRY_FIELDS, GEO_FIELDS, GeoDatabaseError, Location
from customer_import.geo.tzdb import single_zone_countries

LANGUAGE = "en"


def _at(record: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _name(entry: Any) -> str | None:
    names = _at(entry, "names")
    if not isinstance(names, dict) or not names:
        return None
    return _text(names.get(LANGUAGE)) or next((_text(n) for n in names.values() if _text(n)), None)


def location_of(record: Any, zones: dict[str, str]) -> Location | None:
    """A GeoLite2-City-layout record -> :class:`Location` (None when it says nothing of use)."""
    if not isinstance(record, dict):
        return None
    country = _text(_at(record, "country", "iso_code"))
    country = country.upper() if country else None
    subdivisions = record.get("subdivisions")
    first = subdivisions[0] if isinstance(subdivisions, list) and subdivisions else None
    location = Location(
        country=country,
        region=_name(first) or _text(_at(first, "iso_code")),
        city=_name(record.get("city")),
        timezone=_text(_at(record, "location", "time_zone")) or (zones.get(country) if country else None),
        postal_code=_text(_at(record, "postal", "code")),
    )
    return None if location == Location() else location


class MmdbSource:
    """Looks addresses up in one .mmdb file (memory-mapped)."""

    def __init__(self, path: Path, *, origin: str) -> None:
        if not path.is_file():
            raise GeoDatabaseError(
                f"the IP location database {str(path)!r} (from {origin}) does not exist or is not a file; "
                "put a MaxMind-format .mmdb file (GeoLite2-City, DB-IP City) there or change the setting"
            )
        import maxminddb

        try:
            self._reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise GeoDatabaseError(
                f"the IP location database {str(path)!r} (from {origin}) is not a readable MaxMind DB file: {exc}"
            ) from exc
        meta = self._reader.metadata()
        kind = str(meta.database_type)
        built = dt.datetime.fromtimestamp(meta.build_epoch, dt.UTC).date()
        self.description = f"{path} ({kind}, built {built.isoformat()})"
        lowered = kind.lower()
        self.fields = COUNTRY_FIELDS if "country" in lowered and "city" not in lowered else GEO_FIELDS
        self._ipv4_only = meta.ip_version == 4
        self._zones = single_zone_countries()

    def find(self, ip: str) -> Location | None:
        if self._ipv4_only and ":" in ip:
            return None
        try:
            record = self._reader.get(ip)
        except ValueError:
            return None
        return location_of(record, self._zones)

    def close(self) -> None:
        self._reader.close()
