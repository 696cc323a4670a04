"""Advisory help-desk bot: FAQ answers, expert queues and service levels."""
