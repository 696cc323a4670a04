"""Database: typed ORM models, engine set-up and migrations."""
