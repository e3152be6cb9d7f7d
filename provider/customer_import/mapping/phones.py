"""A fast path for phone numbers in the common, simple shapes.

``phonenumbers.parse`` + ``is_valid_number`` cost tens of microseconds per number, which dominates an
import. :class:`FastPhoneParser` replays the library's own parsing and validation rules from its metadata
for inputs made of ASCII digits, one leading ``+`` and the usual separators, with every region's patterns
compiled once. It answers only where its answer is the library's; for any other shape, and for every
invalid number, it returns ``None`` so the caller asks the library (which also says why a number is bad).
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberDesc

__all__ = ["FastPhoneParser"]

# The library's bounds (phonenumberutil._MIN_LENGTH_FOR_NSN, _MAX_LENGTH_FOR_NSN, _MAX_INPUT_STRING_LENGTH).
_MIN_NSN = 2
_MAX_NSN = 17
_MAX_INPUT = 250
# Fewer digits than this may be "not viable" in the library depending on the separators; never valid anyway.
_MIN_DIGITS = 3

_NON_GEO_REGION = "001"

# The order of _number_type_helper; mobile is added unless it shares the fixed-line pattern (the library
# then does not test it on its own).
_TYPE_FIELDS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


class _Region:
    """One region's metadata, reduced to what parsing and validation need, with compiled patterns."""

    __slots__ = (
        "country_code_str",
        "general",
        "idd",
        "leading_digits",
        "lengths",
        "local_lengths",
        "national_prefix",
        "transform",
        "types",
        "validators",
    )

    def __init__(self, metadata: PhoneMetadata, general: PhoneNumberDesc) -> None:
        self.country_code_str = str(metadata.country_code)
        pattern = general.national_number_pattern
        self.general = re.compile(pattern) if pattern else None
        self.lengths: tuple[int, ...] = tuple(general.possible_length)
        self.local_lengths: tuple[int, ...] = tuple(general.possible_length_local_only)
        idd = metadata.international_prefix
        self.idd = re.compile(idd) if idd is not None else None
        prefix = metadata.national_prefix_for_parsing
        self.national_prefix = re.compile(prefix) if prefix else None
        self.transform = bool(metadata.national_prefix_transform_rule)
        leading = metadata.leading_digits
        self.leading_digits = re.compile(leading) if leading is not None else None
        fields = _TYPE_FIELDS if metadata.same_mobile_and_fixed_line_pattern else (*_TYPE_FIELDS, "mobile")
        types: list[tuple[str, tuple[int, ...]]] = []
        for field in fields:
            desc = getattr(metadata, field)
            if desc is not None and desc.national_number_pattern:
                types.append((desc.national_number_pattern, tuple(desc.possible_length)))
        self.types = tuple(types)
        self.validators: dict[int, re.Pattern[str] | None] = {}

    def is_valid(self, nsn: str) -> bool:
        """``_number_type_helper(nsn) != UNKNOWN``: general desc and any one type desc match."""
        length = len(nsn)
        try:
            validator = self.validators[length]
        except KeyError:
            validator = self.validators[length] = self._validator(length)
        return validator is not None and validator.fullmatch(nsn) is not None

    def _validator(self, length: int) -> re.Pattern[str] | None:
        """One regex per length: the general pattern as a lookahead, then the types that allow the length.

        A desc's possible lengths are checked before its pattern (empty: no restriction), so only the
        types whose lengths admit ``length`` take part; ``None`` when nothing can match.
        """
        if self.general is None or (self.lengths and length not in self.lengths):
            return None
        types = [f"(?:{pattern})" for pattern, lengths in self.types if not lengths or length in lengths]
        if not types:
            return None
        return re.compile(f"(?=(?:{self.general.pattern})\\Z)(?:{'|'.join(types)})")

    def _general_matches(self, number: str) -> bool:
        return self.general is not None and self.general.fullmatch(number) is not None

    def strip_national_prefix(self, number: str) -> str | None:
        """The number after the library's national-prefix step in ``parse``; ``None`` for a transform rule.

        The prefix is stripped unless that turns a viable number into a non-viable one, and the result is
        kept only when its length is possible or too long for the region (``_test_number_length``).
        """
        if self.national_prefix is None or not number:
            return number
        match = self.national_prefix.match(number)
        if match is None:
            return number
        if self.transform:
            groups = match.groups()
            if not groups or groups[-1] is not None:
                return None  # the library rewrites the number (or fails): leave it to the library
        stripped = number[match.end() :]
        # The library keeps the stripped number unless that loses viability, then only for a fitting
        # length; the outcome does not depend on the order, and the length test is the cheap one.
        if not self._keeps_length(len(stripped)):
            return number
        if not self._general_matches(stripped) and self._general_matches(number):
            return number
        return stripped

    def after_idd(self, digits: str) -> str | None:
        """The digits after the region's international prefix (``_parse_prefix_as_idd``); ``None``: national.

        The prefix is not stripped when a 0 follows it, since country codes do not start with 0.
        """
        if self.idd is None:
            return None
        match = self.idd.match(digits)
        if match is None or digits[match.end() : match.end() + 1] == "0":
            return None
        return digits[match.end() :]

    def _keeps_length(self, length: int) -> bool:
        """``_test_number_length`` is IS_POSSIBLE or TOO_LONG (replayed literally, lists as stored)."""
        if length in self.local_lengths:
            return False
        lengths = self.lengths
        if lengths[0] == length:
            return True
        if lengths[0] > length:
            return False
        if lengths[-1] < length:
            return True
        return length in lengths[1:]


@functools.cache
def _region(code: str) -> _Region | None:
    metadata = PhoneMetadata.metadata_for_region(code, None)
    general = metadata.general_desc if metadata is not None else None
    if metadata is None or general is None or not general.possible_length:
        return None
    return _Region(metadata, general)


@functools.cache
def _regions_for(country_code: str) -> tuple[_Region, ...] | None:
    """The regions of a calling code, main region first; ``None`` for non-geographic codes."""
    codes = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(country_code), ())
    if not codes or _NON_GEO_REGION in codes:
        return None
    regions = tuple(_region(code) for code in codes)
    if any(region is None for region in regions):
        return None
    return tuple(region for region in regions if region is not None)


def _country_code_sizes() -> dict[str, int]:
    """For every 3-digit start, the length of the country code ``_extract_country_code`` reads there.

    The library takes the shortest known 1-3 digit prefix; none starts with 0. One dict lookup replaces
    its loop (a start without a known code is absent).
    """
    codes = {str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}
    sizes: dict[str, int] = {}
    for start in range(100, 1000):
        digits = str(start)
        size = next((size for size in (1, 2, 3) if digits[:size] in codes), 0)
        if size:
            sizes[digits] = size
    return sizes


_COUNTRY_CODE_SIZES = _country_code_sizes()


class FastPhoneParser:
    """E.164 for simple, valid numbers exactly as ``phonenumbers`` would give it; ``None`` otherwise.

    ``e164(text)`` takes the text the slow path gets (before its "00" -> "+" rewrite without a region) and
    either returns the library's E.164 form or ``None``, meaning "ask the library". It never returns a
    value for a text the library rejects.
    """

    __slots__ = ("_enabled", "_region", "_regions")

    def __init__(self, default_region: str | None) -> None:
        region = _region(default_region) if default_region in phonenumbers.SUPPORTED_REGIONS else None
        regions = _regions_for(region.country_code_str) if region is not None else None
        self._region = region if regions else None
        self._regions = regions or ()  # the regions of the default region's country code
        # An unknown default region changes the library's behaviour in ways not worth replaying.
        self._enabled = default_region is None or self._region is not None

    def e164(self, text: str) -> str | None:
        """The E.164 form when `text` has a simple shape and is valid; None: ask phonenumbers (any other
        shape, and every invalid number)."""
        region = self._region
        if region is None:
            if not self._enabled:
                return None
            if text.startswith("00"):
                text = "+" + text[2:]  # the caller's rule: without a region "00" is the international prefix
        if len(text) > _MAX_INPUT:
            return None
        # Only these separators are dropped; anything else (letters, extensions, unicode digits, several
        # '+') is a shape for the library. Chained str.replace is about twice as fast as str.translate.
        tokens = text.replace(" ", "").replace("-", "").replace(".", "").replace("(", "").replace(")", "")
        tokens = tokens.replace("/", "")
        plus = tokens.startswith("+")
        digits = tokens[1:] if plus else tokens
        # isdigit() alone would accept other scripts' digits (the library's \d would too): ASCII only.
        if len(digits) < _MIN_DIGITS or not (digits.isascii() and digits.isdigit()):
            return None
        if plus:
            international: str | None = digits
        elif region is None:
            return None  # the library needs a region for a national number
        else:
            international = region.after_idd(digits)
        if international is not None:
            # After '+' or an IDD the library reads a country code and parses with its main region. A
            # leading 0 or an unknown code makes it retry in ways not replayed here.
            size = _COUNTRY_CODE_SIZES.get(international[:3], 0)
            if not size:
                return None
            country_code = international[:size]
            national = international[size:]
            regions = _regions_for(country_code)
            if regions is None:
                return None
            parsing = regions[0]
        else:
            # A national number parses with the default region. Digits starting with the region's own
            # country code may be read as "country code without '+'": the library's call.
            assert region is not None  # no IDD was looked for without one
            country_code = region.country_code_str
            if digits.startswith(country_code):
                return None
            national = digits
            regions = self._regions
            parsing = region
        if len(national) < _MIN_NSN:
            return None
        nsn = parsing.strip_national_prefix(national)
        if nsn is None or not _MIN_NSN <= len(nsn) <= _MAX_NSN or not nsn.strip("0"):
            return None
        number_region = regions[0] if len(regions) == 1 else _number_region(regions, nsn)
        if number_region is None or not number_region.is_valid(nsn):
            return None
        return f"+{country_code}{nsn}"


def _number_region(regions: tuple[_Region, ...], nsn: str) -> _Region | None:
    """``_region_code_for_number_from_list``: first region whose leading digits match, else first valid."""
    for region in regions:
        if region.leading_digits is not None:
            if region.leading_digits.match(nsn):
                return region
        elif region.is_valid(nsn):
            return region
    return None
