"""The phone fast path replays phonenumbers' rules for simple shapes: wherever it answers, the answer must be
the library's (and the library must accept the text); it may only decline. A differential test over every
region's example numbers in many spellings, a generated test, and checks that it answers the common cases."""

from __future__ import annotations

import functools

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from customer_import.mapping.phones import FastPhoneParser

DEFAULT_REGIONS: tuple[str | None, ...] = (None, "DE", "US")


def library_e164(text: str, region: str | None) -> str | None:
    """The slow path of the phone coercer: the library's E.164 form, or None when it rejects the text."""
    international = "+" + text[2:] if region is None and text.startswith("00") else text
    try:
        number = phonenumbers.parse(international, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


@functools.cache
def parser(region: str | None) -> FastPhoneParser:
    return FastPhoneParser(region)


def spellings(number: phonenumbers.PhoneNumber) -> set[str]:
    """One number written the ways people write it, plus near misses (a digit changed, added, removed)."""
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    rfc3966 = phonenumbers.format_number(number, PhoneNumberFormat.RFC3966).removeprefix("tel:")
    texts = {
        e164,
        international,
        national,
        rfc3966,
        "00" + e164[1:],
        "011" + e164[1:],
        "00 " + international[1:],
    }
    for text in (e164, national, international):
        last = text[-1]
        if last.isdigit():
            texts.add(text[:-1] + str((int(last) + 1) % 10))
            texts.add(text[:-1] + str((int(last) + 5) % 10))
        texts.add(text + "7")
        texts.add(text + "0")
        texts.add(text[:-1])
    return texts


def example_numbers() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in PhoneNumberType.values():
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                examples.append((region, number))
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            examples.append(("001", number))
    return examples


@functools.cache
def corpus() -> list[tuple[str, str | None]]:
    cases: set[tuple[str, str | None]] = set()
    for region, number in example_numbers():
        own = region if region in phonenumbers.SUPPORTED_REGIONS else None
        for text in spellings(number):
            for default in {*DEFAULT_REGIONS, own}:
                cases.add((text, default))
    return sorted(cases, key=lambda case: (case[0], case[1] or ""))


@functools.cache
def differential() -> list[tuple[str, str | None, str | None, str | None]]:
    """(text, region, fast answer, library answer) for the whole corpus."""
    return [
        (text, region, parser(region).e164(text), library_e164(text, region)) for text, region in corpus()
    ]


def test_the_corpus_is_large_and_mixed() -> None:
    rows = differential()
    accepted = sum(1 for *_, slow in rows if slow is not None)
    assert len(rows) > 50_000
    assert 0.2 * len(rows) < accepted < 0.9 * len(rows)


def test_the_fast_path_agrees_with_the_library_on_every_example_spelling() -> None:
    wrong = [
        (text, region, fast, slow) for text, region, fast, slow in differential() if fast not in (None, slow)
    ]
    assert wrong == []


def test_the_fast_path_answers_most_numbers_the_library_accepts() -> None:
    accepted = [(fast, slow) for _, _, fast, slow in differential() if slow is not None]
    answered = sum(1 for fast, _ in accepted if fast is not None)
    share = answered / len(accepted)
    print(f"fast path answers {answered}/{len(accepted)} = {share:.3f} of the accepted corpus inputs")
    assert share >= 0.8


def test_the_fast_path_answers_the_usual_spellings_of_each_region() -> None:
    """E.164 and international spellings of valid examples, without a region: answered nearly always."""
    answered = total = 0
    for _, number in example_numbers():
        for number_format in (PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL):
            text = phonenumbers.format_number(number, number_format)
            if library_e164(text, None) is not None:
                total += 1
                answered += parser(None).e164(text) is not None
    print(f"international spellings answered: {answered}/{total}")
    assert answered >= 0.9 * total


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("+49 30 20000001", None, "+493020000001"),
        ("+49 30 20000001", "US", "+493020000001"),
        ("0049 30 20000001", None, "+493020000001"),
        ("+49 (0)30 20000001", "DE", "+493020000001"),
        ("030 30000001", "DE", "+493030000001"),
        ("030/30000001", "DE", "+493030000001"),
        ("+43 1 2000001", None, "+4312000001"),
        ("+33 1 20 00 00 01", None, "+33120000001"),
        ("0044 20 7000 0001", "DE", "+442070000001"),
        ("+44 20 7000 0001", None, "+442070000001"),
        ("+44 20 7000 0001", "DE", "+442070000001"),
        ("+1 650 253 0000", "US", "+16502530000"),
        ("+1 650 253 0000", None, "+16502530000"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("650.253.0000", "US", "+16502530000"),
        ("011 49 30 20000001", "US", "+493020000001"),
        ("+39 06 1234 5678", None, "+390612345678"),  # Italian leading zero kept in the NSN
        ("0011 49 30 20000001", "AU", "+493020000001"),  # an IDD given as a pattern
        ("+7 701 123 4567", None, "+77011234567"),  # Kazakhstan, told from Russia by leading digits
        ("8 (912) 345-67-89", "RU", "+79123456789"),  # national prefix 8
        ("03-1234-5678", "JP", "+81312345678"),
        ("01481 256789", "GG", "+441481256789"),  # a non-main region of +44, national prefix 0
        ("(+49) 30/2000-0001", None, "+493020000001"),
        ("+54 9 11 1234 5678", None, "+5491112345678"),
        ("+1 204 234 5678", None, "+12042345678"),  # Canada: a later region of +1
        ("(416) 555-0123", "CA", "+14165550123"),
        ("+1 268 464 1234", "US", "+12684641234"),  # Antigua: found by its leading digits
    ],
)
def test_specific_numbers_are_answered_by_the_fast_path(
    text: str, region: str | None, expected: str | None
) -> None:
    assert library_e164(text, region) == expected
    assert parser(region).e164(text) == expected


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("+44 20 7000 000", None),  # invalid: a digit short
        ("+49 30 20000001 ext. 12", None),  # extension
        ("+49 30 2000 0001 x12", None),
        ("tel:+49-30-20000001", None),  # RFC 3966 prefix
        ("+49 ３０ 20000001", None),  # full-width digits
        ("030 30000001", None),  # national without a region
        ("0049 30 20000001", "XX"),  # unknown region
        ("++49 30 20000001", None),
        ("+0049 30 20000001", "DE"),  # '+' then an IDD: the library retries without the '+'
        ("49 30 20000001", "DE"),  # might be the country code without '+'
        ("+800 1234 5678", None),  # non-geographic calling code
        ("1-800-FLOWERS", "US"),
        ("+49 30 20000001;isub=1", None),
        ("", None),
        ("+", None),
        ("00", None),
        ("0000000000", "DE"),
        ("464 1234", "AG"),  # national prefix rule with a transformation
        ("011 15 1234 5678", "AR"),  # the same, for Argentinian mobiles
        ("+49" + " " * 250 + "3020000001", None),  # longer than the library reads
    ],
)
def test_other_shapes_are_left_to_the_library(text: str, region: str | None) -> None:
    assert parser(region).e164(text) is None


PIECES = [*"0123456789", "0", "1", "+", "00", " ", "-", ".", "(", ")", "/", "x", "\t"]
STARTS = [
    "",
    "+",
    "00",
    "011",
    "0",
    "+49",
    "0049",
    "+49 0",
    "+1",
    "1",
    "+44",
    "0044",
    "+39 0",
    "+7",
    "8",
    "+55",
    "+0",
]
REGIONS = [
    None,
    "DE",
    "US",
    "GB",
    "FR",
    "IT",
    "AR",
    "BR",
    "AG",
    "CA",
    "GG",
    "RU",
    "KZ",
    "JP",
    "AU",
    "MX",
    "XX",
    "de",
]


@settings(max_examples=3000, deadline=None)
@given(
    start=st.sampled_from(STARTS),
    body=st.lists(st.sampled_from(PIECES), min_size=0, max_size=18),
    region=st.sampled_from(REGIONS),
)
def test_generated_strings_never_get_a_different_answer(
    start: str, body: list[str], region: str | None
) -> None:
    text = start + "".join(body)
    fast = parser(region).e164(text)
    if fast is not None:
        assert fast == library_e164(text, region)


@settings(max_examples=1500, deadline=None)
@given(
    number=st.sampled_from(example_numbers()),
    cut=st.integers(min_value=0, max_value=6),
    digits=st.text(alphabet="0123456789", max_size=3),
    separator=st.sampled_from(["", " ", "-", "/", "(", ")", "."]),
    region=st.sampled_from(REGIONS),
    international=st.booleans(),
)
def test_generated_variants_of_real_numbers_never_get_a_different_answer(
    number: tuple[str, phonenumbers.PhoneNumber],
    cut: int,
    digits: str,
    separator: str,
    region: str | None,
    international: bool,
) -> None:
    number_format = PhoneNumberFormat.INTERNATIONAL if international else PhoneNumberFormat.NATIONAL
    written = phonenumbers.format_number(number[1], number_format)
    text = written[: len(written) - cut] + separator + digits
    fast = parser(region).e164(text)
    if fast is not None:
        assert fast == library_e164(text, region)
