"""The email coercer checks a domain once and then accepts dot-atom local parts by pattern: it must agree
with email-validator's full check on every input (a differential test)."""

from __future__ import annotations

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
    domain=st.one_of(
        st.sampled_from(DOMAINS), st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,8}){0,3}", fullmatch=True)
    ),
    spaces=st.sampled_from(["", " ", "\t"]),
)
def test_the_fast_path_agrees_with_the_full_check(local: str, domain: str, spaces: str) -> None:
    value = f"{spaces}{local}@{domain}{spaces}"
    assert fast(value) == full_check(value)


@settings(deadline=None)
@given(st.emails())
def test_generated_addresses_agree(value: str) -> None:
    assert fast(value) == full_check(value)
