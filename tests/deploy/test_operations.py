"""Alerts, metrics and lineage of imports run by real Airflow processes: the Celery deployment (scheduler,
dag-processor, api-server, two Celery workers; ``tests/deploy/conftest.py``), runs triggered through the
REST API.

Three runs, shared by the tests below (started once, by the first test that asks for them):

- ``deploy_ops_customers``, first run: 10 source rows, 3 rejected (2 ``invalid_email``, 1
  ``empty_match_key``), 1 skipped (its email again later in the part: ``duplicate_keys: last``), 6
  created; at the same time ``deploy_ops_failing``, whose source table does not exist: the import task
  fails at once;
- ``deploy_ops_customers``, second run (after the first one): 5 new rows, clean: 3 created, 1 updated, 1
  unchanged.

Alerts: an SMTP server of this test (aiosmtpd, a free port) is the connection ``smtp_default``; the
first run sends exactly one mail with its counts, its error codes and a link to the run, the failed run
one, the clean run none; each sent by a task process of the Celery worker that ran the import task (the
sender's TCP socket, traced to its process tree). Metrics: ``[metrics]`` StatsD points to a UDP listener
of the test process; each run's ``customer_import.<name>.rows_*`` counters carry its counts and
``.duration`` its duration. Lineage: the OpenLineage provider's file transport, one folder per process;
the import task's COMPLETE event, written by the worker that ran the task, names the source table (the
source connection's database + ``source.table``), the profile table, and ``outputStatistics.rowCount``.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from typing import Any
from urllib.parse import quote

import psutil
import pytest
from aiosmtpd.controller import Controller

from tests.deploy import data
from tests.deploy.harness import LINEAGE_NAMESPACE, STATSD_PREFIX, Deployment, wait_until

pytestmark = pytest.mark.deploy

IMPORT = "deploy_ops_customers"
FAILING = "deploy_ops_failing"
TABLE = "source_ops"
MISSING_TABLE = "source_ops_missing"  # never created: the failing import's query cannot run
TASK = "import_profiles"
TEAM = ["data-team@example.com", "oncall@example.com"]
COUNTS = ("read", "created", "updated", "unchanged", "skipped", "failed")

# id, email, first_name of each run's source rows
FIRST_ROWS = [
    (1, "ops-1@example.com", "Ann"),  # skipped: the same email again in row 9 (duplicate_keys: last)
    (2, "ops-2@example.com", "Bob"),
    (3, "ops-3@example.com", "Cyd"),
    (4, "not-an-email", "Dee"),  # invalid_email
    (5, "ops-5@example.com", "Eve"),
    (6, "also@bad@", "Fay"),  # invalid_email
    (7, "", "Gus"),  # empty_match_key
    (8, "ops-8@example.com", "Hal"),
    (9, "ops-1@example.com", "Annie"),
    (10, "ops-10@example.com", "Ivy"),
]
FIRST_COUNTS = {"read": 10, "created": 6, "updated": 0, "unchanged": 0, "skipped": 1, "failed": 3}
FIRST_CODES = {"invalid_email": 2, "empty_match_key": 1}
SECOND_ROWS = [
    (11, "ops-11@example.com", "Jo"),
    (12, "ops-2@example.com", "Roberta"),  # updated (Bob before)
    (13, "ops-3@example.com", "Cyd"),  # unchanged
    (14, "ops-14@example.com", "Kim"),
    (15, "ops-15@example.com", "Lu"),
]
SECOND_COUNTS = {"read": 5, "created": 3, "updated": 1, "unchanged": 1, "skipped": 0, "failed": 0}


# ---------------------------------------------------------------------------------------------- SMTP
@dataclass
class Mail:
    recipients: list[str]
    message: Message
    sender: list[int]  # pid of the process that sent it, then the pids of its ancestors

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self) -> str:
        """The HTML part."""
        for part in self.message.walk():
            if part.get_content_type() == "text/html":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode()
        raise AssertionError(f"no HTML part in {self.message}")


def _sender(peer: tuple[str, int]) -> list[int]:
    """The process whose TCP socket is ``peer`` (the SMTP client), and its ancestors."""
    for connection in psutil.net_connections(kind="tcp"):
        if connection.pid and connection.laddr and (connection.laddr.ip, connection.laddr.port) == peer:
            process = psutil.Process(connection.pid)
            return [process.pid, *(parent.pid for parent in process.parents())]
    return []


class Inbox:
    """An aiosmtpd handler keeping every message, with the process that sent it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's name
        sender = _sender((str(session.peer[0]), int(session.peer[1])))
        self.mails.append(Mail(list(envelope.rcpt_tos), message_from_bytes(envelope.content), sender))
        return "250 OK"


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    handler = Inbox(port)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


# ---------------------------------------------------------------------------------------------- the runs
@dataclass
class Run:
    dag_id: str
    run_id: str
    state: str
    worker: str  # the hostname of the import task: the Celery worker that ran it
    report: dict[str, Any] | None


@dataclass
class Scenario:
    deployment: Deployment
    first: Run
    failed: Run
    second: Run
    mails_before_second: list[Mail]
    mails: list[Mail]
    metrics_first: list[str]  # the import's StatsD lines until the first run's task ended
    metrics_second: list[str]  # those after it, until the second run's task ended


_done: dict[str, Scenario | BaseException] = {}


@pytest.fixture
def scenario(celery_deployment: Deployment, inbox: Inbox) -> Scenario:
    """The three runs (once per session; a failure to get them is reported by every test that asks)."""
    if "scenario" not in _done:
        try:
            _done["scenario"] = _run_scenario(celery_deployment, inbox)
        except BaseException as exc:
            _done["scenario"] = exc
            raise
    found = _done["scenario"]
    if isinstance(found, BaseException):
        pytest.fail(f"the runs of this module could not be made: {found!r}", pytrace=False)
    return found


def _alerting_spec(name: str, table: str, times: str) -> str:
    return data.spec(name, table=table, times=times) + f"alerts:\n  email: [{', '.join(TEAM)}]\n"


def _insert(d: Deployment, rows: list[tuple[int, str, str]]) -> None:
    updated_at = dt.datetime.now(dt.UTC)
    data.insert(d, TABLE, [(id_, email, name, updated_at) for id_, email, name in rows])


def _import_lines(d: Deployment, start: int) -> list[str]:
    assert d.statsd is not None
    prefix = f"{STATSD_PREFIX}.customer_import.{IMPORT}."
    return [line for line in d.statsd.lines()[start:] if line.startswith(prefix)]


def _wait_for_task_process(d: Deployment, dag_id: str, run_id: str) -> None:
    """Until the Celery task that ran the import task has ended: its process, with the task's callbacks
    (the alert) and listeners (lineage), has exited. The run is marked finished before that."""
    celery_id = d.celery_task_ids(dag_id, run_id)[TASK]
    assert celery_id, f"{dag_id} {run_id}: no Celery task id"
    ended = re.compile(rf"execute_workload\[{re.escape(celery_id)}\] (succeeded|raised)")
    wait_until(
        lambda: any(ended.search(d.process_log(worker)) for worker in d.workers),
        300,
        f"the Celery task {celery_id} ({dag_id} {run_id}) to end",
    )


def _settle_metrics(d: Deployment, start: int, expected: int) -> list[str]:
    """The import's StatsD lines since ``start``, once ``expected`` arrived (or 15 s passed), plus a
    second for any late extra one."""
    deadline = time.monotonic() + 15
    while len(_import_lines(d, start)) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    return _import_lines(d, start)


def _finished(d: Deployment, dag_id: str, run_id: str) -> Run:
    run = d.wait_for_run(dag_id, run_id)
    _wait_for_task_process(d, dag_id, run_id)
    ti = d.task_instances(dag_id, run_id)[TASK]
    report = d.report(dag_id, run_id) if run["state"] == "success" else None
    print(f"{dag_id} {run_id}: {run['state']} on {ti['hostname']}", (report or {}).get("summary"))
    return Run(dag_id, run_id, str(run["state"]), str(ti["hostname"]), report)


def _run_scenario(d: Deployment, inbox: Inbox) -> Scenario:
    assert d.statsd is not None and d.lineage, "the Celery deployment sends metrics and lineage"
    data.prepare(d, TABLE)
    d.delete_connection("smtp_default")
    d.add_connection("smtp_default", f"smtp://127.0.0.1:{inbox.port}/?disable_ssl=true&disable_tls=true")
    _insert(d, FIRST_ROWS)
    far = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=12)).strftime("%H:%M")  # no tick during the test
    d.write_spec(IMPORT, _alerting_spec(IMPORT, TABLE, far))
    d.write_spec(FAILING, _alerting_spec(FAILING, MISSING_TABLE, far))
    d.wait_for_dags(IMPORT, FAILING)
    d.set_paused(IMPORT, False)
    d.set_paused(FAILING, False)

    start = len(d.statsd.lines())
    first_id, failed_id = d.trigger(IMPORT), d.trigger(FAILING)  # side by side, on the two workers
    first, failed = _finished(d, IMPORT, first_id), _finished(d, FAILING, failed_id)
    metrics_first = _settle_metrics(d, start, 7)
    mails_before_second = list(inbox.mails)

    start = len(d.statsd.lines())
    _insert(d, SECOND_ROWS)
    second = _finished(d, IMPORT, d.trigger(IMPORT))
    metrics_second = _settle_metrics(d, start, 7)
    return Scenario(
        d, first, failed, second, mails_before_second, list(inbox.mails), metrics_first, metrics_second
    )


def _counts(report: dict[str, Any] | None) -> dict[str, int]:
    assert report is not None
    return {name: int(report["summary"][name]) for name in COUNTS}


def test_the_runs_did_what_the_rows_say(scenario: Scenario) -> None:
    """The ground truth of the other tests: each run's state and its report's counts."""
    assert (scenario.first.state, scenario.failed.state, scenario.second.state) == (
        "success",
        "failed",
        "success",
    )
    assert _counts(scenario.first.report) == FIRST_COUNTS
    assert scenario.first.report is not None and scenario.first.report["error_counts"] == FIRST_CODES
    assert _counts(scenario.second.report) == SECOND_COUNTS
    d = scenario.deployment
    for run in (scenario.first, scenario.failed, scenario.second):
        assert run.worker in d.workers
    tis = d.task_instances(FAILING, scenario.failed.run_id)
    assert (tis["prepare_store"]["state"], tis[TASK]["state"]) == ("success", "failed")


# ---------------------------------------------------------------------------------------------- alerts
def _run_link(d: Deployment, run: Run) -> str:
    return f'href="{d.url}/dags/{run.dag_id}/runs/{quote(run.run_id, safe="")}"'


def test_alerts_one_mail_per_rejecting_or_failed_run_from_the_worker(scenario: Scenario) -> None:
    d = scenario.deployment
    first, failed = scenario.first, scenario.failed
    print("mails:", [(m.subject, m.recipients, m.sender) for m in scenario.mails])
    by_subject = {mail.subject: mail for mail in scenario.mails_before_second}
    assert sorted(by_subject) == sorted(
        [f"[customer import] {IMPORT}: 3 rejected row(s)", f"[customer import] {FAILING}: run failed"]
    )
    assert len(scenario.mails_before_second) == 2  # one each

    rejected = by_subject[f"[customer import] {IMPORT}: 3 rejected row(s)"]
    assert sorted(rejected.recipients) == sorted(TEAM)
    text = rejected.body()
    for name, value in FIRST_COUNTS.items():
        assert f"<td>{name}</td><td align='right'>{value}</td>" in text, (name, text)
    assert "<li>invalid_email: 2</li><li>empty_match_key: 1</li>" in text  # most frequent first
    assert _run_link(d, first) in text
    # Sent by the import task's process, under the Celery worker that ran it (not the scheduler, not
    # the dag-processor: task callbacks run in the task process).
    assert d.processes[first.worker].pid in rejected.sender, (first.worker, rejected.sender)

    failure = by_subject[f"[customer import] {FAILING}: run failed"]
    assert sorted(failure.recipients) == sorted(TEAM)
    text = failure.body()
    assert f"task {TASK}:" in text and MISSING_TABLE in text and "does not exist" in text, text
    assert "No counts: the run stopped before its report was written." in text
    assert _run_link(d, failed) in text
    assert d.processes[failed.worker].pid in failure.sender, (failed.worker, failure.sender)

    # The clean second run sent nothing (its task process has ended: its callback has run).
    assert [m.subject for m in scenario.mails] == [m.subject for m in scenario.mails_before_second]


# ---------------------------------------------------------------------------------------------- metrics
def _parse(lines: list[str]) -> tuple[dict[str, list[int]], dict[str, list[float]]]:
    """StatsD lines -> (counter name -> values sent, timer name -> values sent), names without prefix."""
    counters: dict[str, list[int]] = {}
    timers: dict[str, list[float]] = {}
    for line in lines:
        name, _, rest = line.partition(":")
        value, _, kind = rest.partition("|")
        short = name.removeprefix(f"{STATSD_PREFIX}.")
        if kind == "c":
            counters.setdefault(short, []).append(int(value))
        elif kind == "ms":
            timers.setdefault(short, []).append(float(value))
    return counters, timers


@pytest.mark.parametrize("which", ["first", "second"])
def test_metrics_carry_each_runs_counts_and_duration(scenario: Scenario, which: str) -> None:
    run: Run = getattr(scenario, which)
    lines = scenario.metrics_first if which == "first" else scenario.metrics_second
    expected = FIRST_COUNTS if which == "first" else SECOND_COUNTS
    print(f"{which} run's metrics:", lines)
    assert _counts(run.report) == expected
    counters, timers = _parse(lines)
    # One increment of each counter by this run's count, nothing else of this import.
    assert counters == {f"customer_import.{IMPORT}.rows_{name}": [value] for name, value in expected.items()}
    [duration] = timers.pop(f"customer_import.{IMPORT}.duration")
    assert timers == {}
    assert run.report is not None
    assert duration == pytest.approx(float(run.report["summary"]["duration_seconds"]) * 1000, abs=0.01)
    assert duration > 0


# ---------------------------------------------------------------------------------------------- lineage
def _task_events(d: Deployment, run: Run) -> dict[str, list[dict[str, Any]]]:
    """Process name -> the OpenLineage events of ``run``'s import task that process wrote."""
    job = f"{run.dag_id}.{TASK}"
    return {
        process: [
            e
            for e in events
            if e.get("job", {}).get("name") == job
            and e["run"]["facets"].get("airflow", {}).get("dagRun", {}).get("run_id") == run.run_id
        ]
        for process, events in d.lineage_events().items()
    }


@pytest.mark.parametrize("which", ["first", "second"])
def test_lineage_names_source_and_profile_table_with_row_count_from_the_worker(
    scenario: Scenario, which: str
) -> None:
    d = scenario.deployment
    run: Run = getattr(scenario, which)
    events = _task_events(d, run)
    print(
        f"{which} run's task events by process:",
        {p: [e["eventType"] for e in es] for p, es in events.items()},
    )
    # Written by the task process of the worker that ran the task, and by no other process.
    assert {process for process, found in events.items() if found} == {run.worker}
    by_type = {}
    for event in events[run.worker]:
        assert event["eventType"] not in by_type, event["eventType"]
        by_type[event["eventType"]] = event
    assert sorted(by_type) == ["COMPLETE", "START"]

    namespace = "postgres://127.0.0.1:5432"  # connections crm and profile_store_default: the data database
    source = (namespace, f"{d.data_db}.public.{TABLE}")
    profiles = (namespace, f"{d.data_db}.public.customers_profiles")
    for event in by_type.values():
        assert event["job"]["namespace"] == LINEAGE_NAMESPACE
        assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [source]
        assert [(o["namespace"], o["name"]) for o in event["outputs"]] == [profiles]
    assert "outputStatistics" not in by_type["START"]["outputs"][0].get("outputFacets", {})
    [output] = by_type["COMPLETE"]["outputs"]
    counts = _counts(run.report)
    written = 6 if which == "first" else 4  # created + updated
    assert counts["created"] + counts["updated"] == written
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == written
