//! Storage: the only module that sees rusqlite. Opens the database (WAL, `synchronous=FULL`), applies the
//! schema, keeps the node's identity in `meta`, hands out read connections, and owns the single writer
//! thread ([`writer`]) through which every change to documents, outbox and projections goes.

pub mod docs;
pub mod maintain;
pub mod projection;
pub mod writer;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("could not create the data directory {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stored document {doc_id} is unreadable")]
    Doc {
        doc_id: String,
        #[source]
        source: Box<crdt_schema::DocError>,
    },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(&'static str),
    #[error("the batch this command was part of could not be committed")]
    Batch(#[source] Arc<rusqlite::Error>),
    #[error("the writer has stopped")]
    WriterGone,
    #[error("a blocking task failed")]
    Join(#[from] tokio::task::JoinError),
}

pub(crate) const DB_FILE: &str = "clinic-node.db";

/// Opens a connection with the node's pragmas.
pub(crate) fn open_conn(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Creates the data directory and the database, and applies the schema.
pub fn open_database(data_dir: &Path) -> Result<(PathBuf, Connection), StoreError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
        path: data_dir.to_owned(),
        source,
    })?;
    let path = data_dir.join(DB_FILE);
    let conn = open_conn(&path, false)?;
    conn.execute_batch(include_str!("schema.sql"))?;
    // Databases made before `docs.generation` existed.
    let has_generation: bool = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('docs') WHERE name = 'generation'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has_generation {
        conn.execute_batch("ALTER TABLE docs ADD COLUMN generation INTEGER NOT NULL DEFAULT 0")?;
    }
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1')",
        [],
    )?;
    Ok((path, conn))
}

/// Reads a value from `meta`.
pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// Reads a value from `meta`, or stores `make()` as its value the first time.
pub fn meta_get_or_init(
    conn: &Connection,
    key: &str,
    make: impl FnOnce() -> String,
) -> Result<String, StoreError> {
    if let Some(v) = meta_get(conn, key)? {
        return Ok(v);
    }
    let v = make();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)",
        params![key, v],
    )?;
    Ok(v)
}

/// A small pool of read-only connections, used from `spawn_blocking`. WAL lets readers run beside the writer.
#[derive(Clone)]
pub struct ReadPool {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ReadPool {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path: Arc::new(path),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Runs `f` with a read connection off the async runtime.
    pub async fn read<T, E>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            // The lock is held only to pop or push a connection, never across a query.
            let conn = pool.idle.lock().expect("pool lock").pop();
            let conn = match conn {
                Some(c) => c,
                None => open_conn(&pool.path, true).map_err(E::from)?,
            };
            let out = f(&conn);
            let mut idle = pool.idle.lock().expect("pool lock");
            if idle.len() < 8 {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| E::from(StoreError::Join(e)))?
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
