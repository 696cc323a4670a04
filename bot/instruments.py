"""In-process measurements for /metrics: handler latency and send outcomes (the rest comes from the database)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Instruments:
    """One set per process, made by the composition root."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.handler_seconds = Histogram(
            "helpdesk_handler_seconds", "Time to handle one inbound message inside its transaction",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0), registry=self.registry)
        self.batch_seconds = Histogram(
            "helpdesk_batch_seconds", "Time from a batch's start to its commit",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0), registry=self.registry)
        self.batch_messages = Histogram(
            "helpdesk_batch_messages", "Inbound messages handled in one transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry)
        self.send_retries = Counter(
            "helpdesk_send_retries", "Sends postponed, by channel and reason (rate_limited = 429)",
            ["channel", "reason"], registry=self.registry)

    def text(self) -> bytes:
        """These measurements in the Prometheus text format."""
        return generate_latest(self.registry)
