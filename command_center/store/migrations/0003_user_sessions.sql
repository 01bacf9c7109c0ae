-- Revocable sessions: a token carries its account's token_version when issued, and is
-- refused once the version moved on (password, role or jurisdiction changed, disabled).
ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
