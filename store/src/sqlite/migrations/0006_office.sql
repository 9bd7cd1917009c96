-- The office's browser: sessions, reviews, and what the job list filters and sorts on.
CREATE TABLE web_sessions (
    hash BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
-- Each office review, with the document heads it saw (what changed since is diffed from them).
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs(job_id),
    at INTEGER NOT NULL,
    reviewer TEXT NOT NULL,
    outcome TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    heads BLOB NOT NULL
);
CREATE INDEX reviews_job ON reviews (job_id, id);
ALTER TABLE jobs ADD COLUMN review_state TEXT;
ALTER TABLE jobs ADD COLUMN accepted_on TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN key_project INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_unit_updated ON jobs (unit, updated_at DESC, job_id);
CREATE INDEX jobs_unit_due ON jobs (unit, next_due, job_id);
CREATE INDEX jobs_unit_accepted ON jobs (unit, accepted_on, job_id);
CREATE INDEX jobs_cm ON jobs (customer_manager);
CREATE INDEX jobs_pm ON jobs (project_manager);
