-- Writers in parallel (issue 23): a write is planned outside the writer from the job as it
-- stood and checked against that version when it is written. A job's changes are numbered
-- 1, 2, … (`n`, the document's own order); `jobs.changes_n` counts them (the job's version)
-- and `jobs.snapshot_n` says how many its snapshot holds. The feed keeps its position `seq`.
ALTER TABLE changes ADD COLUMN n INTEGER NOT NULL DEFAULT 0;
UPDATE changes SET n = o.rn
  FROM (SELECT seq, row_number() OVER (PARTITION BY job_id ORDER BY seq) AS rn FROM changes) AS o
  WHERE changes.seq = o.seq;
CREATE UNIQUE INDEX changes_job_n ON changes (job_id, n);

ALTER TABLE jobs ADD COLUMN changes_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN snapshot_n INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET
  changes_n = (SELECT COUNT(*) FROM changes c WHERE c.job_id = jobs.job_id),
  snapshot_n = (SELECT COUNT(*) FROM changes c
                WHERE c.job_id = jobs.job_id AND c.seq <= jobs.snapshot_seq);
ALTER TABLE jobs DROP COLUMN doc_seq;
ALTER TABLE jobs DROP COLUMN snapshot_seq;
