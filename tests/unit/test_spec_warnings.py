"""A cursor query without ORDER BY on the cursor column works but can skip rows: warned, not refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from customer_import.spec.checks import spec_warnings
from tests.helpers import SPEC, make_spec, merge

CURSOR = {"column": "id", "start_value": 0}


def test_a_cursor_query_without_order_by_on_the_cursor_is_warned() -> None:
    unordered = make_spec(
        source={"query": "SELECT * FROM c WHERE id > {lastItem} LIMIT 10", "cursor": CURSOR}
    )
    (warning,) = spec_warnings(unordered)
    assert warning[0] == ("source", "query")
    assert "does not ORDER BY the cursor column 'id'" in warning[1]
    ordered = make_spec(
        source={"query": "SELECT * FROM c WHERE id > {lastItem} ORDER BY id LIMIT 10", "cursor": CURSOR}
    )
    assert spec_warnings(ordered) == []
    assert spec_warnings(make_spec()) == []  # no cursor, nothing to skip


def test_validate_prints_the_warning_and_still_passes(tmp_path: Path) -> None:
    specs = tmp_path / "import_specs"
    databases = tmp_path / "profile_databases"
    specs.mkdir()
    databases.mkdir()
    (databases / "shop.yaml").write_text("name: shop\nfields:\n  crm_id: {type: int, unique: true}\n")
    spec = merge(SPEC, {"source": {"query": "SELECT * FROM c WHERE id > {lastItem}", "cursor": CURSOR}})
    (specs / "shop_import.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "customer-import"), "validate", str(specs)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "warning: " in done.stderr
    assert "shop_import.yaml:" in done.stderr
    assert "source.query: the query uses {lastItem} but does not ORDER BY" in done.stderr
