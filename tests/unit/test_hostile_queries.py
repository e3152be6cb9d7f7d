"""The hostile-query corpus (tests/corpus/hostile_queries.yaml): refused by ``customer-import validate``
(the connection's DBMS unknown: every dialect's reading counts) and again at run time by ``extract_part``
in every source dialect, before any connection is opened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from customer_import.exceptions import QueryError, SourceError
from customer_import.sources.dialects import SOURCE_DIALECTS, SourceDialect
from customer_import.sources.extract import extract_part
from customer_import.sources.query import check_query
from customer_import.spec.loader import load_project

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
HOSTILE: list[dict[str, str]] = yaml.safe_load((CORPUS / "hostile_queries.yaml").read_text("utf-8"))
IDS = [entry["id"] for entry in HOSTILE]
SPEC = """\
name: {name}
target: {{database: corpus_shop, mode: upsert, matching: {{by: email}}}}
schedule: {{plan: manual}}
source:
  conn_id: crm
  query: {query}
mapping:
  - {{field: email, column: email}}
"""


def test_the_corpus_ids_are_unique() -> None:
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("entry", HOSTILE, ids=IDS)
def test_validation_refuses_each_hostile_query(entry: dict[str, str]) -> None:
    problems = check_query(entry["query"], None)
    assert any(entry["refused"] in problem for problem in problems), problems


def test_customer_import_validate_refuses_each_hostile_spec(tmp_path: Path) -> None:
    """What ``customer-import validate`` and the DAG factory run: the spec loader, one spec per query."""
    specs = []
    for entry in HOSTILE:
        path = tmp_path / f"{entry['id']}.yaml"
        # a JSON string is a YAML double-quoted scalar: the query arrives exactly as in the corpus
        path.write_text(SPEC.format(name=entry["id"], query=json.dumps(entry["query"])), "utf-8")
        specs.append(path)
    project = load_project(specs, [CORPUS / "profile_databases" / "corpus_shop.yaml"], root=tmp_path)
    assert not project.specs, sorted(project.specs)
    for entry in HOSTILE:
        problems = project.broken_specs[f"{entry['id']}.yaml"]
        assert any(p.path == "source.query" and entry["refused"] in p.message for p in problems), problems


class NoConnection(AssertionError):
    pass


@contextmanager
def _no_connection(conn_id: str, batch_size: int) -> Iterator[Any]:
    raise NoConnection(f"connected to {conn_id!r}: the query should have been refused before")
    yield  # pragma: no cover


@pytest.mark.parametrize("dialect_type", SOURCE_DIALECTS, ids=[d.name for d in SOURCE_DIALECTS])
@pytest.mark.parametrize("entry", HOSTILE, ids=IDS)
def test_each_source_dialect_refuses_each_hostile_query_before_connecting(
    entry: dict[str, str], dialect_type: type[SourceDialect], monkeypatch: pytest.MonkeyPatch
) -> None:
    dialect = dialect_type()
    monkeypatch.setattr(dialect, "read_only_cursor", _no_connection)
    with pytest.raises(QueryError, match=f"refused for a {dialect.name} source"):
        list(extract_part(dialect, "crm", entry["query"], 0, 10))


def test_a_query_that_is_not_hostile_does_connect() -> None:
    """The fixture above is what stops the hostile ones: a plain SELECT gets through to it."""
    dialect = SOURCE_DIALECTS[0]()
    dialect.read_only_cursor = _no_connection  # type: ignore[method-assign]
    with pytest.raises(SourceError, match="NoConnection: connected to 'crm'"):
        list(
            extract_part(dialect, "crm", "SELECT id FROM customers WHERE id > {lastItem} ORDER BY id", 0, 10)
        )
