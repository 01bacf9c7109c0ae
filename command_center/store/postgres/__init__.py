"""The PostgreSQL store (store.py) and what only it needs: its bounded connections and pool
(connect.py), its group commit's deferred writes (batch.py), fresh planner statistics
(stats.py). One package, so that import-linter's "no store imports another" covers all of
it. Imported only when a postgresql:// store is configured: it loads psycopg."""

from command_center.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
