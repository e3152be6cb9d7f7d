"""The import spec (``include/import_specs/<name>.yaml``): the user-facing contract of PRODUCT.md."""

from __future__ import annotations

import datetime as dt
import os
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    EmailStr,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from customer_import.spec.database import NAME_PATTERN
from customer_import.spec.problems import error_at
from customer_import.spec.schedule import ManualPlan, Schedule
from customer_import.spec.vocab import (
    AlertOn,
    Channel,
    DuplicateKeys,
    ImportMode,
    MatchBy,
    SubscriptionStatus,
)

LAST_ITEM = "{lastItem}"
PHONE_CHANNELS = ("sms", "whatsapp", "viber")  # channels whose contact is a phone number


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Matching(_Strict):
    by: MatchBy = Field(description="How a row finds its existing profile.")
    field: str | None = Field(None, description="With by: custom, the unique custom field to match on.")
    provider_column: str | None = Field(None, description="With by: push_subscription, the provider column.")
    token_column: str | None = Field(None, description="With by: push_subscription, the token column.")

    @model_validator(mode="after")
    def _check_options(self) -> Matching:
        if self.by is MatchBy.CUSTOM and not self.field:
            raise error_at("matching by custom needs 'field': the unique custom field to match on", "field")
        if self.by is not MatchBy.CUSTOM and self.field:
            raise error_at("'field' is only used with by: custom", "field")
        push_columns = self.provider_column or self.token_column
        if self.by is MatchBy.PUSH_SUBSCRIPTION and not (self.provider_column and self.token_column):
            missing = "token_column" if self.provider_column else "provider_column"
            raise error_at(
                "matching by push_subscription needs 'provider_column' and 'token_column'", missing
            )
        if self.by is not MatchBy.PUSH_SUBSCRIPTION and push_columns:
            raise error_at(
                "'provider_column' and 'token_column' are only used with by: push_subscription",
                "provider_column" if self.provider_column else "token_column",
            )
        return self


class IpLocation(_Strict):
    """``ip_location: {mmdb: /path/file.mmdb}``: locate with that city-level database file."""

    mmdb: str = Field(
        min_length=1,
        description="Absolute path of a MaxMind-format .mmdb file (GeoLite2-City or DB-IP City layout).",
    )

    @field_validator("mmdb")
    @classmethod
    def _absolute(cls, mmdb: str) -> str:
        if not os.path.isabs(os.path.expanduser(mmdb)):
            raise ValueError(f"{mmdb!r} must be an absolute path (or start with ~/)")
        return mmdb


def _ip_location_kind(value: Any) -> str:
    return "object" if isinstance(value, dict | IpLocation) else "bool"


IpLocationOption = Annotated[
    Annotated[bool, Tag("bool")] | Annotated[IpLocation, Tag("object")],
    Discriminator(_ip_location_kind),
]


class Target(_Strict):
    database: str = Field(
        pattern=NAME_PATTERN, description="A profile database from include/profile_databases/."
    )
    mode: ImportMode = ImportMode.UPSERT
    matching: Matching
    ip_location: IpLocationOption = Field(
        False,
        description="Fill country, region, city, timezone and postal_code from the mapped ip (else "
        "registration_ip), offline; never a field the mapping names. true: the .mmdb file of "
        "[customer_import] ip_location_mmdb if set, else a country-level database (country and, "
        "for single-zone countries, timezone). {mmdb: /path/file.mmdb}: that city-level MaxMind-format file.",
    )
    suppress_triggers: bool = Field(False, description="True: the import records no profile-change events.")

    @property
    def ip_location_mmdb(self) -> str | None:
        """The .mmdb file the spec names (``ip_location: {mmdb: ...}``), ``~`` expanded."""
        return os.path.expanduser(self.ip_location.mmdb) if isinstance(self.ip_location, IpLocation) else None


class Cursor(_Strict):
    column: str = Field(
        min_length=1, description="The result column whose largest value is the next {lastItem}."
    )
    start_value: int | float | dt.datetime | dt.date | str = Field(
        description="The {lastItem} of the first run; its type is the type of the stored cursor."
    )


class InitialLoad(_Strict):
    partitions: int = Field(
        ge=2,
        le=64,
        description="The first run (cursor at start_value) splits the range up to the cursor column's current "
        "maximum into this many value ranges of about equal row counts, each read, mapped and staged by "
        "its own mapped task; the import task then writes them in cursor order and moves the cursor.",
    )


class Source(_Strict):
    conn_id: str = Field(min_length=1, description="An Airflow connection id.")
    table: str | None = Field(None, description="Shown in the UI; used by the column preview.")
    query: str = Field(
        min_length=1, description="A single read-only SELECT; {lastItem} is a bound parameter."
    )
    cursor: Cursor | None = None
    drain: bool = Field(False, description="Repeat the query until it returns no rows.")
    initial_load: InitialLoad | None = Field(
        None, description="A parallel first load: {partitions: N} (see PRODUCT.md, Running in a deployment)."
    )

    @property
    def uses_last_item(self) -> bool:
        return LAST_ITEM in self.query

    @model_validator(mode="after")
    def _check_cursor(self) -> Source:
        if self.uses_last_item and self.cursor is None:
            raise error_at(
                "the query uses {lastItem}, so 'cursor' (column and start_value) is required", "cursor"
            )
        if not self.uses_last_item and self.cursor is not None:
            raise error_at("'cursor' is set but the query does not use {lastItem}", "cursor")
        if self.initial_load is not None and self.cursor is None:
            raise error_at(
                "'initial_load' splits the range of the cursor column, so the query must use {lastItem} "
                "with a 'cursor'",
                "initial_load",
            )
        if self.drain and not self.uses_last_item:
            raise error_at(
                "'drain' repeats the query until it is empty, so the query must use {lastItem}", "drain"
            )
        return self


class PreventDuplication(_Strict):
    skip_unchanged: bool = True
    duplicate_keys: DuplicateKeys = DuplicateKeys.LAST
    keep_existing_on_empty: bool = False


class PhoneOptions(_Strict):
    default_region: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 region for numbers without +CC.")


class MappingItem(_Strict):
    field: str = Field(min_length=1, description="A profile field (standard or custom).")
    column: str = Field(min_length=1, description="A column of the query's result.")
    date_format: str | None = Field(None, description="strptime format of a date or datetime column.")
    phone: PhoneOptions | None = None


class Reports(_Strict):
    max_error_rate: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="More rejected rows than this share fails the run (after good rows are written)."
    )
    mask_contacts: bool = Field(False, description="Mask emails and phones in error reports.")


class Alerts(_Strict):
    """E-mail alerts through Airflow's SMTP connection (``smtp_default``)."""

    email: list[EmailStr] = Field(min_length=1, description="Who gets the alerts.")
    on: list[AlertOn] = Field(
        default_factory=lambda: [AlertOn.FAILURE, AlertOn.REJECTED_ROWS],
        min_length=1,
        description="failure: the run failed; rejected_rows: the run succeeded but rejected rows.",
    )

    @model_validator(mode="before")
    @classmethod
    def _on_is_a_key(cls, data: Any) -> Any:
        """YAML 1.1 (PyYAML) reads a bare ``on:`` key as the boolean true: take it back as ``on``."""
        if isinstance(data, dict) and True in data and "on" not in data:
            return {("on" if key is True else key): value for key, value in data.items()}
        return data


class Subscription(_Strict):
    resource: str = Field(description="A resource of the profile database.")
    channel: Channel | str = Field(description="A channel of that resource (standard or declared on it).")
    column: str = Field(description="The column holding the contact (email, phone, id; push: the token).")
    status: SubscriptionStatus | None = Field(None, description="The status every row gets.")
    status_column: str | None = Field(None, description="A column holding each row's status.")
    provider_column: str | None = Field(None, description="Push only: the column holding the push provider.")

    @model_validator(mode="after")
    def _check_status(self) -> Subscription:
        if (self.channel == Channel.PUSH) != (self.provider_column is not None):
            raise error_at(
                "a push subscription needs 'provider_column' (its contact is provider + token); other channels "
                "have no provider",
                "provider_column",
            )
        if (self.status is None) == (self.status_column is None):
            raise ValueError("a subscription needs exactly one of 'status' and 'status_column'")
        return self


class ImportSpec(_Strict):
    """One import: a source query, a target profile database, a mapping and a schedule."""

    name: str = Field(pattern=r"^[a-z0-9_]+$", max_length=200, description="The DAG id; unique across specs.")
    description: str | None = None
    access_groups: list[str] = Field(
        default_factory=list, description="Airflow roles that may see and run it."
    )
    labels: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list)
    run_immediately: bool = Field(False, description="Also start one run as soon as this spec is deployed.")
    target: Target
    schedule: Schedule = Field(default_factory=lambda: ManualPlan(plan="manual"))
    source: Source
    prevent_duplication: PreventDuplication = Field(default_factory=PreventDuplication)
    mapping: list[MappingItem] = Field(min_length=1)
    reports: Reports = Field(default_factory=Reports)
    subscriptions: list[Subscription] = Field(default_factory=list)
    alerts: Alerts | None = None

    @field_validator("mapping")
    @classmethod
    def _one_column_per_field(cls, mapping: list[MappingItem]) -> list[MappingItem]:
        seen: dict[str, int] = {}
        for index, item in enumerate(mapping):
            if item.field in seen:
                first = seen[item.field]
                raise error_at(
                    f"field {item.field!r} is mapped twice (also mapping[{first}])", index, "field"
                )
            seen[item.field] = index
        return mapping

    def mapped(self, field: str) -> MappingItem | None:
        return next((m for m in self.mapping if m.field == field), None)

    @property
    def match_field(self) -> str:
        """The profile field whose value finds the existing profile."""
        by = self.target.matching.by
        if by is MatchBy.CUSTOM:
            assert self.target.matching.field is not None
            return self.target.matching.field
        return {
            MatchBy.EMAIL: "email",
            MatchBy.EMAIL_PROFILE: "email",
            MatchBy.EMAIL_SUBSCRIPTION: "email",
            MatchBy.PHONE: "phone",
            MatchBy.PHONE_PROFILE: "phone",
            MatchBy.PHONE_SUBSCRIPTION: "phone",
            MatchBy.PROFILE_ID: "profile_id",
            MatchBy.PUSH_SUBSCRIPTION: "push",
        }[by]

    def key_column(self) -> str | None:
        """The source column whose value is the matching key (push: the token column).

        Email and phone matching read the mapped email/phone field, or, where it is not mapped, the contact
        column of the first subscription on an email / phone channel.
        """
        matching = self.target.matching
        if matching.by is MatchBy.PUSH_SUBSCRIPTION:
            return matching.token_column
        item = self.mapped(self.match_field)
        if item is not None:
            return item.column
        channels = {"email": ("email",), "phone": PHONE_CHANNELS}.get(self.match_field, ())
        return next((s.column for s in self.subscriptions if s.channel in channels), None)

    @property
    def variable_key(self) -> str:
        return f"customer_import.{self.name}.last_item"
