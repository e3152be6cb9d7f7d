"""The Airflow plugin of the provider: registers its timetables (calendar plans, run_immediately)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from customer_import.schedule.calendar_timetable import CalendarTimetable
from customer_import.schedule.deploy_run import DeployRunTimetable


class CustomerImportPlugin(AirflowPlugin):
    name = "customer_import"
    timetables = [CalendarTimetable, DeployRunTimetable]
