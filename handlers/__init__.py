"""Conversation flows by role. Each module has `register(router)`."""

from __future__ import annotations

from bot.core.router import Router
from handlers import asker, common, expert, linking, outcomes, privacy, profile, secretariat, subscriptions, web


def build_router() -> Router:
    """The router with every flow registered."""
    router = Router()
    for module in (common, asker, profile, expert, secretariat, privacy, linking, web, outcomes,
                   subscriptions):
        module.register(router)
    return router
