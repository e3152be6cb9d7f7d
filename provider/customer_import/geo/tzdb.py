"""Country facts from the tz database shipped by the ``tzdata`` package (else the system's zoneinfo):
the ISO 3166 alpha-2 codes (``iso3166.tab``) and each country's zones (``zone.tab``)."""

from __future__ import annotations

import functools
import zoneinfo
from pathlib import Path


def _table(name: str) -> list[list[str]]:
    """The rows of a tab-separated table of the tz database, without comments; [] if none is installed."""
    text: str | None = None
    try:
        from importlib.resources import files

        text = (files("tzdata.zoneinfo") / name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        for folder in zoneinfo.TZPATH:
            path = Path(folder) / name
            if path.is_file():
                text = path.read_text(encoding="utf-8")
                break
    if text is None:
        return []
    return [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]


@functools.cache
def country_codes() -> frozenset[str]:
    """Every ISO 3166 alpha-2 code the tz database knows (``iso3166.tab``)."""
    return frozenset(row[0] for row in _table("iso3166.tab") if len(row[0]) == 2)


@functools.cache
def single_zone_countries() -> dict[str, str]:
    """Country code -> its zone, for each country with exactly one zone in ``zone.tab``.

    Countries with several zones get none: the US, Russia, Brazil, Spain (Canaries), Portugal (Azores)
    and also Germany (Europe/Busingen keeps Swiss time) are left without a guessed time zone.
    """
    zones: dict[str, list[str]] = {}
    for row in _table("zone.tab"):
        if len(row) >= 3:
            zones.setdefault(row[0], []).append(row[2])
    return {code: names[0] for code, names in zones.items() if len(names) == 1}
