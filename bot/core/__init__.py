"""Core domain: messages, tickets, triage, outbox. Knows nothing of Telegram or Slack."""
