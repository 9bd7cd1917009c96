-- Work the server does on its own schedule (the daily recomputation of time limits): when it
-- last ran, as a small key/value table.
CREATE TABLE server_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Jobs with a running clock (a due date), walked by the daily recomputation.
CREATE INDEX jobs_running_clock ON jobs (job_id) WHERE next_due IS NOT NULL;
