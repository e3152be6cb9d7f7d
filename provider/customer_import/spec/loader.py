"""Load spec and profile-database files, reporting every problem of every file at once.

A file's problems are :class:`Problem` values with file, YAML path and line; loading never stops at the
first one. ``load_project`` loads a specs folder and a databases folder and cross-checks them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from customer_import.spec.checks import check_spec_against_database, spec_warnings
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.problems import SUBPATH, Loc, Problem, located, unexpected_problem
from customer_import.spec.yaml_source import YamlDocument

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")
YAML_SUFFIXES = (".yaml", ".yml")
log = logging.getLogger(__name__)
SPEC_KEYS = frozenset({"source", "target", "mapping", "schedule"})
# The longest query checked, in characters. Every spec's query is parsed in each supported SQL dialect on
# every parse of the DAG file, at about 50 us a character here: 64 KB (a query of some 2,000 lines, far
# beyond any import's) takes about 3 s, a query filling a 256 KB file would take 12 s.
MAX_QUERY_CHARS = 64 * 1024


@dataclass
class Loaded(Generic[T]):
    """A model loaded from a file, with the file's line map for later located problems."""

    model: T
    file: str
    path: Path
    lines: dict[Loc, int]

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        return located(self.file, self.lines, loc, message)


@dataclass
class Project:
    """Every spec and profile database that loaded, and every problem found."""

    specs: dict[str, Loaded[ImportSpec]] = field(default_factory=dict)
    databases: dict[str, Loaded[ProfileDatabase]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Spec files that failed, by file, with their problems (the factory shows them as import errors).
    broken_specs: dict[str, list[Problem]] = field(default_factory=dict)
    # Things that work but are probably not what was meant (e.g. no ORDER BY on the cursor column).
    warnings: list[Problem] = field(default_factory=list)


def _yaml_loc(data: Any, loc: Sequence[str | int]) -> Loc:
    """Turn a pydantic error location into a path of the YAML data (dropping union-member tags)."""
    out: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif index == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str):
            out.append(part)  # a missing key: name it; its line is the parent's
    return tuple(out)


_NOT_A_MAPPING = frozenset({"model_type", "model_attributes_type", "dict_type"})


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (not part of the spec format; check the spelling)"
    if kind in ("missing", "union_tag_not_found"):
        return "required key is missing"
    if kind == "union_tag_invalid":
        ctx = error["ctx"]
        return f"{ctx['tag']!r} is not one of {ctx['expected_tags']}"
    if kind in _NOT_A_MAPPING:
        return "should be a mapping of keys (key: value lines)"
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _error_loc(data: Any, error: Any) -> Loc:
    """The YAML path an error is about, including the key below the validated object it names."""
    ctx = error.get("ctx") or {}
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        subpath: tuple[str | int, ...] = (str(ctx["discriminator"]).strip("'"),)  # e.g. schedule.plan
    else:
        subpath = tuple(ctx.get(SUBPATH, ()))  # errors raised with ``error_at``
    return _yaml_loc(data, (*error["loc"], *subpath))


def _drop_union_noise(errors: list[tuple[Loc, Any]]) -> list[tuple[Loc, Any]]:
    """For a value that fits no member of a union (``at``: a datetime or a list of them), pydantic reports
    one error per member; at one YAML path, keep the ones that say what is wrong with the value over the
    bare type mismatches of the members it was never meant to be ("Input should be a valid list")."""
    by_loc: dict[Loc, list[Any]] = {}
    for loc, error in errors:
        by_loc.setdefault(loc, []).append(error)
    kept = []
    for loc, error in errors:
        others = by_loc[loc]
        mismatch = str(error["type"]).endswith("_type")
        if mismatch and len(others) > 1 and any(not str(o["type"]).endswith("_type") for o in others):
            continue
        kept.append((loc, error))
    return kept


def validate_document(
    doc: YamlDocument, model: type[ModelT], display: str
) -> tuple[ModelT | None, list[Problem]]:
    if not isinstance(doc.data, dict):
        kind = (
            "it is empty" if doc.data is None else "it holds a list" if isinstance(doc.data, list) else None
        )
        message = "the file must hold a mapping of keys (key: value lines)" + (f"; {kind}" if kind else "")
        return None, [Problem(display, doc.lines.get((), 1), "(top level)", message)]
    problems = list(doc.problems)
    try:
        parsed = model.model_validate(doc.data)
    except ValidationError as exc:
        errors = [(_error_loc(doc.data, error), error) for error in exc.errors()]
        for loc, error in _drop_union_noise(errors):
            problems.append(located(display, doc.lines, loc, _message(error)))
        return None, sorted(set(problems), key=lambda p: (p.line or 0, p.path))
    if problems:
        return None, problems
    return parsed, []


def load_file(path: Path, model: type[ModelT], display: str | None = None) -> Loaded[ModelT] | list[Problem]:
    name = display or str(path)
    doc = YamlDocument.read(path, name)
    if isinstance(doc, Problem):
        return [doc]
    parsed, problems = validate_document(doc, model, name)
    if parsed is None:
        return problems
    return Loaded(parsed, name, path, doc.lines)


def is_spec_document(path: Path) -> bool:
    """Whether a YAML file is an import spec (it has source/target/mapping/schedule keys)."""
    doc = YamlDocument.read(path)
    return isinstance(doc, YamlDocument) and isinstance(doc.data, dict) and bool(SPEC_KEYS & set(doc.data))


def yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES)


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def load_project(
    spec_files: Iterable[Path], database_files: Iterable[Path], *, root: Path | None = None
) -> Project:
    """Load every database, then every spec, and cross-check each spec against its database.

    Never raises for what a file holds: whatever goes wrong with one file is a problem of that file, and
    the other files load as if it were not there.
    """
    project = Project()
    for path in database_files:
        name = _display(path, root)
        try:
            _add_database(project, path, name)
        except Exception as exc:  # the last line of defence: one file must never hide the others
            project.problems.append(unexpected_problem(name, exc))

    for path in spec_files:
        name = _display(path, root)
        try:
            loaded = load_file(path, ImportSpec, name)
            problems = loaded if isinstance(loaded, list) else _cross_check(loaded, project)
        except Exception as exc:  # the last line of defence, as above
            loaded, problems = [], [unexpected_problem(name, exc)]
        if problems:
            project.problems.extend(problems)
            project.broken_specs[name] = problems
            continue
        assert not isinstance(loaded, list)
        project.specs[loaded.model.name] = loaded
        project.warnings.extend(_warnings(loaded))
    return project


def _add_database(project: Project, path: Path, name: str) -> None:
    loaded_db = load_file(path, ProfileDatabase, name)
    if isinstance(loaded_db, list):
        project.problems.extend(loaded_db)
        return
    db_name = loaded_db.model.name
    if db_name in project.databases:
        other = project.databases[db_name].file
        project.problems.append(
            loaded_db.problem(("name",), f"database {db_name!r} is also defined in {other}")
        )
        return
    if path.stem != db_name:
        project.problems.append(
            loaded_db.problem(("name",), f"database name {db_name!r} must match its file name {path.stem!r}")
        )
    project.databases[db_name] = loaded_db


def _warnings(loaded: Loaded[ImportSpec]) -> list[Problem]:
    """The spec's warnings; none if finding them fails (a valid spec stays valid without its warnings)."""
    try:
        return [loaded.problem(loc, message) for loc, message in spec_warnings(loaded.model)]
    except Exception:
        log.debug("the warnings of %s could not be found", loaded.file, exc_info=True)
        return []


def _cross_check(loaded: Loaded[ImportSpec], project: Project) -> list[Problem]:
    spec = loaded.model
    if spec.name in project.specs:
        other = project.specs[spec.name].file
        return [loaded.problem(("name",), f"import name {spec.name!r} is already used by {other}")]
    if len(spec.source.query) > MAX_QUERY_CHARS:
        size = f"{len(spec.source.query) / 1024:.0f} KB"
        return [
            loaded.problem(
                ("source", "query"),
                f"the query is {size}; a query may be at most {MAX_QUERY_CHARS // 1024} KB "
                "(it is checked in every supported SQL dialect each time the DAG file is parsed)",
            )
        ]
    database = project.databases.get(spec.target.database)
    if database is None:
        known = ", ".join(sorted(project.databases)) or "none found"
        return [
            loaded.problem(
                ("target", "database"),
                f"profile database {spec.target.database!r} is not defined (known: {known})",
            )
        ]
    return [
        loaded.problem(loc, message) for loc, message in check_spec_against_database(spec, database.model)
    ]
