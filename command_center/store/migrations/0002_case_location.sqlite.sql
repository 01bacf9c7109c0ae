-- Cases keep their location as columns, so that the dedupe check can ask for a box
-- around a point instead of parsing every open case of a matter.
ALTER TABLE cases ADD COLUMN lon {{FLOAT}};
ALTER TABLE cases ADD COLUMN lat {{FLOAT}};
UPDATE cases SET lon = json_extract(doc, '$.location.lon'), lat = json_extract(doc, '$.location.lat');
CREATE INDEX IF NOT EXISTS cases_open_matter_lon ON cases (is_open, matter_code, lon);
