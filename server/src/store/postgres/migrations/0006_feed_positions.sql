-- Writers in parallel (issue 23). Writes of different jobs no longer take one cluster-wide
-- lock: each is checked against the version of the job it was planned on (`jobs.changes_n`,
-- the number of its changes, numbered 1, 2, … by `changes.n`), and only the feed's positions
-- are drawn under one lock, at the very end of the transaction, from `feed_counter`'s only row
-- (whose row lock is held until the commit is visible). A change is inserted without a
-- position (`seq` NULL, seen by its own transaction only) and gets it in that last step.
ALTER TABLE changes ADD COLUMN n BIGINT;
UPDATE changes c SET n = o.rn
  FROM (SELECT seq, row_number() OVER (PARTITION BY job_id ORDER BY seq) AS rn FROM changes) AS o
  WHERE c.seq = o.seq;
ALTER TABLE changes ALTER COLUMN n SET NOT NULL;
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE changes ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE changes ADD PRIMARY KEY (job_id, n);
CREATE UNIQUE INDEX changes_seq ON changes (seq);

CREATE TABLE feed_counter (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    last BIGINT NOT NULL
);
INSERT INTO feed_counter (only_row, last) VALUES (TRUE, COALESCE((SELECT MAX(seq) FROM changes), 0));

ALTER TABLE jobs ADD COLUMN changes_n BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN snapshot_n BIGINT NOT NULL DEFAULT 0;
UPDATE jobs SET
  changes_n = (SELECT COUNT(*) FROM changes c WHERE c.job_id = jobs.job_id),
  snapshot_n = (SELECT COUNT(*) FROM changes c
                WHERE c.job_id = jobs.job_id AND c.seq <= jobs.snapshot_seq);
ALTER TABLE jobs DROP COLUMN doc_seq;
ALTER TABLE jobs DROP COLUMN snapshot_seq;
