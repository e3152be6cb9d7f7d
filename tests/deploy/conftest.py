"""Deployments for the ``deploy`` tests (``pytest -m deploy``): one with the LocalExecutor, one with the
CeleryExecutor and two workers. Each is started when a test first needs it and stopped (processes ended,
databases dropped) when the session ends, or earlier when the other one starts: the machine has 2 cores,
so only one deployment runs at a time (the Celery tests are collected last). The Celery deployment also
sends its metrics to a StatsD listener of the test process and its OpenLineage events to files
(``tests/deploy/test_operations.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import IN_CI
from tests.deploy.harness import PG_ADMIN, REDIS, Deployment

_running: dict[str, Deployment] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The Celery tests run after the LocalExecutor ones (each module sets ``pytestmark = deploy``)."""
    items.sort(key=lambda item: "celery_deployment" in getattr(item, "fixturenames", ()))


def _require_services(redis: bool) -> None:
    problems = []
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        problems.append(f"PostgreSQL ({exc})")
    if redis:
        import redis as redis_client

        try:
            redis_client.Redis.from_url(REDIS, socket_connect_timeout=5).ping()
        except redis_client.RedisError as exc:
            problems.append(f"Redis ({exc})")
    if problems:
        message = f"not reachable: {', '.join(problems)}"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)


def _deployment(kind: str) -> Deployment:
    if kind in _running:
        return _running[kind]
    for other in list(_running):
        _running.pop(other).stop()
    _require_services(redis=kind == "celery")
    if kind == "celery":
        deployment = Deployment.start("CeleryExecutor", celery_workers=2, statsd=True, lineage=True)
    else:
        deployment = Deployment.start("LocalExecutor")
    _running[kind] = deployment
    return deployment


@pytest.fixture(scope="session", autouse=True)
def _stop_deployments() -> Iterator[None]:
    yield
    for kind in list(_running):
        _running.pop(kind).stop()


@pytest.fixture
def local_deployment() -> Deployment:
    """Scheduler, dag-processor and api-server with the LocalExecutor (started once per session)."""
    return _deployment("local")


@pytest.fixture
def celery_deployment() -> Deployment:
    """The same with the CeleryExecutor and two workers, worker-a and worker-b (concurrency 1 each);
    ``[metrics]`` StatsD to ``.statsd`` and the OpenLineage file transport (``.lineage_events()``)."""
    return _deployment("celery")
