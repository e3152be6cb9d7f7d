"""The app factory of the console (mounted by the plugin at ``/customer-imports``)."""

from __future__ import annotations

from fastapi import FastAPI

from customer_import.console import api, pages


def create_app() -> FastAPI:
    app = FastAPI(
        title="Customer imports",
        description="The operator's console of the customer_import provider",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.include_router(api.build_router())
    app.include_router(pages.build_router())
    return app
