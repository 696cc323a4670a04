"""`helpdesk report`: service-level figures per queue and overall, as a table, CSV or JSON."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from bot.app import HelpDesk
from bot.cli.common import console, desk, fail, moment, report_day, run
from bot.core.closed_days import closed_days_by_queue
from bot.core.knowledge import KnowledgeBase, load_entries
from bot.core.needs import NeedsReport, faq_answers, needs_csv, needs_report
from bot.core.outcome_report import OutcomeReport, outcome_csv, outcome_report
from bot.core.reports import AGES, SlaReport, hours_text, percent_text, sla_csv, sla_report
from bot.core.sla import SlaClock
from bot.terminal import SafeConsole

report_app = typer.Typer(help="Reports on the advisory service.", no_args_is_help=True)
WIDTH = 130  # the table's width when the output is not a terminal
AS_OF_HELP = ("compute as at this time (ISO 8601, UTC unless an offset is given): deadlines passed by then "
              "count as missed and open tickets are aged to it; states are those stored now")
Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], callback=report_day,
                                              help="YYYY-MM-DD (UTC day, included)")]


class Format(StrEnum):
    """Output formats."""

    table = "table"
    csv = "csv"
    json = "json"


@report_app.command("sla")
def report_sla(since: Day = None, until: Day = None,
               queue: Annotated[str | None, typer.Option(help="only this queue")] = None,
               output: Annotated[Format, typer.Option("--format", help="table, csv or json")] = Format.table,
               as_of: Annotated[str | None, typer.Option("--as-of", help=AS_OF_HELP)] = None,
               ) -> None:
    """Service levels of the tickets opened in the period: compliance, response times, breaches, backlog."""
    now = moment(as_of, "--as-of") if as_of is not None else None
    app_ = desk()
    if queue is not None and queue.upper() not in app_.config.queue_ids:
        raise fail(f"unknown queue {queue!r}; queues: {', '.join(app_.config.queue_ids)}")
    report = run(_report(app_, since and since.date(), until and until.date(), queue and queue.upper(), now))
    if output is Format.json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    elif output is Format.csv:
        typer.echo(sla_csv(report), nl=False)
    else:
        (console if console.is_terminal else SafeConsole(width=WIDTH)).print(_table(report, now))


async def _report(app_: HelpDesk, since: date | None, until: date | None, queue: str | None,
                  now: datetime | None) -> SlaReport:
    await app_.check_database()
    async with app_.engine.connect() as conn:
        sla = SlaClock(app_.config, await closed_days_by_queue(conn))
        report = await sla_report(conn, app_.config, sla, now or app_.clock.now(), since, until, queue)
    await app_.engine.dispose()
    return report


def _table(report: SlaReport, as_of: datetime | None = None) -> Table:
    period = f"{report.since or 'start'} to {report.until or 'today'}"
    moment = f", as of {as_of.isoformat(sep=' ', timespec='minutes')}" if as_of else ""
    table = Table(title=f"Service levels of tickets opened {period}{moment}", box=box.SIMPLE_HEAD, padding=(0, 1),
                  caption=f"first response and resolution on time: target {report.target}% (red below it) · "
                  "median and p90: business hours to the first response · open now by age in days: "
                  + " / ".join(label for _, label in AGES))
    table.add_column("queue", no_wrap=True)
    for name in ("tickets", "first response", "resolution", "median", "p90", "breaches", "warnings", "escalations",
                 "open now"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in report.rows:
        table.add_row(r.queue, str(r.tickets), _against(r.first_response_pct, report.target),
                      _against(r.resolution_pct, report.target), hours_text(r.median_hours), hours_text(r.p90_hours),
                      str(r.breaches), str(r.warnings), str(r.escalations), "/".join(map(str, r.backlog.values())))
    return table


def _against(value: float | None, target: int) -> Text:
    return Text(percent_text(value), style="red" if value is not None and value < target else "")


@report_app.command("outcomes")
def report_outcomes(since: Day = None, until: Day = None,
                    output: Annotated[Format, typer.Option("--format", help="table, csv or json")] = Format.table,
                    ) -> None:
    """Knowledge applied: answers to "did you apply it?" asked in the period, by queue, FAQ entry and month."""
    report = run(_outcomes(desk(), since and since.date(), until and until.date()))
    if output is Format.json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    elif output is Format.csv:
        typer.echo(outcome_csv(report), nl=False)
    else:
        (console if console.is_terminal else SafeConsole(width=WIDTH)).print(_outcome_table(report))


async def _outcomes(app_: HelpDesk, since: date | None, until: date | None) -> OutcomeReport:
    await app_.check_database()
    async with app_.engine.connect() as conn:
        report = await outcome_report(conn, since, until)
    await app_.engine.dispose()
    return report


def _outcome_table(report: OutcomeReport) -> Table:
    period = f"{report.since or 'start'} to {report.until or 'today'}"
    table = Table(title=f"Knowledge applied: questions asked {period}", box=box.SIMPLE_HEAD, padding=(0, 1),
                  caption="applied %: answers saying applied or partly, of all answers")
    for name in ("by", "key", "asked", "answered", "applied", "partly", "not yet", "no", "applied %"):
        table.add_column(name, justify="left" if name in ("by", "key") else "right", no_wrap=True)
    for by, row in report.sections():
        table.add_row(by, row.key, str(row.asked), str(row.answered), str(row.applied), str(row.partly),
                      str(row.not_yet), str(row.no), percent_text(row.applied_pct))
    return table


@report_app.command("needs")
def report_needs(since: Day = None, until: Day = None,
                 output: Annotated[Format, typer.Option("--format", help="table, csv or json")] = Format.table,
                 ) -> None:
    """Who asks and what they need: questions, tickets, unanswered and escalated questions by country, region,
    sector, institution type, language, queue and month, and the most-asked topics without an FAQ entry."""
    report = run(_needs(desk(), since and since.date(), until and until.date()))
    if output is Format.json:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    elif output is Format.csv:
        typer.echo(needs_csv(report), nl=False)
    else:
        out = console if console.is_terminal else SafeConsole(width=WIDTH)
        for table in _needs_tables(report):
            out.print(table)


async def _needs(app_: HelpDesk, since: date | None, until: date | None) -> NeedsReport:
    await app_.check_database()
    async with app_.engine.connect() as conn:
        kb = KnowledgeBase(await load_entries(conn), app_.config)
        report = await needs_report(conn, since, until, faq_answers(kb))
    await app_.engine.dispose()
    return report


def _needs_tables(report: NeedsReport) -> list[Table]:
    period = f"{report.since or 'start'} to {report.until or 'today'}"
    tables = []
    for by, rows in [("all", [report.total]), *report.by.items(), ("month", report.by_month)]:
        table = Table(title=f"Needs {period}: by {by.replace('_', ' ')}", box=box.SIMPLE_HEAD, padding=(0, 1))
        table.add_column(by.replace("_", " "), no_wrap=True)
        for name in ("questions", "tickets", "unanswered", "escalated"):
            table.add_column(name, justify="right", no_wrap=True)
        for r in rows:
            table.add_row(r.key, str(r.questions), str(r.tickets), str(r.unanswered), str(r.escalated))
        tables.append(table)
    topics = Table(title="Most-asked topics without an FAQ entry", box=box.SIMPLE_HEAD, padding=(0, 1))
    for name in ("questions", "words", "examples"):
        topics.add_column(name, justify="right" if name == "questions" else "left")
    for t in report.topics:
        topics.add_row(str(t.questions), ", ".join(t.keywords), " · ".join(t.examples))
    return [*tables, topics]
