"""The profile database definition (``include/profile_databases/<name>.yaml``) and the standard fields."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from customer_import.spec.vocab import CUSTOM_FIELD_TYPES, Channel, FieldType

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class FieldDef(BaseModel):
    """One profile field: its type and type options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: FieldType
    unique: bool = Field(
        False, description="Values are unique across profiles; required for custom matching."
    )
    values: list[str] | None = Field(None, description="The declared values of an enum field.")
    max_length: Annotated[int, Field(gt=0)] | None = Field(None, description="Longest accepted string.")

    @model_validator(mode="after")
    def _check_options(self) -> FieldDef:
        if self.type is FieldType.ENUM:
            if not self.values:
                raise ValueError("an enum field needs 'values', a non-empty list")
            lowered = [v.lower() for v in self.values]
            if len(set(lowered)) != len(lowered):
                raise ValueError("enum 'values' must be distinct (compared case-insensitively)")
        elif self.values is not None:
            raise ValueError("'values' is only allowed on enum fields")
        if self.max_length is not None and self.type is not FieldType.STRING:
            raise ValueError("'max_length' is only allowed on string fields")
        if self.unique and self.type in (FieldType.TAGS, FieldType.JSON, FieldType.BOOL):
            raise ValueError(f"a {self.type.value} field cannot be unique")
        return self


# The standard fields every profile database has. Their names are reserved for custom fields.
STANDARD_FIELDS: dict[str, FieldDef] = {
    "email": FieldDef(type=FieldType.EMAIL),
    "phone": FieldDef(type=FieldType.PHONE),
    "first_name": FieldDef(type=FieldType.STRING, max_length=255),
    "last_name": FieldDef(type=FieldType.STRING, max_length=255),
    "birth_date": FieldDef(type=FieldType.DATE),
    "gender": FieldDef(type=FieldType.ENUM, values=["male", "female"]),
    "registration_date": FieldDef(type=FieldType.DATETIME),
    "registration_ip": FieldDef(type=FieldType.IP),
    "ip": FieldDef(type=FieldType.IP),
    "city": FieldDef(type=FieldType.STRING, max_length=255),
    "region": FieldDef(type=FieldType.STRING, max_length=255),
    "country": FieldDef(type=FieldType.STRING, max_length=255),
    "postal_code": FieldDef(type=FieldType.STRING, max_length=32),
    "timezone": FieldDef(type=FieldType.TIMEZONE),
    "source": FieldDef(type=FieldType.STRING, max_length=255),
}

# Columns every profile row has besides its fields; not mappable (profile_id only as a matching key).
SYSTEM_COLUMNS = ("profile_id", "created_at", "updated_at", "source_fingerprint")
# Keys of an exported profile besides its fields (``profiles export``); not usable as field names.
RESERVED_NAMES = (*SYSTEM_COLUMNS, "fields", "subscriptions")


class ResourceDef(BaseModel):
    """A subscription resource and the channels it can be subscribed on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: list[Channel | Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(
        min_length=1, description="Standard channels, or custom channel names declared here."
    )


class ProfileDatabase(BaseModel):
    """A profile database: custom fields and subscription resources. Standard fields are implied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, max_length=48)
    description: str | None = None
    fields: dict[str, FieldDef] = Field(default_factory=dict)
    resources: dict[str, ResourceDef] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _check_field_names(cls, fields: dict[str, FieldDef]) -> dict[str, FieldDef]:
        for name, definition in fields.items():
            if not re.match(NAME_PATTERN, name) or len(name) > 63:
                raise ValueError(f"field name {name!r} must match {NAME_PATTERN} (at most 63 characters)")
            if name in STANDARD_FIELDS or name in RESERVED_NAMES:
                raise ValueError(f"field name {name!r} is a standard field or system column; choose another")
            if definition.type not in CUSTOM_FIELD_TYPES:
                allowed = ", ".join(t.value for t in CUSTOM_FIELD_TYPES)
                raise ValueError(
                    f"field {name!r}: type {definition.type.value!r} is not a custom type ({allowed})"
                )
        return fields

    @field_validator("resources")
    @classmethod
    def _check_resource_names(cls, resources: dict[str, Any]) -> dict[str, Any]:
        for name in resources:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"resource name {name!r} must match {NAME_PATTERN}")
        return resources

    def all_fields(self) -> dict[str, FieldDef]:
        """Standard fields, then custom fields, in a stable order."""
        return {**STANDARD_FIELDS, **self.fields}
