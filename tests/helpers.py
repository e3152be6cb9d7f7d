"""Builders of specs and databases for tests (real models, validated like files are)."""

from __future__ import annotations

import copy
import os
from typing import Any

from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec

DATABASE: dict[str, Any] = {
    "name": "shop",
    "fields": {
        "crm_id": {"type": "int", "unique": True},
        "tier": {"type": "enum", "values": ["bronze", "silver", "gold"]},
        "interests": {"type": "tags"},
        "ltv": {"type": "float"},
        "vip": {"type": "bool"},
        "seen_at": {"type": "datetime"},
        "extra": {"type": "json"},
    },
}

SPEC: dict[str, Any] = {
    "name": "shop_import",
    "target": {"database": "shop", "mode": "upsert", "matching": {"by": "email_profile"}},
    "source": {"conn_id": "src", "query": "SELECT * FROM customers"},
    "mapping": [
        {"field": "email", "column": "email"},
        {"field": "first_name", "column": "first_name"},
        {"field": "crm_id", "column": "crm_id"},
    ],
}


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def make_database(**changes: Any) -> ProfileDatabase:
    return ProfileDatabase.model_validate(merge(DATABASE, changes))


def make_spec(**changes: Any) -> ImportSpec:
    return ImportSpec.model_validate(merge(SPEC, changes))


def property_examples(default: int) -> int:
    """How many examples a property-based test draws: ``default`` (the issue's floor, e.g. 10,000), unless
    ``CUSTOMER_IMPORT_PROPERTY_EXAMPLES`` says otherwise. The clock-shifted reruns
    (scripts/test_time_travel.sh) look for date bombs, not for new examples, and set it lower."""
    return int(os.environ.get("CUSTOMER_IMPORT_PROPERTY_EXAMPLES", default))
