-- Clinic Edge node database, version 1. Documents are the truth; projections can be rebuilt from them.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Automerge documents: a compacted snapshot plus incremental chunks (raw change bytes) appended after it.
CREATE TABLE IF NOT EXISTS docs (
    doc_id     TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    snapshot   BLOB,
    snapshot_bytes INTEGER NOT NULL DEFAULT 0,
    chunks     INTEGER NOT NULL DEFAULT 0,
    chunk_bytes INTEGER NOT NULL DEFAULT 0,
    -- Changes whenever the stored form is replaced (compaction) or the row is created anew, so a
    -- snapshot made from an older generation is never swapped in.
    generation INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS doc_chunks (
    doc_id TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;

-- Domain events waiting to go upstream (and kept for inspection). `seq` orders them on this node.
CREATE TABLE IF NOT EXISTS outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    aggregate     TEXT NOT NULL,
    aggregate_seq INTEGER NOT NULL,
    type          TEXT NOT NULL,
    time_ms       INTEGER NOT NULL,
    event         TEXT NOT NULL,
    sent_at       INTEGER,
    UNIQUE (aggregate, aggregate_seq)
);

-- Answers to requests that carried an Idempotency-Key, per principal.
CREATE TABLE IF NOT EXISTS idempotency (
    principal    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (principal, key)
) WITHOUT ROWID;

-- Projection: patient search (by id, which is the keyed hash of the NIK, and by name).
CREATE TABLE IF NOT EXISTS patients (
    id            TEXT PRIMARY KEY,
    name_norm     TEXT NOT NULL,
    birth_date    TEXT,
    fields        TEXT NOT NULL,
    conflicts     TEXT NOT NULL,
    registered_at INTEGER,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS patients_name ON patients (name_norm);

-- Projection: the queue view, one row per ticket with its derived status and times.
CREATE TABLE IF NOT EXISTS tickets (
    id              TEXT PRIMARY KEY,
    queue_day       TEXT NOT NULL,
    date            TEXT NOT NULL,
    service         TEXT NOT NULL,
    number          INTEGER NOT NULL,
    display         TEXT NOT NULL,
    priority        TEXT,
    patient_id      TEXT,
    status          TEXT NOT NULL,
    counter         TEXT,
    round           INTEGER NOT NULL,
    recalls         INTEGER NOT NULL,
    issued_at       INTEGER NOT NULL,
    first_called_at INTEGER,
    called_at       INTEGER,
    started_at      INTEGER,
    finished_at     INTEGER,
    origin          TEXT,
    next_ticket     TEXT,
    cancel_reason   TEXT
);
CREATE INDEX IF NOT EXISTS tickets_day ON tickets (date, service, status);

-- Users of the operator console and clinic admin screens.
CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- Logins (bearer tokens, stored as SHA-256) and kiosk device tokens.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS devices (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
