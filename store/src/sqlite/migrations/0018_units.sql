-- Units (供电单位) are records an administrator creates before anyone joins them; until now a
-- unit existed only as the text of its users' and jobs' `unit`. An older database gets one
-- record (named by its code) for every unit its users, jobs or reference data name.
CREATE TABLE units (
    unit TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
INSERT OR IGNORE INTO units (unit, name, created_at, created_by)
    SELECT unit, unit, 0, 'migration' FROM (
        SELECT unit FROM users UNION SELECT unit FROM jobs
        UNION SELECT unit FROM reference_data WHERE unit IS NOT NULL
    ) WHERE unit <> '';
