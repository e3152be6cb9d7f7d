"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> str:
    """The conn_id (``store``) of an empty profile store of each kind: a SQLite file, a PostgreSQL database."""
    request.getfixturevalue("sqlite_conn" if request.param == "sqlite" else "pg_conn")("store")
    return "store"
