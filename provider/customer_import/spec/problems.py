"""A located problem in a spec or profile-database file: file, YAML path and line."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]
# The context key of :func:`error_at` errors that holds the path below the validated object.
SUBPATH = "yaml_subpath"


def format_path(loc: Loc) -> str:
    """``("mapping", 2, "field")`` -> ``mapping[2].field``; ``()`` -> ``(top level)``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}"


def unexpected_problem(file: str, exc: BaseException) -> Problem:
    """The problem for a file whose loading failed in a way nothing else reports (the last line of
    defence, so that one file never hides the others). It names the file and the error, never a traceback;
    the traceback goes to the debug log."""
    logging.getLogger("customer_import.spec").debug("loading %s failed", file, exc_info=exc)
    if isinstance(exc, RecursionError):
        why = "its values are nested too deeply"
    elif isinstance(exc, MemoryError):
        why = "it needs too much memory"
    else:
        detail = " ".join(str(exc).split())
        detail = detail if len(detail) <= 200 else detail[:197] + "..."
        why = f"{type(exc).__name__}" + (f": {detail}" if detail else "")
    return Problem(file, 1, "(file)", f"the file cannot be loaded: {why}")


def located(file: str, lines: dict[Loc, int], loc: Sequence[str | int], message: str) -> Problem:
    """A problem at ``loc``, on the line of the longest part of ``loc`` that exists in the file."""
    key: Loc = tuple(loc)
    while key and key not in lines:
        key = key[:-1]
    return Problem(file=file, line=lines.get(key), path=format_path(tuple(loc)), message=message)


def error_at(message: str, *where: str | int) -> PydanticCustomError:
    """A validator error about the key ``where`` below the object being validated, not the whole object.

    Raise it from a pydantic validator instead of ``ValueError``: the loader appends ``where`` to the
    error's location, so the problem names that key and points at its line (its parent's, if it is missing).
    """
    return PydanticCustomError("spec_error", "{message}", {"message": message, SUBPATH: where})
