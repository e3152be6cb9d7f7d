"""OpenLineage: a run reports the source table it read and the profile table it wrote, with its counts,
through apache-airflow-providers-openlineage's listener and its file transport."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import run_dag
from tests.e2e.test_alerts import source
from tests.e2e.test_demo_import import crm_spec

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def events(path: Path, job: str, wait: float = 10.0) -> list[dict[str, Any]]:
    """The COMPLETE event of ``job`` (the listener may write it from a worker thread: wait for it)."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        if path.exists():
            for line in path.read_text().splitlines():
                event = json.loads(line)
                if event.get("job", {}).get("name") == job:
                    found.append(event)
        if any(e["eventType"] == "COMPLETE" for e in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _forget_openlineage_settings() -> None:
    """The provider reads its settings once per process (functools.cache): forget them."""
    from airflow.providers.openlineage import conf
    from airflow.providers.openlineage.plugins.listener import get_openlineage_listener

    for value in vars(conf).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()
    get_openlineage_listener.cache_clear()


@pytest.fixture
def lineage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The provider's listener with its file transport, as a deployment configured with
    ``[openlineage] transport`` loads it. The plugin registers the listener when Airflow loads plugins, which
    happened earlier in this test session without a transport (the provider then stays disabled): so the
    listener is registered here, with the settings read afresh."""
    from airflow.providers.openlineage.plugins.listener import get_openlineage_listener
    from airflow.sdk.listener import get_listener_manager

    path = tmp_path / "lineage.jsonl"
    monkeypatch.setenv(
        "AIRFLOW__OPENLINEAGE__TRANSPORT",
        json.dumps({"type": "file", "log_file_path": str(path), "append": True}),
    )
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__NAMESPACE", "customer-import-tests")
    _forget_openlineage_settings()
    listener = get_openlineage_listener()
    manager = get_listener_manager()
    manager.add_listener(listener)
    try:
        yield path
    finally:
        manager.pm.unregister(listener)
        monkeypatch.undo()
        _forget_openlineage_settings()


def test_a_run_reports_its_input_output_and_counts(
    project: Any, sqlite_conn: Any, pg_conn: Any, lineage: Path
) -> None:
    crm_db = sqlite_conn("crm_src")
    source(crm_db, ["a@example.com", "not-an-email", "b@example.com"])
    store_uri = pg_conn("profile_store_default")
    project(crm_spec())
    state, report = run_dag("crm")
    assert state == "success" and report is not None

    found = events(lineage, "crm.import_profiles")
    complete = [e for e in found if e["eventType"] == "COMPLETE"]
    assert len(complete) == 1, [e["eventType"] for e in found]
    event = complete[0]
    assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [("file", f"{crm_db}.customers")]
    store = urlsplit(store_uri)
    database = store.path.lstrip("/")
    [output] = event["outputs"]
    assert (output["namespace"], output["name"]) == (
        f"postgres://{store.hostname}:{store.port}",
        f"{database}.public.customers_profiles",
    )
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 2  # created 2, updated 0
