"""The Alembic migrations of both stores, run by command_center.store.migrate (env.py here;
no alembic.ini at run time).

A schema change is a new revision, never an edit of an applied one: a file
versions/vNNNN_name.py (script.py.mako is its shape) with `revision = "NNNN"` and
`down_revision` the one before, whose upgrade() uses Alembic's operations (per dialect
where the SQL differs: `op.get_bind().dialect.name`), and the same change in
store/schema.py; tests/test_store_upgrade.py checks that the two agree on both databases.
"""
