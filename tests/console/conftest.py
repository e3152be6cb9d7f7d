"""One real api-server for the console tests (``tests/console``, marker ``console``).

Built from :class:`tests.deploy.harness.Deployment` (its environment, home layout, process handling and
REST helpers) but with only the processes the console needs: a PostgreSQL metadata DB, the project's DAG
file and the demo spec, the DAGs serialized with ``airflow dags reserialize``, one real import run with
rejected rows (``airflow dags test``), then ``airflow api-server`` on a free port with SimpleAuthManager
users ``admin`` (role admin) and ``viewer`` (role viewer). No scheduler: a run queued by "Run now" stays
queued, which is what the tests look for.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.deploy.harness import PG_ADMIN, PG_SERVER, REPO, Deployment, free_port, wait_until

IMPORT = "demo_crm_customers"
ROLES = {"admin": "admin", "viewer": "viewer"}
ARTIFACTS = REPO / "test-artifacts" / "console"


@dataclass
class Console:
    deployment: Deployment
    passwords: dict[str, str]
    run_id: str  # the real run made by `airflow dags test`

    @property
    def url(self) -> str:
        return self.deployment.url

    def token(self, user: str) -> str:
        response = httpx.post(
            f"{self.url}/auth/token",
            json={"username": user, "password": self.passwords[user]},
            timeout=120,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])

    def runs(self) -> list[dict[str, Any]]:
        """Every DagRun of the import, by the REST API (admin)."""
        return list(self.deployment.api("GET", f"/dags/{IMPORT}/dagRuns", params={"limit": 100})["dag_runs"])


@pytest.fixture(scope="module")
def console() -> Iterator[Console]:
    key = uuid.uuid4().hex[:10]
    home = Path(tempfile.mkdtemp(prefix=f"customer-import-console-{key}-"))
    meta_db, data_db = f"console_meta_{key}", f"console_data_{key}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{meta_db}"')
        admin.execute(f'CREATE DATABASE "{data_db}"')
    port = free_port()
    env = Deployment._environment(home, "LocalExecutor", port, f"{PG_SERVER}/{meta_db}", key)
    env |= {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in ROLES.items()),
        "AIRFLOW_CONN_DEMO_CRM_SQLITE": f"sqlite:///{home / 'crm.db'}",
    }
    deployment = Deployment(
        executor="LocalExecutor", home=home, env=env, port=port, meta_db=meta_db, data_db=data_db
    )
    try:
        deployment._prepare_home()
        passwords = {user: secrets.token_urlsafe(12) for user in ROLES}
        (home / "passwords.json").write_text(json.dumps(passwords))
        shutil.copy(REPO / "include" / "import_specs" / f"{IMPORT}.yaml", home / "specs" / f"{IMPORT}.yaml")
        subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "make_demo_source.py"),
                str(home / "crm.db"),
                "--rows",
                "600",
            ],
            check=True,
            capture_output=True,
        )
        deployment.airflow("db", "migrate", timeout=600)
        deployment.airflow("dags", "reserialize", timeout=600)
        # the api-server boots while the real run goes on (it reads the metadata DB per request)
        deployment.launch("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port), "-w", "1")
        deployment.airflow("dags", "test", IMPORT, timeout=600)
        wait_until(deployment._healthy, 300, "the api-server to answer")
        deployment._password = passwords["admin"]  # the harness's REST helpers act as admin
        (run,) = deployment.api("GET", f"/dags/{IMPORT}/dagRuns")["dag_runs"]
        assert run["state"] == "success", run
        yield Console(deployment, passwords, str(run["dag_run_id"]))
    finally:
        deployment.stop()
