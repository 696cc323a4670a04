"""Recoverable faults are one line saying what happens next; bugs keep their traceback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.faults import describe, log_failure, recoverable

LOG = logging.getLogger("tests.faults")
GONE = OperationalError("SELECT 1\nFROM outbox", {}, ConnectionResetError("connection is closed\nmore detail"))


def test_database_and_connection_faults_are_recoverable_bugs_are_not() -> None:
    assert recoverable(GONE) and recoverable(ConnectionRefusedError(111, "refused")) and recoverable(TimeoutError())
    assert not recoverable(ProgrammingError("SELECT nonsense", {}, ValueError("syntax error")))
    assert not recoverable(FileNotFoundError("upload.pdf")) and not recoverable(KeyError("x"))


def test_a_recoverable_fault_is_one_line_without_the_statement(caplog: pytest.LogCaptureFixture) -> None:
    log_failure(LOG, "SLA round failed", GONE, "the next round tries again")
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == ("SLA round failed (ConnectionResetError: connection is closed); "
                                   "the next round tries again")
    assert describe(GONE) == "ConnectionResetError: connection is closed"


def test_anything_else_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise KeyError("state")
    except KeyError as exc:
        log_failure(LOG, "minute hook failed", exc, "again in a minute")
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
