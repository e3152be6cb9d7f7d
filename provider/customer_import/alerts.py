"""E-mail alerts of an import (spec key ``alerts``), sent through Airflow's notifier machinery.

An :class:`ImportAlert` is the SMTP provider's :class:`SmtpNotifier` (connection ``smtp_default``) whose
subject and body are composed from the run: its counts and top error codes (the import task's XCom report,
where the run got that far), the error of a failed task, and a link to the run in the Airflow UI. The
factory attaches it as a task callback: on failure of either task (after its retries), and on success of
the import task, where it sends only if the run rejected at least one row. A run sends at most one alert.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from customer_import.spec.vocab import AlertOn

IMPORT_TASK_ID = "import_profiles"
COUNTS = ("read", "created", "updated", "unchanged", "skipped", "failed")
TOP_CODES = 5
DEFAULT_FROM = "airflow-customer-import@localhost"


def run_url(dag_id: str, run_id: str) -> str:
    """The run's page in the Airflow UI (``[api] base_url``)."""
    from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")
    return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def compose(
    event: AlertOn,
    import_name: str,
    run_id: str,
    url: str,
    report: dict[str, Any] | None,
    error: str | None = None,
) -> tuple[str, str]:
    """The subject and HTML body of one alert."""
    summary = (report or {}).get("summary") or {}
    codes = sorted(((report or {}).get("error_counts") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    if event is AlertOn.FAILURE:
        subject = f"[customer import] {import_name}: run failed"
    else:
        subject = f"[customer import] {import_name}: {summary.get('failed', 0):,} rejected row(s)"
    parts = [f"<p>Import <b>{html.escape(import_name)}</b>, run <code>{html.escape(run_id)}</code>.</p>"]
    if error:
        parts.append(f"<p>Error: {html.escape(error)}</p>")
    if summary:
        rows = "".join(
            f"<tr><td>{name}</td><td align='right'>{int(summary.get(name) or 0):,}</td></tr>"
            for name in COUNTS
        )
        parts.append(f"<table>{rows}</table>")
    else:
        parts.append("<p>No counts: the run stopped before its report was written.</p>")
    if codes:
        items = "".join(f"<li>{html.escape(code)}: {count:,}</li>" for code, count in codes[:TOP_CODES])
        parts.append(f"<p>Top error codes:</p><ul>{items}</ul>")
    parts.append(f'<p><a href="{html.escape(url)}">Open the run in Airflow</a></p>')
    return subject, "\n".join(parts)


class ImportAlert(SmtpNotifier):
    """One import's alert for one event (``failure`` or ``rejected_rows``)."""

    def __init__(self, *, import_name: str, to: list[str], event: AlertOn, from_email: str | None = None):
        super().__init__(to=list(to), from_email=from_email)
        self.import_name = import_name
        self.event = AlertOn(event)

    def notify(self, context: Any) -> None:
        ti = context["ti"]
        dag_run = context.get("dag_run")
        run_id = str(getattr(dag_run, "run_id", "") or context.get("run_id") or "")
        report = _report(ti)
        if self.event is AlertOn.REJECTED_ROWS and not int(
            ((report or {}).get("summary") or {}).get("failed") or 0
        ):
            return  # a clean run sends nothing
        exception = context.get("exception")
        error = f"task {ti.task_id}: {exception}" if self.event is AlertOn.FAILURE and exception else None
        self.subject, self.html_content = compose(
            self.event, self.import_name, run_id, run_url(ti.dag_id, run_id), report, error
        )
        if self.from_email is None:
            self.from_email = _sender(self.smtp_conn_id)
        super().notify(context)


def _sender(smtp_conn_id: str) -> str:
    """The connection's ``from_email`` extra, else ``[email] from_email``, else a default."""
    from airflow.configuration import conf
    from airflow.sdk import BaseHook

    try:
        extra = BaseHook.get_connection(smtp_conn_id).extra_dejson
    except Exception:  # no such connection: sending fails after this and says so
        extra = {}
    return str(extra.get("from_email") or conf.get("email", "from_email", fallback=None) or DEFAULT_FROM)


def _report(ti: Any) -> dict[str, Any] | None:
    """The import task's report of this run, if it wrote one."""
    try:
        report = ti.xcom_pull(task_ids=IMPORT_TASK_ID, key="return_value")
    except Exception:  # no report is a normal state of a failed run; the alert says so
        return None
    return report if isinstance(report, dict) else None


def callbacks(import_name: str, to: list[str], on: list[AlertOn]) -> dict[str, dict[str, list[ImportAlert]]]:
    """The callbacks per task id: ``{task_id: {"on_failure_callback": [...], ...}}``."""
    result: dict[str, dict[str, list[ImportAlert]]] = {}
    if AlertOn.FAILURE in on:
        for task_id in ("prepare_store", IMPORT_TASK_ID):
            alert = ImportAlert(import_name=import_name, to=to, event=AlertOn.FAILURE)
            result.setdefault(task_id, {})["on_failure_callback"] = [alert]
    if AlertOn.REJECTED_ROWS in on:
        alert = ImportAlert(import_name=import_name, to=to, event=AlertOn.REJECTED_ROWS)
        result.setdefault(IMPORT_TASK_ID, {})["on_success_callback"] = [alert]
    return result
