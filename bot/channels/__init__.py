"""Channel adapters: translate between a chat platform and IncomingMessage / OutgoingMessage."""
