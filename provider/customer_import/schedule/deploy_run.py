"""``run_immediately: true``: one run as soon as a spec *version* is deployed, then the plan's own schedule.

The version is the spec's content: :func:`content_version` hashes the validated model's JSON (defaults
filled in, keys sorted), so comments, key order, quoting, ``touch``, a checkout, git-sync or a copy to
another host change nothing, and one changed key is a new version. Airflow's own ``run_immediately`` only
covers a DAG's very first deployment (no start_date, no run yet), so this timetable wraps the plan's.

Where the state lives. A timetable is stateless apart from its serialized form, and Airflow asks it for
the next run again after every parse of the DAG file and after every run it creates; an anchor computed at
parse time (the spec file's modification time, as before) moves whenever the file is touched. So the
timetable keeps only the version, and answers "has this version had its run?" from the metadata
database, which Airflow itself fills in:

* every DAG run records the DAG version it was created under (``dag_run.created_dag_version_id``), and
  that version's serialized DAG (``serialized_dag``) holds this timetable with its spec version; a new
  spec version changes the serialized DAG, so Airflow makes a new DAG version for it (a version with
  task instances is never rewritten in place);
* the deploy run of version V is due while the newest *scheduled* run of the DAG was not created under a
  DAG version whose spec version is V (or there is no scheduled run at all). Manual and backfill runs do
  not count. A re-deploy of older content (A -> B -> A) is a change and gets its run.

Airflow hands the timetable that evidence through :meth:`run_info_from_dag_run` (the reference run: the
run just created, or the latest automated one), and the lookup uses that run's own database session, so
it sees the run the scheduler has just created in the same, not yet committed, transaction. It runs only
where core code runs (scheduler and dag-processor, which have the database), never while parsing: the
DAG file reads spec files only.

When due, the run is "now" (recomputed on each ask until the scheduler creates it, so a paused DAG runs it
when unpaused), inside ``start_date``/``deactivate_at``. Its data interval is one period of the plan
ending now, like a manual run (exact for manual and ``once`` plans). Backfills (``catchup`` restriction)
and every other caller that gives no reference run see the plan's runs only.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

if TYPE_CHECKING:
    from pendulum import DateTime
    from sqlalchemy.orm import Session

VERSION_KEY = "spec_version"
log = logging.getLogger(__name__)


def content_version(spec_data: dict[str, Any]) -> str:
    """The version of a spec: a hash of its validated model as JSON (``model_dump(mode="json")``)."""
    text = json.dumps(spec_data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ReferenceRunInfo(DagRunInfo):
    """A reference run's :class:`DagRunInfo`, plus whether the current spec version already had its run."""

    version_has_run: bool = True


class DeployRunTimetable(Timetable):
    """The plan's timetable (or none, for manual plans) plus one run per deployed spec version."""

    def __init__(self, inner: Timetable | None, version: str) -> None:
        self.inner = inner
        self.version = version
        self.periodic = inner.periodic if inner is not None else False
        self.description = (
            f"{inner.description if inner is not None else 'manual runs only'}; also one run per deployed "
            f"spec version (this one: {version})"
        )

    @property
    def summary(self) -> str:
        return f"{self.inner.summary if self.inner is not None else 'manual'} + run at deploy"

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        if self.inner is not None:
            return self.inner.infer_manual_data_interval(run_after=run_after)
        return DataInterval.exact(run_after)

    def run_info_from_dag_run(self, *, dag_run: Any) -> DagRunInfo:
        info = ReferenceRunInfo(*super().run_info_from_dag_run(dag_run=dag_run))
        info.version_has_run = version_has_run(dag_run, self.version)
        return info

    def _deploy_due(self, last: DagRunInfo | None, restriction: TimeRestriction) -> bool:
        if restriction.catchup:  # a backfill (the factory's DAGs never catch up)
            return False
        if last is None:  # no scheduled or backfill run at all
            return True
        return isinstance(last, ReferenceRunInfo) and not last.version_has_run

    def _deploy_run(self, restriction: TimeRestriction) -> DagRunInfo | None:
        now = pendulum.now("UTC")
        start = max(now, restriction.earliest) if restriction.earliest else now
        if restriction.latest is not None and start > restriction.latest:
            return None
        interval = self._deploy_interval(start)
        return DagRunInfo(run_after=start, data_interval=interval)

    def _deploy_interval(self, run_after: DateTime) -> DataInterval:
        from airflow.timetables.trigger import DeltaTriggerTimetable

        from customer_import.schedule.calendar_timetable import CalendarTimetable

        if isinstance(self.inner, CalendarTimetable | DeltaTriggerTimetable):
            return self.inner.infer_manual_data_interval(run_after=run_after)
        # Manual and once plans: the events' own manual interval would take an event run's logical date.
        return DataInterval.exact(run_after)

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        if last_automated_data_interval is None and self._deploy_due(None, restriction):
            deploy = self._deploy_run(restriction)
            if deploy is not None:
                return deploy
        if self.inner is None:
            return None
        return self.inner.next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction
        )

    def next_dagrun_info_v2(
        self, *, last_dagrun_info: DagRunInfo | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        if self._deploy_due(last_dagrun_info, restriction):
            deploy = self._deploy_run(restriction)
            if deploy is not None:
                return deploy
        if self.inner is None:
            return None
        return self.inner.next_dagrun_info_v2(last_dagrun_info=last_dagrun_info, restriction=restriction)

    def serialize(self) -> dict[str, Any]:
        from airflow.serialization.encoders import encode_timetable

        return {
            "inner": encode_timetable(self.inner) if self.inner is not None else None,
            VERSION_KEY: self.version,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        from airflow.serialization.decoders import decode_timetable

        inner = decode_timetable(data["inner"]) if data.get("inner") else None
        return cls(inner, str(data[VERSION_KEY]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeployRunTimetable):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(self.version)


def version_has_run(dag_run: Any, version: str) -> bool:
    """Whether the DAG's newest scheduled run was created under a DAG version of spec version ``version``.

    Asked in ``dag_run``'s own session (the caller's transaction), else in a session of its own.
    """
    from sqlalchemy.orm import object_session

    try:
        session = object_session(dag_run)
        if session is not None:
            return _version_has_run(session, dag_run.dag_id, version)
        from airflow.utils.session import create_session

        with create_session(scoped=False) as own:
            return _version_has_run(own, dag_run.dag_id, version)
    except Exception:
        # This runs inside the scheduler's loop: never take it down. Unsure means no extra run.
        log.exception(
            "run_immediately: cannot tell whether spec version %s of %s ran", version, dag_run.dag_id
        )
        return True


def _version_has_run(session: Session, dag_id: str, version: str) -> bool:
    from airflow.models.dagrun import DagRun
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.types import DagRunType
    from sqlalchemy import select

    newest = session.execute(
        select(DagRun.id, DagRun.created_dag_version_id)
        .where(DagRun.dag_id == dag_id, DagRun.run_type == DagRunType.SCHEDULED)
        .order_by(DagRun.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        return False
    if newest.created_dag_version_id is None:  # its DAG version was deleted: cannot tell, so never rerun
        return True
    stored = session.execute(
        select(SerializedDagModel._data, SerializedDagModel._data_compressed).where(
            SerializedDagModel.dag_version_id == newest.created_dag_version_id
        )
    ).first()
    if stored is None:
        return True
    data, compressed = stored
    return _spec_version_of(data, compressed) == version


def _spec_version_of(data: Any, compressed: bytes | None) -> str | None:
    """The spec version in a serialized DAG (None: its timetable was not a DeployRunTimetable)."""
    if compressed:
        import zlib

        data = json.loads(zlib.decompress(compressed))
    elif isinstance(data, str):
        data = json.loads(data)
    timetable = ((data or {}).get("dag") or {}).get("timetable") or {}
    if not str(timetable.get("__type", "")).endswith(f".{DeployRunTimetable.__name__}"):
        return None
    value = (timetable.get("__var") or {}).get(VERSION_KEY)
    return str(value) if value is not None else None
