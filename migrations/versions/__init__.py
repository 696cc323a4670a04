"""Alembic revisions (files, loaded by Alembic; a package only so that setuptools ships it plainly)."""
