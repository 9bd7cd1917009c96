-- The office's job list at 100,000 jobs.
-- 1. Document snapshots leave the list table: a snapshot in the row pushed the columns after it
--    onto overflow pages, so every list row read walked the blob.
CREATE TABLE job_snapshots (
    job_id TEXT PRIMARY KEY REFERENCES jobs(job_id),
    snapshot BLOB NOT NULL
);
INSERT INTO job_snapshots (job_id, snapshot)
    SELECT job_id, snapshot FROM jobs WHERE snapshot IS NOT NULL;
ALTER TABLE jobs DROP COLUMN snapshot;

-- 2. Text search (customer, address, job number). `job_text` holds each job's searchable text
--    in a narrow row (a short pattern scans it); `job_text_index`, a trigram index over the same
--    text keyed by job_text.id (an INTEGER PRIMARY KEY, which VACUUM never renumbers, unlike the
--    jobs table's implicit rowid), answers patterns of three characters or more. Triggers keep
--    both in step with the jobs table.
CREATE TABLE job_text (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL
);
CREATE VIRTUAL TABLE job_text_index USING fts5(text, tokenize = 'trigram');
INSERT INTO job_text (job_id, text)
    SELECT job_id, job_no || ' ' || customer_name || ' ' || address FROM jobs ORDER BY job_id;
INSERT INTO job_text_index (rowid, text) SELECT id, text FROM job_text;
CREATE TRIGGER job_text_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_text (job_id, text)
        VALUES (new.job_id, new.job_no || ' ' || new.customer_name || ' ' || new.address);
    INSERT INTO job_text_index (rowid, text)
        SELECT id, text FROM job_text WHERE job_id = new.job_id;
END;
CREATE TRIGGER job_text_update AFTER UPDATE OF job_no, customer_name, address ON jobs BEGIN
    UPDATE job_text SET text = new.job_no || ' ' || new.customer_name || ' ' || new.address
        WHERE job_id = new.job_id;
    DELETE FROM job_text_index WHERE rowid = (SELECT id FROM job_text WHERE job_id = new.job_id);
    INSERT INTO job_text_index (rowid, text)
        SELECT id, text FROM job_text WHERE job_id = new.job_id;
END;
CREATE TRIGGER job_text_delete AFTER DELETE ON jobs BEGIN
    DELETE FROM job_text_index WHERE rowid = (SELECT id FROM job_text WHERE job_id = old.job_id);
    DELETE FROM job_text WHERE job_id = old.job_id;
END;

-- 3. Indexes for every sort (the due sort puts jobs without a running clock last) and for the
--    counts per state under any filter but text (a covering index: no table reads).
DROP INDEX jobs_unit_due;
CREATE INDEX jobs_unit_due ON jobs (unit, COALESCE(next_due, '9999-12-31'), job_id);
CREATE INDEX jobs_unit_job_no ON jobs (unit, job_no, job_id);
CREATE INDEX jobs_updated ON jobs (updated_at, job_id);
CREATE INDEX jobs_unit_counts ON jobs (unit, status, sla_state, review_state, kind,
    customer_manager, project_manager, key_project, accepted_on);
-- A manager's own jobs.
CREATE INDEX job_access_user_job ON job_access (username, job_id);
