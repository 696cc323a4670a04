"""/metrics in the Prometheus text format, computed from the database on every scrape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.models import Message, Outbox, SlaEvent, Ticket, TriageDecision, table

M, O, T, E, D = table(Message), table(Outbox), table(Ticket), table(SlaEvent), table(TriageDecision)  # noqa: E741


class _Snapshot(Collector):
    """Hands the registry metrics computed beforehand (the queries are async, collection is not)."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics


async def metrics_text(conn: AsyncConnection, now: datetime) -> bytes:
    """Messages in and out by channel, triage decisions, tickets by state and queue, SLA events, outbox health."""
    inbound = CounterMetricFamily("helpdesk_messages_in", "Messages received, by channel", labels=["channel"])
    for r in await conn.execute(select(M.c.channel, func.count().label("n")).where(M.c.direction == "in")
                                .group_by(M.c.channel)):
        inbound.add_metric([r.channel], r.n)
    outbound = CounterMetricFamily("helpdesk_messages_out", "Messages sent, by channel", labels=["channel"])
    errors = CounterMetricFamily("helpdesk_send_errors", "Outbox rows that failed for good", labels=["channel"])
    depth = GaugeMetricFamily("helpdesk_outbox_pending", "Outbox rows not yet sent", labels=["channel", "status"])
    for r in await conn.execute(select(O.c.channel, O.c.status, func.count().label("n"))
                                .group_by(O.c.channel, O.c.status)):
        if r.status == "sent":
            outbound.add_metric([r.channel], r.n)
        elif r.status == "failed":
            errors.add_metric([r.channel], r.n)
        elif r.status in ("pending", "sending"):
            depth.add_metric([r.channel, r.status], r.n)
    oldest = (await conn.execute(select(func.min(O.c.created_at)).where(O.c.status.in_(("pending", "sending"))))
              ).scalar()
    age = GaugeMetricFamily("helpdesk_outbox_oldest_pending_seconds", "Age of the oldest unsent outbox row",
                            value=(now - oldest).total_seconds() if oldest else 0)
    decisions = CounterMetricFamily("helpdesk_triage_decisions", "Triage decisions", labels=["decision"])
    for r in await conn.execute(select(D.c.decision, func.count().label("n")).group_by(D.c.decision)):
        decisions.add_metric([r.decision], r.n)
    tickets = GaugeMetricFamily("helpdesk_tickets", "Tickets by state and queue", labels=["state", "queue"])
    for r in await conn.execute(select(T.c.state, T.c.queue_id, func.count().label("n"))
                                .group_by(T.c.state, T.c.queue_id)):
        tickets.add_metric([r.state, r.queue_id], r.n)
    events = CounterMetricFamily("helpdesk_sla_events", "SLA breaches, pre-breach warnings, reminders, escalations",
                                 labels=["kind"])
    for r in await conn.execute(select(E.c.kind, func.count().label("n")).group_by(E.c.kind)):
        events.add_metric([r.kind], r.n)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot([inbound, outbound, errors, depth, age, decisions, tickets, events]))
    return generate_latest(registry)
