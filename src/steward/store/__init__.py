"""The metadata store: one SQLAlchemy schema on SQLite or PostgreSQL, migrated on open."""
