-- The SQLite schema of migration 0002 (case locations), as store/migrations spelt it:
-- applied after store_v1_schema.sqlite.sql, it is a database from just before schema_migrations.
-- Cases keep their location as columns, so that the dedupe check can ask for a box
-- around a point instead of parsing every open case of a matter.
ALTER TABLE cases ADD COLUMN lon REAL;
ALTER TABLE cases ADD COLUMN lat REAL;
UPDATE cases SET lon = json_extract(doc, '$.location.lon'), lat = json_extract(doc, '$.location.lat');
CREATE INDEX IF NOT EXISTS cases_open_matter_lon ON cases (is_open, matter_code, lon);
