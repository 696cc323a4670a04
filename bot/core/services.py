"""The long-lived things every handler may use, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import ServiceConfig
from bot.core.actions import ActionSigner
from bot.core.knowledge import KnowledgeBase
from bot.core.sla import SlaClock


@dataclass
class Services:
    """Configuration, clock, button signer, the knowledge base and the SLA clock."""

    config: ServiceConfig
    clock: Clock
    signer: ActionSigner
    kb: KnowledgeBase
    sla: SlaClock
