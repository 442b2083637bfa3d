//! Property tests: random operations on two or three replicas, merged in any order, converge to
//! byte-identical documents with the same derived statuses, and the invariants hold after every merge.

use automerge::{ActorId, Automerge};
use crdt_schema::{
    genesis::canonical_save,
    ids::{ClinicId, DeploymentSecret},
    nik::Nik,
    patient::{self, Patient, PatientFields, Registration},
    queue::{self, Action, IssueTicket, Issuer, PriorityGroup, QueueDay, derive},
};
use proptest::prelude::*;
use time::macros::date;

#[derive(Debug, Clone)]
enum Op {
    Issue {
        replica: usize,
        service: u8,
        priority: Option<u8>,
    },
    Act {
        replica: usize,
        pick: usize,
        action: u8,
        counter: u8,
    },
    Sync {
        from: usize,
        to: usize,
    },
}

fn op(replicas: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..replicas, 0u8..2, proptest::option::of(0u8..5)).prop_map(|(replica, service, priority)| Op::Issue { replica, service, priority }),
        6 => (0..replicas, any::<usize>(), 0u8..8, 0u8..2).prop_map(|(replica, pick, action, counter)| Op::Act { replica, pick, action, counter }),
        2 => (0..replicas, 0..replicas).prop_map(|(from, to)| Op::Sync { from, to }),
    ]
}

fn action(code: u8, counter: u8) -> Action {
    let counter = format!("loket-{counter}");
    match code {
        0 => Action::Call { counter },
        1 => Action::Recall,
        2 => Action::Start {
            counter: Some(counter),
        },
        3 => Action::Complete { next: None },
        4 => Action::Complete {
            next: Some(queue::NextService {
                service: "apotek".into(),
                prefix: "F".into(),
            }),
        },
        5 => Action::Skip,
        6 => Action::NoShow,
        _ => Action::Cancel {
            reason: "patient_left".into(),
        },
    }
}

fn run_queue(replicas: usize, ops: &[Op], merge_order: &[usize]) -> Result<(), TestCaseError> {
    let clinic = ClinicId::parse("pkm").unwrap();
    let mut reps: Vec<QueueDay> = (0..replicas)
        .map(|_| QueueDay::create(&clinic, date!(2026 - 11 - 22), ActorId::random()).unwrap())
        .collect();
    let mut now = 1_000;
    for op in ops {
        now += 1;
        match op {
            Op::Issue {
                replica,
                service,
                priority,
            } => {
                let (svc, prefix) = if *service == 0 {
                    ("umum", "A")
                } else {
                    ("gigi", "B")
                };
                let req = IssueTicket {
                    service: svc.into(),
                    prefix: prefix.into(),
                    priority: priority.map(|p| PriorityGroup::ALL[p as usize]),
                    patient_id: None,
                    origin: None,
                };
                let issuer = Issuer {
                    by: "u".into(),
                    node: format!("n{replica}"),
                    slot: *replica as u32,
                };
                reps[*replica].issue(&req, &issuer, now).unwrap();
            }
            Op::Act {
                replica,
                pick,
                action: a,
                counter,
            } => {
                let r = &mut reps[*replica];
                let ids: Vec<String> = r.state().tickets.keys().cloned().collect();
                if ids.is_empty() {
                    continue;
                }
                let id = &ids[pick % ids.len()];
                let issuer = Issuer {
                    by: "u".into(),
                    node: format!("n{replica}"),
                    slot: *replica as u32,
                };
                let before = r.doc().get_heads();
                match r.apply(id, &action(*a, *counter), &issuer, now) {
                    Ok(_) => {}
                    // A refused command changes nothing.
                    Err(_) => prop_assert_eq!(r.doc().get_heads(), before),
                }
            }
            Op::Sync { from, to } if from != to => {
                let mut src = reps[*from].doc().clone();
                reps[*to].merge(&mut src).unwrap();
                prop_assert!(
                    queue::check_invariants(reps[*to].state()).is_empty(),
                    "{:?}",
                    queue::check_invariants(reps[*to].state())
                );
            }
            Op::Sync { .. } => {}
        }
    }
    // The waiting index answers positions in exactly the calling order, on every replica.
    let policy = queue::PriorityPolicy::default();
    for r in &reps {
        for service in ["umum", "gigi"] {
            let order: Vec<&str> = r
                .waiting(service, &policy)
                .into_iter()
                .map(|w| w.0)
                .collect();
            for (i, id) in order.iter().enumerate() {
                prop_assert_eq!(r.position(id, &policy), Some(i as u64 + 1));
            }
        }
        for (id, t) in &r.state().tickets {
            if derive(t).status != queue::Status::Waiting {
                prop_assert_eq!(r.position(id, &policy), None);
            }
        }
    }
    // Merge everything into each replica, in a different order for each.
    let docs: Vec<Automerge> = reps.iter().map(|r| r.doc().clone()).collect();
    let mut finals = Vec::new();
    for start in 0..replicas {
        let mut doc = docs[merge_order[start] % replicas].clone();
        for k in 0..replicas {
            let mut other = docs[(merge_order[start] + k * (start + 1)) % replicas].clone();
            doc.merge(&mut other).unwrap();
        }
        for other in &docs {
            doc.merge(&mut other.clone()).unwrap();
        }
        finals.push(QueueDay::from_doc(doc).unwrap());
    }
    let first = &finals[0];
    for f in &finals[1..] {
        prop_assert_eq!(
            canonical_save(f.doc()).unwrap(),
            canonical_save(first.doc()).unwrap()
        );
        prop_assert_eq!(f.state(), first.state());
    }
    prop_assert!(
        queue::check_invariants(first.state()).is_empty(),
        "{:?}",
        queue::check_invariants(first.state())
    );
    let statuses: Vec<_> = first
        .state()
        .tickets
        .values()
        .map(|t| derive(t).status)
        .collect();
    let reloaded = QueueDay::from_doc(Automerge::load(&first.save()).unwrap()).unwrap();
    prop_assert_eq!(
        reloaded
            .state()
            .tickets
            .values()
            .map(|t| derive(t).status)
            .collect::<Vec<_>>(),
        statuses
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn queue_replicas_converge(replicas in 2usize..=3, ops in proptest::collection::vec(op(3), 1..60), order in proptest::collection::vec(0usize..3, 3)) {
        let ops: Vec<Op> = ops.into_iter().map(|o| match o {
            Op::Issue { replica, service, priority } => Op::Issue { replica: replica % replicas, service, priority },
            Op::Act { replica, pick, action, counter } => Op::Act { replica: replica % replicas, pick, action, counter },
            Op::Sync { from, to } => Op::Sync { from: from % replicas, to: to % replicas },
        }).collect();
        run_queue(replicas, &ops, &order)?;
    }

    #[test]
    fn patient_registered_offline_at_several_places_converges(
        names in proptest::collection::vec("[A-Z]{3,8}( [A-Z]{3,8})?", 2..=3),
        phones in proptest::collection::vec(proptest::option::of("08[0-9]{8,10}"), 3),
        edits in proptest::collection::vec((0usize..3, "[A-Z]{3,8}"), 0..6),
    ) {
        let secret = DeploymentSecret::from_bytes([3; 32]);
        let nik = Nik::parse("3507224903820003").unwrap();
        let id = secret.patient_id(&nik);
        let n = names.len();
        let mut reps: Vec<Patient> = names.iter().enumerate().map(|(i, name)| {
            let mut f = PatientFields { name: Some(name.clone()), phone: phones[i].clone(), ..Default::default() };
            patient::normalise_and_validate(&mut f, &nik, 2026).unwrap();
            let reg = Registration { clinic: Some(format!("pkm-{i}")), node: Some(format!("n{i}")), at: Some(i as i64) };
            Patient::create(&id, ActorId::random(), &f, reg, 10 + i as i64).unwrap().0
        }).collect();
        for (k, (r, occupation)) in edits.iter().enumerate() {
            let patch = PatientFields { occupation: Some(occupation.clone()), ..Default::default() };
            reps[r % n].update(&patch, 100 + k as i64).unwrap();
        }
        let docs: Vec<Automerge> = reps.iter().map(|r| r.doc().clone()).collect();
        for r in reps.iter_mut() {
            for d in docs.iter().rev() {
                r.merge(&mut d.clone()).unwrap();
            }
        }
        let first = canonical_save(reps[0].doc()).unwrap();
        for r in &reps[1..] {
            prop_assert_eq!(canonical_save(r.doc()).unwrap(), first.clone());
            prop_assert_eq!(r.state(), reps[0].state());
        }
        let s = reps[0].state();
        // Every field of every registration is reachable: the shared genesis made one `fields` object.
        prop_assert_eq!(s.fields.nik.as_deref(), Some("3507224903820003"));
        prop_assert!(names.contains(s.fields.name.as_ref().unwrap()));
        prop_assert_eq!(s.fields.birth_date.as_deref(), Some("1982-03-09"));
        if phones.iter().take(n).any(Option::is_some) {
            prop_assert!(s.fields.phone.is_some());
        }
        let distinct: std::collections::BTreeSet<_> = names.iter().collect();
        let name_conflict = reps[0].conflicts().iter().any(|c| c.field == "name");
        prop_assert_eq!(name_conflict, distinct.len() > 1);
        prop_assert!(patient::check_invariants(s).is_empty());
    }
}

#[test]
fn queue_days_opened_independently_share_their_ticket_map() {
    let clinic = ClinicId::parse("pkm").unwrap();
    let mut a = QueueDay::create(&clinic, date!(2026 - 11 - 22), ActorId::random()).unwrap();
    let mut b = QueueDay::create(&clinic, date!(2026 - 11 - 22), ActorId::random()).unwrap();
    let req = IssueTicket {
        service: "umum".into(),
        prefix: "A".into(),
        priority: None,
        patient_id: None,
        origin: None,
    };
    a.issue(
        &req,
        &Issuer {
            by: "u".into(),
            node: "n0".into(),
            slot: 0,
        },
        1,
    )
    .unwrap();
    b.issue(
        &req,
        &Issuer {
            by: "u".into(),
            node: "n1".into(),
            slot: 1,
        },
        2,
    )
    .unwrap();
    let mut bd = b.doc().clone();
    a.merge(&mut bd).unwrap();
    let mut numbers: Vec<u64> = a.state().tickets.values().map(|t| t.number).collect();
    numbers.sort();
    assert_eq!(numbers, [1, 10_001]);
}
