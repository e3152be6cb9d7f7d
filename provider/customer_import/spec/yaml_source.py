"""Read a YAML file safely, with bounded work, and remember the line of every key and list item.

Spec and profile-database files are read on every parse of the DAG file (Airflow gives a DAG file 30 s by
default) and by ``customer-import validate``. Whatever a file holds, reading it must neither raise nor take
long nor take much memory, or one file would hide every import: so the file's size, how deeply its values
nest and how many values it holds once its aliases are expanded are bounded *while it is composed*, before
anything is built from it, and anything that still goes wrong becomes a :class:`Problem` of that file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.reader import ReaderError
from yaml.resolver import Resolver

from customer_import.spec.problems import Loc, Problem, format_path, unexpected_problem

# The largest file read, in bytes. The largest spec we can imagine (500 mapped fields, a long query) is
# well under 100 KB, a profile database with long enum lists about the same; 256 KB leaves room, and with
# MAX_VALUES it keeps the worst file to about 0.5 s of reading here (2 s where PyYAML lacks libyaml), so a
# few large files cannot push the DAG file past its parse timeout (a 50 MB spec took 28 s). A bigger file
# is refused from its size, without being read.
MAX_FILE_BYTES = 256 * 1024
# The deepest nesting of values, counting each alias as the values it repeats. A spec nests 5 levels
# (mapping[0].phone.default_region); 32 is far more, and far below Python's recursion limit, which
# composing, building and validating a value recurse into once per level.
MAX_DEPTH = 32
# The most values (scalars, lists and mappings; each alias counted as the values it repeats). A spec of 500
# mapped fields holds about 5,000. Bounding the expanded count refuses alias bombs ("billion laughs": ten
# nested aliases of ten items each expand to 10^9 values) after composing at most this many, instead of
# building them or walking them in the validation; it also bounds the work on a file of many tiny values.
MAX_VALUES = 20_000
_MERGE_TAG = "tag:yaml.org,2002:merge"
_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"


class YamlDocument:
    """The data of one YAML file (safe YAML: plain values only) and a map from YAML path to 1-based line.

    ``problems`` holds what ``yaml.safe_load`` lets pass silently but a spec must not: a key written twice
    in one mapping (YAML keeps the last value and drops the first without a word).
    """

    def __init__(
        self, path: Path, data: Any, lines: dict[Loc, int], problems: list[Problem] | None = None
    ) -> None:
        self.path = path
        self.data = data
        self.lines = lines
        self.problems = problems or []

    @classmethod
    def read(cls, path: Path, display: str | None = None) -> YamlDocument | Problem:
        """The file's document, or the one problem that keeps it from being read. Never raises."""
        name = display or str(path)
        try:
            text = _read_text(path, name)
            if isinstance(text, Problem):
                return text
            return cls._parse(path, name, text)
        except Exception as exc:  # the last line of defence: one file must never hide the others
            return unexpected_problem(name, exc)

    @classmethod
    def _parse(cls, path: Path, name: str, text: str) -> YamlDocument | Problem:
        try:
            loader = _LOADER(text)  # PyYAML's reader refuses control characters here, libyaml's later
        except ReaderError as exc:
            return _reader_problem(name, text, exc, in_bytes=False)
        try:
            node = loader.get_single_node()
            lines: dict[Loc, int] = {}
            duplicates: list[tuple[Loc, int, int]] = []
            if node is not None:
                _walk(node, (), lines, duplicates)
            # Built after the walk: building a mapping merges its ``<<: *alias`` keys into the node itself.
            data = loader.construct_document(node) if node is not None else None
        except _Refused as exc:
            return Problem(name, exc.line, format_path(exc.loc) if exc.loc else "(syntax)", exc.message)
        except ReaderError as exc:
            return _reader_problem(name, text, exc, in_bytes=loader.offsets_in_bytes)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            if problem == _LIBYAML_TOO_DEEP:  # libyaml's own limit (1000) can come first, scanning ahead
                return Problem(name, line, "(syntax)", _Bounds._too_deep(""))
            return Problem(name, line, "(syntax)", f"not valid YAML: {_one_line(problem)}")
        problems = [
            Problem(
                name,
                line,
                format_path(loc),
                f"key written twice (also on line {first}); YAML keeps only the last",
            )
            for loc, first, line in duplicates
        ]
        return cls(path, data, lines, problems)


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


def _read_text(path: Path, name: str) -> str | Problem:
    """The file's text, read up to :data:`MAX_FILE_BYTES` only, or why it cannot be read."""
    too_big = f"a spec or profile-database file may be at most {_size(MAX_FILE_BYTES)}"
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return Problem(name, 1, "(file)", f"the file is {_size(size)}; {too_big}")
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)  # a file that grew since, or a device, is read no further
    except OSError as exc:
        return Problem(name, None, "(file)", f"cannot read the file: {exc}")
    if len(raw) > MAX_FILE_BYTES:
        return Problem(name, 1, "(file)", f"the file is larger than {_size(MAX_FILE_BYTES)}; {too_big}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return Problem(
            name, line, "(file)", f"cannot read the file: it is not UTF-8 text (byte 0x{raw[exc.start]:02x})"
        )


def _reader_problem(name: str, text: str, exc: ReaderError, *, in_bytes: bool) -> Problem:
    position = max(exc.position, 0)
    line = (text.encode("utf-8")[:position].count(b"\n") if in_bytes else text.count("\n", 0, position)) + 1
    character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
    return Problem(
        name,
        line,
        "(syntax)",
        f"not valid YAML: it holds the control character {character}, which YAML does not allow",
    )


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG_PREFIX) if tag.startswith(_YAML_TAG_PREFIX) else tag


class _Refused(Exception):
    """A file refused while reading it: at ``line``, at YAML path ``loc`` (``()``: no path known)."""

    def __init__(self, line: int | None, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.loc = loc
        self.message = message


class _Bounds(Composer, SafeConstructor):
    """A safe YAML loader that bounds the work while it composes the file's nodes.

    Composing is the only step that sees the file's structure before it is expanded: an alias is the same
    node as its anchor, so each node's expanded size and height are known from its children's. A node
    is refused when it nests deeper than :data:`MAX_DEPTH`, when the values composed so far (aliases
    counted at their expanded size) pass :data:`MAX_VALUES`, when an alias is used inside its own anchor
    (a recursive value), or when it has a tag that safe YAML cannot build (``!!python/object`` ...).
    Nothing is built until the whole file has passed, and building knows no recursion deeper than
    :data:`MAX_DEPTH`. The events come from libyaml where PyYAML has it (five times faster than
    PyYAML's own scanner and parser, which neither recurse), else from PyYAML's.
    """

    peek_event: Callable[[], Any]  # from the parser the loaders below mix in
    offsets_in_bytes = False  # whether a ReaderError's position counts bytes of UTF-8 (or characters)

    def __init__(self, stream: str) -> None:
        raise NotImplementedError  # the loaders below start their scanner and parser, then the bounds

    def _start_bounds(self) -> None:
        self._depth = 0
        self._values = 0
        self._open_anchors: set[str] = set()
        self._measures: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded values, expanded height)
        self._locs: list[Loc] = []
        self._node_locs: dict[int, tuple[int, Loc]] = {}  # id(node) -> (line, YAML path) where it is written

    def _loc(self, parent: yaml.Node | None, index: Any) -> Loc:
        loc = self._locs[-1] if self._locs else ()
        if isinstance(parent, yaml.SequenceNode) and isinstance(index, int):
            return (*loc, index)
        if isinstance(parent, yaml.MappingNode) and isinstance(index, yaml.ScalarNode):
            return (*loc, str(index.value))
        return loc  # the document, or a mapping's key

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        loc = self._loc(parent, index)
        if isinstance(event, yaml.AliasEvent):
            anchor = str(event.anchor)
            if anchor in self._open_anchors:
                raise _Refused(
                    line,
                    loc,
                    f"the alias *{anchor} is used inside the value of its own anchor &{anchor}: "
                    "a value that contains itself cannot be loaded",
                )
            node = self._compose(parent, index)
            values, height = self._measures[id(node)]
            self._count(values, line, loc, f" (the alias *{anchor} repeats {values:,} values)")
            if self._depth + height > MAX_DEPTH:
                raise _Refused(line, loc, self._too_deep(f" once the alias *{anchor} is expanded"))
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(line, loc, self._too_deep(""))
        self._count(1, line, loc, "")
        anchor = event.anchor
        if anchor is not None:
            self._open_anchors.add(anchor)
        self._locs.append(loc)
        node = self._compose(parent, index)
        self._locs.pop()
        if anchor is not None:
            self._open_anchors.discard(anchor)
        self._depth -= 1
        if node.tag != _MERGE_TAG and node.tag not in self.yaml_constructors:
            if getattr(event, "tag", None) in (None, "!"):  # a plain value that YAML reads as a special one
                raise _Refused(line, loc, f"cannot read the value {_short(node.value)}: write it in quotes")
            raise _Refused(
                line,
                loc,
                f"the tag {_tag(node.tag)} is not allowed: a spec holds plain YAML values only "
                "(text, numbers, dates, lists and mappings)",
            )
        self._measures[id(node)] = self._measure(node)
        self._node_locs[id(node)] = (line or 0, loc)
        return node

    def _compose(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        node = super().compose_node(parent, index)
        assert node is not None  # PyYAML returns a node or raises
        return node

    def _measure(self, node: yaml.Node) -> tuple[int, int]:
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            return 1, 1
        measures = [self._measures[id(child)] for child in children]
        return 1 + sum(v for v, _ in measures), 1 + max((h for _, h in measures), default=0)

    def _count(self, values: int, line: int | None, loc: Loc, why: str) -> None:
        self._values += values
        if self._values > MAX_VALUES:
            raise _Refused(
                line,
                loc,
                f"the file holds more than {MAX_VALUES:,} values, counting each alias as the values it "
                f"repeats{why}; a spec or profile-database file may hold at most {MAX_VALUES:,}",
            )

    @staticmethod
    def _too_deep(why: str) -> str:
        return (
            f"the values are nested more than {MAX_DEPTH} levels deep{why}; a spec or profile-database "
            f"file may nest at most {MAX_DEPTH} levels"
        )

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """A value that matches a YAML type but is not one (``2026-13-01``, an integer of 5,000 digits)
        is a problem at its line, not an exception out of the loader."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError, TypeError) as exc:
            line, loc = self._node_locs.get(id(node), (node.start_mark.line + 1, ()))
            raise _Refused(
                line, loc, f"cannot read the value {_short(node.value)}: {_one_line(str(exc))}"
            ) from exc


class _PyYamlLoader(_Bounds, yaml.SafeLoader):
    """Events from PyYAML's own reader, scanner and parser."""

    def __init__(self, stream: str) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._start_bounds()


def _loader_class() -> type[_Bounds]:
    """The libyaml loader where PyYAML was built with libyaml, else PyYAML's own."""
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - PyYAML without libyaml
        return _PyYamlLoader

    class _LibYamlLoader(_Bounds, CParser, Resolver):
        """Events from libyaml (``yaml.CSafeLoader``'s parser), composed and built by :class:`_Bounds`."""

        offsets_in_bytes = True  # libyaml reads the text as UTF-8 and counts its offsets in bytes

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._start_bounds()

    return _LibYamlLoader


_LOADER = _loader_class()


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], duplicates: list[tuple[Loc, int, int]]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a list or mapping as a key: building the data refuses it, with its line
            key = str(key_node.value)
            child = (*loc, key)
            if key in seen and key != "<<":
                duplicates.append((child, seen[key], line))
            seen[key] = line
            lines[child] = line
            _walk(value_node, child, lines, duplicates)
            lines[child] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines, duplicates)
