-- The customer's channel (units as places, online applications, the customer's rating) and the
-- managers' qualifications.
-- Units are places a customer recognises: where the service hall is, when it is open, whom to
-- call. The public pages and the applicant's papers show these, never the unit's code.
ALTER TABLE units ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE units ADD COLUMN hall_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE units ADD COLUMN hotline TEXT NOT NULL DEFAULT '';

-- Online applications (线上申请): what an anonymous customer filed, waiting at the counter until
-- it is accepted (then `job_id` names the job made from it, which has the application's id) or
-- declined (with `reason`, which the applicant sees). `same_key` and `phone_key` are digests of
-- the unit, ID number and address, and of the phone number: one open application per person
-- and place, and a budget per phone. `detail` is the JSON of the form as given and its photo.
CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    state TEXT NOT NULL,
    same_key TEXT NOT NULL,
    phone_key TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    reason TEXT,
    job_id TEXT
);
CREATE INDEX applications_queue ON applications (unit, state, created_at);
-- At most one pending application per person and place: a second filing racing the first fails
-- here and is answered with the first.
CREATE UNIQUE INDEX applications_pending ON applications (same_key) WHERE state = 'pending';
CREATE INDEX applications_same ON applications (same_key, state);
CREATE INDEX applications_phone ON applications (phone_key, created_at);

-- The files of an application's photo: only the counter and the job's managers see them, never
-- the rest of the unit (a dispatcher sees the job, not the customer's ID card).
CREATE TABLE application_blobs (
    sha256 TEXT PRIMARY KEY,
    application_id TEXT NOT NULL
);

-- The customer's own rating (1–5) through their tracking link, beside the return visit's.
ALTER TABLE jobs ADD COLUMN customer_rating INTEGER;

-- Managers' qualifications (任职条件, seed 003): a title and a skill grade per user, and the
-- trainings they passed, recorded by admins.
CREATE TABLE qualifications (
    username TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    skill TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE trainings (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    course TEXT NOT NULL,
    completed_on TEXT NOT NULL,
    certificate TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    recorded_by TEXT NOT NULL
);
CREATE INDEX trainings_user ON trainings (username, completed_on);
