"""Closed vocabularies of the spec: one enum per concept, values exactly as written in YAML."""

from __future__ import annotations

from enum import StrEnum


class ImportMode(StrEnum):
    UPSERT = "upsert"
    INSERT_ONLY = "insert_only"
    UPDATE_ONLY = "update_only"


class MatchBy(StrEnum):
    EMAIL = "email"
    EMAIL_PROFILE = "email_profile"
    EMAIL_SUBSCRIPTION = "email_subscription"
    PHONE = "phone"
    PHONE_PROFILE = "phone_profile"
    PHONE_SUBSCRIPTION = "phone_subscription"
    PROFILE_ID = "profile_id"
    PUSH_SUBSCRIPTION = "push_subscription"
    CUSTOM = "custom"


class FieldType(StrEnum):
    """Types of profile fields. The first ten may be declared for custom fields."""

    INT = "int"
    FLOAT = "float"
    STRING = "string"
    DATE = "date"
    DATETIME = "datetime"
    BOOL = "bool"
    ENUM = "enum"
    IP = "ip"
    TAGS = "tags"
    JSON = "json"
    # Types of standard fields only.
    EMAIL = "email"
    PHONE = "phone"
    TIMEZONE = "timezone"


CUSTOM_FIELD_TYPES = (
    FieldType.INT,
    FieldType.FLOAT,
    FieldType.STRING,
    FieldType.DATE,
    FieldType.DATETIME,
    FieldType.BOOL,
    FieldType.ENUM,
    FieldType.IP,
    FieldType.TAGS,
    FieldType.JSON,
)


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    VIBER = "viber"


class SubscriptionStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    UNCONFIRMED = "unconfirmed"
    SUSPENDED = "suspended"
    UNSUBSCRIBED = "unsubscribed"
    COMPLAINED = "complained"
    HARDBOUNCED = "hardbounced"
    INVALID = "invalid"


class DuplicateKeys(StrEnum):
    LAST = "last"
    FIRST = "first"
    REJECT = "reject"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class AlertOn(StrEnum):
    """When an import sends an alert (``alerts.on``)."""

    FAILURE = "failure"  # the run failed (any task, after its retries)
    REJECTED_ROWS = "rejected_rows"  # the run succeeded but rejected at least one row
