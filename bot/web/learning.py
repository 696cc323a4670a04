"""The shared-learning figures on the dashboard: knowledge applied (bot.core.outcome_report) and the needs
report (bot.core.needs)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup
from starlette.requests import Request

from bot.core.needs import FIGURES, NeedsReport
from bot.core.outcome_report import OutcomeReport
from bot.core.outcomes import ANSWERS
from bot.i18n import t
from bot.web import charts


def applied_chart(report: OutcomeReport, lang: str) -> Markup:
    """Answers to "did you apply it?" per month (of asking), stacked by answer."""
    months = [r.key for r in report.by_month]
    series = {t(f"outcome.answer.{a}", lang): [float(getattr(r, a)) for r in report.by_month] for a in ANSWERS}
    return charts.stacked_bars(t("staff.applied.over_time", lang), months, series)


DIMENSION_CHARTS = 10  # bars per dimension chart


def period(request: Request) -> tuple[date | None, date | None] | None:
    """`since` and `until` (YYYY-MM-DD, optional) of the query string; None when one is not a valid day or
    `until` comes before `since`."""
    days: list[date | None] = []
    for name in ("since", "until"):
        value = request.query_params.get(name, "").strip()
        try:
            days.append(date.fromisoformat(value) if value else None)
        except ValueError:
            return None
    since, until = days
    if since is not None and until is not None and until < since:
        return None
    return since, until


def needs_charts(report: NeedsReport, lang: str) -> list[Markup]:
    """Questions, tickets, unanswered and escalated by month; then questions by each dimension."""
    months = [r.key for r in report.by_month]
    series: dict[str, list[float | None]] = {
        t(f"staff.needs.{f}", lang): [float(getattr(r, f)) for r in report.by_month] for f in FIGURES}
    top = charts.nice_top(max([v or 0 for values in series.values() for v in values] or [1]) or 1)
    figures = [charts.lines(t("staff.needs.over_time", lang), months, series, unit="", top=top)]
    for dimension, rows in report.by.items():
        by = t(f"staff.needs.by.{dimension}", lang).lower()
        figures.append(charts.hbars(t("staff.needs.questions_by", lang, by=by),
                                    [(r.key, r.questions) for r in rows[:DIMENSION_CHARTS]]))
    return figures
