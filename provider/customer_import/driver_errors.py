"""Transient or fatal: a database driver's error classified by the DBMS's own error code.

A transient error (a lost connection, a serialization failure, a deadlock, a server restarting, a
timeout) is retried by Airflow (``[customer_import] retries``); a fatal one (bad SQL, a missing table,
a permission, bad credentials) fails the run at once, since retrying cannot fix it. One table per DBMS,
shared by the source dialects and the profile store:

* the code is read where the driver puts it (PostgreSQL ``exc.sqlstate``, MySQL/MariaDB and SQL Server
  ``exc.args[0]``, ClickHouse ``exc.code``, Oracle ``exc.args[0].code`` / ``full_code``, SQLite
  ``exc.sqlite_errorcode``); when the raised error has none, the error it was raised while handling
  (e.g. a failed rollback after a failed statement) is asked;
* a code in neither list is **retried**: a deterministic error taken as transient costs a few retries
  (``retries`` x ``retry_delay_seconds``), a transient one taken as fatal would need a person to re-run;
* timeouts and cancelled queries (PostgreSQL 57014, MariaDB 1969, MySQL 3024, ClickHouse 159/394,
  Oracle ORA-01013) are transient: the same code covers an administrator's cancel, and a query cut by
  ``statement_timeout_seconds`` is more often slowed by load or locks than slow by itself (a retry costs
  at most ``retries`` x the timeout; the message names the timeout, so it can be raised);
* only an error that carries **no code** anywhere is classified by its kind (connection and timeout
  errors of the OS are transient; a driver's DataError/ProgrammingError/NotSupportedError raised on the
  client, and Python's own ValueError/TypeError/ArithmeticError, are deterministic, so fatal) and last
  by substrings of its message (``fatal_markers``): libpq, for one, reports a failed login without a
  SQLSTATE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

Code = int | str


@dataclass(frozen=True)
class ErrorCodes:
    """One DBMS's error codes: which are fatal, which transient (everything else is retried)."""

    dbms: str
    label: str  # how the DBMS names its codes, for messages: "SQLSTATE", "MySQL error" ...
    code_of: Callable[[BaseException], Code | None]
    fatal: frozenset[Code]
    transient: frozenset[Code]
    by_prefix: bool = False  # SQLSTATE: an entry may be a class ("42") or a code ("42P01"); longest wins

    def verdict(self, code: Code) -> bool:
        """True: fatal; False: transient (listed as such, or not listed at all)."""
        if not self.by_prefix:
            return code in self.fatal
        text = str(code)
        for size in range(len(text), 0, -1):
            if text[:size] in self.fatal:
                return True
            if text[:size] in self.transient:
                return False
        return False


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, then the errors it was raised from or while handling (cycles cut)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def code_in(error: BaseException, codes: ErrorCodes) -> Code | None:
    """The first driver code found in ``error`` or the errors behind it."""
    for exc in _chain(error):
        code = codes.code_of(exc)
        if code is not None:
            return code
    return None


# Raised by a driver or by Python without a code, but deterministic: retrying repeats them.
_FATAL_KINDS = frozenset(
    {"DataError", "ProgrammingError", "NotSupportedError", "IntegrityError", "AirflowNotFoundException"}
)
_FATAL_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def is_fatal(error: BaseException, codes: ErrorCodes, markers: tuple[str, ...] = ()) -> bool:
    """Whether retrying cannot fix ``error``: by its code; without one, by its kind, then its message."""
    code = code_in(error, codes)
    if code is not None:
        return codes.verdict(code)
    if isinstance(error, _FATAL_OS_ERRORS):
        return True
    if isinstance(error, OSError | EOFError):  # ConnectionError, TimeoutError, socket errors
        return False
    if isinstance(error, ValueError | TypeError | ArithmeticError):  # UnicodeDecodeError included
        return True
    if {kind.__name__ for kind in type(error).__mro__} & _FATAL_KINDS:
        return True
    text = f"{type(error).__name__}: {error}".lower()
    return any(marker.lower() in text for marker in markers)


def describe(error: BaseException, codes: ErrorCodes) -> str:
    """``Type [label code]: message``, the code added when the message does not show it already;
    a ClickHouse server's stack trace is cut off."""
    message = str(error).split("Stack trace:", 1)[0].strip()
    code = code_in(error, codes)
    tag = f" [{codes.label} {code}]" if code is not None and str(code) not in message else ""
    return f"{type(error).__name__}{tag}: {message}"


# --- where each driver keeps its code ----------------------------------------------------------------


def _sqlstate(error: BaseException) -> Code | None:
    value = getattr(error, "sqlstate", None)  # psycopg 3 (and psycopg2's pgcode, below)
    if value is None:
        value = getattr(error, "pgcode", None)
    return value if isinstance(value, str) and len(value) == 5 else None


def _driver(error: BaseException) -> str:
    """The top-level package of the module that defines the error's class."""
    return type(error).__module__.split(".", 1)[0]


def _first_arg_number(error: BaseException) -> Code | None:
    """MySQLdb: ``args == (errno, message)``; pymssql: the same, or ``((number, message),)`` on connect.
    (Only for those drivers' errors: an OSError's ``args[0]`` is an errno.)"""
    if _driver(error) not in ("MySQLdb", "pymysql", "pymssql", "_mssql") or not error.args:
        return None
    first = error.args[0]
    if isinstance(first, tuple) and first:
        first = first[0]
    return first if isinstance(first, int) and not isinstance(first, bool) and first > 0 else None


def _mssql_number(error: BaseException) -> Code | None:
    number = getattr(error, "number", None)  # pymssql._mssql.MSSQLDatabaseException
    if isinstance(number, int) and number > 0:
        return number
    return _first_arg_number(error)


def _clickhouse_code(error: BaseException) -> Code | None:
    # clickhouse_driver.errors.Error and subclasses (ServerException, NetworkError, ...): ``code``.
    if _driver(error) != "clickhouse_driver":
        return None
    code = getattr(error, "code", None)
    return code if isinstance(code, int) and code > 0 else None


def _oracle_code(error: BaseException) -> Code | None:
    """python-oracledb: ``args[0]`` is an ``_Error`` with ``code`` (the ORA number, 0 for driver
    errors) and ``full_code`` (``ORA-00942``, ``DPY-4011``); codes are kept as ``ORA-nnnnn`` / ``DPY-nnnn``."""
    if _driver(error) not in ("oracledb", "cx_Oracle") or not error.args:
        return None
    detail = error.args[0]
    code = getattr(detail, "code", None)
    if isinstance(code, int) and code > 0:
        return f"ORA-{code:05d}"
    full_code = getattr(detail, "full_code", None)
    return full_code if isinstance(full_code, str) and full_code else None


def _sqlite_code(error: BaseException) -> Code | None:
    code = getattr(error, "sqlite_errorcode", None)  # sqlite3, Python 3.11+: extended code
    return code & 0xFF if isinstance(code, int) else None  # the primary code


# --- the tables --------------------------------------------------------------------------------------

POSTGRES = ErrorCodes(
    dbms="PostgreSQL",
    label="SQLSTATE",
    code_of=_sqlstate,
    by_prefix=True,
    transient=frozenset(
        {
            "08",  # connection exception
            "40",  # transaction rollback: 40001 serialization failure, 40P01 deadlock
            "53",  # insufficient resources: disk full, out of memory, too many connections
            "55P03",  # lock not available
            "55006",  # object in use
            "57014",  # query canceled: statement_timeout, pg_cancel_backend
            "57P01",  # admin shutdown, pg_terminate_backend
            "57P02",  # crash shutdown
            "57P03",  # cannot connect now (starting up, recovery)
            "57P05",  # idle session timeout
            "58",  # system error (I/O)
            "72",  # snapshot too old
            "XX",  # internal error
        }
    ),
    fatal=frozenset(
        {
            "0A",  # feature not supported
            "21",  # cardinality violation (a scalar subquery returning rows)
            "22",  # data exception (invalid input, division by zero, out of range)
            "23",  # integrity constraint violation
            "24",  # invalid cursor state
            "25006",  # read-only SQL transaction: something tried to write
            "26",  # invalid SQL statement name
            "28",  # invalid authorization: bad login
            "2F",  # SQL routine exception
            "34",  # invalid cursor name
            "38",  # external routine exception
            "39",  # external routine invocation exception
            "3D000",  # invalid catalog name: no such database
            "3F000",  # invalid schema name
            "42",  # syntax error or access rule violation: 42601, 42P01, 42703, 42501, 42883
            "44",  # with check option violation
            "54",  # program limit exceeded (statement too complex)
            "57P04",  # database dropped
        }
    ),
)

MYSQL = ErrorCodes(
    dbms="MySQL/MariaDB",
    label="error",
    code_of=_first_arg_number,
    transient=frozenset(
        {
            1021,  # disk full
            1037,  # out of memory
            1038,  # out of sort memory
            1040,  # too many connections
            1041,  # out of memory
            1053,  # server shutdown in progress
            1135,  # can't create a new thread
            1152,  # aborted connection
            1154,  # got a read error from the connection pipe
            1155,  # got an error from fcntl()
            1156,  # got packets out of order
            1157,  # couldn't uncompress communication packet
            1158,  # got an error reading communication packets
            1159,  # got timeout reading communication packets
            1160,  # got an error writing communication packets
            1161,  # got timeout writing communication packets
            1203,  # user has more than max_user_connections
            1205,  # lock wait timeout exceeded
            1213,  # deadlock found
            1226,  # user has exceeded a resource limit
            1317,  # query execution was interrupted (KILL QUERY)
            1927,  # connection was killed (MariaDB)
            1969,  # max_statement_time exceeded (MariaDB)
            3024,  # max_execution_time exceeded (MySQL)
            4031,  # disconnected by the server because of inactivity (MySQL 8)
            2002,  # can't connect through the socket
            2003,  # can't connect to the server
            2005,  # unknown server host (DNS)
            2006,  # server has gone away
            2013,  # lost connection during query (KILL)
            2055,  # lost connection to the server at ...
        }
    ),
    fatal=frozenset(
        {
            1044,  # access denied for user to database
            1045,  # access denied (bad login)
            1046,  # no database selected
            1049,  # unknown database
            1051,  # unknown table
            1052,  # column is ambiguous
            1054,  # unknown column
            1055,  # not in GROUP BY (ONLY_FULL_GROUP_BY)
            1064,  # syntax error
            1066,  # not unique table/alias
            1109,  # unknown table in ...
            1111,  # invalid use of group function
            1142,  # command denied to user
            1143,  # column command denied
            1146,  # table doesn't exist
            1227,  # access denied; you need a privilege
            1235,  # this version doesn't yet support
            1241,  # operand should contain n columns
            1242,  # subquery returns more than 1 row
            1248,  # every derived table must have its own alias
            1251,  # client does not support the authentication protocol
            1267,  # illegal mix of collations
            1271,  # illegal mix of collations
            1290,  # the server runs with --read-only (a write was attempted)
            1305,  # function does not exist
            1370,  # execute command denied
            1630,  # function does not exist
            1698,  # access denied (auth socket)
            1792,  # cannot execute statement in a READ ONLY transaction
            2059,  # authentication plugin cannot be loaded
        }
    ),
)

CLICKHOUSE = ErrorCodes(
    dbms="ClickHouse",
    label="code",
    code_of=_clickhouse_code,
    transient=frozenset(
        {
            3,  # unexpected end of file
            32,  # attempt to read after EOF
            102,  # unexpected packet from server
            159,  # timeout exceeded (max_execution_time)
            173,  # cannot allocate memory
            202,  # too many simultaneous queries
            203,  # no free connection
            209,  # socket timeout
            210,  # network error (connection refused, reset)
            236,  # aborted
            241,  # memory limit exceeded
            279,  # all connection tries failed
            394,  # query was cancelled (KILL QUERY)
            425,  # system error
            439,  # cannot schedule task
        }
    ),
    fatal=frozenset(
        {
            6,  # cannot parse text
            27,  # cannot parse input
            36,  # bad arguments
            41,  # cannot parse datetime
            42,  # number of arguments doesn't match
            43,  # illegal type of argument
            46,  # unknown function
            47,  # unknown identifier
            48,  # not implemented
            53,  # type mismatch
            60,  # unknown table
            62,  # syntax error
            70,  # cannot convert type
            81,  # unknown database
            115,  # unknown setting
            164,  # readonly: something tried to write or change a setting
            184,  # illegal aggregation
            192,  # unknown user
            193,  # wrong password
            194,  # required password
            195,  # IP address not allowed
            215,  # not an aggregate
            291,  # database access denied
            386,  # no common type
            452,  # setting constraint violation
            497,  # access denied
            516,  # authentication failed
        }
    ),
)

MSSQL = ErrorCodes(
    dbms="SQL Server",
    label="error",
    code_of=_mssql_number,
    transient=frozenset(
        {
            233,  # no process is on the other end of the pipe
            701,  # insufficient system memory
            1204,  # cannot obtain a lock resource
            1205,  # deadlock victim
            1222,  # lock request time out
            3960,  # snapshot isolation update conflict
            6005,  # SHUTDOWN is in progress
            8645,  # timeout waiting for memory resources
            10053,  # connection aborted
            10054,  # connection reset
            10060,  # connection timed out
            20003,  # DB-Lib: server connection timed out
            20004,  # DB-Lib: read from the server failed
            20006,  # DB-Lib: write to the server failed
            20009,  # DB-Lib: unable to connect
            20017,  # DB-Lib: unexpected EOF from the server
            20047,  # DB-Lib: DBPROCESS is dead
            40197,  # Azure SQL: error processing the request, retry
            40501,  # Azure SQL: service is busy
            40613,  # Azure SQL: database not currently available
        }
    ),
    fatal=frozenset(
        {
            102,  # incorrect syntax
            156,  # incorrect syntax near a keyword
            195,  # not a recognized built-in function
            207,  # invalid column name
            208,  # invalid object name
            229,  # permission denied on object
            230,  # permission denied on column
            241,  # conversion failed (date/time)
            245,  # conversion failed
            262,  # permission denied in database
            916,  # server principal cannot access the database
            2812,  # could not find stored procedure
            3906,  # database is read-only
            4060,  # cannot open database
            4121,  # cannot find column or user-defined function
            18456,  # login failed
        }
    ),
)

ORACLE = ErrorCodes(
    dbms="Oracle",
    label="code",
    code_of=_oracle_code,
    transient=frozenset(
        {
            "ORA-00028",  # session killed
            "ORA-00031",  # session marked for kill
            "ORA-00054",  # resource busy (NOWAIT)
            "ORA-00060",  # deadlock
            "ORA-01013",  # user requested cancel (call_timeout)
            "ORA-01033",  # initialization or shutdown in progress
            "ORA-01034",  # Oracle not available
            "ORA-01089",  # immediate shutdown in progress
            "ORA-01092",  # instance terminated
            "ORA-01555",  # snapshot too old
            "ORA-03113",  # end-of-file on communication channel
            "ORA-03114",  # not connected
            "ORA-03135",  # connection lost contact
            "ORA-04030",  # out of process memory
            "ORA-04031",  # unable to allocate shared memory
            "ORA-08177",  # can't serialize access
            "ORA-12170",  # connect timeout
            "ORA-12516",  # listener: no available handler
            "ORA-12519",  # listener: no appropriate service handler
            "ORA-12537",  # connection closed
            "ORA-12541",  # no listener
            "ORA-12543",  # destination host unreachable
            "ORA-12547",  # lost contact
            "DPY-4011",  # the database or network closed the connection
            "DPY-4024",  # call timeout exceeded (call_timeout)
            "DPY-6005",  # cannot connect to database
        }
    ),
    fatal=frozenset(
        {
            "ORA-00900",  # invalid SQL statement
            "ORA-00904",  # invalid identifier
            "ORA-00907",  # missing right parenthesis
            "ORA-00911",  # invalid character
            "ORA-00923",  # FROM keyword not found
            "ORA-00933",  # SQL command not properly ended
            "ORA-00936",  # missing expression
            "ORA-00942",  # table or view does not exist
            "ORA-01005",  # null password
            "ORA-01017",  # invalid username/password
            "ORA-01031",  # insufficient privileges
            "ORA-01045",  # user lacks CREATE SESSION
            "ORA-01456",  # may not insert/delete/update in a READ ONLY transaction
            "ORA-01722",  # invalid number
            "ORA-01861",  # literal does not match format string
            "ORA-04043",  # object does not exist
            "ORA-06550",  # PL/SQL compilation error
            "ORA-28000",  # account locked
            "ORA-28001",  # password expired
            "DPY-4001",  # no credentials
        }
    ),
)

SQLITE = ErrorCodes(
    dbms="SQLite",
    label="SQLite code",
    code_of=_sqlite_code,
    transient=frozenset(
        {
            5,  # SQLITE_BUSY: another connection holds the lock
            6,  # SQLITE_LOCKED
            7,  # SQLITE_NOMEM
            9,  # SQLITE_INTERRUPT (statement_timeout_seconds, via the progress handler)
            10,  # SQLITE_IOERR
            13,  # SQLITE_FULL
        }
    ),
    fatal=frozenset(
        {
            1,  # SQLITE_ERROR: no such table/column, syntax error
            3,  # SQLITE_PERM
            8,  # SQLITE_READONLY: something tried to write (query_only)
            11,  # SQLITE_CORRUPT
            14,  # SQLITE_CANTOPEN
            20,  # SQLITE_MISMATCH
            23,  # SQLITE_AUTH
            26,  # SQLITE_NOTADB
        }
    ),
)
