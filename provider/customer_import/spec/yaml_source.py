"""Read a YAML file safely and remember the line of every key and list item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from customer_import.spec.problems import Loc, Problem, format_path


class YamlDocument:
    """The data of one YAML file (``yaml.safe_load``) and a map from YAML path to 1-based line.

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
        name = display or str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return Problem(name, None, "(file)", f"cannot read the file: {exc}")
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            return Problem(name, line, "(syntax)", f"not valid YAML: {problem}")
        lines: dict[Loc, int] = {}
        duplicates: list[tuple[Loc, int, int]] = []
        if node is not None:
            _walk(node, (), lines, duplicates)
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


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], duplicates: list[tuple[Loc, int, int]]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*loc, key)
            line = key_node.start_mark.line + 1
            if key in seen and key != "<<":
                duplicates.append((child, seen[key], line))
            seen[key] = line
            lines[child] = line
            _walk(value_node, child, lines, duplicates)
            lines[child] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines, duplicates)
