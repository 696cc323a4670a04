"""The Alembic environment and versions, shipped in the wheel as package data (see `bot.db.migrate`)."""
