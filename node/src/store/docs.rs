//! Automerge documents in SQLite: a compacted snapshot plus the incremental chunks appended after it.
//! Loading applies the snapshot, then every chunk in order; compaction replaces both with one snapshot.

use crdt_schema::{automerge::Automerge, ids::DocId};
use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// A stored document as one Automerge byte stream: its snapshot followed by every chunk (raw change
/// bytes) in order, which loads in one call, much faster than applying the chunks one by one.
#[derive(Debug)]
pub struct Stored {
    pub bytes: Vec<u8>,
    /// The row's generation (see `maintain`).
    pub generation: i64,
    /// The last chunk's sequence number (-1 without chunks), how many chunks and their bytes.
    pub last_seq: i64,
    pub chunks: i64,
    pub chunk_bytes: i64,
}

/// Reads a stored document's bytes, or `None` when it is not stored.
pub fn read(conn: &Connection, doc_id: &DocId) -> Result<Option<Stored>, StoreError> {
    let row: Option<(Option<Vec<u8>>, i64)> = conn
        .query_row(
            "SELECT snapshot, generation FROM docs WHERE doc_id = ?1",
            [doc_id.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((snapshot, generation)) = row else {
        return Ok(None);
    };
    let mut stored = Stored {
        bytes: snapshot.unwrap_or_default(),
        generation,
        last_seq: -1,
        chunks: 0,
        chunk_bytes: 0,
    };
    let mut stmt =
        conn.prepare_cached("SELECT seq, bytes FROM doc_chunks WHERE doc_id = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([doc_id.as_str()])?;
    while let Some(row) = rows.next()? {
        let bytes = row
            .get_ref(1)?
            .as_blob()
            .map_err(|_| StoreError::Corrupt("a document chunk is not a blob"))?;
        stored.bytes.extend_from_slice(bytes);
        stored.last_seq = row.get(0)?;
        stored.chunks += 1;
        stored.chunk_bytes += bytes.len() as i64;
    }
    Ok(Some(stored))
}

/// Loads a document, or `None` when it is not stored.
pub fn load(conn: &Connection, doc_id: &DocId) -> Result<Option<Automerge>, StoreError> {
    let Some(stored) = read(conn, doc_id)? else {
        return Ok(None);
    };
    Ok(Some(decode(doc_id, &stored.bytes)?))
}

/// Decodes stored bytes (through `crdt_schema::load`: outside bytes never reach automerge unguarded).
pub fn decode(doc_id: &DocId, bytes: &[u8]) -> Result<Automerge, StoreError> {
    if bytes.is_empty() {
        return Ok(Automerge::new());
    }
    crdt_schema::load::load(bytes).map_err(|source| StoreError::Doc {
        doc_id: doc_id.to_string(),
        source: Box::new(source),
    })
}

/// Stores a new document whose full state is `snapshot`.
pub fn insert(
    conn: &Connection,
    doc_id: &DocId,
    kind: &str,
    snapshot: &[u8],
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO docs (doc_id, kind, snapshot, snapshot_bytes, chunks, generation, updated_at) VALUES (?1, ?2, ?3, length(?3), 0, ?4, ?5)",
    )?
    // A random first generation (below 2^62, so counting up never overflows): a row erased and created
    // again does not repeat an old one.
    .execute(params![doc_id.as_str(), kind, snapshot, (rand::random::<u64>() >> 2) as i64, now_ms])?;
    Ok(())
}

/// Appends one chunk of change bytes to a stored document; returns how many chunks follow its snapshot.
pub fn append(
    conn: &Connection,
    doc_id: &DocId,
    bytes: &[u8],
    now_ms: i64,
) -> Result<u64, StoreError> {
    let chunks: u64 = conn
        .prepare_cached("UPDATE docs SET chunks = chunks + 1, chunk_bytes = chunk_bytes + ?3, updated_at = ?2 WHERE doc_id = ?1 RETURNING chunks")?
        .query_row(params![doc_id.as_str(), now_ms, bytes.len() as i64], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::Corrupt("a change was appended to a document that is not stored"))?;
    conn.prepare_cached("INSERT INTO doc_chunks (doc_id, seq, bytes) VALUES (?1, COALESCE((SELECT MAX(seq) + 1 FROM doc_chunks WHERE doc_id = ?1), 0), ?2)")?
        .execute(params![doc_id.as_str(), bytes])?;
    Ok(chunks)
}

/// Replaces a document's snapshot and chunks with one snapshot.
pub fn compact(
    conn: &Connection,
    doc_id: &DocId,
    snapshot: &[u8],
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE docs SET snapshot = ?2, snapshot_bytes = length(?2), chunks = 0, chunk_bytes = 0, generation = generation + 1, updated_at = ?3 WHERE doc_id = ?1",
    )?
    .execute(params![doc_id.as_str(), snapshot, now_ms])?;
    conn.prepare_cached("DELETE FROM doc_chunks WHERE doc_id = ?1")?
        .execute([doc_id.as_str()])?;
    Ok(())
}

/// Ids of every stored document of a kind.
pub fn ids_of_kind(conn: &Connection, kind: &str) -> Result<Vec<DocId>, StoreError> {
    let mut stmt = conn.prepare("SELECT doc_id FROM docs WHERE kind = ?1 ORDER BY doc_id")?;
    let ids = stmt
        .query_map([kind], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    ids.into_iter()
        .map(|s| {
            DocId::parse(&s).map_err(|_| StoreError::Corrupt("a stored document id is malformed"))
        })
        .collect()
}

/// Documents worth compacting: at least `min_chunks` chunks, together at least as large as the snapshot.
/// The second rule makes compaction's cost (a full save) amortised constant per change however large
/// the document grows.
pub fn needing_compaction(
    conn: &Connection,
    min_chunks: u64,
    limit: u32,
) -> Result<Vec<DocId>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT doc_id FROM docs WHERE chunks >= ?1 AND chunk_bytes >= snapshot_bytes ORDER BY chunks DESC LIMIT ?2",
    )?;
    let ids = stmt
        .query_map(params![min_chunks, limit], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids
        .into_iter()
        .filter_map(|s| DocId::parse(&s).ok())
        .collect())
}

/// Compacts every stored document (the `compact` command); returns how many.
pub fn compact_all(conn: &Connection) -> Result<usize, StoreError> {
    let ids: Vec<String> = conn
        .prepare("SELECT doc_id FROM docs WHERE chunks > 0")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut n = 0;
    for id in ids {
        let Ok(id) = DocId::parse(&id) else { continue };
        let tx = conn.unchecked_transaction()?;
        if let Some(doc) = load(&tx, &id)? {
            compact(&tx, &id, &doc.save(), super::now_ms())?;
            n += 1;
        }
        tx.commit()?;
    }
    Ok(n)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crdt_schema::{
        automerge::ActorId,
        ids::ClinicId,
        queue::{IssueTicket, Issuer, QueueDay},
    };

    /// An empty queue day for storage tests.
    pub(in crate::store) fn new_day() -> QueueDay {
        QueueDay::create(
            &ClinicId::parse("pkm").unwrap(),
            time::macros::date!(2026 - 11 - 22),
            ActorId::random(),
        )
        .unwrap()
    }

    /// Issues one `umum` ticket at `at` and returns the change's bytes (one chunk).
    pub(in crate::store) fn issue(q: &mut QueueDay, at: i64) -> Vec<u8> {
        let req = IssueTicket {
            service: "umum".into(),
            prefix: "A".into(),
            priority: None,
            patient_id: None,
            origin: None,
        };
        let issuer = Issuer {
            by: "u".into(),
            node: "n".into(),
            slot: 0,
        };
        q.issue(&req, &issuer, at)
            .unwrap()
            .change
            .unwrap()
            .raw_bytes()
            .to_vec()
    }

    #[test]
    fn snapshot_plus_chunks_round_trip_and_compact() {
        let dir = tempfile::tempdir().unwrap();
        let (_, conn) = super::super::open_database(dir.path()).unwrap();
        let mut q = new_day();
        let id = q.doc_id();
        insert(&conn, &id, "queue_day", &q.save(), 1).unwrap();
        for i in 0..5 {
            let change = issue(&mut q, i);
            assert_eq!(append(&conn, &id, &change, i).unwrap(), i as u64 + 1);
        }
        let loaded = QueueDay::from_doc(load(&conn, &id).unwrap().unwrap()).unwrap();
        assert_eq!(loaded.state(), q.state());
        assert_eq!(needing_compaction(&conn, 5, 10).unwrap(), vec![id.clone()]);
        compact(&conn, &id, &q.save(), 9).unwrap();
        assert!(needing_compaction(&conn, 1, 10).unwrap().is_empty());
        // One small chunk after a larger snapshot is not worth a full save yet.
        let change = issue(&mut q, 10);
        append(&conn, &id, &change, 10).unwrap();
        assert!(needing_compaction(&conn, 1, 10).unwrap().is_empty());
        let loaded = QueueDay::from_doc(load(&conn, &id).unwrap().unwrap()).unwrap();
        assert_eq!(loaded.state(), q.state());
        assert!(
            load(&conn, &DocId::parse("clinic/none").unwrap())
                .unwrap()
                .is_none()
        );
    }
}
