"""Charts of the shared-learning figures for the dashboard (bot.core.outcome_report)."""

from __future__ import annotations

from markupsafe import Markup

from bot.core.outcome_report import OutcomeReport
from bot.core.outcomes import ANSWERS
from bot.i18n import t
from bot.web import charts


def applied_chart(report: OutcomeReport, lang: str) -> Markup:
    """Answers to "did you apply it?" per month (of asking), stacked by answer."""
    months = [r.key for r in report.by_month]
    series = {t(f"outcome.answer.{a}", lang): [float(getattr(r, a)) for r in report.by_month] for a in ANSWERS}
    return charts.stacked_bars(t("staff.applied.over_time", lang), months, series)
