"""Local fake Telegram and Slack servers that speak the real wire protocols, for tests and demos."""
