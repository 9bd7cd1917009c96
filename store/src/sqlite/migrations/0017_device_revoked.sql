-- A revoked device (a lost phone) stays revoked until an admin lets it back: its password no
-- longer logs it in (issue 22). When it was revoked, in ms.
ALTER TABLE devices ADD COLUMN revoked_at INTEGER;
