"""The operator's console API on Airflow's own api-server app (``airflow.api_fastapi.app.create_app``, which
mounts the provider's plugin), with FastAPI's TestClient, real JWTs of Airflow's SimpleAuthManager (a
subclass that denies one user one DAG, as a per-DAG auth manager would) and a real run with rejected rows
(``dag.test()``): every endpoint, and 401/403/404/422 as PRODUCT.md says."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import run_dag, set_variable, variable
from tests.e2e.test_demo_import import crm_spec, demo_source

pytestmark = pytest.mark.e2e

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager  # noqa: E402

API = "/customer-imports/api"
SECRET = "secret_import"  # the outsider may not read this import's DAG


class RestrictedAuthManager(SimpleAuthManager):  # type: ignore[misc]
    """SimpleAuthManager, except that the user ``outsider`` may not see the DAG ``secret_import``."""

    def is_authorized_dag(
        self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        if user.get_name() == "outsider" and details is not None and details.id == SECRET:
            return False
        return bool(
            super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
        )


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Airflow's api-server app (plugins mounted), built once for the module."""
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", f"{__name__}.RestrictedAuthManager")
        patch.setenv(
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,viewer:viewer,user:user,outsider:viewer"
        )
        purge_cached_app()
        try:
            yield TestClient(create_app())
        finally:
            purge_cached_app()


def token(username: str, role: str) -> dict[str, str]:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    jwt = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))
    return {"Authorization": f"Bearer {jwt}"}


ADMIN, VIEWER, USER, OUTSIDER = (
    ("admin", "admin"),
    ("viewer", "viewer"),
    ("user", "user"),
    ("outsider", "viewer"),
)


@pytest.fixture
def imports(project: Any, sqlite_conn: Any) -> Path:
    """Two imports (one the outsider may not read), a source with bad rows, a store."""
    _forget_runs("crm", SECRET)  # the metadata DB is the session's: other tests ran a DAG named crm
    demo_source(sqlite_conn("crm_src"), rows=120)
    store = sqlite_conn("profile_store_default")
    project(
        crm_spec("crm", limit=100, labels=["crm", "nightly"]),
        crm_spec(SECRET, schedule={"plan": "manual"}),
    )
    return store


def _forget_runs(*dag_ids: str) -> None:
    from airflow.utils.session import create_session

    with create_session() as session:
        for run in session.scalars(select_runs(dag_ids)).all():
            session.delete(run)


def select_runs(dag_ids: tuple[str, ...]) -> Any:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    return select(DagRun).where(DagRun.dag_id.in_(dag_ids))


def _sync_dags() -> None:
    """Parse the DAG folder into the metadata DB (as the dag-processor would), so that DAGs exist."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    from tests.conftest import REPO

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(str(REPO / "dags"), bundle_name="dags-folder")
    sync_bag_to_db(bag, "dags-folder", None)


def test_the_plugin_is_registered_once_with_its_views(client: Any) -> None:
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    assert [p.name for p in plugins].count("customer_import") == 1
    assert not [e for e in errors.values() if "customer_import" in e]
    (plugin,) = [p for p in plugins if p.name == "customer_import"]
    views = {v["name"]: v for v in plugin.external_views}
    assert views["Customer imports"]["destination"] == "nav"
    assert views["Import"]["destination"] == "dag" and "{DAG_ID}" in views["Import"]["href"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/imports"),
        ("get", "/problems"),
        ("get", "/imports/crm/runs"),
        ("get", "/imports/crm/runs/x/rejected.csv"),
        ("get", "/imports/crm/preview"),
        ("post", "/imports/crm/runs"),
        ("put", "/imports/crm/cursor"),
    ],
)
def test_every_endpoint_needs_a_user(client: Any, imports: Path, method: str, path: str) -> None:
    response = getattr(client, method)(API + path)
    assert response.status_code == 401
    bad = getattr(client, method)(API + path, headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 403  # Airflow's answer to an invalid token


def test_the_list_shows_only_the_imports_a_user_may_read(client: Any, imports: Path) -> None:
    _sync_dags()
    listed = client.get(f"{API}/imports", headers=token(*ADMIN))
    assert listed.status_code == 200
    by_name = {i["name"]: i for i in listed.json()}
    assert set(by_name) == {"crm", SECRET}
    crm = by_name["crm"]
    assert set(crm) == {
        "name", "dag_id", "database", "description", "labels", "schedule", "timezone", "paused",
        "next_run", "cursor", "last_run",
    }  # fmt: skip
    assert crm["dag_id"] == "crm" and crm["database"] == "customers" and crm["labels"] == ["crm", "nightly"]
    assert crm["schedule"] == "daily at 03:00" and crm["timezone"] == "Europe/Berlin"
    assert crm["cursor"] == "0" and crm["last_run"] is None and isinstance(crm["paused"], bool)
    outsider = client.get(f"{API}/imports", headers=token(*OUTSIDER)).json()
    assert [i["name"] for i in outsider] == ["crm"]
    for path in ("/runs", "/preview", "/runs/x/rejected.csv"):
        assert client.get(f"{API}/imports/{SECRET}{path}", headers=token(*OUTSIDER)).status_code == 403


def test_problems_list_every_broken_spec(client: Any, imports: Path, project: Any) -> None:
    project(raw={"broken.yaml": "name: broken\ntarget:\n  database: customers\n  mode: sometimes\n"})
    problems = client.get(f"{API}/problems", headers=token(*VIEWER)).json()
    assert {"file", "line", "path", "message"} == set(problems[0])
    assert any(
        p["file"].endswith("broken.yaml") and p["line"] == 4 and p["path"] == "target.mode" for p in problems
    )


def test_a_bad_name_or_run_id_is_404_with_a_message(client: Any, imports: Path) -> None:
    for path in ("/imports/nope/runs", "/imports/nope/preview", "/imports/nope/runs/x/rejected.csv"):
        response = client.get(API + path, headers=token(*ADMIN))
        assert response.status_code == 404 and "nope" in response.json()["detail"]
    assert client.post(f"{API}/imports/nope/runs", headers=token(*ADMIN)).status_code == 404
    assert (
        client.put(f"{API}/imports/nope/cursor", json={"value": "1"}, headers=token(*ADMIN)).status_code
        == 404
    )
    response = client.get(f"{API}/imports/crm/runs/no-such-run/rejected.csv", headers=token(*ADMIN))
    assert response.status_code == 404 and "no-such-run" in response.json()["detail"]


def test_runs_and_the_csv_of_every_rejected_row_of_a_real_run(client: Any, imports: Path) -> None:
    state, report = run_dag("crm")
    assert state == "success" and report is not None and report["summary"]["failed"] > 0
    runs = client.get(f"{API}/imports/crm/runs?limit=10", headers=token(*VIEWER))
    assert runs.status_code == 200
    (run,) = runs.json()
    assert run["run_id"] == report["run_id"] and run["run_type"] == "manual" and run["state"] == "success"
    assert run["counts"] == {
        k: report["summary"][k] for k in ("read", "created", "updated", "unchanged", "skipped", "failed")
    }
    assert run["cursor_before"] == 0 and run["cursor_after"] == 100
    assert run["errors_by_code"] == report["error_counts"]
    assert client.get(f"{API}/imports/crm/runs?limit=0", headers=token(*VIEWER)).status_code == 422

    response = client.get(f"{API}/imports/crm/runs/{run['run_id']}/rejected.csv", headers=token(*VIEWER))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["row", "cursor", "column", "code", "message", "value"]
    assert len(rows) - 1 == report["summary"]["failed"]  # every rejected row, not the report's sample
    assert sorted((int(r[0]), r[3]) for r in rows[1:]) == sorted(
        (r["row"], r["code"]) for r in report["rejected"]
    )
    with sqlite3.connect(imports) as db:  # the CSV is the store's table
        assert db.execute("SELECT count(*) FROM customers_rejections").fetchone()[0] == len(rows) - 1

    listed = {i["name"]: i for i in client.get(f"{API}/imports", headers=token(*VIEWER)).json()}
    last = listed["crm"]["last_run"]
    assert last["run_id"] == run["run_id"] and last["state"] == "success" and last["counts"] == run["counts"]
    assert listed["crm"]["cursor"] == "100"


def test_preview_is_read_only_and_bounded(client: Any, imports: Path) -> None:
    before = variable("customer_import.crm.last_item")
    response = client.get(f"{API}/imports/crm/preview?rows=5", headers=token(*VIEWER))
    assert response.status_code == 200
    columns = response.json()
    assert [c["column"] for c in columns] == ["id", "email", "phone", "first_name", "birthday", "tier"]
    assert set(columns[0]) == {"column", "field", "first_value", "mapped", "error"}
    assert columns[0]["first_value"] == 1 and columns[0]["mapped"] == 1
    assert variable("customer_import.crm.last_item") == before
    with sqlite3.connect(imports) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []
    assert client.get(f"{API}/imports/crm/preview?rows=101", headers=token(*VIEWER)).status_code == 422


def test_a_broken_source_is_a_readable_error_not_a_500(
    client: Any, imports: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = "S3cr3t-MARKER-console"
    monkeypatch.setenv("AIRFLOW_CONN_CRM_SRC", f"postgresql://nobody:{marker}@127.0.0.1:1/none")
    response = client.get(f"{API}/imports/crm/preview", headers=token(*VIEWER))
    assert response.status_code == 502
    assert "crm_src" in response.json()["detail"]
    assert marker not in response.text  # the connection's password never reaches the console


def _audit(event: str) -> list[Any]:
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [
            (log.owner, log.dag_id, json.loads(log.extra))
            for log in session.scalars(select(Log).where(Log.event == event))
        ]


def test_run_now_queues_a_manual_run_and_is_audited(client: Any, imports: Path) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    _sync_dags()
    assert client.post(f"{API}/imports/crm/runs", headers=token(*VIEWER)).status_code == 403
    response = client.post(f"{API}/imports/crm/runs", headers=token(*USER))
    assert response.status_code == 200
    run_id = response.json()["run_id"]
    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == "crm", DagRun.run_id == run_id))
        assert run is not None and run.state == "queued" and run.run_type == "manual"
        assert run.triggering_user_name == "user"
    assert ("user", "crm", {"import": "crm", "run_id": run_id}) in _audit("customer_import.run_now")
    runs = client.get(f"{API}/imports/crm/runs", headers=token(*VIEWER)).json()
    assert runs[0]["run_id"] == run_id and runs[0]["state"] == "queued"


def test_set_cursor_validates_checks_the_permission_and_is_audited(client: Any, imports: Path) -> None:
    set_variable("customer_import.crm.last_item", "40")
    url = f"{API}/imports/crm/cursor"
    assert client.put(url, json={"value": "7"}, headers=token(*VIEWER)).status_code == 403
    bad = client.put(url, json={"value": "yesterday"}, headers=token(*USER))
    assert bad.status_code == 422 and "yesterday" in bad.json()["detail"]
    assert variable("customer_import.crm.last_item") == "40"  # unchanged
    good = client.put(url, json={"value": " 7 "}, headers=token(*USER))
    assert good.status_code == 200 and good.json() == {"cursor": "7"}
    assert variable("customer_import.crm.last_item") == "7"
    entry = (
        "user",
        "crm",
        {"import": "crm", "variable": "customer_import.crm.last_item", "old": "40", "new": "7"},
    )
    assert entry in _audit("customer_import.set_cursor")


def test_a_timestamp_cursor_refuses_text(client: Any, project: Any, sqlite_conn: Any) -> None:
    sqlite_conn("profile_store_default")
    spec = crm_spec("stamped")
    spec["source"] = {
        "conn_id": "crm_src",
        "query": "SELECT id, email FROM customers WHERE updated_at > {lastItem} ORDER BY updated_at",
        "cursor": {"column": "updated_at", "start_value": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
    }
    spec["mapping"] = [{"field": "crm_id", "column": "id"}, {"field": "email", "column": "email"}]
    project(spec)
    url = f"{API}/imports/stamped/cursor"
    assert client.put(url, json={"value": "not a time"}, headers=token(*ADMIN)).status_code == 422
    assert variable("customer_import.stamped.last_item") is None
    ok = client.put(url, json={"value": "2026-02-01T10:00:00+00:00"}, headers=token(*ADMIN))
    assert ok.status_code == 200 and ok.json() == {"cursor": "2026-02-01T10:00:00+00:00"}


def test_a_token_from_airflows_login_works(client: Any, imports: Path) -> None:
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager as Simple

    passwords = json.loads(Path(Simple.get_generated_password_file()).read_text())
    issued = client.post("/auth/token", json={"username": "viewer", "password": passwords["viewer"]})
    assert issued.status_code == 201
    headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    assert client.get(f"{API}/imports", headers=headers).status_code == 200


def test_the_pages_go_through_the_same_checks(client: Any, imports: Path) -> None:
    assert client.get("/customer-imports/ui").status_code == 401
    listed = client.get("/customer-imports/ui", headers=token(*VIEWER))
    assert listed.status_code == 200 and listed.headers["content-type"].startswith("text/html")
    assert "/customer-imports/ui/imports/crm" in listed.text and SECRET in listed.text
    hidden = client.get("/customer-imports/ui", headers=token(*OUTSIDER))
    assert "/customer-imports/ui/imports/crm" in hidden.text and SECRET not in hidden.text
    page = client.get("/customer-imports/ui/imports/crm", headers=token(*VIEWER))
    assert page.status_code == 200
    assert "Run now" in page.text and "Set cursor" in page.text and "crm_src" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing fetched from elsewhere
    assert client.get(f"/customer-imports/ui/imports/{SECRET}", headers=token(*OUTSIDER)).status_code == 403
    assert client.get("/customer-imports/ui/imports/nope", headers=token(*VIEWER)).status_code == 404
