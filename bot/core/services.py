"""The long-lived things every handler may use, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import ServiceConfig
from bot.core.actions import ActionSigner
from bot.core.knowledge import KnowledgeBase
from bot.core.ratelimit import InboundLimiter
from bot.core.sla import SlaClock


@dataclass
class Services:
    """Configuration, clock, button signer, the knowledge base, the SLA clock and the inbound limiter."""

    config: ServiceConfig
    clock: Clock
    signer: ActionSigner
    kb: KnowledgeBase
    sla: SlaClock
    limiter: InboundLimiter
