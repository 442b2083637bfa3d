//! Cross-crate scenarios: what two real nodes stored on their own merges into one well-formed state.

use axum::http::{Method, StatusCode};
use crdt_schema::{
    automerge::Automerge,
    ids::DocId,
    patient::Patient,
    queue::{self, QueueDay},
};
use serde_json::json;
use tests::TestNode;

fn load_doc(db: &std::path::Path, id: &str) -> Automerge {
    let conn = rusqlite::Connection::open(db).unwrap();
    let id = DocId::parse(id).unwrap();
    clinic_node::store::docs::load(&conn, &id)
        .unwrap()
        .expect("document stored")
}

#[tokio::test]
async fn two_nodes_of_one_clinic_cut_off_from_each_other_merge_without_duplicate_numbers() {
    let a = TestNode::start("pkm-sukamaju", 0).await;
    let b = TestNode::start("pkm-sukamaju", 1).await;
    let mut issued = Vec::new();
    for i in 0..6 {
        let node = if i % 2 == 0 { &a } else { &b };
        let service = ["umum", "gigi"][i % 2];
        let (s, t) = node
            .call(
                Method::POST,
                "/api/v1/queue/tickets",
                Some(json!({"service": service})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        issued.push(t["id"].as_str().unwrap().to_owned());
    }
    // Both register the same person on their own: one patient id, one merged record.
    let (_, pa) = a
        .call(
            Method::POST,
            "/api/v1/patients",
            Some(json!({"nik":"3507224903820003","name":"Siti Aminah","phone":"081234567890"})),
        )
        .await;
    let (_, pb) = b.call(Method::POST, "/api/v1/patients", Some(json!({"nik":"3507224903820003","name":"Siti Aminah","occupation":"Petani/Pekebun"}))).await;
    assert_eq!(
        pa["id"], pb["id"],
        "the same NIK gives the same patient id on every node"
    );
    let (_, q) = a.call(Method::GET, "/api/v1/queue", None).await;
    let date = q["date"].as_str().unwrap().to_owned();
    let qid = format!("queue/pkm-sukamaju/{date}");
    let pid = format!("patient/{}", pa["id"].as_str().unwrap());
    let (da, db) = (a.db_path(), b.db_path());
    let _keep = (a.stop().await, b.stop().await);

    let mut merged = load_doc(&da, &qid);
    merged.merge(&mut load_doc(&db, &qid)).unwrap();
    let day = QueueDay::from_doc(merged).unwrap();
    assert!(
        queue::check_invariants(day.state()).is_empty(),
        "{:?}",
        queue::check_invariants(day.state())
    );
    for id in &issued {
        assert!(day.ticket(id).is_some(), "ticket {id} survived the merge");
    }
    let mut displays: Vec<&str> = day
        .state()
        .tickets
        .values()
        .map(|t| t.display.as_str())
        .collect();
    displays.sort();
    assert_eq!(
        displays,
        ["A-001", "A-002", "A-003", "B-10001", "B-10002", "B-10003"]
    );

    let mut patient = load_doc(&da, &pid);
    patient.merge(&mut load_doc(&db, &pid)).unwrap();
    let p = Patient::from_doc(patient).unwrap();
    assert_eq!(p.state().fields.phone.as_deref(), Some("081234567890"));
    assert_eq!(
        p.state().fields.occupation.as_deref(),
        Some("PETANI/PEKEBUN")
    );
    assert!(
        p.conflicts().is_empty(),
        "equal names are not a conflict: {:?}",
        p.conflicts()
    );
}
