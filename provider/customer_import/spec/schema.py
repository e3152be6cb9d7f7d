"""JSON Schema of the import spec and the profile database, exported from the pydantic models."""

from __future__ import annotations

from typing import Any

from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec


def spec_json_schema(kind: str = "spec") -> dict[str, Any]:
    model = ImportSpec if kind == "spec" else ProfileDatabase
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "customer-import spec" if kind == "spec" else "customer-import profile database"
    return schema
