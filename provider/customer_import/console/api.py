"""The console's JSON API (paths relative to ``/customer-imports/api``; PRODUCT.md lists them).

Every route needs an Airflow user (``GetUserDep``: 401 without one); an import the user may not read is
403 and absent from lists; Run now needs the permission to trigger the DAG, Set cursor to edit it; a
bad name or run id is 404 with a message.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import GetUserDep as User
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel

from customer_import.console import access
from customer_import.console import airflow_state as state
from customer_import.console.words import schedule_in_words
from customer_import.report import cut

CSV_HEADER = ("row", "cursor", "column", "code", "message", "value")
MAX_PREVIEW_ROWS = 100


class CursorBody(BaseModel):
    value: str


def _import(name: str, request: Request, user: Any, action: access.Action = "read") -> state.Import:
    found = state.find_import(state.load_project(), name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no import named {name!r} (or its spec is broken)")
    access.require(action, found.spec.name, request, user)
    return found


def _last_run(name: str) -> dict[str, Any] | None:
    last = state.runs(name, 1)
    if not last:
        return None
    run = last[0]
    return {key: run[key] for key in ("run_id", "run_type", "state", "start", "end", "counts")}


def imports_list(user: Any) -> list[dict[str, Any]]:
    project = state.load_project()
    specs = [loaded for name, loaded in sorted(project.specs.items()) if access.may_read(name, user)]
    models = state.dag_models([loaded.model.name for loaded in specs])
    out = []
    for loaded in specs:
        spec = loaded.model
        model = models.get(spec.name, {})
        out.append(
            {
                "name": spec.name,
                "dag_id": spec.name,
                "database": spec.target.database,
                "description": spec.description,
                "labels": list(spec.labels),
                "schedule": schedule_in_words(spec.schedule),
                "timezone": spec.schedule.timezone,
                "paused": model.get("paused"),
                "next_run": model.get("next_run"),
                "cursor": state.cursor_text(spec),
                "last_run": _last_run(spec.name),
            }
        )
    return out


def problems_list() -> list[dict[str, Any]]:
    project = state.load_project()
    return [{"file": p.file, "line": p.line, "path": p.path, "message": p.message} for p in project.problems]


def preview_columns(found: state.Import, rows: int) -> list[dict[str, Any]]:
    from customer_import.preview import PreviewError, preview

    if found.database is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"profile database {found.spec.target.database!r} not found"
        )
    try:
        result = preview(found.spec, found.database, limit=rows)
    except PreviewError as error:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"the preview could not read the source: {error}"
        ) from None
    return [
        {
            "column": c.column,
            "field": c.field,
            "first_value": cut(c.first_value),
            "mapped": cut(c.mapped),
            "error": f"{c.code}: {c.message}" if c.code else None,
        }
        for c in result.columns
    ]


def _csv(rows: Iterator[tuple[Any, ...]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for count, row in enumerate(rows, 1):
        writer.writerow(row)
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get("/imports")
    def get_imports(user: User) -> list[dict[str, Any]]:
        return imports_list(user)

    @router.get("/problems")
    def get_problems(user: User) -> list[dict[str, Any]]:
        return problems_list()

    @router.get("/imports/{name}/runs")
    def get_runs(
        name: str, request: Request, user: User, limit: Annotated[int, Query(ge=1, le=100)] = 10
    ) -> list[dict[str, Any]]:
        found = _import(name, request, user)
        return state.runs(found.spec.name, limit)

    @router.get("/imports/{name}/runs/{run_id}/rejected.csv")
    def get_rejected(name: str, run_id: str, request: Request, user: User) -> Response:
        found = _import(name, request, user)
        if not state.run_exists(found.spec.name, run_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"import {name!r} has no run {run_id!r}")
        # Read whole in this request's thread: a store connection (SQLite's) stays in the thread it was
        # opened in, and a stream would be consumed in others.
        content = "".join(_csv(state.rejected_rows(found.spec.target.database, found.spec.name, run_id)))
        filename = f"{name}-{run_id}-rejected.csv".replace('"', "")
        return Response(
            content,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @router.get("/imports/{name}/preview")
    def get_preview(
        name: str,
        request: Request,
        user: User,
        rows: Annotated[int, Query(ge=1, le=MAX_PREVIEW_ROWS)] = 1,
    ) -> list[dict[str, Any]]:
        return preview_columns(_import(name, request, user), rows)

    @router.post("/imports/{name}/runs")
    def post_run(name: str, request: Request, user: User) -> dict[str, str]:
        found = _import(name, request, user, "trigger")
        run_id = state.trigger(found.spec.name, user, request)
        state.audit(
            "customer_import.run_now", user, found.spec.name, {"import": name, "run_id": run_id}, run_id
        )
        return {"run_id": run_id}

    @router.put("/imports/{name}/cursor")
    def put_cursor(name: str, body: CursorBody, request: Request, user: User) -> dict[str, str | None]:
        found = _import(name, request, user, "edit")
        if found.spec.source.cursor is None:
            raise HTTPException(422, f"import {name!r} has no cursor (no {{lastItem}})")
        before = state.cursor_text(found.spec)
        try:
            after = state.set_cursor(found.spec, body.value)
        except ValueError as error:
            raise HTTPException(
                422,
                f"{body.value!r} is not a value of the cursor column {found.spec.source.cursor.column!r}: "
                f"{error}",
            ) from None
        state.audit(
            "customer_import.set_cursor",
            user,
            found.spec.name,
            {"import": name, "variable": found.spec.variable_key, "old": before, "new": after},
        )
        return {"cursor": after}

    return router
