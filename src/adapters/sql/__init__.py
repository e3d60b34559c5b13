"""SQLAlchemy 2 async adapters: one code path for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""
