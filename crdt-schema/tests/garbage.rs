//! Property tests: bytes from a disk or a peer that are random, or a valid document with bits flipped or
//! cut short, are refused or read without a panic (the fuzz targets in `fuzz/` explore the same path
//! with coverage guidance; this runs in every `cargo test`).

use crdt_schema::{
    automerge::{ActorId, Automerge},
    ids::ClinicId,
    patient::Patient,
    queue::{self, Action, IssueTicket, Issuer, QueueDay, derive},
};
use proptest::prelude::*;

fn valid_queue_bytes() -> Vec<u8> {
    let mut q = QueueDay::create(
        &ClinicId::parse("pkm").unwrap(),
        time::macros::date!(2026 - 11 - 22),
        ActorId::random(),
    )
    .unwrap();
    let issuer = Issuer {
        by: "u".into(),
        node: "n".into(),
        slot: 0,
    };
    for i in 0..3 {
        let req = IssueTicket {
            service: "umum".into(),
            prefix: "A".into(),
            priority: None,
            patient_id: None,
            origin: None,
        };
        let id = q.issue(&req, &issuer, i).unwrap().tickets.remove(0);
        q.apply(
            &id,
            &Action::Call {
                counter: "loket-1".into(),
            },
            &issuer,
            10 + i,
        )
        .unwrap();
    }
    q.save()
}

fn read_everything(bytes: &[u8]) {
    let Ok(doc) = Automerge::load(bytes) else {
        return;
    };
    if let Ok(q) = QueueDay::from_doc(doc.clone()) {
        let _ = queue::check_invariants(q.state());
        for t in q.state().tickets.values() {
            let _ = derive(t);
        }
    }
    if let Ok(p) = Patient::from_doc(doc) {
        let _ = p.conflicts();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        read_everything(&bytes);
    }

    #[test]
    fn damaged_documents_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut bytes = valid_queue_bytes();
        for (at, x) in flips {
            let i = at % bytes.len();
            bytes[i] ^= x;
        }
        let keep = cut % (bytes.len() + 1);
        read_everything(&bytes[..keep]);
        read_everything(&bytes);
    }
}
