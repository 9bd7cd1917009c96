-- Writers in parallel (issue 23). Writes of different jobs no longer take one cluster-wide
-- lock: each is checked against the version of the job it was planned on (`jobs.changes_n`,
-- the number of its changes, numbered 1, 2, … by `changes.n`).
--
-- The feed's positions need no lock either. A change's position is drawn from its writing
-- transaction's id: `base + (xid − xid0) · 2^20 + ordinal` (the ordinal numbers what one
-- transaction adds to the feed), so every position a transaction can ever draw lies below those
-- of all later transaction ids. A reader serves positions only below the oldest transaction
-- of this database still running (`fieldline_feed_horizon`): everything there has committed or
-- never will, so no position can appear below one already read. Positions from
-- before this migration stay as they are (they are all below `base`).
ALTER TABLE changes ADD COLUMN n BIGINT;
UPDATE changes c SET n = o.rn
  FROM (SELECT seq, row_number() OVER (PARTITION BY job_id ORDER BY seq) AS rn FROM changes) AS o
  WHERE c.seq = o.seq;
ALTER TABLE changes ALTER COLUMN n SET NOT NULL;
ALTER TABLE changes ALTER COLUMN seq DROP IDENTITY;
CREATE UNIQUE INDEX changes_job_n ON changes (job_id, n);

CREATE TABLE feed_origin (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    -- The first position drawn from transaction ids, and the transaction id it counts from.
    base BIGINT NOT NULL,
    xid0 BIGINT NOT NULL
);
INSERT INTO feed_origin (only_row, base, xid0)
  SELECT TRUE,
         GREATEST(COALESCE((SELECT MAX(seq) FROM changes), 0),
                  COALESCE((SELECT MAX(entered_seq) FROM job_access), 0),
                  COALESCE((SELECT MAX(pos) FROM access_left), 0)) + 1,
         CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT);

-- The position of the `ordinal`-th entry the calling transaction adds to the feed.
CREATE FUNCTION fieldline_feed_position(ordinal BIGINT) RETURNS BIGINT
  LANGUAGE sql VOLATILE AS $$
    SELECT o.base + (CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT) - o.xid0) * 1048576
           + ordinal
    FROM feed_origin o
  $$;

-- The newest position a reader may serve: below every position a transaction of this database
-- still running (or yet to start) can draw. The statement's snapshot gives the next transaction
-- id as of its start (`xmax`); the backends of this database read afterwards give the writers
-- still running then (a writer that started before the snapshot and still runs is among them;
-- one that finished meanwhile is final anyway). Transactions of other databases of the cluster
-- do not hold the feed back. All nodes must connect as the same role (or one with
-- `pg_read_all_stats`), so each sees the others' transaction ids.
CREATE FUNCTION fieldline_feed_horizon() RETURNS BIGINT
  LANGUAGE sql VOLATILE AS $$
    WITH s AS (
      SELECT CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS TEXT) AS BIGINT) AS xmax
    ), running AS (
      -- 32-bit backend transaction ids widened next to xmax (within 2^31 of it).
      SELECT MIN(s.xmax + d.delta - CASE WHEN d.delta >= 2147483648 THEN 4294967296 ELSE 0 END)
        AS oldest
      FROM s, pg_stat_activity a,
        LATERAL (SELECT ((CAST(CAST(a.backend_xid AS TEXT) AS BIGINT) - s.xmax % 4294967296)
                         % 4294967296 + 4294967296) % 4294967296 AS delta) d
      WHERE a.backend_xid IS NOT NULL
        AND a.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
    )
    SELECT GREATEST(o.base - 1,
      o.base - 1 + (LEAST(s.xmax, COALESCE(running.oldest, s.xmax)) - o.xid0) * 1048576)
    FROM feed_origin o, s, running
  $$;

ALTER TABLE jobs ADD COLUMN changes_n BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN snapshot_n BIGINT NOT NULL DEFAULT 0;
UPDATE jobs SET
  changes_n = (SELECT COUNT(*) FROM changes c WHERE c.job_id = jobs.job_id),
  snapshot_n = (SELECT COUNT(*) FROM changes c
                WHERE c.job_id = jobs.job_id AND c.seq <= jobs.snapshot_seq);
ALTER TABLE jobs DROP COLUMN doc_seq;
ALTER TABLE jobs DROP COLUMN snapshot_seq;
