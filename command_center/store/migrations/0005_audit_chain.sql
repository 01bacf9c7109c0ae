-- Tamper evidence for the audit log (store/audit_chain.py): each row keeps the previous
-- row's hash and its own. Rows written before this migration are chained once by the
-- store that applies it, in seq order.
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
