"""Benchmark: our PostgreSQL-to-PostgreSQL import against the SQL limit on the same data, in one run.

    .venv/bin/python benchmarks/import_benchmark.py [--rows 1000000] [--batch-size 10000] [--rounds 1]
                                                   [--keep] [--profile] [--dlt] [--pg postgresql://…/postgres]

It creates two throwaway databases (source and store) on the PostgreSQL server, generates N customers in
the source with set-based SQL, pre-loads the first half into the store through ``run_import``, changes a
quarter of those customers, then measures on the same rows:

* the SQL limit: ``COPY … TO STDOUT`` from the source, ``COPY … FROM STDIN`` into a staging table and one
  ``INSERT … ON CONFLICT (email) DO UPDATE … WHERE … IS DISTINCT FROM …`` (no Python per row);
* our import: ``customer_import.importer.run_import`` with the PostgreSQL source dialect, a ``MemoryCursor``
  and the store on the throwaway database (Airflow connections from ``AIRFLOW_CONN_*``), then a re-run with
  nothing changed (the skip_unchanged path);
* optionally (``--dlt``, when the ``dlt`` package is importable) dlt's ``sql_table`` with merge on email.

``--rounds N`` measures the limit, our import and the re-run N times, each round on a copy of the
pre-loaded store (``CREATE DATABASE … TEMPLATE``), and judges the targets by the median round: on a
machine whose speed drifts between minutes, one round's ratio can be off by a quarter either way.

It prints figures and the issue's targets as met / not met; it never asserts. ``--profile`` runs the two
imports under cProfile and prints the top functions by cumulative time. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import platform
import pstats
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from customer_import.cursor import MemoryCursor
    from customer_import.report import RunReport
    from customer_import.spec.database import ProfileDatabase
    from customer_import.spec.import_spec import ImportSpec

DEFAULT_ADMIN_DSN = os.environ.get(
    "CUSTOMER_IMPORT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SOURCE_CONN_ID = "bench_source"
STORE_CONN_ID = "profile_store_default"
OPTIONS: dict[str, Any] = {"mapping_workers": 0, "profile_sort": "cumulative"}  # set from the command line
MB = 1024 * 1024

# The targets of issue 16 ("Speed, round 2: a columnar pipeline"): the upsert and the unchanged re-run
# against the SQL limit, and the memory of the import's own work (a run's sampled peak minus its RSS before).
TARGET_UPSERT_RATIO = 0.7
TARGET_UNCHANGED_RATIO = 2.0
TARGET_OWN_RSS_MB = 200

# --- the data -------------------------------------------------------------------------------------------

# Source columns, in COPY order; the SQL limit's staging table has the same shape.
SOURCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "bigint"),
    ("email", "text"),
    ("phone", "text"),
    ("first_name", "text"),
    ("last_name", "text"),
    ("birthday", "text"),
    ("gender", "text"),
    ("city", "text"),
    ("country", "text"),
    ("crm_id", "bigint"),
    ("tier", "text"),
    ("ltv", "double precision"),
    ("registered_at", "timestamp"),
)
COLUMN_LIST = ", ".join(name for name, _ in SOURCE_COLUMNS)
COLUMN_DEFINITIONS = ", ".join(f"{name} {kind}" for name, kind in SOURCE_COLUMNS)
PAYLOAD = tuple(name for name, _ in SOURCE_COLUMNS if name not in ("id", "email"))

# Deterministic, set-based. Per 300 rows: 1 bad email, 1 bad phone, 1 bad date (1%). Every 50th row
# (i % 50 = 3) repeats the email of row i-37 in another case (2%: the same key once normalised).
# Phones: '+49 30 …', '030 …' (default region DE), '+43 1 …', '+33 1 …', '0044 20 …'; every 17th is empty.
GENERATE_SOURCE = """
CREATE TABLE customers ({column_definitions}, PRIMARY KEY (id));
INSERT INTO customers ({column_list})
SELECT g.i,
  CASE WHEN g.i % 300 = 7 THEN 'customer' || g.i || '@@broken'
       WHEN g.repeats THEN 'Customer' || k.n || '@' || upper(k.domain)
       ELSE 'customer' || k.n || '@' || k.domain END,
  CASE WHEN g.i % 300 = 107 THEN '+49 12'
       WHEN g.i % 17 = 0 THEN NULL
       ELSE (ARRAY['+49 30 ' || (20000000 + g.i),
                   '030 ' || (30000000 + g.i),
                   '+43 1 ' || (2000000 + g.i),
                   '+33 1 ' || regexp_replace((20000000 + g.i)::text, '(..)(..)(..)(..)', '\\1 \\2 \\3 \\4'),
                   '0044 20 ' || regexp_replace((70000000 + g.i)::text, '(....)(....)', '\\1 \\2')
                  ])[1 + g.i % 5] END,
  (ARRAY['Anna','Ben','Clara','David','Emma','Felix','Zoë','Łukasz','Søren','Chloé'])[1 + g.i % 10],
  (ARRAY['Müller','Schmidt','Schneider','Fischer','Weber','Meyer','Wagner','Becker','O''Brien','García',
         'Dubois','Smith'])[1 + (g.i / 10) % 12],
  CASE WHEN g.i % 300 = 207 THEN '31.02.' || (1950 + g.i % 50)
       ELSE to_char(date '1950-01-01' + ((g.i * 7919) % 20000)::int, 'DD.MM.YYYY') END,
  (ARRAY['male','female','Female',NULL])[1 + g.i % 4],
  (ARRAY['Berlin','Berlin','Wien','Paris','London'])[1 + g.i % 5],
  (ARRAY['DE','DE','AT','FR','GB'])[1 + g.i % 5],
  1000000000 + g.i,
  (ARRAY['bronze','silver','gold','Gold',' SILVER '])[1 + (g.i / 3) % 5],
  round(((g.i * 37) % 100000) / 100.0, 2)::double precision,
  timestamp '2015-01-01' + g.i * interval '7 minutes'
FROM (SELECT i, (i % 50 = 3 AND i > 37) AS repeats FROM generate_series(1::bigint, {rows}) AS i) AS g
CROSS JOIN LATERAL (SELECT CASE WHEN g.repeats THEN g.i - 37 ELSE g.i END AS n) AS r
CROSS JOIN LATERAL (
  SELECT r.n, (ARRAY['example.com','mail.de','post.at','exemple.fr','shop.co.uk'])[1 + r.n % 5] AS domain
) AS k;
"""

# Between the pre-load and the measured runs, a quarter of the pre-loaded customers change.
CHANGE_SOURCE = "UPDATE customers SET ltv = ltv + 10 WHERE id % 4 = 0 AND id <= {half}"

DATABASE: dict[str, Any] = {
    "name": "bench",
    "fields": {
        "crm_id": {"type": "int", "unique": True},
        "tier": {"type": "enum", "values": ["bronze", "silver", "gold"]},
        "ltv": {"type": "float"},
    },
}

MAPPING: list[dict[str, Any]] = [
    {"field": "email", "column": "email"},
    {"field": "phone", "column": "phone", "phone": {"default_region": "DE"}},
    {"field": "first_name", "column": "first_name"},
    {"field": "last_name", "column": "last_name"},
    {"field": "birth_date", "column": "birthday", "date_format": "%d.%m.%Y"},
    {"field": "gender", "column": "gender"},
    {"field": "city", "column": "city"},
    {"field": "country", "column": "country"},
    {"field": "crm_id", "column": "crm_id"},
    {"field": "tier", "column": "tier"},
    {"field": "ltv", "column": "ltv"},
    {"field": "registration_date", "column": "registered_at"},
]

# The SQL limit's target: the source's columns with the profile table's indexes (email unique here).
LIMIT_TABLE = "sql_limit_profiles"
LIMIT_STAGE = "sql_limit_stage"
CREATE_LIMIT_TABLE = f"""
CREATE TABLE {LIMIT_TABLE} (profile_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  {", ".join(f"{name} {kind}" for name, kind in SOURCE_COLUMNS if name != "id")},
  created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE UNIQUE INDEX ux_{LIMIT_TABLE}_email ON {LIMIT_TABLE} (email);
CREATE INDEX ix_{LIMIT_TABLE}_phone ON {LIMIT_TABLE} (phone);
CREATE UNIQUE INDEX ux_{LIMIT_TABLE}_crm_id ON {LIMIT_TABLE} (crm_id);
"""
CREATE_LIMIT_STAGE = f"CREATE TEMPORARY TABLE {LIMIT_STAGE} ({COLUMN_DEFINITIONS}) ON COMMIT DROP"
# ON CONFLICT cannot touch a row twice in one statement, so the keys are made unique first (last row wins).
LIMIT_UPSERT = f"""
INSERT INTO {LIMIT_TABLE} AS p (email, {", ".join(PAYLOAD)}, created_at, updated_at)
SELECT DISTINCT ON (lower(email)) lower(email), {", ".join(PAYLOAD)}, now(), now()
FROM {LIMIT_STAGE} WHERE email IS NOT NULL ORDER BY lower(email), id DESC
ON CONFLICT (email) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in PAYLOAD)},
  updated_at = EXCLUDED.updated_at
WHERE ({", ".join(f"p.{c}" for c in PAYLOAD)}) IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in PAYLOAD)})
"""


# --- results --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuTime:
    """CPU seconds during one load: this process's, the whole machine's, and stolen by the hypervisor."""

    process: float
    machine: float
    steal: float

    def describe(self, seconds: float) -> str:
        cores = os.cpu_count() or 1
        share = 100 * self.machine / (cores * seconds) if seconds > 0 else 0.0
        return (
            f"CPU: this process {self.process:.1f} s, the machine {self.machine:.1f} s of {cores} x "
            f"{seconds:.1f} s ({share:.0f}% busy), stolen by other guests {self.steal:.1f} s"
        )


@dataclass
class Measurement:
    """One timed load of ``rows`` source rows."""

    label: str
    rows: int
    seconds: float
    peak_rss: int | None = None  # bytes, sampled during this load only
    rss_before: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    detail: str = ""
    cpu: CpuTime | None = None
    phases: dict[str, float] = field(default_factory=dict)
    untimed: list[str] = field(default_factory=list)  # functions the phase timer did not find

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Round:
    """One measured round: the SQL limit, then our import and its unchanged re-run, on the same rows."""

    limit: Measurement
    limit_unchanged: Measurement
    ours: Measurement
    rerun: Measurement

    @property
    def upsert_ratio(self) -> float:
        return self.ours.rows_per_second / self.limit.rows_per_second

    @property
    def rerun_ratio(self) -> float:
        return self.rerun.rows_per_second / self.limit.rows_per_second


@dataclass
class Results:
    rows: int
    batch_size: int
    server: str
    rounds: list[Round] = field(default_factory=list)  # with --rounds N, N of them
    generate_seconds: float = 0.0
    preload: Measurement | None = None
    limit_preload: Measurement | None = None
    limit: Measurement | None = None
    limit_unchanged: Measurement | None = None
    ours: Measurement | None = None
    rerun: Measurement | None = None
    code: str = ""  # which customer_import ran
    dlt_preload: Measurement | None = None
    dlt_merge: Measurement | None = None
    dlt_rerun: Measurement | None = None
    dlt_note: str = ""  # why dlt did not run, or how it failed
    ru_maxrss: int = 0  # bytes, the whole process
    profiles: list[tuple[str, str]] = field(default_factory=list)  # (label, cProfile top functions)
    mapper_check: str = ""  # --check-mapper: the row mapper against the columnar mapper on every row


@dataclass(frozen=True)
class Databases:
    admin_dsn: str
    source: str
    store: str

    def uri(self, name: str) -> str:
        return self.admin_dsn.rsplit("/", 1)[0] + "/" + name

    @property
    def source_uri(self) -> str:
        return self.uri(self.source)

    @property
    def store_uri(self) -> str:
        return self.uri(self.store)

    @property
    def preloaded(self) -> str:
        """The pre-loaded store's copy that each round after the first starts from (--rounds)."""
        return f"{self.store}_preloaded"


# --- measuring instruments ------------------------------------------------------------------------------


def _busy(times: Any) -> float:
    """CPU seconds spent working in ``psutil.cpu_times()`` (every core; not idle, I/O wait or stolen)."""
    return float(times.user + times.nice + times.system + times.irq + times.softirq)


def _process_cpu(times: Any) -> float:
    """CPU seconds of ``psutil.Process.cpu_times()``: the process's and its ended children's."""
    return float(times.user + times.system + times.children_user + times.children_system)


class RssSampler:
    """The peak resident set size of this process and its children (mapping workers) while the block
    runs, sampled every ``interval`` s; and the CPU time it took: this process's, the whole machine's
    (the database server's processes included) and the time the hypervisor gave other guests (steal)."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.process = psutil.Process()
        self.before = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self.cpu: CpuTime | None = None

    def _rss(self) -> int:
        total = int(self.process.memory_info().rss)
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.Error):  # a worker that just ended
                total += int(child.memory_info().rss)
        return total

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> RssSampler:
        self.before = self.peak = self.process.memory_info().rss
        self._machine, self._own = psutil.cpu_times(), self.process.cpu_times()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        machine, own = psutil.cpu_times(), self.process.cpu_times()
        self.cpu = CpuTime(
            process=_process_cpu(own) - _process_cpu(self._own),
            machine=_busy(machine) - _busy(self._machine),
            steal=float(getattr(machine, "steal", 0.0) - getattr(self._machine, "steal", 0.0)),
        )
        self.peak = max(self.peak, self._rss())


def statement_label(query: object) -> str:
    """A store statement as it reads, shortened: the writer's statements are told apart by their text."""
    text = " ".join(str(query).replace('"', "").split())
    return text if len(text) <= 64 else text[:61] + "..."


class PhaseTimer:
    """Wall time per phase of ``run_import``, from wrappers around per-batch functions (never per-row ones).

    Mapping and validation is what ``_submit`` spends outside computing and looking up source
    fingerprints, plus what ``_write_batch`` spends outside de-duplication and the writer (rejections).
    Store statements run inside ``ProfileWriter.write`` are timed one by one and named by their text. A function
    that a refactoring renamed is left untimed and listed in ``missing``, never guessed at. What the helper
    thread writing batches (``[customer_import] overlap_writes``) spends is timed apart (``bg: ``): it
    overlaps the task thread's phases, which wait for it only in ``_Writing.result``.
    """

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.missing: list[str] = []
        self._flags = threading.local()  # writing, looking, submitting: per thread
        self._restore: list[tuple[Any, str, Any]] = []

    @property
    def writing(self) -> bool:  # inside ProfileWriter.write; statements outside it are set-up
        return getattr(self._flags, "writing", False)

    @property
    def looking(self) -> bool:  # inside ProfileWriter.known_fingerprints (timed as a whole)
        return getattr(self._flags, "looking", False)

    @property
    def submitting(self) -> bool:  # inside importer._submit
        return getattr(self._flags, "submitting", False)

    def _wrap(
        self,
        owner: Any,
        name: str,
        label: Callable[[tuple[Any, ...]], str],
        flag: bool = False,
        flag_name: str = "writing",
    ) -> None:
        original = getattr(owner, name, None)
        if original is None:
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{name}")
            return
        timer = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            if flag:
                setattr(timer._flags, flag_name, True)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                helper = threading.current_thread() is not threading.main_thread()
                timer.seconds[("bg: " if helper else "") + label(args)] += time.perf_counter() - start
                if flag:
                    setattr(timer._flags, flag_name, False)

        setattr(owner, name, timed)
        self._restore.append((owner, name, original))

    def _wrap_generator(self, owner: Any, name: str, label: str) -> None:
        """Time each batch a generator function yields (the time spent producing it)."""
        original = getattr(owner, name, None)
        if original is None:
            self.missing.append(f"{owner.__name__}.{name}")
            return
        seconds = self.seconds

        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            items = original(*args, **kwargs)
            while True:
                start = time.perf_counter()
                item = next(items, None)
                seconds[label] += time.perf_counter() - start
                if item is None:
                    return
                yield item

        setattr(owner, name, timed)
        self._restore.append((owner, name, original))

    def _statement(self, label: str) -> str:
        if self.looking:
            return "lookup statement"  # inside "lookup"
        return f"stmt: {label}" if self.writing else "setup"

    def __enter__(self) -> PhaseTimer:
        from adbc_driver_manager._reader import AdbcRecordBatchReader

        from customer_import import importer
        from customer_import.fingerprints import RowFingerprints, StoredFingerprints
        from customer_import.mapping.batches import InlineBatchMapper
        from customer_import.mapping.mapper import RowMapper
        from customer_import.sources.arrow_text import ArrowRows
        from customer_import.store.dialects import PostgresStore
        from customer_import.store.writer import ProfileWriter

        self._wrap_generator(importer, "extract_part", "extract")
        self._wrap(psycopg.ServerCursor, "fetchmany", lambda _: "fetchmany")
        self._wrap(importer, "_write_batch", lambda _: "batch")
        self._wrap(importer._Writing, "result", lambda _: "wait write")
        self._wrap(importer, "_submit", lambda _: "submit", flag=True, flag_name="submitting")
        self._wrap(RowFingerprints, "of", lambda _: "fingerprints")
        self._wrap(RowFingerprints, "of_arrow", lambda _: "fingerprints")
        self._wrap(ArrowRows, "take", lambda _: "rows")
        # rows mapped again by _Pending.recheck (outside _submit) stay in "other"
        self._wrap(InlineBatchMapper, "submit", lambda _: "map rows" if self.submitting else "recheck")
        self._wrap(RowMapper, "known_from_columns", lambda _: "known keys")
        self._wrap(ArrowRows, "columns", lambda _: "rows")
        self._wrap(AdbcRecordBatchReader, "read_next_batch", lambda _: "fetchmany")
        self._wrap(ProfileWriter, "known_fingerprints", lambda _: "lookup", flag=True, flag_name="looking")
        self._wrap(StoredFingerprints, "known_pairs", lambda _: "lookup")
        self._wrap(ProfileWriter, "stored_fingerprints", lambda _: "load", flag=True, flag_name="looking")
        self._wrap(importer.DuplicateKeyFilter, "apply", lambda _: "dedupe")
        self._wrap(ProfileWriter, "write", lambda _: "write", flag=True)
        self._wrap(PostgresStore, "load_stage", lambda _: self._statement("COPY rows into the stage"))
        self._wrap(psycopg.Connection, "commit", lambda _: self._statement("COMMIT"))
        self._wrap(psycopg.Cursor, "execute", lambda a: self._statement(statement_label(a[1])))
        self._time_fields()
        return self

    def _time_fields(self) -> None:
        """Time each mapped field's column path (once per batch and field) in the columnar mapper."""
        from customer_import.mapping.columnar import ColumnarMapper

        original = ColumnarMapper.__init__
        seconds = self.seconds

        def timed(path: Callable[..., Any], name: str) -> Callable[..., Any]:
            def column(*args: Any) -> Any:
                start = time.perf_counter()
                try:
                    return path(*args)
                finally:
                    seconds[f"field: {name}"] += time.perf_counter() - start

            return column

        def init(mapper: Any, *args: Any, **kwargs: Any) -> None:
            original(mapper, *args, **kwargs)
            if not (hasattr(mapper, "_paths") and hasattr(mapper, "_fields")):
                if "ColumnarMapper._paths" not in self.missing:
                    self.missing.append("ColumnarMapper._paths")
                return
            mapper._paths = tuple(
                timed(path, name) for path, name in zip(mapper._paths, mapper._fields, strict=True)
            )

        ColumnarMapper.__init__ = init  # type: ignore[method-assign]
        self._restore.append((ColumnarMapper, "__init__", original))

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._restore):
            setattr(owner, name, original)
        self._restore.clear()

    @staticmethod
    def _labelled(seconds: dict[str, float], prefix: str) -> list[tuple[str, float]]:
        """The timings whose label starts with ``prefix`` (without it), the longest first."""
        return sorted(
            ((k[len(prefix) :], v) for k, v in seconds.items() if k.startswith(prefix)), key=lambda kv: -kv[1]
        )

    def breakdown(self, total: float) -> dict[str, float]:
        """Phases adding up to ``total``; what no wrapper saw is the loop itself (cursor, report, connect).
        Then, outside the sum, what the helper thread writing batches spent while the phases went on."""
        s = defaultdict(float, {k: v for k, v in self.seconds.items() if not k.startswith("bg: ")})
        bg = defaultdict(float, {k[4:]: v for k, v in self.seconds.items() if k.startswith("bg: ")})
        statements = self._labelled(s, "stmt: ")
        phases = {
            # The next batch is fetched (and normalised) in a helper thread while this one is mapped and
            # written: what the run waits for is what the helper had not finished.
            "extract: waiting for the next batch (fetched ahead in a thread)": s["extract"],
            "source fingerprints: compute": s["fingerprints"],
            "source fingerprints: read the store's, once a run": s["load"],
            "source fingerprints: look up (in memory, or in the store)": s["lookup"],
            "columnar reader: rows made Python values (to map; known rows' key and cursor)": s["rows"],
            "map + validate: rows not known (batch mapper, in this process)": s["map rows"],
            "map + validate: known rows' keys (and cursor values)": s["known keys"],
            "map + validate: the rest (rejections, known rows merged, in-flight mapping)": (
                s["submit"]
                - s["fingerprints"]
                - s["lookup"]
                - s["rows"]
                - s["map rows"]
                - s["known keys"]
                + s["batch"]
                - s["dedupe"]
                - s["write"]
            ),
            "map again: known rows whose fingerprint the batch before replaced": s["recheck"],
            "de-duplicate keys": s["dedupe"],
            "write: Python (adapt values to stage rows)": s["write"] - sum(v for _, v in statements),
            **{f"write: {name}": seconds for name, seconds in statements},
            "write: waiting for the batch the helper thread writes": s["wait write"],
            "set-up statements (ensure_schema)": s["setup"],
        }
        phases["other (connections, cursor advance, report)"] = total - sum(phases.values())
        # Not part of the sum: inside "map + validate: rows not known", each field's column path (the
        # rows a path leaves undecided or rejects are mapped again row by row, not counted here).
        for name, seconds in self._labelled(s, "field: "):
            phases[f"(inside map + validate) field {name}: its column path"] = seconds
        # Not part of the sum: the helper threads' time, overlapped with the phases above.
        phases["(overlapped) the helper thread's fetch (psycopg fetchmany or ADBC batches)"] = (
            s["fetchmany"] + bg["fetchmany"]
        )
        if bg["batch"]:
            written = self._labelled(bg, "stmt: ")
            phases["(overlapped) write thread: de-duplicate keys"] = bg["dedupe"]
            phases["(overlapped) write thread: rejections and counts"] = (
                bg["batch"] - bg["dedupe"] - bg["write"]
            )
            phases["(overlapped) write thread: Python (adapt values to stage rows)"] = bg["write"] - sum(
                v for _, v in written
            )
            for name, seconds in written:
                phases[f"(overlapped) write thread: {name}"] = seconds
        return phases


def ru_maxrss() -> int:
    """The process's peak RSS in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def top_functions(profiler: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(OPTIONS["profile_sort"]).print_stats(limit)
    text = re.sub(r"\S*/(?:site-packages|provider)/", "", out.getvalue())  # package-relative paths
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(line for line in lines[start:] if line.strip())


# --- phases ---------------------------------------------------------------------------------------------


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def checkpoint(dbs: Databases) -> None:
    """Flush dirty pages before a measured load, so that no load pays for the previous one's writes."""
    with (
        psycopg.connect(dbs.admin_dsn, autocommit=True) as db,
        suppress(psycopg.errors.InsufficientPrivilege),  # then the figures are only noisier
    ):
        db.execute("CHECKPOINT")


def configure_airflow(home: Path, dbs: Databases) -> None:
    """Airflow reads its configuration on first import: set it (and the two connections) before that."""
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home}/airflow.db"
    os.environ[f"AIRFLOW_CONN_{SOURCE_CONN_ID.upper()}"] = dbs.source_uri
    os.environ[f"AIRFLOW_CONN_{STORE_CONN_ID.upper()}"] = dbs.store_uri
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"


def code_under_test() -> str:
    """Where ``customer_import`` was imported from, and its git commit (the tree may hold uncommitted work)."""
    import subprocess

    import customer_import

    folder = Path(customer_import.__file__).resolve().parent
    git = subprocess.run(
        ["git", "-C", str(folder), "log", "-1", "--format=%h, %cs"],
        capture_output=True,
        text=True,
        check=False,
    )
    if git.returncode != 0:
        return f"{folder} (not a git checkout)"
    status = subprocess.run(
        ["git", "-C", str(folder), "status", "--porcelain", "--", "."],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = ", with uncommitted changes" if status.stdout.strip() else ""
    return f"{folder} (commit {git.stdout.strip()}{dirty})"


def quiet_logs(verbose: bool) -> None:
    import logging

    if not verbose:
        logging.getLogger("customer_import").setLevel(logging.WARNING)


def drop_database(admin: psycopg.Connection[Any], name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def throwaway_databases(admin_dsn: str, keep: bool) -> Iterator[Databases]:
    tag = uuid.uuid4().hex[:8]
    dbs = Databases(admin_dsn, f"bench_source_{tag}", f"bench_store_{tag}")
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        for name in (dbs.source, dbs.store):
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield dbs
    finally:
        if keep:
            print(f"\nkept the databases: {dbs.source_uri} and {dbs.store_uri}")
        else:
            with psycopg.connect(admin_dsn, autocommit=True) as admin:
                for name in (dbs.source, dbs.store, dbs.preloaded):
                    drop_database(admin, name)


def server_description(dsn: str) -> str:
    with psycopg.connect(dsn) as db:
        version = db.execute("SHOW server_version").fetchone()
        settings = {
            name: db.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            for name in ("shared_buffers", "work_mem", "synchronous_commit", "max_wal_size")
        }
    shown = ", ".join(f"{k} {v[0] if v else '?'}" for k, v in settings.items())
    return f"PostgreSQL {version[0] if version else '?'} ({shown})"


def generate_source(dbs: Databases, rows: int) -> float:
    statement = GENERATE_SOURCE.format(
        column_definitions=COLUMN_DEFINITIONS, column_list=COLUMN_LIST, rows=int(rows)
    )
    start = time.perf_counter()
    with psycopg.connect(dbs.source_uri, autocommit=True) as db:
        db.execute(statement)  # no parameters: '%' is a modulo, and several statements may follow
        db.execute("VACUUM ANALYZE customers")
    return time.perf_counter() - start


def make_spec(query: str) -> ImportSpec:
    from customer_import.spec.import_spec import ImportSpec

    return ImportSpec.model_validate(
        {
            "name": "bench_customers",
            "target": {"database": DATABASE["name"], "mode": "upsert", "matching": {"by": "email_profile"}},
            "source": {
                "conn_id": SOURCE_CONN_ID,
                "query": query,
                "cursor": {"column": "id", "start_value": 0},
            },
            "prevent_duplication": {"skip_unchanged": True, "duplicate_keys": "last"},
            "mapping": MAPPING,
        }
    )


def full_query() -> str:
    return f"SELECT {COLUMN_LIST} FROM customers WHERE id > {{lastItem}} ORDER BY id"


def counts_of(report: RunReport) -> dict[str, int]:
    return {
        "read": report.read,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "skipped": report.skipped,
        "failed": report.failed,
        "batches": report.batches,
    }


def run_ours(
    label: str,
    spec: ImportSpec,
    database: ProfileDatabase,
    cursor: MemoryCursor,
    batch_size: int,
    profiles: list[tuple[str, str]] | None = None,
) -> Measurement:
    """One ``run_import`` as the operator calls it, timed, with its peak RSS and where the time went.

    With ``profiles`` (a list to add to) it runs under cProfile instead of the phase timers.
    """
    from customer_import.importer import run_import
    from customer_import.sources.dialects.postgres import PostgresSource

    profiler = cProfile.Profile() if profiles is not None else None
    timer = PhaseTimer() if profiler is None else None
    arguments: dict[str, Any] = {
        "query": spec.source.query,
        "source": PostgresSource(),
        "cursor_state": cursor,
        "run_id": f"benchmark-{uuid.uuid4().hex[:8]}",
        "batch_size": batch_size,
        "store_conn_id": STORE_CONN_ID,
        "mapping_workers": OPTIONS["mapping_workers"],
    }
    with RssSampler() as rss, timer or nullcontext():
        start = time.perf_counter()
        if profiler is not None:
            report = profiler.runcall(run_import, spec, database, **arguments)
        else:
            report = run_import(spec, database, **arguments)
        seconds = time.perf_counter() - start
    if profiler is not None and profiles is not None:
        profiles.append((label, top_functions(profiler)))
    errors = ", ".join(f"{code} {n:,}" for code, n in sorted(report.error_counts.items()))
    return Measurement(
        label,
        report.read,
        seconds,
        peak_rss=rss.peak,
        rss_before=rss.before,
        cpu=rss.cpu,
        counts=counts_of(report),
        detail=f"rejected: {errors}" if errors else "",
        phases=timer.breakdown(seconds) if timer is not None else {},
        untimed=timer.missing if timer is not None else [],
    )


def copy_rows(source: psycopg.Connection[Any], store: psycopg.Cursor[Any], where: str) -> None:
    """Stream ``customers`` rows from the source into the limit's staging table: COPY out, COPY in."""
    copy_out = f"COPY (SELECT {COLUMN_LIST} FROM customers WHERE {where} ORDER BY id) TO STDOUT"
    with source.cursor().copy(copy_out) as out, store.copy(f"COPY {LIMIT_STAGE} FROM STDIN") as into:
        buffer = bytearray()
        for data in out:  # one COPY message each; handed on in blocks, never parsed
            buffer += data
            if len(buffer) >= MB:
                into.write(buffer)
                buffer.clear()
        into.write(buffer)


def run_sql_limit(label: str, dbs: Databases, rows: int, where: str = "true") -> Measurement:
    """The same rows moved with COPY into a staging table plus one upsert statement, one transaction."""
    with RssSampler() as rss:
        start = time.perf_counter()  # connecting counts, as it does for our import
        with psycopg.connect(dbs.source_uri) as source, psycopg.connect(dbs.store_uri) as store:
            source.read_only = True
            with store.cursor() as cursor:
                cursor.execute(CREATE_LIMIT_STAGE)
                copy_rows(source, cursor, where)
                copied = time.perf_counter()
                cursor.execute(LIMIT_UPSERT)
                written = cursor.rowcount
            store.commit()
        seconds = time.perf_counter() - start
    return Measurement(
        label,
        rows,
        seconds,
        peak_rss=rss.peak,
        rss_before=rss.before,
        cpu=rss.cpu,
        counts={"written": written},
        detail=f"COPY out+in {copied - start:.1f} s, upsert + commit {seconds - (copied - start):.1f} s",
    )


def copy_database(dbs: Databases, source: str, target: str) -> None:
    """``target`` as a fresh copy of ``source`` (a file copy: seconds for a million profiles)."""
    with psycopg.connect(dbs.admin_dsn, autocommit=True) as admin:
        # A template has no sessions: the import's pooled store connections are closed first.
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (source,),
        )
        drop_database(admin, target)
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source))
        )


def measure_round(
    dbs: Databases,
    args: argparse.Namespace,
    database: ProfileDatabase,
    profiles: list[tuple[str, str]] | None,
) -> Round:
    """The SQL limit (with and without changes), then our import and its re-run with nothing changed."""
    from customer_import.cursor import MemoryCursor

    step("SQL limit: COPY + one upsert; then the same with nothing changed")
    checkpoint(dbs)
    limit = run_sql_limit("SQL limit: COPY out/in + INSERT … ON CONFLICT", dbs, args.rows)
    checkpoint(dbs)
    limit_unchanged = run_sql_limit("SQL limit, nothing changed (for information)", dbs, args.rows)
    spec, cursor = make_spec(full_query()), MemoryCursor(0)
    step("our import: run_import (upsert, skip_unchanged)")
    checkpoint(dbs)
    ours = run_ours("our import: run_import, upsert", spec, database, cursor, args.batch_size, profiles)
    step("our re-run with nothing changed (cursor rewound)")
    cursor.save(0)  # rewind, as editing the cursor Variable does
    checkpoint(dbs)
    rerun = run_ours(
        "our re-run, nothing changed (skip_unchanged)", spec, database, cursor, args.batch_size, profiles
    )
    return Round(limit, limit_unchanged, ours, rerun)


def median_round(rounds: list[Round]) -> Round:
    """The round whose upsert ratio is the median (the lower middle one of an even number)."""
    ordered = sorted(rounds, key=lambda r: r.upsert_ratio)
    return ordered[(len(ordered) - 1) // 2]


def prepare_store(dbs: Databases, database: ProfileDatabase) -> None:
    from customer_import.store.connection import open_store
    from customer_import.store.writer import ensure_schema

    with open_store(STORE_CONN_ID) as (dialect, connection):
        ensure_schema(dialect, connection, database)
    with psycopg.connect(dbs.store_uri, autocommit=True) as db:
        db.execute(CREATE_LIMIT_TABLE)


def preload(results: Results, dbs: Databases, database: ProfileDatabase, dlt: bool) -> None:
    """The first half of the customers into the store (through run_import) and into the limit's table."""
    from customer_import.cursor import MemoryCursor

    half = results.rows // 2
    spec = make_spec(
        f"SELECT {COLUMN_LIST} FROM customers WHERE id > {{lastItem}} AND id <= {half} ORDER BY id"
    )
    results.preload = run_ours(
        "pre-load: first half via run_import (creates)", spec, database, MemoryCursor(0), results.batch_size
    )
    results.limit_preload = run_sql_limit("pre-load: first half, SQL limit", dbs, half, f"id <= {half}")
    if dlt:
        dlt_preload(results, dbs, half)


def check_mapper(dbs: Databases, spec: ImportSpec, database: ProfileDatabase, batch_size: int) -> str:
    """Every source row through RowMapper.map_rows and ColumnarMapper.map_rows, with loops and with Arrow
    (and known_rows with and without the column-wise key); the number of results that differ (compared
    with their types)."""
    from customer_import.mapping.columnar import ColumnarMapper
    from customer_import.mapping.mapper import RowMapper

    columns = tuple(name for name, _ in SOURCE_COLUMNS)
    oracle = RowMapper(spec, database, columns)
    mapper = ColumnarMapper(spec, database, RowMapper(spec, database, columns))  # as the task process
    arrow = ColumnarMapper(spec, database, RowMapper(spec, database, columns), vectorised=True)  # workers

    def typed(value: Any) -> Any:
        if isinstance(value, dict):
            return [(k, type(v), v) for k, v in value.items()]
        if isinstance(value, tuple):  # Record, Rejection fields, Known
            return (type(value), *(typed(v) for v in value))
        return (type(value), value)

    rows_seen = differ = 0
    first = ""
    start = time.perf_counter()
    with psycopg.connect(dbs.source_uri) as db, db.cursor(name="check_mapper") as cursor:
        cursor.execute(f"SELECT {COLUMN_LIST} FROM customers ORDER BY id")
        while rows := cursor.fetchmany(batch_size):
            numbers = range(rows_seen + 1, rows_seen + 1 + len(rows))
            old, new = oracle.map_rows(rows, numbers), mapper.map_rows(rows, numbers)
            vectorised = arrow.map_rows(rows, numbers)
            known_old, known_new = oracle.known_rows(rows, numbers), mapper._rows.known_rows(rows, numbers)
            pairs = (*zip(old, new, strict=True), *zip(old, vectorised, strict=True))
            for pair in (*pairs, *zip(known_old, known_new, strict=True)):
                a, b = (tuple(vars_of(x)) if x is not None else None for x in pair)
                if typed(a) != typed(b):
                    differ += 1
                    first = first or f"{pair[0]!r} != {pair[1]!r}"
            rows_seen += len(rows)
    seconds = time.perf_counter() - start
    verdict = "identical" if not differ else f"{differ:,} DIFFER (first: {first[:300]})"
    return (
        f"{rows_seen:,} rows mapped by the row mapper and both columnar paths in {seconds:.1f} s: {verdict}"
    )


def vars_of(result: Any) -> tuple[Any, ...]:
    """A Record, Known or Rejection as a tuple of its fields."""
    if isinstance(result, tuple):
        return result
    return tuple(getattr(result, name) for name in result.__dataclass_fields__)


def change_source_and_analyze(dbs: Databases, half: int) -> None:
    with psycopg.connect(dbs.source_uri, autocommit=True) as db:
        db.execute(CHANGE_SOURCE.format(half=int(half)))
        db.execute("VACUUM ANALYZE customers")
    analyze_store(dbs)


def analyze_store(dbs: Databases) -> None:
    """Vacuumed and analysed store tables before a round: a copied database starts without the
    statistics autovacuum goes by, which would otherwise analyse its tables in the middle of a load."""
    with psycopg.connect(dbs.store_uri, autocommit=True) as db:
        for table in (f"{DATABASE['name']}_profiles", f"{DATABASE['name']}_events", LIMIT_TABLE):
            db.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


# --- dlt (optional; never installed by this script) -----------------------------------------------------


def dlt_missing() -> str:
    import importlib.util

    if importlib.util.find_spec("dlt") is None:
        return "not installed (pip install 'dlt[postgres,sql_database]'); skipped"
    return ""


def timed_dlt_load(label: str, dbs: Databases, table: str, rows: int, batch_size: int) -> Measurement:
    """dlt's sql_table resource from the source into ``dlt_bench.customers`` on the store, merge on email."""
    import dlt
    from dlt.sources.sql_database import sql_table

    resource = sql_table(credentials=dbs.source_uri, table=table, chunk_size=batch_size)
    resource.apply_hints(table_name="customers", write_disposition="merge", primary_key="email")
    pipeline = dlt.pipeline(
        pipeline_name="customer_import_benchmark",
        destination=dlt.destinations.postgres(credentials=dbs.store_uri),
        dataset_name="dlt_bench",
        pipelines_dir=os.path.join(os.environ["AIRFLOW_HOME"], "dlt"),
    )
    with RssSampler() as rss:
        start = time.perf_counter()
        pipeline.run(resource)
        seconds = time.perf_counter() - start
    return Measurement(label, rows, seconds, peak_rss=rss.peak, rss_before=rss.before, cpu=rss.cpu)


def dlt_preload(results: Results, dbs: Databases, half: int) -> None:
    results.dlt_note = dlt_missing()
    if results.dlt_note:
        return
    with psycopg.connect(dbs.source_uri, autocommit=True) as db:
        db.execute(f"CREATE VIEW customers_first_half AS SELECT * FROM customers WHERE id <= {int(half)}")
    try:
        results.dlt_preload = timed_dlt_load(
            "pre-load: first half, dlt", dbs, "customers_first_half", half, results.batch_size
        )
    except Exception as exc:  # an optional comparison never stops the benchmark
        results.dlt_note = f"failed: {type(exc).__name__}: {exc}"


def run_dlt(results: Results, dbs: Databases) -> None:
    if results.dlt_note:
        return
    try:
        checkpoint(dbs)
        results.dlt_merge = timed_dlt_load(
            "dlt sql_table, merge on email", dbs, "customers", results.rows, results.batch_size
        )
        checkpoint(dbs)
        results.dlt_rerun = timed_dlt_load(
            "dlt re-run, nothing changed", dbs, "customers", results.rows, results.batch_size
        )
    except Exception as exc:
        results.dlt_note = f"failed: {type(exc).__name__}: {exc}"


# --- report ---------------------------------------------------------------------------------------------


def _mb(value: int | None) -> str:
    return "?" if value is None else f"{value / MB:,.0f} MB"


def _line(m: Measurement) -> str:
    rss = f"   peak RSS {_mb(m.peak_rss)} (before {_mb(m.rss_before)})" if m.peak_rss else ""
    return f"  {m.label:<52} {m.rows:>10,} rows {m.seconds:>8.1f} s {m.rows_per_second:>10,.0f} rows/s{rss}"


def _details(m: Measurement) -> None:
    if m.counts:
        print("      " + ", ".join(f"{k} {v:,}" for k, v in m.counts.items()))
    if m.detail:
        print("      " + m.detail)
    if m.cpu is not None:
        print("      " + m.cpu.describe(m.seconds))


def print_phases(m: Measurement, limit_seconds: float) -> None:
    """The per-stage table of one of our loads, each stage's share and its ratio to the SQL limit."""
    if not m.phases:
        return
    print(
        f"\nwhere the time goes: {m.label} ({m.seconds:.1f} s; the SQL limit's whole load: {limit_seconds:.1f} s)"
    )
    print(f"  {'stage':<72} {'seconds':>10} {'share':>6} {'x limit':>8}")
    for name, seconds in m.phases.items():
        share = 100 * seconds / m.seconds if m.seconds else 0.0
        ratio = seconds / limit_seconds if limit_seconds else 0.0
        print(f"  {name:<72} {seconds:>8.2f} s {share:>5.1f}% {ratio:>7.2f}x")
    if m.untimed:
        print(f"  (not timed, not found: {', '.join(m.untimed)})")


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def print_results(r: Results, profiled: bool) -> None:
    print(f"\n=== customer_import benchmark: {r.rows:,} source rows, batch size {r.batch_size:,} ===")
    print(f"{r.server}; {os.cpu_count()} CPUs; Python {platform.python_version()}")
    print(f"code under test: {r.code}")
    print(f"source generated set-based in {r.generate_seconds:.1f} s")
    print("\npre-load (the first half; not part of the comparison):")
    for m in (r.preload, r.limit_preload, r.dlt_preload):
        if m is not None:
            print(_line(m))
            _details(m)
    if len(r.rounds) > 1:
        print(
            f"\n{len(r.rounds)} rounds, each on a copy of the pre-loaded store (the median one is shown below):"
        )
        print(
            f"  {'round':<6} {'SQL limit':>10} {'ours':>8} {'x limit':>8} {'re-run':>8} {'x limit':>8}"
            "   CPU stolen (limit / ours)   ours: created / updated"
        )
        for number, one in enumerate(r.rounds, 1):
            stolen = " / ".join(f"{m.cpu.steal:.1f} s" if m.cpu else "?" for m in (one.limit, one.ours))
            written = f"{one.ours.counts.get('created', 0):,} / {one.ours.counts.get('updated', 0):,}"
            print(
                f"  {number:<6} {one.limit.seconds:>8.1f} s {one.ours.seconds:>6.1f} s {one.upsert_ratio:>7.2f}x "
                f"{one.rerun.seconds:>6.1f} s {one.rerun_ratio:>7.2f}x   {stolen:<27} {written}"
            )
    print("\nmeasured on the same rows (a quarter of the pre-loaded customers changed since):")
    for m in (r.limit, r.limit_unchanged, r.ours, r.rerun, r.dlt_merge, r.dlt_rerun):
        if m is not None:
            print(_line(m))
            _details(m)
    if r.dlt_note:
        print(f"  dlt: {r.dlt_note}")
    print(f"  process peak RSS (ru_maxrss, whole run incl. pre-load): {_mb(r.ru_maxrss)}")
    if r.mapper_check:
        print(f"  mapper check: {r.mapper_check}")
    if r.limit is None or r.ours is None or r.rerun is None:
        return
    limit = r.limit.rows_per_second
    upsert_ratio = r.ours.rows_per_second / limit
    # The median of each ratio over the rounds (with one round, that round's).
    rerun_ratio = statistics.median_low(one.rerun_ratio for one in r.rounds)
    measured = [m for one in r.rounds for m in (one.ours, one.rerun)]
    peak = max(m.peak_rss or 0 for m in measured)
    own = max((m.peak_rss or 0) - (m.rss_before or 0) for m in measured)
    print("\nsummary:")
    print(f"  our import:    {r.ours.rows_per_second:>10,.0f} rows/s, peak RSS {_mb(r.ours.peak_rss)}")
    print(f"  SQL limit:     {limit:>10,.0f} rows/s")
    print(f"  ours / limit:  {upsert_ratio:.2f}x")
    shown = r.rerun.rows_per_second
    print(f"  re-run, nothing changed: {shown:,.0f} rows/s = {shown / limit:.2f}x the limit")
    if len(r.rounds) > 1:
        ups = sorted(one.upsert_ratio for one in r.rounds)
        reruns = sorted(one.rerun_ratio for one in r.rounds)
        print(
            f"  over {len(r.rounds)} rounds: upsert {ups[0]:.2f}-{ups[-1]:.2f}x (median {upsert_ratio:.2f}x), "
            f"re-run {reruns[0]:.2f}-{reruns[-1]:.2f}x (median {rerun_ratio:.2f}x)"
        )
    if r.dlt_merge is not None:
        dlt_rate = r.dlt_merge.rows_per_second
        print(f"  dlt merge: {dlt_rate:,.0f} rows/s = {dlt_rate / limit:.2f}x the limit (for information)")
    note = "  (under cProfile: not comparable)" if profiled else ""
    print(f"\ntargets (issue 16, 'Speed, round 2'):{note}")
    print(
        f"  upsert >= {TARGET_UPSERT_RATIO}x the SQL limit:             {upsert_ratio:5.2f}x   "
        f"{_verdict(upsert_ratio >= TARGET_UPSERT_RATIO)}"
    )
    print(
        f"  unchanged re-run >= {TARGET_UNCHANGED_RATIO}x the SQL limit:   {rerun_ratio:5.2f}x   "
        f"{_verdict(rerun_ratio >= TARGET_UNCHANGED_RATIO)}"
    )
    print(
        f"  own RSS <= {TARGET_OWN_RSS_MB} MB (peak minus before, our runs):     {_mb(own):>7}   "
        f"{_verdict(own <= TARGET_OWN_RSS_MB * MB)}   (sampled peak {_mb(peak)})"
    )
    for m in (r.ours, r.rerun):
        print_phases(m, r.limit.seconds)
    for label, text in r.profiles:
        print(f"\ncProfile, {label}: top 25 by cumulative time")
        print(text)


# --- main -----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="source customers (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=10_000, help="rows per batch (default 10,000)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure the limit, our import and the re-run N times on copies of the pre-loaded store; "
        "the targets are judged by the median round (default 1)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the two databases (print their URIs)")
    parser.add_argument("--profile", action="store_true", help="run our two imports under cProfile")
    parser.add_argument(
        "--profile-sort",
        choices=("cumulative", "tottime"),
        default="cumulative",
        help="order of --profile's top functions: cumulative time, or own time (tottime)",
    )
    parser.add_argument("--dlt", action="store_true", help="also load with dlt (only if dlt is installed)")
    parser.add_argument("--pg", default=DEFAULT_ADMIN_DSN, help="admin DSN of the PostgreSQL server")
    parser.add_argument("--verbose", action="store_true", help="show the importer's per-batch log lines")
    parser.add_argument(
        "--row-mapper",
        action="store_true",
        help="map row by row ([customer_import] columnar_mapping = false), for an A/B in one tree",
    )
    parser.add_argument(
        "--psycopg-reader",
        action="store_true",
        help="read the source through psycopg ([customer_import] columnar_reader = false), for an A/B",
    )
    parser.add_argument(
        "--no-overlap",
        action="store_true",
        help="write and map in turn ([customer_import] overlap_writes = false), for an A/B in one tree",
    )
    parser.add_argument(
        "--check-mapper",
        action="store_true",
        help="also map every source row with the row mapper and the columnar mapper and count differences",
    )
    parser.add_argument(
        "--mapping-workers",
        type=int,
        default=0,
        help="[customer_import] mapping_workers for our import: processes mapping batches while it writes (default 0)",
    )
    args = parser.parse_args(argv)
    if args.rows < 100 or args.batch_size < 1 or args.rounds < 1:
        parser.error("--rows must be at least 100, --batch-size and --rounds at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    OPTIONS["mapping_workers"] = args.mapping_workers
    OPTIONS["profile_sort"] = args.profile_sort
    if args.row_mapper:
        os.environ["AIRFLOW__CUSTOMER_IMPORT__COLUMNAR_MAPPING"] = "false"
    if args.psycopg_reader:
        os.environ["AIRFLOW__CUSTOMER_IMPORT__COLUMNAR_READER"] = "false"
    if args.no_overlap:
        os.environ["AIRFLOW__CUSTOMER_IMPORT__OVERLAP_WRITES"] = "false"
    results = Results(rows=args.rows, batch_size=args.batch_size, server=server_description(args.pg))
    profiles = results.profiles if args.profile else None
    with (
        tempfile.TemporaryDirectory(prefix="customer-import-bench-") as home,
        throwaway_databases(args.pg, args.keep) as dbs,
    ):
        configure_airflow(Path(home), dbs)
        from customer_import.spec.database import ProfileDatabase

        quiet_logs(args.verbose)
        results.code = code_under_test()
        database = ProfileDatabase.model_validate(DATABASE)
        step(f"generating {args.rows:,} customers in {dbs.source}")
        results.generate_seconds = generate_source(dbs, args.rows)
        prepare_store(dbs, database)
        step("pre-loading the first half (our import, the SQL limit's table, dlt if asked)")
        preload(results, dbs, database, args.dlt)
        change_source_and_analyze(dbs, args.rows // 2)
        if args.rounds > 1:
            step(f"copying the pre-loaded store to {dbs.preloaded} (each round starts from it)")
            copy_database(dbs, dbs.store, dbs.preloaded)
        for number in range(1, args.rounds + 1):
            if number > 1:
                step(f"round {number} of {args.rounds}: the store back to its pre-loaded copy")
                copy_database(dbs, dbs.preloaded, dbs.store)
                analyze_store(dbs)
            results.rounds.append(measure_round(dbs, args, database, profiles))
        median = median_round(results.rounds)
        results.limit, results.limit_unchanged = median.limit, median.limit_unchanged
        results.ours, results.rerun = median.ours, median.rerun
        spec = make_spec(full_query())
        if args.dlt:
            step("dlt: sql_table with merge on email")
            run_dlt(results, dbs)
        results.ru_maxrss = ru_maxrss()
        if args.check_mapper:
            step("mapping every source row with the row mapper and the columnar mapper")
            results.mapper_check = check_mapper(dbs, spec, database, args.batch_size)
        print_results(results, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
