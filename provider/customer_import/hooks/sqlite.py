"""SQLite through an Airflow connection, for sources and the embedded store.

Airflow's ``SqliteHook`` turns the SQLAlchemy-style URI ``sqlite:////abs/path.db`` into an invalid
``file://`` URI ("invalid uri authority"); this hook resolves the path from the connection itself, so
``sqlite:////abs/path.db``, ``sqlite:///abs/path.db`` (what SqliteHook reads as absolute) and a JSON
connection with ``host`` all open the same file.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.sqlite.hooks.sqlite import SqliteHook


def sqlite_path(host: str | None, schema: str | None) -> str:
    """The database file of a sqlite connection (host, or the URI path kept in schema)."""
    if host:
        return host if not schema else f"{host.rstrip('/')}/{schema}"
    if not schema:
        raise ValueError("the sqlite connection names no database file (set host to the file's path)")
    if schema == ":memory:" or schema.startswith("/"):
        return schema
    return "/" + schema


class CustomerSqliteHook(SqliteHook):
    """``SqliteHook`` whose ``get_conn`` opens the file named by the connection, in autocommit mode
    (transactions are begun explicitly), waiting up to 60 s for another writer's lock."""

    def get_conn(self) -> Any:
        import sqlite3

        connection = self.get_connection(self.get_conn_id())
        path = sqlite_path(connection.host, connection.schema)
        return sqlite3.connect(path, isolation_level=None, timeout=60)
