"""The Airflow plugin of the provider (``customer_import``): its timetables (calendar plans,
run_immediately) and the operator's console, a FastAPI app at ``/customer-imports`` with a nav view
"Customer imports" and a DAG tab "Import".

One plugin object: the provider's entry (``get_provider_info``'s ``plugins``) names this class, and the
plugins folder's ``plugins/customer_imports_plugin.py`` exposes the same class only where the provider is
not installed as a distribution (Airflow skips a second plugin of the same name as an import error).
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from customer_import.console.app import create_app
from customer_import.console.pages import URL_PREFIX
from customer_import.schedule.calendar_timetable import CalendarTimetable
from customer_import.schedule.deploy_run import DeployRunTimetable

NAV_ROUTE = "customer-imports"
DAG_ROUTE = "customer-import"


class CustomerImportPlugin(AirflowPlugin):
    name = "customer_import"
    timetables = [CalendarTimetable, DeployRunTimetable]
    fastapi_apps: list[Any] = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Customer imports"}]
    external_views: list[Any] = [
        {
            "name": "Customer imports",
            "href": f"{URL_PREFIX}/ui",
            "destination": "nav",
            "url_route": NAV_ROUTE,
            "icon": f"{URL_PREFIX}/ui/icon.svg",
        },
        {
            "name": "Import",
            "href": URL_PREFIX + "/ui/imports/{DAG_ID}",
            "destination": "dag",
            "url_route": DAG_ROUTE,
        },
    ]
