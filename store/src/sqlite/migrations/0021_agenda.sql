-- The agenda (日程): the dated things a job asks of people beyond its stage clocks (meeting
-- action items, the planned power-on and outage, a rented transformer's removal, the next visit
-- to an important customer), projected from the job documents with each write for the board.
-- Documents written before this migration hold none of them, so nothing needs filling in.
CREATE TABLE agenda_items (
    job_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    unit TEXT NOT NULL,
    job_no TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    owner TEXT,
    due_on TEXT NOT NULL,
    late_on TEXT NOT NULL,
    title TEXT NOT NULL,
    done INTEGER NOT NULL,
    PRIMARY KEY (job_id, item_id)
);
CREATE INDEX agenda_open ON agenda_items (unit, due_on) WHERE done = 0;
