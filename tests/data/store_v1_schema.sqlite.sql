-- The SQLite schema of migration 0001 (before schema_migrations, before case locations),
-- as store/migrations/0001_initial.sql spelt it for SQLite: for the legacy upgrade tests.
-- The schema as it was before cases kept their location as columns. IF NOT EXISTS: a
-- SQLite database made before migrations existed has some of these already.
-- INTEGER PRIMARY KEY AUTOINCREMENT and REAL are the runner's per-dialect substitutions.
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    camera_id TEXT,
    state TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_ts ON incidents (ts);
CREATE TABLE IF NOT EXISTS cases (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    is_open INTEGER NOT NULL,
    matter_code TEXT NOT NULL,
    grid_code TEXT NOT NULL,
    assignee TEXT,
    created_at TEXT NOT NULL,
    deadline TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_open_matter ON cases (is_open, matter_code, created_at);
CREATE INDEX IF NOT EXISTS cases_assignee ON cases (assignee, is_open);
CREATE TABLE IF NOT EXISTS case_timeline (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_timeline_case ON case_timeline (case_id, seq);
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    case_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_created ON reports (created_at);
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    jurisdiction TEXT NOT NULL DEFAULT '',
    worker_id TEXT,
    created_at TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    ip TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_actor ON audit (actor, seq);
