"""``run_immediately: true``: one run as soon as a spec version is deployed, then the plan's own schedule.

Airflow's own ``run_immediately`` only covers a DAG's very first deployment (no start_date, no run yet).
This timetable wraps the plan's timetable and adds one run at ``deployed_at`` (the spec file's
modification time, which a deploy sets) unless an automated run has already happened since then. A new
version of the spec file moves ``deployed_at``, which gives the next deploy its own run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

if TYPE_CHECKING:
    from pendulum import DateTime


class DeployRunTimetable(Timetable):
    """The plan's timetable (or none, for manual plans) plus one run when the spec was deployed."""

    def __init__(self, inner: Timetable | None, deployed_at: DateTime) -> None:
        self.inner = inner
        self.deployed_at = deployed_at
        self.periodic = inner.periodic if inner is not None else False
        self.description = (
            f"{inner.description if inner is not None else 'manual'}; also run once at deploy "
            f"({deployed_at.isoformat()})"
        )

    @property
    def summary(self) -> str:
        return f"{self.inner.summary if self.inner is not None else 'manual'} + run at deploy"

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        if self.inner is not None:
            return self.inner.infer_manual_data_interval(run_after=run_after)
        return DataInterval.exact(run_after)

    def _deploy_run(self, last_end: DateTime | None, restriction: TimeRestriction) -> DagRunInfo | None:
        if last_end is not None and last_end >= self.deployed_at:
            return None
        start = max(self.deployed_at, restriction.earliest) if restriction.earliest else self.deployed_at
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.exact(start)

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        last_end = last_automated_data_interval.end if last_automated_data_interval else None
        deploy = self._deploy_run(last_end, restriction)
        if deploy is not None or self.inner is None:
            return deploy
        return self.inner.next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction
        )

    def next_dagrun_info_v2(
        self, *, last_dagrun_info: DagRunInfo | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        last_end = (
            last_dagrun_info.data_interval.end
            if last_dagrun_info and last_dagrun_info.data_interval
            else None
        )
        if last_end is None and last_dagrun_info is not None:
            last_end = last_dagrun_info.run_after
        deploy = self._deploy_run(last_end, restriction)
        if deploy is not None or self.inner is None:
            return deploy
        return self.inner.next_dagrun_info_v2(last_dagrun_info=last_dagrun_info, restriction=restriction)

    def serialize(self) -> dict[str, Any]:
        from airflow.serialization.encoders import encode_timetable

        return {
            "inner": encode_timetable(self.inner) if self.inner is not None else None,
            "deployed_at": self.deployed_at.isoformat(),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        from airflow.serialization.decoders import decode_timetable

        inner = decode_timetable(data["inner"]) if data.get("inner") else None
        deployed = pendulum.parse(data["deployed_at"])
        assert isinstance(deployed, pendulum.DateTime)
        return cls(inner, deployed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeployRunTimetable):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(self.deployed_at)
