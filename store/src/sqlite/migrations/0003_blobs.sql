-- Photo blobs: which job documents name which blob, the blobs stored, tus uploads.
CREATE TABLE blob_ref (
    sha256 TEXT NOT NULL,
    job_id TEXT NOT NULL REFERENCES jobs(job_id),
    photo_id TEXT NOT NULL,
    role TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    mime TEXT NOT NULL,
    PRIMARY KEY (sha256, job_id)
);
CREATE INDEX blob_ref_job ON blob_ref (job_id);
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL,
    stored_at INTEGER NOT NULL
);
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    job_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    length INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX uploads_user_blob ON uploads (username, sha256);
