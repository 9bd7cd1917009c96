-- A lock per upload (SQLite's migration 15): one PATCH at a time, on whichever node.
ALTER TABLE uploads ADD COLUMN lock_holder TEXT;
ALTER TABLE uploads ADD COLUMN lock_until BIGINT;
