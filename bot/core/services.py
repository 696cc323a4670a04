"""The long-lived things every handler may use, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import ServiceConfig
from bot.core.actions import ActionSigner
from bot.core.files import FileStore
from bot.core.knowledge import KnowledgeBase
from bot.core.ratelimit import InboundLimiter
from bot.core.sla import SlaClock


@dataclass
class Services:
    """Configuration, clock, button signer, the knowledge base, the SLA clock, the inbound limiter, the web URL,
    the web chat's file store."""

    config: ServiceConfig
    clock: Clock
    signer: ActionSigner
    kb: KnowledgeBase
    sla: SlaClock
    limiter: InboundLimiter
    web_url: str = "http://127.0.0.1:8080"  # where browsers reach the web pages (login links)
    files: FileStore | None = None  # web chat uploads (erasure and retention delete them)
    calendar_version: str = ""  # of the custom closed days `sla` was built with (see core/calendar_changes.py)
