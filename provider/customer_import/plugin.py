"""The Airflow plugin of the provider: registers the custom timetable (the UI comes later)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from customer_import.schedule.deploy_run import DeployRunTimetable


class CustomerImportPlugin(AirflowPlugin):
    name = "customer_import"
    timetables = [DeployRunTimetable]
