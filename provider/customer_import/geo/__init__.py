"""IP location: fill a profile's country, region, city, timezone and postal code from its IP, offline.

``locator`` holds the pieces every database shares (the :class:`Location` value, the per-run LRU cache,
the public-address filter and the factory); ``country`` is the default country-level database shipped by
a PyPI package, ``mmdb`` reads a MaxMind-format city database, ``tzdb`` derives country facts from the
tz database. Nothing here imports a lookup library at module level.
"""

from __future__ import annotations

from customer_import.geo.locator import (
    COUNTRY_FIELDS,
    GEO_FIELDS,
    GeoDatabaseError,
    GeoLocator,
    Location,
    LocationSource,
    fields_to_fill,
    locator_for,
    make_locator,
    public_address,
)

__all__ = [
    "COUNTRY_FIELDS",
    "GEO_FIELDS",
    "GeoDatabaseError",
    "GeoLocator",
    "Location",
    "LocationSource",
    "fields_to_fill",
    "locator_for",
    "make_locator",
    "public_address",
]
