//! Fuzz target: arbitrary bytes offered as a stored or synced document. Loading, reading it as any of the
//! schema's documents, deriving ticket statuses and checking invariants must never panic or hang.
#![no_main]

use crdt_schema::{
    automerge::Automerge,
    clinic::Clinic,
    patient::{self, Patient},
    queue::{self, QueueDay, derive},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = Automerge::load(data) else { return };
    if let Ok(q) = QueueDay::from_doc(doc.clone()) {
        let _ = queue::check_invariants(q.state());
        for t in q.state().tickets.values() {
            let _ = derive(t);
            let _ = queue::ticket_conflicts(t);
        }
    }
    if let Ok(p) = Patient::from_doc(doc.clone()) {
        let _ = patient::check_invariants(p.state());
        let _ = p.conflicts();
    }
    if let Ok(c) = Clinic::from_doc(doc) {
        let _ = c.config().validate();
    }
});
