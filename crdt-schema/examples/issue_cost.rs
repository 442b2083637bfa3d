//! Micro-benchmark: what one ticket costs in Automerge as the queue-day document grows, next to raw
//! commits of 1 and 8 operations, and a full save. Run: `cargo run --release -p crdt-schema --example issue_cost`.
use crdt_schema::{automerge::ActorId, ids::ClinicId, queue::*};
fn main() {
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
    let svcs = ["umum", "gigi", "kia", "apotek"];
    let mut t = std::time::Instant::now();
    for i in 0..8000 {
        let req = IssueTicket {
            service: svcs[i % 4].into(),
            prefix: "A".into(),
            priority: None,
            patient_id: None,
            origin: None,
        };
        let a = q.issue(&req, &issuer, i as i64).unwrap();
        std::hint::black_box(a.change.map(|c| c.raw_bytes().len()));
        if (i + 1) % 1000 == 0 {
            println!(
                "{} tickets: {:.1} us/issue",
                i + 1,
                t.elapsed().as_micros() as f64 / 1000.0
            );
            t = std::time::Instant::now();
        }
    }
    let t = std::time::Instant::now();
    for _ in 0..1000 {
        std::hint::black_box(q.doc().get_last_local_change());
    }
    println!(
        "get_last_local_change: {:.1} us",
        t.elapsed().as_micros() as f64 / 1000.0
    );
    let mut d = q.doc().clone();
    let t = std::time::Instant::now();
    for i in 0..1000 {
        use crdt_schema::automerge::transaction::Transactable;
        let mut tx = d.transaction();
        let o = tx
            .put_object(
                crdt_schema::automerge::ROOT,
                format!("k{i}"),
                crdt_schema::automerge::ObjType::Map,
            )
            .unwrap();
        for k in ["a", "b", "c", "d", "e", "f", "g"] {
            tx.put(&o, k, "v").unwrap();
        }
        tx.commit();
    }
    println!(
        "raw 8-op commit: {:.1} us",
        t.elapsed().as_micros() as f64 / 1000.0
    );
    let t = std::time::Instant::now();
    for i in 0..1000 {
        use crdt_schema::automerge::transaction::Transactable;
        let mut tx = d.transaction();
        tx.put(crdt_schema::automerge::ROOT, format!("s{i}"), "v")
            .unwrap();
        tx.commit();
    }
    println!(
        "raw 1-op commit: {:.1} us",
        t.elapsed().as_micros() as f64 / 1000.0
    );
    let mut small = crdt_schema::automerge::Automerge::new();
    let t = std::time::Instant::now();
    for i in 0..1000 {
        use crdt_schema::automerge::transaction::Transactable;
        let mut tx = small.transaction();
        let o = tx
            .put_object(
                crdt_schema::automerge::ROOT,
                format!("k{i}"),
                crdt_schema::automerge::ObjType::Map,
            )
            .unwrap();
        for k in ["a", "b", "c", "d", "e", "f", "g"] {
            tx.put(&o, k, "v").unwrap();
        }
        tx.commit();
    }
    println!(
        "raw 8-op commit on a fresh doc: {:.1} us",
        t.elapsed().as_micros() as f64 / 1000.0
    );
    let t = std::time::Instant::now();
    let n = q.save().len();
    println!("save: {} bytes in {:?}", n, t.elapsed());
}
