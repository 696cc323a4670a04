"""Knowledge base: entries, files and the FAQ matcher. Pure: no database, no network."""
