//! Fuzz target: arbitrary bytes offered as a stored or synced document. Loading, reading it as any of the
//! schema's documents, deriving ticket statuses and checking invariants must never panic or hang.
#![no_main]

use crdt_schema::{
    clinic::Clinic,
    patient::{self, Patient},
    queue::{self, QueueDay, derive},
};
use libfuzzer_sys::fuzz_target;

static HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on every panic, even one caught on purpose: `crdt_schema::load` catches
    // automerge's own panics. A panic that escapes (ours) still aborts: the harness checks for it.
    HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    // The product loads outside bytes through `crdt_schema::load` (automerge itself can panic on some).
    let Ok(doc) = crdt_schema::load::load(data) else { return };
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
