-- Per-device publish keys (command_center.auth.publish_keys): a drone or a fixed WHIP camera
-- publishes video and posts telemetry for one stream with one of these. Only the secret's
-- SHA-256 is kept; a revoked key keeps its row (revoked_at set) so the audit log still names it.
CREATE TABLE IF NOT EXISTS publish_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    stream TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    rotated_at TEXT,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS publish_keys_stream ON publish_keys (stream);
