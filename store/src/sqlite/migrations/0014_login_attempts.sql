-- Login attempts per key (`user:<name>`, `addr:<client address>`) and minute, shared by every
-- node on this database, so several nodes together allow what one would. Old minutes are pruned.
CREATE TABLE login_attempts (
    key TEXT NOT NULL,
    minute INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, minute)
);
