-- Assessment (考核): every started stage clock is kept (ended ones with their end day, for the
-- on-time rate per stage), and list rows carry the return visit's satisfaction and the
-- supporting project's progress. Jobs without clock rows are projected again at the next start.
ALTER TABLE job_clocks ADD COLUMN ended_on TEXT;
ALTER TABLE jobs ADD COLUMN satisfaction INTEGER;
ALTER TABLE jobs ADD COLUMN project_progress REAL;
CREATE INDEX job_clocks_ended ON job_clocks (ended_on, stage) WHERE ended_on IS NOT NULL;
CREATE INDEX jobs_unit_powered ON jobs (unit, powered_on) WHERE powered_on IS NOT NULL;
