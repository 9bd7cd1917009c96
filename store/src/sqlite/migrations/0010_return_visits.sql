-- Return visits (回访): when a job was powered on and where its visit stands (`due`: powered on,
-- not visited yet; `follow_up`: scored low, follow-up not recorded; `done`). Jobs already
-- powered on are filled in from their documents at the next start.
ALTER TABLE jobs ADD COLUMN powered_on TEXT;
ALTER TABLE jobs ADD COLUMN visit_state TEXT;
CREATE INDEX jobs_unit_visit ON jobs (unit, visit_state, powered_on) WHERE visit_state IS NOT NULL;
