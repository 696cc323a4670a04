"""The ranges numbers and dates from outside (URLs, forms, commands) must fall in: beyond them a database or
date arithmetic would fail, so they are refused first with a clear message."""

from __future__ import annotations

from datetime import date

MAX_ID = 2**63 - 1  # the largest row id a database column holds
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)  # the days a report may start or end on
