-- A lock per upload, so that one PATCH at a time writes it on whichever node it arrives:
-- the holder (a node and a claim id) and until when (ms) the claim stands.
ALTER TABLE uploads ADD COLUMN lock_holder TEXT;
ALTER TABLE uploads ADD COLUMN lock_until INTEGER;
