-- The dispatch board (调度台): every running stage clock of every job, with its warning level
-- (时限预警: overdue, due soon, or a share of the limit used), rewritten with the job's list row
-- on every change and by the daily recomputation.
CREATE TABLE job_clocks (
    job_id TEXT NOT NULL REFERENCES jobs(job_id),
    stage TEXT NOT NULL,
    started_on TEXT NOT NULL,
    due_on TEXT,
    used_days INTEGER NOT NULL,
    limit_days INTEGER NOT NULL,
    state TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    warning TEXT,
    warn_rank INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, stage)
);
CREATE INDEX job_clocks_warning ON job_clocks (warn_rank DESC, due_on) WHERE warning IS NOT NULL;
-- Existing jobs get their clocks from the next recomputation.
DELETE FROM server_state WHERE key = 'clocks_refreshed_on';
