"""The default, country-level location database: ``iptocc``'s RIR delegation data, embedded in its wheel.

It gives the ISO 3166 alpha-2 country a Regional Internet Registry assigned the address block to (no
region, city or postal code); the time zone follows where the country has exactly one.
"""

from __future__ import annotations

from collections.abc import Callable

from customer_import.geo.locator import COUNTRY_FIELDS, GeoDatabaseError, Location
from customer_import.geo.tzdb import country_codes, single_zone_countries


class CountrySource:
    """ISO country (and single-zone time zone) of a public address, offline."""

    fields = COUNTRY_FIELDS

    def __init__(self) -> None:
        try:
            import iptocc
        except ImportError as exc:  # a dependency of the provider; only a broken install lacks it
            raise GeoDatabaseError(
                f"ip_location: the country-level database needs the package iptocc ({exc}); "
                "reinstall airflow-provider-customer-import"
            ) from exc
        from importlib.metadata import version

        self._country_code: Callable[[str], str | None] = iptocc.country_code
        self._known = country_codes()
        self._zones = single_zone_countries()
        self.description = f"country level, iptocc {version('iptocc')} (RIR delegations)"

    def find(self, ip: str) -> Location | None:
        code = self._country_code(ip)
        if not code:
            return None
        code = code.upper()
        if self._known and code not in self._known:  # EU, AP, ZZ: registry codes that are no country
            return None
        return Location(country=code, timezone=self._zones.get(code))
