-- A revoked device stays revoked until an admin lets it back (SQLite's migration 17).
ALTER TABLE devices ADD COLUMN revoked_at BIGINT;
