//! Unit tests of the ticket lattice, numbering, ordering and the queue-day document.

use super::*;
use time::macros::date;

fn day() -> QueueDay {
    QueueDay::create(
        &ClinicId::parse("pkm").unwrap(),
        date!(2026 - 11 - 22),
        ActorId::random(),
    )
    .unwrap()
}

fn issuer(slot: u32) -> Issuer {
    Issuer {
        by: "usr_op".into(),
        node: format!("node-{slot}"),
        slot,
    }
}

fn req(service: &str, prefix: &str, priority: Option<PriorityGroup>) -> IssueTicket {
    IssueTicket {
        service: service.into(),
        prefix: prefix.into(),
        priority,
        patient_id: None,
        origin: None,
    }
}

fn issue(q: &mut QueueDay, service: &str, priority: Option<PriorityGroup>, at: i64) -> String {
    q.issue(&req(service, "A", priority), &issuer(0), at)
        .unwrap()
        .tickets
        .remove(0)
}

fn status(q: &QueueDay, id: &str) -> Status {
    derive(q.ticket(id).unwrap()).status
}

#[test]
fn numbers_count_up_per_service_and_slot() {
    let mut q = day();
    let a1 = issue(&mut q, "umum", None, 1);
    let a2 = issue(&mut q, "umum", None, 2);
    let b1 = q
        .issue(&req("gigi", "B", None), &issuer(0), 3)
        .unwrap()
        .tickets[0]
        .clone();
    let s1 = q
        .issue(&req("umum", "A", None), &issuer(1), 4)
        .unwrap()
        .tickets[0]
        .clone();
    assert_eq!(q.ticket(&a1).unwrap().display, "A-001");
    assert_eq!(q.ticket(&a2).unwrap().display, "A-002");
    assert_eq!(q.ticket(&b1).unwrap().display, "B-001");
    assert_eq!(q.ticket(&s1).unwrap().number, 10_001);
    assert!(check_invariants(q.state()).is_empty());
}

#[test]
fn the_whole_life_of_a_ticket() {
    let mut q = day();
    let t = issue(&mut q, "umum", None, 1);
    assert_eq!(status(&q, &t), Status::Waiting);
    let call = Action::Call {
        counter: "loket-1".into(),
    };
    q.apply(&t, &call, &issuer(0), 2).unwrap();
    assert_eq!(status(&q, &t), Status::Called);
    q.apply(&t, &Action::Recall, &issuer(0), 3).unwrap();
    q.apply(&t, &Action::Recall, &issuer(0), 4).unwrap();
    assert_eq!(derive(q.ticket(&t).unwrap()).recalls, 2);
    q.apply(&t, &Action::Skip, &issuer(0), 5).unwrap();
    assert_eq!(status(&q, &t), Status::Skipped);
    q.apply(
        &t,
        &Action::Call {
            counter: "loket-2".into(),
        },
        &issuer(0),
        6,
    )
    .unwrap();
    let d = derive(q.ticket(&t).unwrap());
    assert_eq!(
        (d.status, d.round, d.recalls, d.counter.as_deref()),
        (Status::Called, 2, 0, Some("loket-2"))
    );
    q.apply(&t, &Action::Start { counter: None }, &issuer(0), 7)
        .unwrap();
    assert_eq!(status(&q, &t), Status::Serving);
    let next = NextService {
        service: "apotek".into(),
        prefix: "F".into(),
    };
    let applied = q
        .apply(&t, &Action::Complete { next: Some(next) }, &issuer(0), 8)
        .unwrap();
    assert_eq!(status(&q, &t), Status::Done);
    let follow = &applied.tickets[1];
    let ft = q.ticket(follow).unwrap();
    assert_eq!(
        (ft.display.as_str(), ft.origin.as_deref()),
        ("F-001", Some(t.as_str()))
    );
    assert_eq!(
        derive(q.ticket(&t).unwrap()).next_ticket.as_deref(),
        Some(follow.as_str())
    );
    assert!(check_invariants(q.state()).is_empty());
    // The in-memory state equals a fresh read of the document.
    let fresh = QueueDay::from_doc(automerge::Automerge::load(&q.save()).unwrap()).unwrap();
    assert_eq!(fresh.state(), q.state());
}

#[test]
fn illegal_transitions_are_refused_and_change_nothing() {
    let mut q = day();
    let t = issue(&mut q, "umum", None, 1);
    let heads = q.doc().get_heads();
    for a in [
        Action::Recall,
        Action::Start { counter: None },
        Action::Complete { next: None },
        Action::Skip,
        Action::NoShow,
    ] {
        let e = q.apply(&t, &a, &issuer(0), 2).unwrap_err();
        assert!(
            matches!(
                e,
                QueueError::IllegalTransition {
                    from: Status::Waiting,
                    ..
                }
            ),
            "{a:?}: {e}"
        );
    }
    q.apply(
        &t,
        &Action::Cancel {
            reason: "patient_left".into(),
        },
        &issuer(0),
        3,
    )
    .unwrap();
    let e = q
        .apply(&t, &Action::Complete { next: None }, &issuer(0), 4)
        .unwrap_err();
    assert_eq!(e.to_string(), "a cancelled ticket cannot be complete");
    assert!(matches!(
        q.apply(&t, &Action::Cancel { reason: "x".into() }, &issuer(0), 5),
        Err(QueueError::IllegalTransition { .. })
    ));
    let t2 = issue(&mut q, "umum", None, 6);
    let heads2 = q.doc().get_heads();
    assert!(matches!(
        q.apply(
            &t2,
            &Action::Cancel {
                reason: "because".into()
            },
            &issuer(0),
            7
        ),
        Err(QueueError::BadCancelReason)
    ));
    assert_eq!(q.doc().get_heads(), heads2);
    assert_ne!(heads, heads2);
    assert!(matches!(
        q.apply("tkt_00", &Action::Recall, &issuer(0), 8),
        Err(QueueError::UnknownTicket(_))
    ));
}

#[test]
fn precedence_decides_concurrent_outcomes() {
    let mut a = day();
    let t = issue(&mut a, "umum", None, 1);
    a.apply(
        &t,
        &Action::Call {
            counter: "loket-1".into(),
        },
        &issuer(0),
        2,
    )
    .unwrap();
    let mut b = QueueDay::from_doc(a.doc().fork()).unwrap();
    a.apply(&t, &Action::Complete { next: None }, &issuer(0), 3)
        .unwrap();
    b.apply(
        &t,
        &Action::Cancel {
            reason: "patient_left".into(),
        },
        &issuer(1),
        4,
    )
    .unwrap();
    let mut bd = b.doc().clone();
    a.merge(&mut bd).unwrap();
    assert_eq!(status(&a, &t), Status::Done);
    assert_eq!(
        ticket_conflicts(a.ticket(&t).unwrap()),
        vec!["finished_differently"]
    );
}

#[test]
fn priority_policy_orders_and_limits_streaks() {
    let mut q = day();
    let policy = PriorityPolicy {
        order: vec![PriorityGroup::Darurat, PriorityGroup::Lansia],
        max_consecutive: 2,
    };
    let plain1 = issue(&mut q, "umum", None, 1);
    let plain2 = issue(&mut q, "umum", None, 2);
    let lansia = issue(&mut q, "umum", Some(PriorityGroup::Lansia), 3);
    let darurat = issue(&mut q, "umum", Some(PriorityGroup::Darurat), 4);
    let anak = issue(&mut q, "umum", Some(PriorityGroup::Anak), 5); // not in the policy: ordinary
    let order: Vec<&str> = q
        .waiting("umum", &policy)
        .into_iter()
        .map(|w| w.0)
        .collect();
    assert_eq!(
        order,
        [
            darurat.as_str(),
            lansia.as_str(),
            plain1.as_str(),
            plain2.as_str(),
            anak.as_str()
        ]
    );
    let mut called = Vec::new();
    for i in 0..5 {
        let next = q.next_to_call("umum", &policy).unwrap().to_owned();
        q.apply(
            &next,
            &Action::Call {
                counter: "loket-1".into(),
            },
            &issuer(0),
            10 + i,
        )
        .unwrap();
        called.push(next);
    }
    // Two priority tickets in a row, then an ordinary one must go.
    assert_eq!(called, [darurat, lansia, plain1, plain2, anak]);
    let lansia2 = issue(&mut q, "umum", Some(PriorityGroup::Lansia), 20);
    let lansia3 = issue(&mut q, "umum", Some(PriorityGroup::Lansia), 21);
    let plain3 = issue(&mut q, "umum", None, 22);
    for (i, want) in [lansia2, lansia3, plain3].iter().enumerate() {
        let next = q.next_to_call("umum", &policy).unwrap().to_owned();
        assert_eq!(&next, want, "call {i}");
        q.apply(
            &next,
            &Action::Call {
                counter: "loket-1".into(),
            },
            &issuer(0),
            30 + i as i64,
        )
        .unwrap();
    }
    assert!(q.next_to_call("umum", &policy).is_none());
}

#[test]
fn one_operation_per_ticket_and_per_transition() {
    let mut q = day();
    let a = q.issue(&req("umum", "A", None), &issuer(0), 1).unwrap();
    assert_eq!(a.change.unwrap().len(), 1, "issuing writes one record");
    let id = a.tickets[0].clone();
    let c = q
        .apply(
            &id,
            &Action::Call {
                counter: "loket-1".into(),
            },
            &issuer(0),
            2,
        )
        .unwrap();
    assert_eq!(c.change.unwrap().len(), 1, "a transition writes one record");
    // The stored form reads back to exactly the state kept in memory.
    let again = QueueDay::from_doc(q.doc().clone()).unwrap();
    assert_eq!(again.state(), q.state());
    assert_eq!(status(&again, &id), Status::Called);
}

#[test]
fn unreadable_records_are_listed_not_fatal() {
    let mut q = day();
    let id = issue(&mut q, "umum", None, 1);
    let mut doc = q.doc().clone();
    let (_, tickets) = read_state(&doc).unwrap();
    let mut tx = doc.transaction();
    tx.put(&tickets, "tkt_broken", "{not json").unwrap();
    tx.put(
        &tickets,
        "tkt_gone/0000",
        record(&Transition {
            kind: "call".into(),
            round: 1,
            at: 2,
            counter: None,
            by: "usr_op".into(),
            reason: None,
            next_ticket: None,
        }),
    )
    .unwrap();
    tx.put(&tickets, format!("{id}/x"), 42_i64).unwrap();
    tx.commit();
    let q = QueueDay::from_doc(doc).unwrap();
    let mut unreadable = q.state().unreadable.clone();
    unreadable.sort();
    let mut expected = vec![
        "tkt_broken".to_string(),
        format!("{id}/x"),
        "tkt_gone/0000".into(),
    ];
    expected.sort();
    assert_eq!(unreadable, expected);
    assert_eq!(
        status(&q, &id),
        Status::Waiting,
        "the good ticket still reads"
    );
    let bad: Vec<_> = check_invariants(q.state())
        .into_iter()
        .filter(|v| {
            matches!(
                v,
                QueueViolation::BadTicket {
                    why: "unreadable record",
                    ..
                }
            )
        })
        .collect();
    assert_eq!(bad.len(), 3);
}
