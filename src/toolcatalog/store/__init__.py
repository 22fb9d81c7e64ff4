"""PostgreSQL persistence (asyncpg only).

Functions take a connection; `catalog` owns the transactions."""
