"""Alerts (spec key ``alerts``) through Airflow's SMTP notifier, received by a real local SMTP server.

A run with rejected rows sends one mail with the counts, the top error codes and a link to the run; a failed
run sends one; a clean run sends none; a bad address is a spec error with file and line.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from customer_import.spec.loader import load_project
from tests.e2e.conftest import run_dag
from tests.e2e.test_demo_import import crm_spec

pytestmark = pytest.mark.e2e

TEAM = ["data-team@example.com", "oncall@example.com"]


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # aiosmtpd calls it by this name
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        f"smtp://127.0.0.1:{port}/?disable_ssl=true&disable_tls=true&from_email=airflow%40example.com",
    )
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example.com:8080")
    try:
        yield handler
    finally:
        controller.stop()


def source(path: Path, emails: list[str]) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, first_name TEXT, "
            "birthday TEXT, tier TEXT)"
        )
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, NULL, 'Ann', NULL, 'gold')",
            list(enumerate(emails, start=1)),
        )


def alerting(on: list[str] | None = None, **changes: Any) -> dict[str, Any]:
    alerts: dict[str, Any] = {"email": TEAM}
    if on is not None:
        alerts["on"] = on
    return crm_spec(alerts=alerts, **changes)


def body(message: Message) -> str:
    part = message.get_payload()[0] if message.is_multipart() else message
    assert isinstance(part, Message)
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_a_run_with_rejected_rows_sends_one_mail_with_counts_codes_and_link(
    project: Any, sqlite_conn: Any, inbox: Inbox
) -> None:
    source(sqlite_conn("crm_src"), ["a@example.com", "not-an-email", "b@example.com", "also@bad@", "c@x.io"])
    sqlite_conn("profile_store_default")
    project(alerting())
    state, report = run_dag("crm")
    assert state == "success" and report is not None and report["summary"]["failed"] == 2

    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert sorted(recipients) == sorted(TEAM)
    assert message["Subject"] == "[customer import] crm: 2 rejected row(s)"
    assert message["From"] == "airflow@example.com"  # the connection's from_email
    text = body(message)
    assert "<td>read</td><td align='right'>5</td>" in text
    assert "<td>created</td><td align='right'>3</td>" in text
    assert "<td>failed</td><td align='right'>2</td>" in text
    assert "<li>invalid_email: 2</li>" in text
    assert 'href="http://airflow.example.com:8080/dags/crm/runs/manual__' in text


def test_a_clean_run_sends_nothing(project: Any, sqlite_conn: Any, inbox: Inbox) -> None:
    source(sqlite_conn("crm_src"), ["a@example.com", "b@example.com"])
    sqlite_conn("profile_store_default")
    project(alerting())
    state, report = run_dag("crm")
    assert state == "success" and report is not None and report["summary"]["created"] == 2
    assert inbox.messages == []


def test_a_failed_run_sends_one_mail_with_the_error(project: Any, sqlite_conn: Any, inbox: Inbox) -> None:
    sqlite_conn("crm_src")  # an empty database: the query's table does not exist
    sqlite_conn("profile_store_default")
    project(alerting(on=["failure"]))
    state, report = run_dag("crm")
    assert state == "failed" and report is None

    assert len(inbox.messages) == 1
    _, message = inbox.messages[0]
    assert message["Subject"] == "[customer import] crm: run failed"
    text = body(message)
    assert "task import_profiles:" in text and "no such table: customers" in text
    assert "No counts: the run stopped before its report was written." in text


def test_only_the_events_asked_for_are_sent(project: Any, sqlite_conn: Any, inbox: Inbox) -> None:
    source(sqlite_conn("crm_src"), ["a@example.com", "not-an-email"])
    sqlite_conn("profile_store_default")
    project(alerting(on=["failure"]))
    state, report = run_dag("crm")
    assert state == "success" and report is not None and report["summary"]["failed"] == 1
    assert inbox.messages == []  # rejected rows, but only failures were asked for


def test_a_bad_address_is_a_spec_error_with_file_and_line(project: Any) -> None:
    specs = project(crm_spec(alerts={"email": ["data-team@example.com", "not an address"]}))
    loaded = load_project(
        sorted(specs.glob("*.yaml")), sorted((specs.parent / "profile_databases").glob("*.yaml"))
    )
    problems = [str(p) for p in loaded.problems]
    assert len(problems) == 1, problems
    assert "crm.yaml:" in problems[0] and "alerts.email[1]" in problems[0]
    assert "not a valid email address" in problems[0]
