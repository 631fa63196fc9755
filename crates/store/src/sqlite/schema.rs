//! SQLite migrations. Each entry upgrades the schema by one version inside one
//! transaction; `plaza_meta.schema_version` records where a database stands.

use rusqlite::{Connection, OptionalExtension};

use crate::error::StoreError;

/// The migrations, in order; version N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[
    // 1: ledger, outbox, jobs.
    "
    CREATE TABLE ledger_accounts (
        row_id INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        currency TEXT NOT NULL,
        floor_minor INTEGER,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE ledger_transfers (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        from_row INTEGER NOT NULL,
        to_row INTEGER NOT NULL,
        amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
        currency TEXT NOT NULL,
        memo TEXT NOT NULL,
        from_balance_after_minor INTEGER NOT NULL,
        to_balance_after_minor INTEGER NOT NULL,
        committed_at_ms INTEGER NOT NULL
    );
    CREATE INDEX ledger_transfers_from ON ledger_transfers (from_row);
    CREATE INDEX ledger_transfers_to ON ledger_transfers (to_row);
    CREATE TABLE outbox_events (
        seq INTEGER PRIMARY KEY,
        topic TEXT NOT NULL,
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE outbox_cursors (
        consumer TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        due_at_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        last_error TEXT,
        created_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER,
        UNIQUE (kind, key)
    );
    CREATE INDEX jobs_pending_due ON jobs (due_at_ms, id) WHERE state = 'pending';
    ",
    // 2: domain records and their indexes. Records live in a rowid table: bodies of a
    // kilobyte or more would spill to overflow pages in a WITHOUT ROWID table. Each row
    // keeps its index entries, so an update deletes exactly the ones it drops.
    "
    CREATE TABLE records (
        row_id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        version INTEGER NOT NULL,
        body TEXT NOT NULL,
        index_entries TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        UNIQUE (kind, key)
    );
    CREATE TABLE record_index (
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (kind, name, value, key)
    ) WITHOUT ROWID;
    ",
    // 3: the outbox read by topic and key, as logs of their own (a corp's session archive).
    "
    CREATE INDEX outbox_events_topic_key ON outbox_events (topic, key, seq);
    ",
];

/// The newest schema version this build knows.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(crate) fn current_version(conn: &Connection) -> rusqlite::Result<i64> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'plaza_meta')",
        [],
        |row| row.get(0),
    )?;
    if !has_meta {
        return Ok(0);
    }
    let version: Option<String> = conn
        .query_row(
            "SELECT value FROM plaza_meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(version.and_then(|text| text.parse().ok()).unwrap_or(0))
}

/// Brings the schema up to [`SCHEMA_VERSION`], refusing databases from a newer build.
pub(crate) fn migrate(conn: &mut Connection, location: &str) -> Result<(), StoreError> {
    let found = current_version(conn).map_err(|error| StoreError::Corrupt {
        location: location.to_owned(),
        reason: error.to_string(),
    })?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            location: location.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let failed = |error: rusqlite::Error| StoreError::Migration {
            version,
            reason: error.to_string(),
        };
        let tx = conn.transaction().map_err(failed)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS plaza_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        )
        .map_err(failed)?;
        tx.execute_batch(sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO plaza_meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [version.to_string()],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(version, "sqlite schema migrated");
    }
    Ok(())
}
