//! Background upkeep beside the writer: document compaction and WAL checkpoints, kept off the writer
//! thread so that neither a full document save nor a checkpoint's fsync sits between two commits.
//!
//! Compaction runs in two halves. This thread finds documents whose chunk lists have grown, reads one
//! (snapshot plus chunks, in one read transaction of its own connection) and saves it into a new
//! snapshot; the writer then swaps that snapshot in inside its next batch ([`Compacted::apply`]), deleting
//! exactly the chunks the snapshot covers. Chunks appended meanwhile stay. The swap only happens if the
//! document's `generation` is still the one read, so a document erased (or compacted) in between is
//! never overwritten with stale bytes.
//!
//! Checkpoints: the writer's connection has automatic checkpoints turned off; this thread runs a
//! passive checkpoint (which never blocks the writer) whenever the WAL has grown past
//! [`CHECKPOINT_PAGES`], and a truncating one when the node stops.

use std::{
    collections::HashSet,
    path::PathBuf,
    sync::{Arc, Mutex, mpsc},
    thread::JoinHandle,
    time::Duration,
};

use crdt_schema::ids::DocId;
use rusqlite::{Connection, params};

use super::{StoreError, docs, now_ms};

/// A document is compacted once this many chunks follow its snapshot (and they outweigh it).
pub const COMPACT_AFTER_CHUNKS: u64 = 64;
/// WAL pages after which a passive checkpoint runs.
pub const CHECKPOINT_PAGES: i64 = 1_000;
/// How often the thread looks for work when nobody nudges it.
const IDLE_INTERVAL: Duration = Duration::from_secs(2);
/// The least time between two rounds, however often it is nudged.
const MIN_GAP: Duration = Duration::from_millis(250);

/// A new snapshot for a document, covering its chunks up to `upto_seq`.
#[derive(Debug)]
pub struct Compacted {
    pub doc_id: DocId,
    pub snapshot: Vec<u8>,
    /// The generation read; the swap happens only if it is unchanged.
    pub generation: i64,
    /// The last chunk the snapshot includes.
    pub upto_seq: i64,
    /// How many chunks (and bytes) the snapshot replaces.
    pub chunks: i64,
    pub chunk_bytes: i64,
}

impl Compacted {
    /// Swaps the snapshot in (inside the caller's transaction). Returns false when the document changed
    /// shape meanwhile (erased, re-created or compacted elsewhere) and nothing was written.
    pub fn apply(&self, conn: &Connection) -> Result<bool, StoreError> {
        let updated = conn
            .prepare_cached(
                "UPDATE docs SET snapshot = ?3, snapshot_bytes = length(?3), chunks = chunks - ?4,
                    chunk_bytes = chunk_bytes - ?5, generation = generation + 1, updated_at = ?6
                 WHERE doc_id = ?1 AND generation = ?2",
            )?
            .execute(params![
                self.doc_id.as_str(),
                self.generation,
                self.snapshot,
                self.chunks,
                self.chunk_bytes,
                now_ms()
            ])?;
        if updated == 0 {
            return Ok(false);
        }
        conn.prepare_cached("DELETE FROM doc_chunks WHERE doc_id = ?1 AND seq <= ?2")?
            .execute(params![self.doc_id.as_str(), self.upto_seq])?;
        Ok(true)
    }
}

/// The writer's side of the maintenance thread.
#[derive(Debug)]
pub struct MaintainerLink {
    nudge: mpsc::SyncSender<()>,
    results: mpsc::Receiver<Compacted>,
    in_flight: Arc<Mutex<HashSet<DocId>>>,
}

impl MaintainerLink {
    /// Asks the thread to look for work soon (never blocks).
    pub fn nudge(&self) {
        let _ = self.nudge.try_send(());
    }

    /// Snapshots ready to be swapped in.
    pub fn ready(&self) -> Vec<Compacted> {
        self.results.try_iter().collect()
    }

    /// Marks a document's compaction as finished (applied or dropped), so it may be compacted again.
    pub fn finished(&self, doc_id: &DocId) {
        self.in_flight
            .lock()
            .expect("in-flight lock")
            .remove(doc_id);
    }
}

/// Owns the maintenance thread; it stops when its [`MaintainerLink`] is dropped.
#[derive(Debug)]
pub struct Maintainer {
    thread: JoinHandle<()>,
}

impl Maintainer {
    /// Starts the thread on its own connection to the database at `path`.
    pub fn start(path: PathBuf) -> Result<(Self, MaintainerLink), StoreError> {
        let conn = super::open_conn(&path, false)?;
        let (nudge, nudged) = mpsc::sync_channel(1);
        let (done, results) = mpsc::channel();
        let in_flight = Arc::new(Mutex::new(HashSet::new()));
        let shared = in_flight.clone();
        let thread = std::thread::Builder::new()
            .name("clinic-maintain".into())
            .spawn(move || run(conn, nudged, done, shared))
            .map_err(|_| StoreError::WriterGone)?;
        Ok((
            Self { thread },
            MaintainerLink {
                nudge,
                results,
                in_flight,
            },
        ))
    }

    /// Waits for the thread (it stops once the link is dropped), after its last checkpoint.
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the maintenance thread panicked");
        }
    }
}

fn run(
    conn: Connection,
    nudged: mpsc::Receiver<()>,
    done: mpsc::Sender<Compacted>,
    in_flight: Arc<Mutex<HashSet<DocId>>>,
) {
    'rounds: while let Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) =
        nudged.recv_timeout(IDLE_INTERVAL)
    {
        if let Err(e) = compact_due(&conn, &done, &in_flight) {
            tracing::warn!(error = %e, "background compaction failed; will retry");
        }
        if let Err(e) = checkpoint(&conn, "PASSIVE", CHECKPOINT_PAGES) {
            tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
        }
        // Nudges during the gap fold into the next round; the link closing ends the wait at once.
        let next = std::time::Instant::now() + MIN_GAP;
        loop {
            let left = next.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match nudged.recv_timeout(left) {
                Ok(()) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => break 'rounds,
            }
        }
    }
    if let Err(e) = checkpoint(&conn, "TRUNCATE", 0) {
        tracing::warn!(error = %e, "final WAL checkpoint failed");
    }
    tracing::debug!("maintenance stopped");
}

/// Compacts the documents that are due and hands the snapshots to the writer.
fn compact_due(
    conn: &Connection,
    done: &mpsc::Sender<Compacted>,
    in_flight: &Mutex<HashSet<DocId>>,
) -> Result<(), StoreError> {
    for id in docs::needing_compaction(conn, COMPACT_AFTER_CHUNKS, 8)? {
        if !in_flight.lock().expect("in-flight lock").insert(id.clone()) {
            continue;
        }
        match read_compacted(conn, &id) {
            Ok(Some(c)) => {
                tracing::debug!(doc = %id, chunks = c.chunks, "compacted, handing to the writer");
                if done.send(c).is_err() {
                    return Ok(());
                }
            }
            other => {
                in_flight.lock().expect("in-flight lock").remove(&id);
                other?;
            }
        }
    }
    Ok(())
}

/// Reads a document in one read transaction and saves it as one snapshot.
pub fn read_compacted(conn: &Connection, id: &DocId) -> Result<Option<Compacted>, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let stored = docs::read(&tx, id)?;
    tx.finish()?;
    let Some(stored) = stored.filter(|s| s.chunks > 0) else {
        return Ok(None);
    };
    let doc = docs::decode(id, &stored.bytes)?;
    Ok(Some(Compacted {
        doc_id: id.clone(),
        snapshot: doc.save(),
        generation: stored.generation,
        upto_seq: stored.last_seq,
        chunks: stored.chunks,
        chunk_bytes: stored.chunk_bytes,
    }))
}

/// Runs a checkpoint of the given mode when the WAL holds at least `min_pages` pages.
fn checkpoint(conn: &Connection, mode: &str, min_pages: i64) -> Result<(), StoreError> {
    let wal_pages = wal_pages(conn)?;
    if wal_pages < min_pages.max(1) {
        return Ok(());
    }
    let (busy, log, done): (i64, i64, i64) =
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    tracing::debug!(mode, busy, log, done, "WAL checkpoint");
    Ok(())
}

/// Pages in the WAL file (from its size; 0 when there is none).
fn wal_pages(conn: &Connection) -> Result<i64, StoreError> {
    let Some(path) = conn.path().filter(|p| !p.is_empty()) else {
        return Ok(0);
    };
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let len = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len() as i64);
    Ok(len / page.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::docs::tests::{issue, new_day};
    use crdt_schema::queue::QueueDay;

    #[test]
    fn a_snapshot_swaps_in_keeping_later_chunks_and_never_over_a_newer_generation() {
        let dir = tempfile::tempdir().unwrap();
        let (path, conn) = super::super::open_database(dir.path()).unwrap();
        let reader = super::super::open_conn(&path, false).unwrap();
        let mut q = new_day();
        let id = q.doc_id();
        docs::insert(&conn, &id, "queue_day", &q.save(), 1).unwrap();
        for i in 0..5 {
            docs::append(&conn, &id, &issue(&mut q, i), i).unwrap();
        }
        let c = read_compacted(&reader, &id).unwrap().unwrap();
        assert_eq!((c.chunks, c.upto_seq), (5, 4));
        // Two more tickets arrive before the writer swaps the snapshot in.
        for i in 5..7 {
            docs::append(&conn, &id, &issue(&mut q, i), i).unwrap();
        }
        assert!(c.apply(&conn).unwrap());
        let (chunks, left): (i64, i64) = conn
            .query_row(
                "SELECT chunks, (SELECT COUNT(*) FROM doc_chunks WHERE doc_id = ?1) FROM docs WHERE doc_id = ?1",
                [id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((chunks, left), (2, 2));
        let loaded = QueueDay::from_doc(docs::load(&conn, &id).unwrap().unwrap()).unwrap();
        assert_eq!(loaded.state(), q.state());
        assert_eq!(loaded.state().tickets.len(), 7);
        // The same (now stale) result again: the generation moved on, nothing is written.
        assert!(!c.apply(&conn).unwrap());
        let again = QueueDay::from_doc(docs::load(&conn, &id).unwrap().unwrap()).unwrap();
        assert_eq!(again.state(), q.state());
    }
}
