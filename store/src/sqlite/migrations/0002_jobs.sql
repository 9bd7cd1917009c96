-- Job documents (snapshot + change log), the change feed, who sees which job, and automerge
-- sync-protocol state of jobs in fallback.
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    kind TEXT NOT NULL,
    job_no TEXT NOT NULL,
    status TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    customer_manager TEXT,
    project_manager TEXT,
    next_due TEXT,
    sla_state TEXT,
    created_by TEXT NOT NULL,
    snapshot BLOB,
    snapshot_seq INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_unit ON jobs (unit);
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs(job_id),
    hash BLOB NOT NULL,
    bytes BLOB NOT NULL,
    origin_device TEXT NOT NULL,
    UNIQUE (job_id, hash)
);
CREATE INDEX changes_job ON changes (job_id, seq);
CREATE TABLE job_access (
    job_id TEXT NOT NULL REFERENCES jobs(job_id),
    username TEXT NOT NULL,
    entered_seq INTEGER NOT NULL,
    PRIMARY KEY (job_id, username)
);
CREATE INDEX job_access_user ON job_access (username, entered_seq);
CREATE TABLE fallback_state (
    device_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (device_id, job_id)
);
