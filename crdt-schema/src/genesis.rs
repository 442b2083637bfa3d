//! The deterministic genesis change of every document, and the [`Replica`] wrapper that pairs an
//! Automerge document with its hydrated typed state.
//!
//! Two replicas that create the same document on their own (a patient registered offline at two clinics,
//! a queue day opened by two nodes of one clinic) must share the objects their fields live in, or the
//! nested maps created separately become conflicting objects where one wins whole. So every document
//! begins with the same first change: actor id derived from the document id, time 0, a fixed message and
//! the same operations creating the same empty structure. Both sides produce the byte-identical change, and
//! everything after it merges key by key.
//!
//! **Invariant:** the genesis of a kind never changes once shipped; a new shape is a new schema version
//! whose upgrade is an ordinary change on top of the old genesis.

use automerge::{
    ActorId, Automerge, Change, ObjType, ROOT, ScalarValue, transaction::Transactable,
};

use crate::{
    DocError,
    ids::{DocId, DocKind, derived_16},
};

/// The schema version written by genesis.
pub const SCHEMA_VERSION: u64 = 1;

/// The actor id of a document's genesis change.
pub fn genesis_actor(doc_id: &DocId) -> ActorId {
    ActorId::from(derived_16(&format!("clinic-edge/genesis/v1/{doc_id}")).as_slice())
}

/// Creates a document holding only its genesis change, with `actor` set for the changes that follow.
pub fn genesis(doc_id: &DocId, actor: ActorId) -> Result<Automerge, DocError> {
    let kind = doc_id.kind().ok_or_else(|| DocError::WrongKind {
        expected: "known",
        found: None,
    })?;
    let mut doc = Automerge::new().with_actor(genesis_actor(doc_id));
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| {
            automerge::transaction::CommitOptions::default()
                .with_time(0)
                .with_message("genesis")
        },
        |tx| {
            tx.put(ROOT, "schema", ScalarValue::Uint(SCHEMA_VERSION))?;
            tx.put(ROOT, "kind", kind.as_str())?;
            tx.put(ROOT, "id", doc_id.as_str())?;
            match kind {
                DocKind::Patient => {
                    tx.put_object(ROOT, "fields", ObjType::Map)?;
                    tx.put_object(ROOT, "registration", ObjType::Map)?;
                    tx.put_object(ROOT, "privacy", ObjType::Map)?;
                }
                DocKind::QueueDay => {
                    let (clinic, date) = doc_id.queue_day_parts().expect("kind checked above");
                    tx.put(ROOT, "clinic", clinic.as_str())?;
                    tx.put(ROOT, "date", crate::ids::format_date(date))?;
                    tx.put_object(ROOT, "tickets", ObjType::Map)?;
                }
                DocKind::Clinic => {
                    for map in [
                        "services",
                        "counters",
                        "opening_hours",
                        "priority_policy",
                        "display",
                    ] {
                        tx.put_object(ROOT, map, ObjType::Map)?;
                    }
                }
            }
            Ok(())
        },
    )
    .map_err(|f| f.error)?;
    doc.set_actor(actor);
    Ok(doc)
}

/// Reads the `kind` a document declares at its root.
pub fn doc_kind(doc: &Automerge) -> Option<String> {
    use automerge::ReadDoc;
    match doc.get(ROOT, "kind").ok()?? {
        (automerge::Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Checks that a loaded document is of the expected kind.
pub fn expect_kind(doc: &Automerge, expected: DocKind) -> Result<(), DocError> {
    match doc_kind(doc) {
        Some(k) if k == expected.as_str() => Ok(()),
        found => Err(DocError::WrongKind {
            expected: expected.as_str(),
            found,
        }),
    }
}

/// Commits one local change made by `f` with the given time and message, returning `f`'s result and the
/// change (whose raw bytes are what gets persisted and synced). Nothing is committed when `f` fails.
pub fn commit<R, E>(
    doc: &mut Automerge,
    now_ms: i64,
    message: &str,
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<R, E>,
) -> Result<(R, Option<Change>), E> {
    let heads = doc.get_heads();
    let result = doc
        .transact_with(
            |_| {
                automerge::transaction::CommitOptions::default()
                    .with_time(now_ms)
                    .with_message(message)
            },
            f,
        )
        .map_err(|f| f.error)?;
    // A change that wrote nothing (every value already equal) is not recorded by automerge.
    let change = if doc.get_heads() == heads {
        None
    } else {
        doc.get_last_local_change()
    };
    Ok((result.result, change))
}

/// The document's changes in a canonical order: topological, ties broken by the smaller change hash.
///
/// Automerge's `save()` writes changes in the order a replica applied them, so two replicas holding the
/// same set of changes may save different bytes. Applying the canonical order to a fresh document and
/// saving gives the same bytes everywhere: [`canonical_save`].
pub fn canonical_changes(doc: &Automerge) -> Vec<Change> {
    use std::collections::{BTreeMap, BTreeSet};
    let changes = doc.get_changes(&[]);
    let present: BTreeSet<_> = changes.iter().map(|c| c.hash()).collect();
    let mut waiting: BTreeMap<automerge::ChangeHash, usize> = BTreeMap::new();
    let mut children: BTreeMap<automerge::ChangeHash, Vec<automerge::ChangeHash>> = BTreeMap::new();
    let mut by_hash = BTreeMap::new();
    for c in changes {
        let deps: Vec<_> = c
            .deps()
            .iter()
            .filter(|d| present.contains(d))
            .copied()
            .collect();
        waiting.insert(c.hash(), deps.len());
        for d in deps {
            children.entry(d).or_default().push(c.hash());
        }
        by_hash.insert(c.hash(), c);
    }
    let mut ready: BTreeSet<_> = waiting
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(h, _)| *h)
        .collect();
    let mut out = Vec::with_capacity(by_hash.len());
    while let Some(h) = ready.pop_first() {
        for child in children.get(&h).into_iter().flatten() {
            let n = waiting.get_mut(child).expect("every child is a change");
            *n -= 1;
            if *n == 0 {
                ready.insert(*child);
            }
        }
        out.push(by_hash.remove(&h).expect("each hash once"));
    }
    out
}

/// Saves the document with its changes in the canonical order: equal change sets give equal bytes.
pub fn canonical_save(doc: &Automerge) -> Result<Vec<u8>, DocError> {
    let mut fresh = Automerge::new();
    fresh.apply_changes(canonical_changes(doc))?;
    Ok(fresh.save())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_is_identical_on_every_replica() {
        let id = DocId::parse("queue/pkm-a/2026-11-22").unwrap();
        let a = genesis(&id, ActorId::random()).unwrap();
        let b = genesis(&id, ActorId::random()).unwrap();
        assert_eq!(a.get_heads(), b.get_heads());
        assert_eq!(a.save(), b.save());
        let other = genesis(
            &DocId::parse("queue/pkm-a/2026-11-23").unwrap(),
            ActorId::random(),
        )
        .unwrap();
        assert_ne!(a.get_heads(), other.get_heads());
        assert_eq!(doc_kind(&a).as_deref(), Some("queue_day"));
        assert!(expect_kind(&a, DocKind::Patient).is_err());
    }
}
