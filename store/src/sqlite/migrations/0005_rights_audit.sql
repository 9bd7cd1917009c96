-- Write rights and the audit trail.
-- The automerge actor each device writes as (registered at login; a push may only carry its
-- own device's changes).
ALTER TABLE devices ADD COLUMN actor TEXT;
-- The feed position of each job's newest change: the version of its cached document.
ALTER TABLE jobs ADD COLUMN doc_seq INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET doc_seq = COALESCE((SELECT MAX(seq) FROM changes c WHERE c.job_id = jobs.job_id), 0);
-- Jobs that left a user's scope (reassigned), at a feed position, so their phones let go.
CREATE TABLE access_left (
    username TEXT NOT NULL,
    pos INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (username, pos, job_id)
);
-- Write policies installed on this server (the national default is compiled in).
CREATE TABLE write_policies (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    unit TEXT,
    effective_from TEXT NOT NULL,
    body TEXT NOT NULL,
    installed_at INTEGER NOT NULL,
    PRIMARY KEY (id, version)
);
-- The audit trail: every accepted change and every security event. Append-only.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    username TEXT,
    role TEXT,
    device_id TEXT,
    job_id TEXT,
    change_hash TEXT,
    device_time INTEGER,
    sections TEXT NOT NULL DEFAULT '[]',
    paths TEXT NOT NULL DEFAULT '[]',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_job ON audit (job_id, id);
CREATE INDEX audit_user ON audit (username, id);
CREATE INDEX audit_at ON audit (at);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
