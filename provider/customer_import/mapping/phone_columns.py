"""Phone numbers of a whole column at once: :class:`FastPhoneParser`'s rules run by Arrow's kernels.

Used by the columnar mapper (:mod:`customer_import.mapping.columnar`) in mapping worker processes; the
rules, and why each is the library's, are in :mod:`customer_import.mapping.phones`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from customer_import.mapping.phones import (
    _COUNTRY_CODE_SIZES,
    _MAX_INPUT,
    _MAX_NSN,
    _MIN_NSN,
    FastPhoneParser,
    _Region,
    _regions_for,
)

__all__ = ["ColumnPhoneParser"]


class ColumnPhoneParser:
    """:class:`FastPhoneParser` for a whole column: ``e164(values)`` gives, for each value, what the row
    path's fast parser gives for its stripped text, or ``None`` (the row path decides: empty text, other
    shapes, every invalid number).

    With a default region whose international prefix is one literal (or a choice of literals), the column
    is parsed with Arrow's vectorised kernels: the separators are dropped, the international prefix and
    country code are read, then each parsing region's national prefix is stripped and each (region,
    length) pattern is matched once per column, not once per number. The rules are FastPhoneParser's
    (which replays the library's), step by step; a region whose national prefix is not a choice of
    literals, or whose patterns RE2 does not accept, is parsed number by number with FastPhoneParser.
    """

    __slots__ = ("_fast", "_idd", "_region", "_regions", "_vectorised")

    def __init__(self, default_region: str | None, vectorised: bool = True) -> None:
        fast = FastPhoneParser(default_region)
        self._fast = fast
        self._region = fast._region
        self._regions = fast._regions
        self._idd = _literals(self._region.idd) if self._region is not None else None
        self._vectorised = vectorised and self._region is not None and self._idd is not None

    def e164(self, values: Sequence[str | None]) -> list[str | None]:
        if self._vectorised and len(values) >= _VECTOR_MIN:
            return self._column(values)
        fast = self._fast.e164
        return [None if value is None or not (text := value.strip()) else fast(text) for value in values]

    def _column(self, values: Sequence[str | None]) -> list[str | None]:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        region, idd = self._region, self._idd
        assert region is not None
        assert idd is not None
        texts = pa.array(values, type=pa.string())
        # The fast parser drops these separators; what remains must be digits after at most one '+'. Any
        # other character, or a text longer than the fast parser reads, is left to the row path (None).
        tokens = texts
        for separator in " -.()/":
            tokens = pc.replace_substring(tokens, separator, "")
        plus = pc.starts_with(tokens, "+")
        digits = pc.if_else(plus, pc.utf8_slice_codeunits(tokens, 1), tokens)
        ok = pc.and_(
            pc.match_substring_regex(tokens, r"^\+?[0-9]{3,}$"),
            pc.less_equal(pc.utf8_length(texts), _MAX_INPUT),
        )
        ok_np = _np_bool(ok)
        plus_np = _np_bool(plus)
        # The international prefix: a literal (the first that is a prefix) not followed by 0.
        after: Any = pa.nulls(len(texts), pa.string())
        national_np = ok_np & ~plus_np
        pending = national_np.copy()
        for literal in idd:
            starts = _np_bool(pc.starts_with(digits, literal)) & pending
            if not starts.any():
                continue
            rest = pc.utf8_slice_codeunits(digits, len(literal))
            usable = starts & ~_np_bool(pc.starts_with(rest, "0"))
            after = pc.if_else(pa.array(usable), rest, after)
            national_np &= ~usable
            pending &= ~starts
        international_np = ok_np & (plus_np | _np_bool(after.is_valid()))
        intl = pc.if_else(pa.array(plus_np), digits, after)
        out: list[str | None] = [None] * len(values)
        digits_list = None
        # Groups: each country code read after '+' or the prefix, and the national numbers.
        groups: list[tuple[str, tuple[_Region, ...], _Region, Any, Any]] = []
        if international_np.any():
            rows = np.flatnonzero(international_np)
            numbers = pc.take(intl, pa.array(rows))
            starts3 = pc.utf8_slice_codeunits(numbers, 0, 3)
            distinct = pc.unique(starts3).to_pylist()
            code_of = {}
            for start in distinct:
                size = _COUNTRY_CODE_SIZES.get(start, 0)
                code_of[start] = start[:size] if size else None
            codes = pc.take(
                pa.array([code_of[s] for s in distinct], pa.string()),
                pc.index_in(starts3, value_set=pa.array(distinct, pa.string())),
            )
            for code in {c for c in code_of.values() if c is not None}:
                regions = _regions_for(code)
                if regions is None:
                    continue
                in_code = _np_bool(pc.equal(codes, code))
                groups.append(
                    (
                        code,
                        regions,
                        regions[0],
                        rows[in_code],
                        pc.utf8_slice_codeunits(pc.filter(numbers, pa.array(in_code)), len(code)),
                    )
                )
        if national_np.any():
            own = _np_bool(pc.starts_with(digits, region.country_code_str))
            rows = np.flatnonzero(national_np & ~own)
            groups.append(
                (region.country_code_str, self._regions, region, rows, pc.take(digits, pa.array(rows)))
            )
        for code, regions, parsing, rows, national in groups:
            if not len(rows):
                continue
            answers = _group_e164(code, regions, parsing, national)
            if answers is None:  # patterns RE2 cannot run: the fast parser, number by number
                if digits_list is None:
                    digits_list = texts.to_pylist()
                fast = self._fast.e164
                for row in rows.tolist():
                    text = digits_list[row]
                    out[row] = fast(text.strip()) if text is not None else None
                continue
            for row, answer in zip(rows.tolist(), answers, strict=True):
                out[row] = answer
        return out


_VECTOR_MIN = 64  # shorter columns: the per-value parser (the kernels' fixed cost would dominate)


def _literals(pattern: re.Pattern[str] | None) -> tuple[str, ...] | None:
    """The alternatives of a pattern that is a choice of digit literals (``0|180020``), in order."""
    if pattern is None:
        return ()
    parts = pattern.pattern.split("|")
    return tuple(parts) if all(part.isascii() and part.isdigit() for part in parts) else None


def _np_bool(array: Any) -> Any:
    """A boolean Arrow array as numpy, null as False."""
    import pyarrow.compute as pc

    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


def _group_e164(
    code: str, regions: tuple[_Region, ...], parsing: _Region, national: Any
) -> list[str | None] | None:
    """E.164 for the national numbers of one country code parsed with ``parsing`` (None: the patterns are
    not RE2's; the caller parses them one by one)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        nsn, usable = _strip_national_prefix(parsing, national)
        length = pc.utf8_length(nsn).to_numpy(zero_copy_only=False)
        usable &= (pc.utf8_length(national).to_numpy(zero_copy_only=False) >= _MIN_NSN) & (
            (length >= _MIN_NSN) & (length <= _MAX_NSN)
        )
        usable &= _np_bool(pc.match_substring_regex(nsn, "[1-9]"))
        chosen = np.full(len(nsn), -1)
        if len(regions) == 1:
            chosen[usable] = 0
        for index, region in enumerate(regions if len(regions) > 1 else ()):
            pending = usable & (chosen < 0)
            if not pending.any():
                break
            if region.leading_digits is not None:
                hit = _np_bool(pc.match_substring_regex(nsn, f"^(?:{region.leading_digits.pattern})"))
            else:
                hit = _valid(region, nsn, length, pending)
            chosen[pending & hit] = index
        valid = np.zeros(len(nsn), dtype=bool)
        for index, region in enumerate(regions):
            rows = chosen == index
            if rows.any():
                valid |= rows & _valid(region, nsn, length, rows)
    except pa.ArrowInvalid:
        return None
    answers = pc.binary_join_element_wise(pa.scalar("+" + code), nsn, "")
    answers = pc.if_else(pa.array(valid), answers, pa.scalar(None, pa.string()))
    result: list[str | None] = answers.to_pylist()
    return result


def _valid(region: _Region, nsn: Any, length: Any, rows: Any) -> Any:
    """``region.is_valid`` for the numbers in ``rows``: one regex per length, on those numbers only."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    valid = np.zeros(len(nsn), dtype=bool)
    for size in np.unique(length[rows]).tolist():
        at = np.flatnonzero(rows & (length == size))
        validator = _rules(region, size)
        if validator is None:
            continue
        general, types = validator
        numbers = pc.take(nsn, pa.array(at))
        hit = _np_bool(pc.match_substring_regex(numbers, general)) & _np_bool(
            pc.match_substring_regex(numbers, types)
        )
        valid[at[hit]] = True
    return valid


def _rules(region: _Region, length: int) -> tuple[str, str] | None:
    """The RE2 form of ``region._validator(length)``: the general pattern and the types' alternation."""
    if region.general is None or (region.lengths and length not in region.lengths):
        return None
    types = [f"(?:{pattern})" for pattern, lengths in region.types if not lengths or length in lengths]
    if not types:
        return None
    return f"^(?:{region.general.pattern})$", f"^(?:{'|'.join(types)})$"


def _strip_national_prefix(region: _Region, national: Any) -> tuple[Any, Any]:
    """``region.strip_national_prefix`` column-wise: the numbers after it, and which rows it decides (a
    transform rule: not these); raises ArrowInvalid where the prefix is not a choice of literals."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    usable = np.ones(len(national), dtype=bool)
    literals = _literals(region.national_prefix)
    if literals is None:
        raise pa.ArrowInvalid("national prefix for parsing is not a choice of literals")
    if not literals:
        return national, usable
    general = f"^(?:{region.general.pattern})$" if region.general is not None else None
    number_general = _np_bool(pc.match_substring_regex(national, general)) if general else None
    result = national
    pending = np.ones(len(national), dtype=bool)
    for literal in literals:
        starts = pending & _np_bool(pc.starts_with(national, literal))
        if not starts.any():
            continue
        pending &= ~starts
        if region.transform:  # the library rewrites the number: the row path decides
            usable &= ~starts
            continue
        stripped = pc.utf8_slice_codeunits(national, len(literal))
        sizes = pc.utf8_length(stripped).to_numpy(zero_copy_only=False)
        kept = [size for size in np.unique(sizes).tolist() if region._keeps_length(size)]
        take = starts & np.isin(sizes, kept)
        if number_general is not None:
            stripped_general = _np_bool(pc.match_substring_regex(stripped, general))
            take &= stripped_general | ~number_general
        result = pc.if_else(pa.array(take), stripped, result)
    return result, usable
