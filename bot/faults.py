"""Recoverable faults (the database or a network away for a while) are logged as one line saying what happens
next; anything else keeps its traceback."""

from __future__ import annotations

import logging

from asyncpg import InterfaceError as PgInterfaceError  # raw driver calls (bot/db/driver.py) are not wrapped
from asyncpg import PostgresConnectionError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.db.engine import DatabaseUnavailable

_RECOVERABLE = (OperationalError, InterfaceError, ConnectionError, TimeoutError, DatabaseUnavailable,
                PgInterfaceError, PostgresConnectionError)


def recoverable(exc: BaseException) -> bool:
    """True for a database or connection that is away (it comes back; the work is retried), not a bug.

    Other OS errors (a full disk, a missing file) are not: a handler that raises one stores its message as failed.
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _RECOVERABLE)


def describe(exc: BaseException) -> str:
    """The fault in a few words: the driver's error class and the first line of its message."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0][:200]}" if lines else type(cause).__name__


def log_failure(log: logging.Logger, what: str, exc: BaseException, then: str) -> None:
    """'what failed (cause); then' as one warning for a recoverable fault, an error with traceback otherwise."""
    if recoverable(exc):
        log.warning("%s (%s); %s", what, describe(exc), then)
    else:
        log.error("%s; %s", what, then, exc_info=exc)
