"""Who may do what, through Airflow's own auth manager and the api-server's user dependency.

A mounted plugin app gets no authentication from Airflow: every route depends on ``GetUserDep`` (a
Bearer token or the UI's ``_token`` cookie; none -> 401, a bad token -> 403) and checks the import's DAG
with ``requires_access_dag`` (403), the check Airflow's own REST API runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from fastapi import Request

Action = Literal["read", "trigger", "edit"]


def _method_and_entity(action: Action) -> tuple[Any, Any]:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

    return {
        "read": ("GET", None),
        "trigger": ("POST", DagAccessEntity.RUN),  # as Airflow's POST /api/v2/dags/{dag_id}/dagRuns
        "edit": ("PUT", None),  # editing the DAG: the cursor is its state
    }[action]


def require(action: Action, dag_id: str, request: Request, user: Any) -> None:
    """Raise 403 unless ``user`` may do ``action`` on the DAG ``dag_id``."""
    from airflow.api_fastapi.core_api.security import requires_access_dag

    method, entity = _method_and_entity(action)
    requires_access_dag(method, entity, param_dag_id=dag_id)(request, user)


def may_read(dag_id: str, user: Any) -> bool:
    """Whether ``user`` may read the DAG (lists leave out the imports a user may not read)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return bool(get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=user))
