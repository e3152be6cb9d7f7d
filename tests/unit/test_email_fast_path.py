"""The email coercer checks a domain once and then accepts dot-atom local parts by pattern: it must agree
with email-validator's full check on every input (a differential test)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customer_import.mapping.coerce import make_coercer
from customer_import.mapping.errors import ValueRejected
from customer_import.spec.database import FieldDef
from customer_import.spec.vocab import FieldType

ATEXT = "abcxyzABCXYZ0189!#$%&'*+/=?^_`{|}~-."
DOMAINS = [
    "example.com",
    "EXAMPLE.de",
    "münchen.de",
    "xn--mnchen-3ya.de",
    "localhost",
    "a..b.com",
    "x.invalid",
    "-bad.com",
    "ex_ample.com",
    "com",
    "123.45.67.89",
    "[127.0.0.1]",
    "sub.domain.example.org",
]


def domains(first_label: str) -> st.SearchStrategy[str]:
    """The odd domains above, or generated ones whose first label takes the characters ``first_label``."""
    generated = st.from_regex(rf"[{first_label}]{{1,12}}(\.[a-z0-9-]{{1,8}}){{0,3}}", fullmatch=True)
    return st.one_of(st.sampled_from(DOMAINS), generated)


def full_check(value: str) -> str | None:
    """What the coercer did before the fast path: the library's verdict on the trimmed text."""
    from email_validator import EmailNotValidError, validate_email

    if not value.strip():
        return None
    try:
        valid = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return (valid.ascii_email or valid.normalized).lower()


def fast(value: str) -> str | None:
    try:
        return make_coercer(FieldDef(type=FieldType.EMAIL), None, "UTC")(value)
    except ValueRejected:
        return None


@settings(max_examples=1500, deadline=None)
@given(
    local=st.text(alphabet=ATEXT + 'ä "@', min_size=0, max_size=70),
    domain=domains("a-z0-9-"),
    spaces=st.sampled_from(["", " ", "\t"]),
)
def test_the_fast_path_agrees_with_the_full_check(local: str, domain: str, spaces: str) -> None:
    value = f"{spaces}{local}@{domain}{spaces}"
    assert fast(value) == full_check(value)


@settings(deadline=None)
@given(st.emails())
def test_generated_addresses_agree(value: str) -> None:
    assert fast(value) == full_check(value)


# Local parts that are not ASCII (the demo's "zoë.müller.7@example.com" is 38% of its rows): letters,
# combining marks (first or not; composing under NFC), symbols, invisible and space characters, a ligature,
# Hangul jamo that NFC composes, a dotless/dotted i whose lowercase is longer, and ASCII specials.
INTERNATIONAL = 'aZ09.-+_ëÄßİıﬁ€—\u0301\u0308e\u1100\u1161\u11a8\u200b\u3000\u00a0\ud7a3ж中 "@<'


@settings(max_examples=3000, deadline=None)
@given(
    local=st.text(alphabet=INTERNATIONAL, min_size=1, max_size=40),
    domain=domains("a-zA-Z0-9-"),
    spaces=st.sampled_from(["", "", " "]),
)
def test_international_local_parts_agree_with_the_full_check(local: str, domain: str, spaces: str) -> None:
    value = f"{spaces}{local}@{domain}{spaces}"
    assert fast(value) == full_check(value)


@settings(max_examples=300, deadline=None)
@given(
    first=st.text(alphabet="ëäöüßжя中", min_size=1, max_size=3),
    pad=st.integers(min_value=40, max_value=130),
    label=st.integers(min_value=1, max_value=63),
)
def test_international_addresses_near_the_length_limit_agree(first: str, pad: int, label: int) -> None:
    # 254 UTF-8 bytes before and after NFC: multi-byte characters count two or three each.
    value = f"{first}{'x' * pad}{first}@{'d' * label}.{'e' * 60}.com"
    assert fast(value) == full_check(value)


def test_the_demo_shape_is_answered_without_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    from customer_import.mapping import coerce

    coercer = make_coercer(FieldDef(type=FieldType.EMAIL), None, "UTC")
    coercer("warm.up@example.de")  # the domain, checked once by the library

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("email-validator was called")

    monkeypatch.setattr(coerce, "validate_email", refuse)
    assert coercer("Zoë.Müller.17@example.de") == "zoë.müller.17@example.de"
    assert coercer("Łukasz.García.9@example.de") == "łukasz.garcía.9@example.de"
    assert coercer("Zoe\u0308.x@example.de") == "zoë.x@example.de"  # NFC composes e + diaeresis
