-- Units are records an administrator creates before anyone joins them (SQLite's migration 18).
CREATE TABLE units (
    unit TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
INSERT INTO units (unit, name, created_at, created_by)
    SELECT unit, unit, 0, 'migration' FROM (
        SELECT unit FROM users UNION SELECT unit FROM jobs
        UNION SELECT unit FROM reference_data WHERE unit IS NOT NULL
    ) AS named WHERE unit <> ''
    ON CONFLICT DO NOTHING;
