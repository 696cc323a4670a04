"""The needs report on seeded questions and tickets with known counts: the figures, its CSV from the command line
and from the dashboard (the same text), JSON, the table, and bad periods."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import date

import pytest
from typer.testing import CliRunner

from bot.cli import main
from bot.core.needs import faq_answers, needs_csv, needs_report
from bot.settings import Settings
from tests.cli_support import helpdesk, use_database
from tests.desk import Desk, start_desk
from tests.needs_seed import seed_needs
from tests.webdesk import browser, http_app, login_token


@pytest.fixture
async def desk(sqlite_settings: Settings) -> AsyncIterator[Desk]:
    d = await start_desk(sqlite_settings)
    await seed_needs(d)
    await d.staff("sam", role="secretariat")
    yield d
    await d.app.stop()


def figures(rows: list) -> list[tuple[str, int, int, int, int]]:  # type: ignore[type-arg]
    return [(r.key, r.questions, r.tickets, r.unanswered, r.escalated) for r in rows]


async def test_the_figures_by_every_dimension_month_and_topic(desk: Desk) -> None:
    assert desk.app.services is not None
    async with desk.app.engine.connect() as conn:
        report = await needs_report(conn, answered=faq_answers(desk.app.services.kb))
    assert figures([report.total]) == [("all", 6, 4, 4, 2)]
    assert figures(report.by["country"]) == [("Kenya", 3, 2, 2, 1), ("—", 2, 1, 1, 1), ("Peru", 1, 1, 1, 0)]
    assert figures(report.by["region"]) == [("Africa", 3, 2, 2, 1), ("—", 2, 1, 1, 1), ("Latin America", 1, 1, 1, 0)]
    assert figures(report.by["sector"]) == [("energy", 2, 2, 2, 1), ("transport", 2, 1, 1, 0), ("—", 2, 1, 1, 1)]
    assert figures(report.by["institution_type"]) == [("academia", 2, 1, 1, 0), ("—", 2, 1, 1, 1),
                                                      ("government", 1, 1, 1, 1), ("ngo", 1, 1, 1, 0)]
    assert figures(report.by["language"]) == [("en", 4, 2, 2, 1), ("es", 1, 1, 1, 0), ("fr", 1, 1, 1, 1)]
    assert figures(report.by["queue"]) == [("ENERGY", 3, 3, 3, 1), ("MRV", 3, 0, 1, 0), ("TRANSPORT", 0, 1, 0, 1)]
    assert figures(report.by_month) == [("2026-03", 2, 2, 2, 1), ("2026-04", 4, 2, 2, 1)]
    # the three solar questions (English and Spanish) are one topic; the French BTR question is answered by
    # the FAQ now, so it is no topic
    assert [(t.questions, t.examples[0][:25]) for t in report.topics] == [(3, "What tariff for solar irr")]

    async with desk.app.engine.connect() as conn:
        april = await needs_report(conn, date(2026, 4, 1), date(2026, 4, 30))
    assert figures([april.total]) == [("all", 4, 2, 2, 1)]
    assert len(april.topics) == 2  # without `answered`, the French question stays a topic


async def test_the_csv_of_the_command_line_and_of_the_dashboard_are_the_report(desk: Desk, sqlite_settings: Settings,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert desk.app.services is not None
    use_database(monkeypatch, sqlite_settings)
    async with desk.app.engine.connect() as conn:
        report = await needs_report(conn, date(2026, 3, 1), None, faq_answers(desk.app.services.kb))
    expected = needs_csv(report)
    assert await helpdesk("report", "needs", "--since", "2026-03-01", "--format", "csv") == expected
    rows = list(csv.DictReader(io.StringIO(expected)))
    assert rows[0] == {"by": "all", "key": "all", "questions": "6", "tickets": "4", "unanswered": "4", "escalated": "2"}
    assert {"by": "queue", "key": "ENERGY", "questions": "3", "tickets": "3", "unanswered": "3",
            "escalated": "1"} in rows
    assert [r["questions"] for r in rows if r["by"] == "topic"] == ["3"]
    as_json = json.loads(await helpdesk("report", "needs", "--format", "json"))
    assert as_json["total"] == {"key": "all", "questions": 6, "tickets": 4, "unanswered": 4, "escalated": 2}
    table = await helpdesk("report", "needs")
    assert "Needs start to today: by country" in table and "Most-asked topics without an FAQ entry" in table

    sam = browser(http_app(desk))
    await sam.sign_in(await login_token(desk, "sam"))
    download = await sam.client.get("/dashboard/needs.csv", params={"since": "2026-03-01"})
    assert download.status_code == 200 and download.text == expected
    page = await sam.client.get("/dashboard/needs", params={"since": "2026-03-01"})
    assert page.status_code == 200 and "6 questions, 4 tickets, 4 unanswered, 2 escalated." in page.text
    assert page.text.count("<svg viewBox") == 7  # by month, and questions by each of the six dimensions
    spanish = (await sam.client.get("/dashboard/needs", params={"lang": "es"})).text
    assert "Necesidades" in spanish and "6 preguntas, 4 tickets, 4 sin respuesta, 2 escalados." in spanish
    await sam.client.get("/dashboard/needs", params={"lang": "en"})
    for bad in ({"since": "2026-13-01"}, {"since": "2026-04-02", "until": "2026-04-01"}):
        assert (await sam.client.get("/dashboard/needs.csv", params=bad)).status_code == 400
        refused = await sam.client.get("/dashboard/needs", params=bad)
        assert refused.status_code == 400 and "YYYY-MM-DD" in refused.text
    expert = browser(http_app(desk))
    await desk.staff("amina")
    await expert.sign_in(await login_token(desk, "amina"))
    assert (await expert.client.get("/dashboard/needs")).status_code == 403


def test_a_bad_day_on_the_command_line_is_one_clear_line() -> None:
    done = CliRunner().invoke(main.app, ["report", "needs", "--since", "yesterday"])
    assert done.exit_code == 2 and "Invalid value for '--since'" in done.output
