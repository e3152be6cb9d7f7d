"""Transient or fatal, by the driver's own error code (customer_import.driver_errors), for every source
dialect and store: each case is an exception built the way its driver builds it. (SQL Server and Oracle
have no server here: their exceptions are constructed with pymssql's and python-oracledb's own classes.)"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from customer_import import driver_errors
from customer_import.sources.dialects import source_dialect_for
from customer_import.store.dialects import store_dialect_for


def pg(sqlstate: str, message: str = "a message") -> BaseException:
    import psycopg

    return psycopg.errors.lookup(sqlstate)(message)  # type: ignore[no-any-return]


def mysql(number: int, message: str = "a message") -> BaseException:
    import MySQLdb

    kind = MySQLdb.OperationalError if number >= 2000 else MySQLdb.ProgrammingError
    return kind(number, message)


def clickhouse(code: int) -> BaseException:
    from clickhouse_driver.errors import ServerException

    return ServerException(f"DB::Exception: code {code}. Stack trace:\n\n0. somewhere", code=code)


def clickhouse_client_error(name: str) -> BaseException:
    from clickhouse_driver import errors

    return getattr(errors, name)("127.0.0.1:9000")  # type: ignore[no-any-return]


def mssql(number: int, *, on_connect: bool = False) -> BaseException:
    import pymssql

    detail = (number, b"a message")
    # pymssql raises `OperationalError, e.args[0]` (args = (number, text)) from a cursor, and
    # `OperationalError(e.args[0])` (args = ((number, text),)) from connect().
    return pymssql.OperationalError(detail) if on_connect else pymssql.OperationalError(*detail)


def oracle(message: str, code: int = 0) -> BaseException:
    from oracledb.errors import _Error

    error = _Error(message, code=code)
    return error.exc_type(error)  # type: ignore[no-any-return]


def oracle_driver(number: int) -> BaseException:
    from oracledb.errors import _create_exception

    return _create_exception(number)  # type: ignore[no-any-return]


CASES: list[tuple[str, str, Callable[[], BaseException], bool]] = [
    # PostgreSQL: SQLSTATE
    ("postgres", "08006 connection failure", lambda: pg("08006"), False),
    ("postgres", "40001 serialization failure", lambda: pg("40001"), False),
    ("postgres", "40P01 deadlock", lambda: pg("40P01"), False),
    ("postgres", "57P01 admin shutdown (pg_terminate_backend)", lambda: pg("57P01"), False),
    ("postgres", "57P02 crash shutdown", lambda: pg("57P02"), False),
    ("postgres", "57P03 cannot connect now", lambda: pg("57P03"), False),
    ("postgres", "53300 too many connections", lambda: pg("53300"), False),
    ("postgres", "53100 disk full", lambda: pg("53100"), False),
    ("postgres", "57014 query canceled (statement timeout)", lambda: pg("57014"), False),
    ("postgres", "55P03 lock not available", lambda: pg("55P03"), False),
    ("postgres", "42601 syntax error", lambda: pg("42601"), True),
    ("postgres", "42P01 undefined table", lambda: pg("42P01"), True),
    ("postgres", "42703 undefined column", lambda: pg("42703"), True),
    ("postgres", "42501 insufficient privilege", lambda: pg("42501"), True),
    ("postgres", "42883 undefined function", lambda: pg("42883"), True),
    ("postgres", "28P01 invalid password", lambda: pg("28P01"), True),
    ("postgres", "3D000 invalid catalog (no database)", lambda: pg("3D000"), True),
    ("postgres", "25006 read-only transaction", lambda: pg("25006"), True),
    ("postgres", "22P02 invalid text representation", lambda: pg("22P02"), True),
    ("postgres", "22012 division by zero", lambda: pg("22012"), True),
    ("postgres", "57P04 database dropped", lambda: pg("57P04"), True),
    ("postgres", "P0001 raise exception (not listed: retried)", lambda: pg("P0001"), False),
    # MySQL / MariaDB: the error number in args[0]
    ("mysql", "2002 can't connect (socket)", lambda: mysql(2002), False),
    ("mysql", "2003 can't connect", lambda: mysql(2003), False),
    ("mysql", "2006 server has gone away", lambda: mysql(2006), False),
    ("mysql", "2013 lost connection (KILL)", lambda: mysql(2013), False),
    ("mysql", "1205 lock wait timeout", lambda: mysql(1205), False),
    ("mysql", "1213 deadlock", lambda: mysql(1213), False),
    ("mysql", "1927 connection killed", lambda: mysql(1927), False),
    ("mysql", "1969 max_statement_time", lambda: mysql(1969), False),
    ("mysql", "3024 max_execution_time", lambda: mysql(3024), False),
    ("mysql", "1040 too many connections", lambda: mysql(1040), False),
    ("mysql", "1045 access denied", lambda: mysql(1045), True),
    ("mysql", "1044 access denied to database", lambda: mysql(1044), True),
    ("mysql", "1049 unknown database", lambda: mysql(1049), True),
    ("mysql", "1064 syntax error", lambda: mysql(1064), True),
    ("mysql", "1146 no such table", lambda: mysql(1146), True),
    ("mysql", "1054 unknown column", lambda: mysql(1054), True),
    ("mysql", "1142 command denied", lambda: mysql(1142), True),
    ("mysql", "1792 read-only transaction", lambda: mysql(1792), True),
    ("mysql", "2099 an unlisted client error: retried", lambda: mysql(2099), False),
    # ClickHouse: exc.code
    ("clickhouse", "60 unknown table", lambda: clickhouse(60), True),
    ("clickhouse", "62 syntax error", lambda: clickhouse(62), True),
    ("clickhouse", "516 authentication failed", lambda: clickhouse(516), True),
    ("clickhouse", "192 unknown user", lambda: clickhouse(192), True),
    ("clickhouse", "164 readonly", lambda: clickhouse(164), True),
    ("clickhouse", "81 unknown database", lambda: clickhouse(81), True),
    ("clickhouse", "159 timeout exceeded", lambda: clickhouse(159), False),
    ("clickhouse", "394 query was cancelled (KILL QUERY)", lambda: clickhouse(394), False),
    ("clickhouse", "241 memory limit exceeded", lambda: clickhouse(241), False),
    ("clickhouse", "NetworkError (210)", lambda: clickhouse_client_error("NetworkError"), False),
    ("clickhouse", "SocketTimeoutError (209)", lambda: clickhouse_client_error("SocketTimeoutError"), False),
    # SQL Server: pymssql's number
    ("mssql", "18456 login failed (connect)", lambda: mssql(18456, on_connect=True), True),
    ("mssql", "208 invalid object name", lambda: mssql(208), True),
    ("mssql", "102 incorrect syntax", lambda: mssql(102), True),
    ("mssql", "229 permission denied", lambda: mssql(229), True),
    ("mssql", "1205 deadlock victim", lambda: mssql(1205), False),
    ("mssql", "20009 unable to connect (connect)", lambda: mssql(20009, on_connect=True), False),
    ("mssql", "20003 timed out", lambda: mssql(20003), False),
    # Oracle: args[0].code (ORA) or full_code (DPY)
    ("oracle", "ORA-00942 no table", lambda: oracle("ORA-00942: table or view does not exist", 942), True),
    ("oracle", "ORA-00904 invalid identifier", lambda: oracle("ORA-00904: invalid identifier", 904), True),
    ("oracle", "ORA-01017 bad login", lambda: oracle("ORA-01017: invalid username/password", 1017), True),
    ("oracle", "ORA-00900 invalid statement", lambda: oracle("ORA-00900: invalid SQL statement", 900), True),
    (
        "oracle",
        "ORA-03113 end of file",
        lambda: oracle("ORA-03113: end-of-file on communication channel", 3113),
        False,
    ),
    ("oracle", "ORA-03114 not connected", lambda: oracle("ORA-03114: not connected to ORACLE", 3114), False),
    (
        "oracle",
        "ORA-12170 connect timeout",
        lambda: oracle("ORA-12170: TNS:Connect timeout occurred", 12170),
        False,
    ),
    ("oracle", "ORA-12541 no listener", lambda: oracle("ORA-12541: TNS:no listener", 12541), False),
    ("oracle", "ORA-00060 deadlock", lambda: oracle("ORA-00060: deadlock detected", 60), False),
    ("oracle", "DPY-4011 connection closed", lambda: oracle_driver(4011), False),
    ("oracle", "DPY-6005 cannot connect", lambda: oracle_driver(6005), False),
]


@pytest.mark.parametrize(
    ("conn_type", "make", "fatal"),
    [(conn_type, make, fatal) for conn_type, _, make, fatal in CASES],
    ids=[f"{conn_type}: {what}" for conn_type, what, _, _ in CASES],
)
def test_a_driver_error_is_classified_by_its_code(
    conn_type: str, make: Callable[[], BaseException], fatal: bool
) -> None:
    assert source_dialect_for(conn_type).is_fatal(make()) is fatal


def test_a_code_beats_the_words_of_the_message() -> None:
    # The message says "does not exist" and "permission denied": the SQLSTATE says the server is restarting.
    error = pg("57P03", 'the database system is starting up; relation "x" does not exist; permission denied')
    assert source_dialect_for("postgres").is_fatal(error) is False
    import MySQLdb

    assert source_dialect_for("mysql").is_fatal(MySQLdb.OperationalError(2013, "Access denied")) is False


def test_an_error_without_a_code_is_classified_by_the_error_it_was_raised_while_handling() -> None:
    """A failed rollback after a killed session: "the connection is lost" has no SQLSTATE, the error
    it was raised while handling has one."""
    import psycopg

    for first, fatal in (
        (pg("57P01", "terminating connection"), False),
        (pg("42501", "permission denied"), True),
    ):
        lost = psycopg.OperationalError("the connection is lost")
        lost.__context__ = first
        assert source_dialect_for("postgres").is_fatal(lost) is fatal
        assert store_dialect_for("postgres").is_fatal(lost) is fatal


@pytest.mark.parametrize(
    ("error", "fatal"),
    [
        (ConnectionResetError(104, "Connection reset by peer"), False),
        (TimeoutError("timed out"), False),
        (EOFError("Unexpected EOF while reading bytes"), False),
        (OSError(113, "No route to host"), False),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), True),
        (ValueError("year 10000 is out of range"), True),
        (FileNotFoundError(2, "No such file"), True),
        (RuntimeError("something without a code or a known word"), False),
    ],
)
def test_an_error_without_any_code_is_classified_by_its_kind(error: BaseException, fatal: bool) -> None:
    for conn_type in ("postgres", "mysql", "clickhouse", "mssql", "oracle", "sqlite"):
        assert source_dialect_for(conn_type).is_fatal(error) is fatal, conn_type


def test_an_os_errno_is_not_read_as_a_mysql_or_sql_server_number() -> None:
    assert driver_errors.code_in(ConnectionRefusedError(111, "refused"), driver_errors.MYSQL) is None
    assert driver_errors.code_in(ConnectionRefusedError(111, "refused"), driver_errors.MSSQL) is None


def test_psycopg_data_errors_raised_on_the_client_are_fatal() -> None:
    import psycopg

    # psycopg raises this itself (no SQLSTATE) for a timestamp past year 9999: retrying reads it again.
    assert source_dialect_for("postgres").is_fatal(psycopg.DataError("timestamp too large (after year 10K)"))


def _sqlite_busy() -> sqlite3.Error:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        first = sqlite3.connect(f"{folder}/x.db", isolation_level=None)
        second = sqlite3.connect(f"{folder}/x.db", isolation_level=None, timeout=0)
        first.execute("BEGIN IMMEDIATE")
        try:
            second.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            return error
        finally:
            first.close()
            second.close()
    raise AssertionError("no SQLITE_BUSY")


def test_sqlite_errors_are_classified_by_their_result_code() -> None:
    memory = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.Error) as missing:
        memory.execute("SELECT * FROM no_such_table")
    memory.execute("PRAGMA query_only = ON")
    with pytest.raises(sqlite3.Error) as read_only:
        memory.execute("CREATE TABLE t (a)")
    for dialect in (source_dialect_for("sqlite"), store_dialect_for("sqlite")):
        assert dialect.is_fatal(missing.value) is True  # SQLITE_ERROR
        assert dialect.is_fatal(read_only.value) is True  # SQLITE_READONLY
        assert dialect.is_fatal(_sqlite_busy()) is False  # SQLITE_BUSY


def test_the_store_classifies_postgres_errors_with_the_same_table() -> None:
    store = store_dialect_for("postgres")
    assert store.is_fatal(pg("57P01")) is False
    assert store.is_fatal(pg("40001")) is False
    assert store.is_fatal(pg("42501")) is True
    import psycopg

    assert store.is_fatal(psycopg.OperationalError("the connection is lost")) is False
    assert store.is_fatal(psycopg.OperationalError('FATAL:  password authentication failed for user "x"'))


@pytest.mark.parametrize(
    "table",
    [
        driver_errors.POSTGRES,
        driver_errors.MYSQL,
        driver_errors.CLICKHOUSE,
        driver_errors.MSSQL,
        driver_errors.ORACLE,
        driver_errors.SQLITE,
    ],
    ids=lambda t: t.dbms,
)
def test_no_code_is_both_fatal_and_transient(table: driver_errors.ErrorCodes) -> None:
    assert not table.fatal & table.transient


def test_the_message_names_the_code_once_and_drops_a_server_stack_trace() -> None:
    postgres = source_dialect_for("postgres")
    assert postgres.describe_error(pg("42P01", 'relation "x" does not exist')) == (
        'UndefinedTable [SQLSTATE 42P01]: relation "x" does not exist'
    )
    import MySQLdb

    # The number is in mysqlclient's message already: not repeated.
    assert source_dialect_for("mysql").describe_error(MySQLdb.ProgrammingError(1146, "no table")) == (
        "ProgrammingError: (1146, 'no table')"
    )
    described = source_dialect_for("clickhouse").describe_error(clickhouse(60))
    assert "Stack trace" not in described and "somewhere" not in described
