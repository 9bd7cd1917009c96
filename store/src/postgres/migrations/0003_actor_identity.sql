-- SQLite migration 16: an automerge actor belongs to one device (issue 21): one spelling (lower-case hex), never the
-- server's own (`fieldline-server`), never two devices. Where an earlier server let a second
-- device register an actor already taken, the first registration keeps it and the later devices
-- lose theirs (their tokens end: they log in again and register a fresh actor).
UPDATE devices SET actor = lower(actor) WHERE actor IS NOT NULL;
UPDATE tokens SET revoked_at = (extract(epoch FROM now()) * 1000)::BIGINT
 WHERE revoked_at IS NULL AND device_id IN (
    SELECT device_id FROM devices d
     WHERE d.actor = '6669656c646c696e652d736572766572'
        OR EXISTS (SELECT 1 FROM devices e WHERE e.actor = d.actor
                    AND (e.first_seen < d.first_seen
                         OR (e.first_seen = d.first_seen AND e.device_id < d.device_id))));
UPDATE devices SET actor = NULL
 WHERE actor = '6669656c646c696e652d736572766572'
    OR EXISTS (SELECT 1 FROM devices e WHERE e.actor = devices.actor
                AND (e.first_seen < devices.first_seen
                     OR (e.first_seen = devices.first_seen AND e.device_id < devices.device_id)));
CREATE UNIQUE INDEX devices_actor ON devices (actor) WHERE actor IS NOT NULL;
