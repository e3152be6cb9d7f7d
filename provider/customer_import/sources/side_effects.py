"""Functions with side effects that a SELECT can call: refused in a source query, per DBMS.

Why a denylist, and its limit: a SELECT that calls ``pg_terminate_backend``, ``GET_LOCK`` or ClickHouse's
``url()`` passes every check of the statement's *shape* and even the read-only session (PostgreSQL and
MariaDB let a read-only transaction sleep, take advisory locks, read server files and cancel other
sessions). The full set of such functions cannot be known: user-defined functions, extensions and
packages add their own, and an allowlist of every harmless built-in of six DBMSs would refuse ordinary
queries. So this lists the known built-ins that sleep, lock, touch files or other servers, act on other
sessions, change settings, advance sequences, or execute SQL given as text (which no check of the query
can see). It is a first line only: **the read-only session is the real barrier**, the statement timeout
(``[customer_import] statement_timeout_seconds``) bounds what is left, and the source connection's login
should be granted only SELECT on what the import reads.

Names are matched case-insensitively, as called (``pg_sleep(1)``, ``pg_catalog.pg_sleep(1)``,
``"pg_sleep"(1)``), in every dialect: at validation the connection's DBMS is not known, so a call that is
dangerous in one DBMS is refused for all (a user function with such a name must be renamed or wrapped
in a view). ClickHouse table functions are matched where they are used as tables (``FROM url(...)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp


@dataclass(frozen=True)
class Denied:
    """Functions of one DBMS refused for one reason."""

    dbms: str
    why: str
    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    # What is matched: "call" a function called anywhere (FROM pg_ls_dir(...) included); "table" a function
    # used as a table (ClickHouse table functions); "package" any qualifier of a call or a column (Oracle
    # DBMS_LOCK.SLEEP, DBMS_RANDOM.VALUE); "pseudo_column" a qualified column's name (Oracle seq.NEXTVAL).
    where: str = "call"

    def matches(self, name: str) -> bool:
        return name in self.names or name.startswith(self.prefixes)


DENIED: tuple[Denied, ...] = (
    # PostgreSQL
    Denied(
        "PostgreSQL", "sleeps, holding the session", frozenset({"pg_sleep", "pg_sleep_for", "pg_sleep_until"})
    ),
    Denied(
        "PostgreSQL",
        "reads or writes files or large objects of the server",
        frozenset({"pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_file_write"}),
        ("pg_ls_", "lo_", "pg_file_"),
    ),
    Denied("PostgreSQL", "runs SQL on another server or session", prefixes=("dblink",)),
    Denied(
        "PostgreSQL",
        "executes SQL given as text, which no check of the query can see",
        frozenset(
            {"query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml", "ts_stat"}
        ),
    ),
    Denied(
        "PostgreSQL",
        "changes a setting of the session (the statement timeout, the read-only transaction)",
        frozenset({"set_config"}),
    ),
    Denied(
        "PostgreSQL",
        "acts on other sessions or on the server",
        frozenset(
            {
                "pg_terminate_backend",
                "pg_cancel_backend",
                "pg_reload_conf",
                "pg_rotate_logfile",
                "pg_switch_wal",
                "pg_promote",
                "pg_create_restore_point",
                "pg_backup_start",
                "pg_backup_stop",
                "pg_start_backup",
                "pg_stop_backup",
                "pg_log_backend_memory_contexts",
                "pg_drop_replication_slot",
                "pg_replication_slot_advance",
            }
        ),
        ("pg_stat_reset", "pg_create_", "pg_logical_"),
    ),
    Denied("PostgreSQL", "takes or releases advisory locks", prefixes=("pg_advisory_", "pg_try_advisory_")),
    Denied(
        "PostgreSQL",
        "advances a sequence or assigns a transaction id",
        frozenset({"nextval", "setval", "txid_current", "pg_current_xact_id"}),
    ),
    Denied("PostgreSQL", "sends a notification to other sessions", frozenset({"pg_notify"})),
    # MySQL / MariaDB
    Denied("MySQL/MariaDB", "sleeps or burns CPU, holding the session", frozenset({"sleep", "benchmark"})),
    Denied(
        "MySQL/MariaDB",
        "takes or releases named locks",
        frozenset({"get_lock", "release_lock", "release_all_locks"}),
    ),
    Denied("MySQL/MariaDB", "reads files of the server", frozenset({"load_file"})),
    Denied("MySQL/MariaDB", "advances a sequence (MariaDB)", frozenset({"nextval", "setval"})),
    Denied(
        "MySQL/MariaDB",
        "waits for replication",
        frozenset(
            {
                "master_pos_wait",
                "source_pos_wait",
                "master_gtid_wait",
                "wait_for_executed_gtid_set",
                "wait_until_sql_thread_after_gtids",
            }
        ),
    ),
    Denied("MySQL/MariaDB", "runs shell commands (lib_mysqludf_sys)", frozenset({"sys_exec", "sys_eval"})),
    # SQL Server
    Denied(
        "SQL Server",
        "reaches other servers or files",
        frozenset({"openrowset", "openquery", "opendatasource", "fn_get_audit_file", "fn_trace_gettable"}),
    ),
    Denied("SQL Server", "is an extended or system stored procedure", prefixes=("xp_", "sp_")),
    # Oracle (a package is matched anywhere in a dotted name: SYS.DBMS_LOCK.SLEEP)
    Denied(
        "Oracle",
        "calls a DBMS_* / UTL_* package (locks, pipes, sleeps, HTTP, files, jobs)",
        prefixes=("dbms_", "utl_"),
        where="package",
    ),
    Denied("Oracle", "advances a sequence", frozenset({"nextval"}), where="pseudo_column"),
    Denied("Oracle", "sends an HTTP request", frozenset({"httpuritype"})),
    # ClickHouse
    Denied("ClickHouse", "sleeps, holding the query", frozenset({"sleep", "sleepeachrow"})),
    Denied("ClickHouse", "reads files of the server", frozenset({"file"})),
    Denied(
        "ClickHouse",
        "reads other servers, files or programs (a table function)",
        frozenset(
            {
                "url",
                "urlcluster",
                "filecluster",
                "s3",
                "s3cluster",
                "gcs",
                "cosn",
                "oss",
                "azureblobstorage",
                "azureblobstoragecluster",
                "hdfs",
                "hdfscluster",
                "remote",
                "remotesecure",
                "cluster",
                "clusterallreplicas",
                "mysql",
                "postgresql",
                "mongodb",
                "redis",
                "jdbc",
                "odbc",
                "sqlite",
                "executable",
                "input",
            }
        ),
        ("iceberg", "deltalake", "hudi"),
        where="table",
    ),
    # SQLite
    Denied(
        "SQLite",
        "loads code or reads and writes files",
        frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}),
    ),
)


def _names_used(statement: exp.Expr) -> list[tuple[str, str, str]]:
    """``(where, name, as shown)`` of every function call, table function, qualifier and qualified column."""
    used: list[tuple[str, str, str]] = []
    for node in statement.find_all(exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        parent = node.parent
        qualifiers: list[str] = []
        if isinstance(parent, exp.Dot) and parent.expression is node:
            qualifiers = [i.name.lower() for i in parent.this.find_all(exp.Identifier)]
        shown = ".".join([*qualifiers, name]) + "()"
        used.extend(("package", q, shown) for q in qualifiers)  # first: the package says why
        used.append(("call", name, shown))
        if isinstance(parent, exp.Table):
            used.append(("table", name, shown))
    for column in statement.find_all(exp.Column):
        parts = [part.name.lower() for part in column.parts]
        if len(parts) > 1:  # Oracle calls a function without arguments, or a sequence, by a dotted name
            shown = ".".join(parts)
            used.extend(("package", q, shown) for q in parts[:-1])
            used.append(("pseudo_column", parts[-1], shown))
    return used


def side_effect_calls(statement: exp.Expr) -> list[str]:
    """One problem per refused function the statement calls (each once)."""
    problems: dict[str, str] = {}
    for where, name, shown in _names_used(statement):
        for denied in DENIED:
            if denied.where == where and denied.matches(name) and shown not in problems:
                problems[shown] = f"{shown}, which {denied.why} in {denied.dbms}"
    return list(problems.values())
