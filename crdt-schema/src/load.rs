//! Loading Automerge bytes that come from outside the process (the database, a peer, a file).
//!
//! automerge 0.12 can panic on malformed input instead of returning an error: fuzzing found an `unwrap`
//! in its column decoder (hexane's LEB128 reader) reached from `Automerge::load` on a few hundred
//! corrupted bytes. A panic there would take the writer thread (and with it the node) down, so every load
//! of outside bytes goes through these functions, which run automerge under `catch_unwind` and turn a
//! panic into [`DocError::Undecodable`].
//!
//! Fuzzing also found a few hundred bytes that make `Automerge::load` ask for 4 GiB: a run-length column
//! in a *bundle* chunk expanded without bound. Clinic Edge writes only document, change and compressed
//! change chunks, so the byte stream's chunk headers are checked first and any other chunk type is
//! refused before automerge sees it.

use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::Automerge;

use crate::DocError;

/// The magic bytes that open every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Chunk types Clinic Edge writes and reads: document, change, compressed change.
const ACCEPTED_CHUNKS: [u8; 3] = [0, 1, 2];

/// Walks the chunk headers (magic, checksum, type, LEB128 length) and refuses a stream that is cut
/// short or holds a chunk type Clinic Edge never writes.
fn check_chunks(mut bytes: &[u8]) -> Result<(), DocError> {
    while !bytes.is_empty() {
        if bytes.len() < 9 || bytes[..4] != MAGIC {
            return Err(DocError::Undecodable);
        }
        if !ACCEPTED_CHUNKS.contains(&bytes[8]) {
            return Err(DocError::UnsupportedChunk(bytes[8]));
        }
        let mut len: u64 = 0;
        let mut i = 9;
        loop {
            let b = *bytes.get(i).ok_or(DocError::Undecodable)?;
            if i - 9 >= 10 {
                return Err(DocError::Undecodable);
            }
            len |= u64::from(b & 0x7f) << (7 * (i - 9));
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(i))
            .filter(|&e| e <= bytes.len())
            .ok_or(DocError::Undecodable)?;
        bytes = &bytes[end..];
    }
    Ok(())
}

/// Loads a saved document (or concatenated changes) from bytes of unknown quality.
pub fn load(bytes: &[u8]) -> Result<Automerge, DocError> {
    check_chunks(bytes)?;
    match catch_unwind(|| Automerge::load(bytes)) {
        Ok(r) => Ok(r?),
        Err(_) => Err(DocError::Undecodable),
    }
}

/// Applies saved changes to `doc`. On any error `doc` is left exactly as it was (a panic inside
/// automerge could leave a half-applied document, so the changes are applied to a copy first).
pub fn load_incremental(doc: &mut Automerge, bytes: &[u8]) -> Result<usize, DocError> {
    check_chunks(bytes)?;
    let mut copy = doc.clone();
    match catch_unwind(AssertUnwindSafe(|| copy.load_incremental(bytes))) {
        Ok(Ok(n)) => {
            *doc = copy;
            Ok(n)
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(DocError::Undecodable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input the fuzzer found (`crdt-schema/fuzz`, target `document_bytes`): automerge panics on it.
    const PANICS_AUTOMERGE: &str = "hW9Kg1ZBgAEDfgEAfm5maWd8cmUHACMUAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDIwPEWi54AwMDAwMDAwMDyyM1En5uZmlnfHJlBwAKFAMDAwMDAwMDAwMDAwMDAwMDA3guWsQNxckqXIVvSlyDVkGAAQN+";

    /// The input that made automerge allocate 4 GiB (same target): a bundle chunk.
    const EXHAUSTS_MEMORY: &str = "hW9Kg1ZBgAEDfgEGfm7maWd8cmUHACMUAwMJCQMDAwMDABADAwMDAwMDfgMDAwMDAwMDAwM/AwMDAwMDAwMDA6MDAwMDAwMDAwMDAwMjIwNyO3qGoQIx2r2ijQRUVVWqqqqqCnguWsQQlKiAfTk2IAcSWKBv54WQNUrYg1ALerxOX9AqqmcTzC3lLYthL5ZQksfCqeJWI7F0Og==";

    #[test]
    fn bytes_that_broke_automerge_are_an_error() {
        for input in [PANICS_AUTOMERGE, EXHAUSTS_MEMORY] {
            let bytes = data_encoding::BASE64.decode(input.as_bytes()).unwrap();
            assert!(load(&bytes).is_err());
        }
        let bytes = data_encoding::BASE64
            .decode(PANICS_AUTOMERGE.as_bytes())
            .unwrap();
        // Past the chunk check (a change chunk header), automerge's panic is still caught.
        let mut forged = bytes.clone();
        forged[8] = 1;
        assert!(load(&forged).is_err());
        let mut doc = Automerge::new();
        let before = doc.save();
        assert!(load_incremental(&mut doc, &bytes).is_err());
        assert_eq!(
            doc.save(),
            before,
            "a failed load left the document changed"
        );
    }

    #[test]
    fn good_bytes_load() {
        let mut a = Automerge::new();
        let mut tx = a.transaction();
        automerge::transaction::Transactable::put(&mut tx, automerge::ROOT, "k", 1_i64).unwrap();
        tx.commit();
        let loaded = load(&a.save()).unwrap();
        assert_eq!(loaded.get_heads(), a.get_heads());
        let mut b = Automerge::new();
        assert_eq!(load_incremental(&mut b, &a.save()).unwrap(), 1);
        assert_eq!(b.get_heads(), a.get_heads());
        // A document followed by changes is one stream; cut short, it is refused.
        let mut stream = a.save();
        stream.extend(a.get_last_local_change().unwrap().raw_bytes());
        assert!(load(&stream).is_ok());
        assert!(load(&stream[..stream.len() - 1]).is_err());
    }
}
