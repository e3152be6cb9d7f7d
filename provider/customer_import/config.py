"""The ``[customer_import]`` Airflow configuration options (also ``AIRFLOW__CUSTOMER_IMPORT__*``)."""

from __future__ import annotations

import os
from pathlib import Path

SECTION = "customer_import"
DEFAULT_BATCH_SIZE = 10_000
DEFAULT_FINGERPRINT_CACHE_MB = 96
DEFAULT_KEEP_RUNS = 10


def _option(key: str) -> str:
    env = os.environ.get(f"AIRFLOW__{SECTION.upper()}__{key.upper()}")
    if env is not None:
        return env
    from airflow.configuration import conf

    return str(conf.get(SECTION, key, fallback="") or "")


def _project_folder(key: str, project_dir: Path | None, default: str) -> Path:
    value = _option(key)
    if value:
        return Path(value).expanduser()
    return (project_dir or Path.cwd()) / default


def specs_folder(project_dir: Path | None = None) -> Path:
    """``[customer_import] specs_folder``; default ``include/import_specs/`` of the project."""
    return _project_folder("specs_folder", project_dir, "include/import_specs")


def databases_folder(project_dir: Path | None = None) -> Path:
    """``[customer_import] databases_folder``; default ``include/profile_databases/`` of the project."""
    return _project_folder("databases_folder", project_dir, "include/profile_databases")


def batch_size() -> int:
    """``[customer_import] batch_size``: rows fetched, mapped and written per transaction."""
    value = _option("batch_size")
    return int(value) if value else DEFAULT_BATCH_SIZE


def embedded_store_path() -> Path:
    """``[customer_import] embedded_store_path``; default ``$AIRFLOW_HOME/customer_import/profiles.db``."""
    value = _option("embedded_store_path")
    if value:
        return Path(value).expanduser()
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "customer_import" / "profiles.db"


def retries() -> int:
    """``[customer_import] retries``: task retries for transient failures (default 2)."""
    value = _option("retries")
    return int(value) if value else 2


def retry_delay_seconds() -> int:
    """``[customer_import] retry_delay_seconds``: wait before a retry (default 60)."""
    value = _option("retry_delay_seconds")
    return int(value) if value else 60


def ip_location_mmdb() -> Path | None:
    """``[customer_import] ip_location_mmdb``: the .mmdb file that ``ip_location: true`` reads (city level);
    empty (the default): a country-level database shipped with the provider's dependencies."""
    value = _option("ip_location_mmdb")
    return Path(value).expanduser() if value else None


def mapping_workers() -> int:
    """``[customer_import] mapping_workers``: processes that map batches while the task reads and writes
    (0, the default: map in the task process)."""
    value = _option("mapping_workers")
    return int(value) if value else 0


def columnar_mapping() -> bool:
    """``[customer_import] columnar_mapping``: map batches column-wise (customer_import.mapping.columnar,
    the same output as row by row, faster); false maps row by row. Default true."""
    value = _option("columnar_mapping").strip().lower()
    return value not in ("false", "0", "no", "off")


def columnar_reader() -> bool:
    """``[customer_import] columnar_reader``: a ``skip_unchanged`` import reads a PostgreSQL source as
    Arrow batches (customer_import.sources.arrow_text: the same values, rows made only when needed);
    false reads rows through psycopg. Default true."""
    value = _option("columnar_reader").strip().lower()
    return value not in ("false", "0", "no", "off")


def overlap_writes() -> bool:
    """``[customer_import] overlap_writes``: write batch k into the store in a helper thread while this
    process reads and maps batch k + 1 (the store's statements wait on the server, not on Python); false
    writes and maps in turn. Default true."""
    value = _option("overlap_writes").strip().lower()
    return value not in ("false", "0", "no", "off")


def fingerprint_cache_mb() -> int:
    """``[customer_import] fingerprint_cache_mb``: memory a ``skip_unchanged`` run may hold its store's
    source-row fingerprints in (17 bytes a profile; default 96, about 5.9 million profiles). A store with
    more is asked per batch instead; 0 always asks per batch."""
    value = _option("fingerprint_cache_mb")
    return int(value) if value else DEFAULT_FINGERPRINT_CACHE_MB


def statement_timeout_seconds() -> int:
    """``[customer_import] statement_timeout_seconds``: the longest the source may work on the query, in
    whole seconds; 0 (the default) sets none. A defence in depth beside the SELECT-only check and the
    read-only session, against a runaway query (a cross join, a sleep that slipped through).

    Each DBMS measures something a little different: PostgreSQL each statement (the query's DECLARE and
    each FETCH of a batch from its server-side cursor; with the columnar reader the one COPY of the whole
    read, docs/decisions/0008), Oracle each round trip (``call_timeout``),
    MariaDB ``max_statement_time`` / MySQL ``max_execution_time`` and ClickHouse ``max_execution_time``
    the query's execution, SQLite the whole read (a progress handler); SQL Server has no per-session
    statement timeout (pymssql's query timeout is a process-wide FreeTDS setting), so none is set there.
    Why no default: where the timeout covers a streamed read, an import reading for hours would be cut by
    any generous default that is not chosen for that source."""
    value = _option("statement_timeout_seconds")
    seconds = int(value) if value else 0
    if seconds < 0:
        raise ValueError(f"[customer_import] statement_timeout_seconds must be 0 or more, not {seconds}")
    return seconds


def keep_runs() -> int:
    """``[customer_import] keep_runs``: how many runs of each import keep their rejected rows in the
    store's ``<database>_rejections`` (default 10); the run that makes a run older than that deletes them."""
    value = _option("keep_runs")
    runs = int(value) if value else DEFAULT_KEEP_RUNS
    if runs < 1:
        raise ValueError(f"[customer_import] keep_runs must be 1 or more, not {runs}")
    return runs
