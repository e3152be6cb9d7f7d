"""Load spec and profile-database files, reporting every problem of every file at once.

A file's problems are :class:`Problem` values with file, YAML path and line; loading never stops at the
first one. ``load_project`` loads a specs folder and a databases folder and cross-checks them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from customer_import.spec.checks import check_spec_against_database
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.problems import SUBPATH, Loc, Problem, located
from customer_import.spec.yaml_source import YamlDocument

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")
YAML_SUFFIXES = (".yaml", ".yml")
SPEC_KEYS = frozenset({"source", "target", "mapping", "schedule"})


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


def _yaml_loc(data: Any, loc: Sequence[str | int]) -> Loc:
    """Turn a pydantic error location into a path of the YAML data (dropping union-member tags)."""
    out: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif index == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str):
            out.append(part)  # a missing key: name it; its line is the parent's
    return tuple(out)


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (not part of the spec format; check the spelling)"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def validate_document(doc: YamlDocument, model: type[ModelT], display: str) -> tuple[ModelT | None, list[Problem]]:
    if not isinstance(doc.data, dict):
        kind = "nothing" if doc.data is None else f"a {type(doc.data).__name__}"
        message = f"the file must hold a mapping of keys, not {kind}"
        return None, [Problem(display, doc.lines.get((), 1), "(top level)", message)]
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            # Errors raised with ``error_at`` name a key below the validated object.
            subpath = tuple(error.get("ctx", {}).get(SUBPATH, ()))
            loc = _yaml_loc(doc.data, (*error["loc"], *subpath))
            problems.append(located(display, doc.lines, loc, _message(error)))
        return None, sorted(set(problems), key=lambda p: (p.line or 0, p.path))


def load_file(
    path: Path, model: type[ModelT], display: str | None = None
) -> Loaded[ModelT] | list[Problem]:
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
    """Load every database, then every spec, and cross-check each spec against its database."""
    project = Project()
    for path in database_files:
        name = _display(path, root)
        loaded_db = load_file(path, ProfileDatabase, name)
        if isinstance(loaded_db, list):
            project.problems.extend(loaded_db)
            continue
        db_name = loaded_db.model.name
        if db_name in project.databases:
            other = project.databases[db_name].file
            project.problems.append(loaded_db.problem(("name",), f"database {db_name!r} is also defined in {other}"))
            continue
        if path.stem != db_name:
            project.problems.append(
                loaded_db.problem(("name",), f"database name {db_name!r} must match its file name {path.stem!r}")
            )
        project.databases[db_name] = loaded_db

    for path in spec_files:
        name = _display(path, root)
        loaded = load_file(path, ImportSpec, name)
        problems = loaded if isinstance(loaded, list) else _cross_check(loaded, project)
        if problems:
            project.problems.extend(problems)
            project.broken_specs[name] = problems
            continue
        assert not isinstance(loaded, list)
        project.specs[loaded.model.name] = loaded
    return project


def _cross_check(loaded: Loaded[ImportSpec], project: Project) -> list[Problem]:
    spec = loaded.model
    if spec.name in project.specs:
        other = project.specs[spec.name].file
        return [loaded.problem(("name",), f"import name {spec.name!r} is already used by {other}")]
    database = project.databases.get(spec.target.database)
    if database is None:
        known = ", ".join(sorted(project.databases)) or "none found"
        return [
            loaded.problem(
                ("target", "database"),
                f"profile database {spec.target.database!r} is not defined (known: {known})",
            )
        ]
    return [loaded.problem(loc, message) for loc, message in check_spec_against_database(spec, database.model)]
