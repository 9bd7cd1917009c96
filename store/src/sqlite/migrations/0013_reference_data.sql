-- Reference data the phones get by sync (基础数据): rule sets, write policies and calendar
-- bundles, national (unit NULL) or per unit, numbered in the order they were installed (`seq`, the
-- phones' cursor; AUTOINCREMENT never reuses a number). Installed write policies move here.
CREATE TABLE reference_data (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    unit TEXT,
    effective_from TEXT,
    body TEXT NOT NULL,
    installed_at INTEGER NOT NULL,
    installed_by TEXT NOT NULL,
    UNIQUE (kind, id, version)
);
INSERT INTO reference_data (kind, id, version, unit, effective_from, body, installed_at, installed_by)
    SELECT 'write_policy', id, version, unit, effective_from, body, installed_at, 'cli'
    FROM write_policies ORDER BY installed_at, id, version;
DROP TABLE write_policies;
