"""Every exception the package raises on purpose.

Row problems are not exceptions: they are :class:`customer_import.mapping.errors.RowError` data, counted
in the run's report. The exceptions here are about a spec, a connection or the run itself.
"""

from __future__ import annotations


class CustomerImportError(Exception):
    """Base class of this package's errors."""


class SpecError(CustomerImportError):
    """One or more problems in spec or profile-database files; ``problems`` holds each of them."""

    def __init__(self, problems: list[object]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class QueryError(CustomerImportError):
    """The source query is not a single read-only SELECT, or cannot be bound."""


class UnsupportedConnectionError(CustomerImportError):
    """A connection type that has no source or store dialect."""


class StoreSchemaError(CustomerImportError):
    """The stored schema cannot be evolved to the declared profile database without losing data."""


class SourceError(CustomerImportError):
    """The source database failed. ``fatal``: retrying cannot help (credentials, missing table, bad SQL);
    otherwise the failure is transient (network, server down) and Airflow retries the task."""

    def __init__(self, message: str, *, fatal: bool) -> None:
        super().__init__(message)
        self.fatal = fatal


class StoreError(CustomerImportError):
    """The profile store failed, named by its connection id. ``fatal``: retrying cannot help (a permission,
    bad credentials, a missing database); otherwise the failure is transient (the store went away, a
    deadlock, a serialization failure) and the task should be retried. A batch that failed was rolled back
    (one transaction per batch), and the cursor only moves over committed batches."""

    def __init__(self, message: str, *, fatal: bool) -> None:
        super().__init__(message)
        self.fatal = fatal
