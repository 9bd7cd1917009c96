-- Supervision orders (督办), projected from the job documents for the board and the daily
-- escalation, and the unit leaders they escalate to. Documents written before this migration
-- hold no orders, so nothing needs filling in.
ALTER TABLE users ADD COLUMN leader INTEGER NOT NULL DEFAULT 0;
CREATE TABLE supervision_orders (
    job_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    unit TEXT NOT NULL,
    job_no TEXT NOT NULL,
    manager TEXT NOT NULL,
    manager_name TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    stage TEXT,
    reason TEXT NOT NULL,
    issued_at INTEGER,
    due_on TEXT NOT NULL,
    answered_at INTEGER,
    escalated_at INTEGER,
    leaders TEXT,
    closed_at INTEGER,
    PRIMARY KEY (job_id, order_id)
);
CREATE INDEX supervision_by_unit ON supervision_orders (unit, due_on) WHERE closed_at IS NULL;
CREATE INDEX supervision_late ON supervision_orders (due_on)
    WHERE closed_at IS NULL AND answered_at IS NULL AND escalated_at IS NULL;
