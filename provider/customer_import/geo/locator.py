"""An IP address -> its :class:`Location`, through one location database, cached per run."""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from customer_import.exceptions import CustomerImportError

if TYPE_CHECKING:
    from customer_import.spec.database import ProfileDatabase
    from customer_import.spec.import_spec import ImportSpec

log = logging.getLogger(__name__)

# The profile fields IP location can fill, and those a country-level database fills.
GEO_FIELDS = ("country", "region", "city", "timezone", "postal_code")
COUNTRY_FIELDS = ("country", "timezone")
DEFAULT_CACHE_SIZE = 65_536
CONFIG_OPTION = "[customer_import] ip_location_mmdb (AIRFLOW__CUSTOMER_IMPORT__IP_LOCATION_MMDB)"


class GeoDatabaseError(CustomerImportError):
    """The IP location database cannot be opened (missing file, not a MaxMind DB, library missing)."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where an IP address is: ISO 3166 alpha-2 country, region and city names, IANA zone, postal code."""

    country: str | None = None
    region: str | None = None
    city: str | None = None
    timezone: str | None = None
    postal_code: str | None = None


class LocationSource(Protocol):
    """One location database, asked for one normalised public address at a time (uncached)."""

    @property
    def description(self) -> str:
        """What it is, for the run's log (library or file, and its date)."""
        ...

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields of :data:`GEO_FIELDS` it can fill."""
        ...

    def find(self, ip: str) -> Location | None: ...


def public_address(ip: str) -> str | None:
    """The normalised (compressed) text of a public unicast address, or None.

    Private, loopback, link-local, shared (100.64/10), reserved, multicast and unspecified addresses
    have no location, nor has text that is not an address. An IPv4-mapped IPv6 address (``::ffff:a.b.c.d``)
    is its IPv4 address.
    """
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return None
    return address.compressed


class GeoLocator:
    """Looks IP addresses up in one :class:`LocationSource`; built once per run, with an LRU cache keyed
    by the normalised address text, so a run asks the database once per distinct address."""

    def __init__(self, source: LocationSource, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.source = source
        self._find = functools.lru_cache(maxsize=cache_size)(source.find)

    @property
    def fields(self) -> tuple[str, ...]:
        return self.source.fields

    def lookup(self, ip: str) -> Location | None:
        """The location of ``ip``; None for a private, reserved, unknown or malformed address."""
        key = public_address(ip)
        return None if key is None else self._find(key)

    def cache_info(self) -> functools._CacheInfo:
        return self._find.cache_info()


def make_locator(mmdb_path: str | Path | None, *, origin: str = CONFIG_OPTION) -> GeoLocator:
    """A locator on the MaxMind-format file ``mmdb_path``, or on the country-level default without one.

    ``origin`` names where the path came from, for the message of a missing or unreadable file.
    """
    source: LocationSource
    if mmdb_path is None or str(mmdb_path) == "":
        from customer_import.geo.country import CountrySource

        source = CountrySource()
    else:
        from customer_import.geo.mmdb import MmdbSource

        source = MmdbSource(Path(mmdb_path).expanduser(), origin=origin)
    log.info("IP location: %s; fills %s", source.description, ", ".join(source.fields))
    return GeoLocator(source)


def locator_for(spec: ImportSpec) -> GeoLocator | None:
    """The locator one run of ``spec`` uses: None without ``target.ip_location``; the spec's own .mmdb
    file, else the configured one, else the country-level default."""
    if not spec.target.ip_location:
        return None
    mmdb = spec.target.ip_location_mmdb
    if mmdb is not None:
        return make_locator(mmdb, origin=f"target.ip_location.mmdb of import {spec.name!r}")
    from customer_import import config

    return make_locator(config.ip_location_mmdb(), origin=CONFIG_OPTION)


def fields_to_fill(spec: ImportSpec, database: ProfileDatabase, fillable: Iterable[str]) -> tuple[str, ...]:
    """Of the fields a locator can fill, those this import fills: never one the mapping names (its
    source value wins, even when empty), and only fields the profile database has."""
    if not spec.target.ip_location:
        return ()
    have = database.all_fields()
    return tuple(f for f in fillable if f in GEO_FIELDS and f in have and spec.mapped(f) is None)
