"""Fault injection for the kill -9 tests, loaded by every Python process that has this folder on its
``PYTHONPATH`` (the ``airflow dags test`` processes of tests/faults, which run the tasks in-process).

Nothing here changes product code on disk: a post-import hook wraps a few product functions when their
module is first imported. Without ``CUSTOMER_IMPORT_FAULT`` / ``CUSTOMER_IMPORT_FAULT_TRACE`` the wrappers
only pass calls through.

``CUSTOMER_IMPORT_FAULT=<point>:<n>``: the n-th time this process reaches ``<point>`` it kills its own
process group with SIGKILL (``os.killpg(os.getpgrp(), SIGKILL)``): the task process and anything it
started, at once, with no clean-up. Points:

* ``extract``: a batch has just been fetched from the source's server-side cursor (the query is open);
* ``setup_lock``: inside a store transaction that is not a batch's (the schema of ``prepare_store`` and of
  the import, the run's registration), right after its lock is taken;
* ``lock``: inside a batch's store transaction, right after its lock is taken (PostgreSQL: the
  ``pg_advisory_xact_lock``; SQLite: ``BEGIN IMMEDIATE``), nothing of the batch written yet;
* ``copy``: in the middle of loading a batch's stage table (PostgreSQL: halfway through the binary COPY of the
  profiles' stage);
* ``committed``: a batch's transaction is committed, the cursor Variable not written yet;
* ``cursor``: the importer is about to write a moved cursor Variable (after the commit it covers);
* ``saved``: the cursor Variable has just been written;
* ``rest``: reading the rest of a LIMIT-cut part's last value (decision 0006), a batch of it fetched;
* ``rest_committed``: those rows are committed, the cursor not yet moved over them.

``CUSTOMER_IMPORT_FAULT_TRACE=<file>``: one line per step reached (time, step), so the test knows when
the import started and what was running at the instant it killed the process.

``CUSTOMER_IMPORT_FAULT_OLD_CURSOR=1`` (proof that the test has teeth, never set by default): the cursor
is saved after each batch at the batch's largest value and a LIMIT-cut part's last value is not read
again, the behaviour before docs/decisions/0006; the kill test must then find lost rows.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.abc
import importlib.machinery
import os
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any

_counts: Counter[str] = Counter()
_lock = threading.Lock()
_in_write: contextvars.ContextVar[bool] = contextvars.ContextVar("in_write", default=False)
_in_rest = threading.Event()  # the rest-of-last-value read runs in the task thread; fetches in a helper


def _fault() -> tuple[str, int] | None:
    spec = os.environ.get("CUSTOMER_IMPORT_FAULT", "")
    if not spec:
        return None
    point, _, n = spec.partition(":")
    return point, int(n or 1)


def trace(step: str) -> None:
    path = os.environ.get("CUSTOMER_IMPORT_FAULT_TRACE")
    if not path:
        return
    line = f"{time.time():.6f} {step}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def reached(point: str) -> None:
    """Count ``point``; kill the whole process group when it is the configured one, the n-th time."""
    with _lock:
        _counts[point] += 1
        count = _counts[point]
    trace(f"{point}#{count}")
    fault = _fault()
    if fault is not None and fault == (point, count):
        trace(f"KILL {point}#{count}")
        os.killpg(os.getpgrp(), signal.SIGKILL)
        time.sleep(60)  # never reached: SIGKILL cannot be caught


def _old_cursor() -> bool:
    return os.environ.get("CUSTOMER_IMPORT_FAULT_OLD_CURSOR") == "1"


# -- the wrappers, one per product module -------------------------------------------------------------


def _patch_source_postgres(module: Any) -> None:
    cls = module.PostgresSource
    original = cls.read_only_cursor

    @contextlib.contextmanager
    def read_only_cursor(self: Any, conn_id: str, batch_size: int) -> Any:
        with original(self, conn_id, batch_size) as cursor:
            yield _FetchProxy(cursor)

    cls.read_only_cursor = read_only_cursor


class _FetchProxy:
    """The source cursor, reporting each fetched batch (the point ``extract`` / ``rest``)."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def fetchmany(self, size: int) -> Any:
        rows = self._cursor.fetchmany(size)
        if rows:
            reached("rest" if _in_rest.is_set() else "extract")
        return rows


class _HalfwayRows(list):  # type: ignore[type-arg]
    """The stage rows of one batch: iterating them reaches ``copy`` halfway through."""

    def __iter__(self) -> Any:
        half = len(self) // 2
        for index, row in enumerate(list.__iter__(self)):
            if index == half:
                reached("copy")
            yield row


def _patch_store_dialects(module: Any) -> None:
    for cls in (module.PostgresStore, module.SqliteStore):
        begin, load_stage = cls.begin, cls.load_stage

        def patched_begin(self: Any, cursor: Any, lock_name: str, _begin: Any = begin) -> None:
            _begin(self, cursor, lock_name)
            reached("lock" if _in_write.get() else "setup_lock")

        def patched_load_stage(
            self: Any, cursor: Any, table: str, columns: Any, types: Any, rows: Any, _load: Any = load_stage
        ) -> None:
            if not table.startswith("customer_import_stage_") or table.startswith(
                "customer_import_stage_subs"
            ):
                return _load(self, cursor, table, columns, types, rows)  # subscriptions, rejected rows
            return _load(self, cursor, table, columns, types, _HalfwayRows(rows))

        cls.begin = patched_begin
        cls.load_stage = patched_load_stage


def _patch_writer(module: Any) -> None:
    cls = module.ProfileWriter
    original = cls.write

    @functools.wraps(original)
    def write(self: Any, rows: Any, *args: Any, **kwargs: Any) -> Any:
        token = _in_write.set(True)
        try:
            outcome = original(self, rows, *args, **kwargs)
        finally:
            _in_write.reset(token)
        if rows:
            reached("rest_committed" if _in_rest.is_set() else "committed")
        return outcome

    cls.write = write


def _patch_cursor(module: Any) -> None:
    cls = module.VariableCursor
    original = cls.save

    @functools.wraps(original)
    def save(self: Any, value: Any) -> None:
        reached("cursor")
        original(self, value)
        trace(f"cursor={module.encode(value)}")
        reached("saved")

    cls.save = save
    if _old_cursor():
        progress = module.PartProgress
        progress.safe = property(lambda self: self.start if self.last is None else self.last)


def _patch_importer(module: Any) -> None:
    run_import, rest = module.run_import, module._read_rest_of_last_value

    @functools.wraps(run_import)
    def traced_run_import(*args: Any, **kwargs: Any) -> Any:
        trace("import-start")
        report = run_import(*args, **kwargs)
        trace("import-end")
        return report

    @functools.wraps(rest)
    def traced_rest(*args: Any, **kwargs: Any) -> Any:
        if _old_cursor():
            return None
        _in_rest.set()
        try:
            return rest(*args, **kwargs)
        finally:
            _in_rest.clear()

    module.run_import = traced_run_import
    module._read_rest_of_last_value = traced_rest


_PATCHES = {
    "customer_import.sources.dialects.postgres": _patch_source_postgres,
    "customer_import.store.dialects": _patch_store_dialects,
    "customer_import.store.writer": _patch_writer,
    "customer_import.cursor": _patch_cursor,
    "customer_import.importer": _patch_importer,
}


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any, name: str) -> None:
        self.inner = inner
        self.name = name

    def create_module(self, spec: Any) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.inner.exec_module(module)
        _PATCHES[self.name](module)


class _PatchingFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, fullname)
        return spec


sys.meta_path.insert(0, _PatchingFinder())
