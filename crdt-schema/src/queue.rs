//! The queue-day document: one per clinic per service day, tickets keyed by ticket id, and the ticket
//! status lattice.
//!
//! A ticket's status is never stored. Each transition (`call`, `recall`, `start`, `complete`, `skip`,
//! `no_show`, `cancel`) is its own entry under the ticket, keyed by a unique id, and the status is derived
//! from the set of entries by a fixed precedence ([`derive`]). Any merge of concurrent operations is a
//! union of entries, so every replica derives the same status, and there is no state the derivation cannot
//! name. Commands are checked against the derived state when they are issued ([`QueueDay::apply`]).
//!
//! Precedence: `done` > `cancelled` > `no_show` > `serving` > (`skipped` or `called` in the latest call
//! round) > `waiting`. Calls are numbered in rounds: calling a skipped ticket starts a new round, recalls
//! and skips belong to the round they were made in.
//!
//! Ticket numbers are unique within a clinic's day per service even when nodes are partitioned: each node
//! of a clinic owns a slot, and numbers from slot `s` lie in `s*10000+1 ..= s*10000+9999`.

use std::collections::BTreeMap;

use automerge::{ActorId, Automerge, Change, ROOT, transaction::Transactable};
use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::{
    DocError,
    genesis::{self, commit},
    ids::{ClinicId, DocId, DocKind, PatientId, ServiceDate, queue_day_doc_id},
};

/// The typed content of a queue-day document.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct QueueDayState {
    pub schema: u64,
    pub kind: String,
    pub id: String,
    pub clinic: String,
    pub date: String,
    pub tickets: BTreeMap<String, Ticket>,
}

/// One ticket. Only ids and numbers: no personal data lives in a queue document.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Ticket {
    pub service: String,
    pub number: u64,
    pub display: String,
    #[autosurgeon(missing = "Default::default")]
    pub priority: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    pub patient_id: Option<String>,
    /// Milliseconds since the epoch.
    pub issued_at: i64,
    /// The node that issued it.
    pub issued_by: String,
    /// The ticket this one continues (a patient sent on from another service).
    #[autosurgeon(missing = "Default::default")]
    pub origin: Option<String>,
    pub transitions: BTreeMap<String, Transition>,
}

/// One transition of a ticket, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hydrate, Reconcile)]
pub struct Transition {
    pub kind: String,
    pub round: u64,
    pub at: i64,
    #[autosurgeon(missing = "Default::default")]
    pub counter: Option<String>,
    /// The user who did it.
    pub by: String,
    /// For `cancel`: a reason code.
    #[autosurgeon(missing = "Default::default")]
    pub reason: Option<String>,
    /// For `complete` with a next service: the ticket issued there.
    #[autosurgeon(missing = "Default::default")]
    pub next_ticket: Option<String>,
}

/// The derived status of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Waiting,
    Called,
    Serving,
    Done,
    Skipped,
    NoShow,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Waiting,
        Status::Called,
        Status::Serving,
        Status::Done,
        Status::Skipped,
        Status::NoShow,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Called => "called",
            Status::Serving => "serving",
            Status::Done => "done",
            Status::Skipped => "skipped",
            Status::NoShow => "no_show",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Done | Status::NoShow | Status::Cancelled)
    }
}

/// Priority groups a ticket may carry; the clinic's policy orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityGroup {
    Lansia,
    Disabilitas,
    IbuHamil,
    Anak,
    Darurat,
}

impl PriorityGroup {
    pub const ALL: [PriorityGroup; 5] = [
        PriorityGroup::Darurat,
        PriorityGroup::IbuHamil,
        PriorityGroup::Disabilitas,
        PriorityGroup::Lansia,
        PriorityGroup::Anak,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PriorityGroup::Lansia => "lansia",
            PriorityGroup::Disabilitas => "disabilitas",
            PriorityGroup::IbuHamil => "ibu_hamil",
            PriorityGroup::Anak => "anak",
            PriorityGroup::Darurat => "darurat",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        PriorityGroup::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// How a clinic orders waiting tickets of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityPolicy {
    /// Earlier groups are called first; tickets without a (listed) group come after all listed groups.
    pub order: Vec<PriorityGroup>,
    /// After this many priority tickets called in a row, the next call takes the oldest ordinary ticket
    /// if one waits (0: priority tickets always go first).
    pub max_consecutive: u32,
}

impl Default for PriorityPolicy {
    fn default() -> Self {
        Self {
            order: PriorityGroup::ALL.to_vec(),
            max_consecutive: 3,
        }
    }
}

impl PriorityPolicy {
    /// The rank of a priority group under this policy (lower is called first).
    pub fn rank(&self, priority: Option<&str>) -> usize {
        priority
            .and_then(PriorityGroup::parse)
            .and_then(|p| self.order.iter().position(|o| *o == p))
            .unwrap_or(self.order.len())
    }
}

/// A transition kind, as stored in the `kind` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransitionKind {
    Call,
    Recall,
    Start,
    Complete,
    Skip,
    NoShow,
    Cancel,
}

impl TransitionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Call => "call",
            TransitionKind::Recall => "recall",
            TransitionKind::Start => "start",
            TransitionKind::Complete => "complete",
            TransitionKind::Skip => "skip",
            TransitionKind::NoShow => "no_show",
            TransitionKind::Cancel => "cancel",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        use TransitionKind::*;
        [Call, Recall, Start, Complete, Skip, NoShow, Cancel]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Reasons a ticket may be cancelled with. Codes, so events and logs never carry free text.
pub const CANCEL_REASONS: [&str; 5] = [
    "patient_left",
    "duplicate",
    "wrong_service",
    "operator_error",
    "other",
];

/// Where a completed ticket sends the patient next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextService {
    pub service: String,
    pub prefix: String,
}

/// A command on an existing ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Call { counter: String },
    Recall,
    Start { counter: Option<String> },
    Complete { next: Option<NextService> },
    Skip,
    NoShow,
    Cancel { reason: String },
}

impl Action {
    pub fn kind(&self) -> TransitionKind {
        match self {
            Action::Call { .. } => TransitionKind::Call,
            Action::Recall => TransitionKind::Recall,
            Action::Start { .. } => TransitionKind::Start,
            Action::Complete { .. } => TransitionKind::Complete,
            Action::Skip => TransitionKind::Skip,
            Action::NoShow => TransitionKind::NoShow,
            Action::Cancel { .. } => TransitionKind::Cancel,
        }
    }

    /// The statuses this action may be issued from.
    pub fn allowed_from(&self) -> &'static [Status] {
        use Status::*;
        match self {
            Action::Call { .. } => &[Waiting, Skipped],
            Action::Recall => &[Called],
            Action::Start { .. } => &[Called],
            Action::Complete { .. } => &[Called, Serving],
            Action::Skip => &[Called],
            Action::NoShow => &[Called, Skipped],
            Action::Cancel { .. } => &[Waiting, Called, Skipped],
        }
    }
}

/// Everything derived from a ticket's transitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Derived {
    pub status: Status,
    /// The latest call round (0: never called).
    pub round: u64,
    /// Recalls in the latest round.
    pub recalls: u64,
    /// The counter of the latest call (or of the start, when it names one).
    pub counter: Option<String>,
    pub called_at: Option<i64>,
    /// First call of the ticket (for waiting-time statistics).
    pub first_called_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub cancel_reason: Option<String>,
    pub next_ticket: Option<String>,
}

/// Derives a ticket's status from its transitions. Unknown kinds (from a newer schema) are ignored.
pub fn derive(ticket: &Ticket) -> Derived {
    let mut ts: Vec<(&String, &Transition, TransitionKind)> = ticket
        .transitions
        .iter()
        .filter_map(|(id, t)| TransitionKind::parse(&t.kind).map(|k| (id, t, k)))
        .collect();
    // A fixed order (time, then id) so "first" and "latest" mean the same on every replica.
    ts.sort_by(|a, b| (a.1.at, a.0).cmp(&(b.1.at, b.0)));
    let first = |k: TransitionKind| ts.iter().find(|t| t.2 == k);
    let round = ts
        .iter()
        .filter(|t| t.2 == TransitionKind::Call)
        .map(|t| t.1.round)
        .max()
        .unwrap_or(0);
    let in_round = |k: TransitionKind| ts.iter().filter(move |t| t.2 == k && t.1.round == round);
    let last_call = in_round(TransitionKind::Call).next_back();
    let start = first(TransitionKind::Start);
    let terminal = [
        (TransitionKind::Complete, Status::Done),
        (TransitionKind::Cancel, Status::Cancelled),
        (TransitionKind::NoShow, Status::NoShow),
    ]
    .into_iter()
    .find_map(|(k, s)| first(k).map(|t| (t, s)));
    let status = if let Some((_, s)) = terminal {
        s
    } else if start.is_some() {
        Status::Serving
    } else if round == 0 {
        Status::Waiting
    } else if in_round(TransitionKind::Skip).next().is_some() {
        Status::Skipped
    } else {
        Status::Called
    };
    let counter = start
        .and_then(|s| s.1.counter.clone())
        .or_else(|| last_call.and_then(|c| c.1.counter.clone()));
    Derived {
        status,
        round,
        recalls: in_round(TransitionKind::Recall).count() as u64,
        counter,
        called_at: last_call.map(|c| c.1.at),
        first_called_at: first(TransitionKind::Call).map(|c| c.1.at),
        started_at: start.map(|s| s.1.at),
        finished_at: terminal.map(|(t, _)| t.1.at),
        cancel_reason: terminal
            .filter(|(_, s)| *s == Status::Cancelled)
            .and_then(|(t, _)| t.1.reason.clone()),
        next_ticket: terminal.and_then(|(t, _)| t.1.next_ticket.clone()),
    }
}

/// Why a queue command was refused.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("ticket {0} is not in this queue day")]
    UnknownTicket(String),
    #[error("a {status} ticket cannot be {action}", status = from.as_str(), action = action.as_str())]
    IllegalTransition {
        from: Status,
        action: TransitionKind,
    },
    #[error("service {service} has used every ticket number of this node today")]
    NumbersExhausted { service: String },
    #[error("the cancel reason must be one of {CANCEL_REASONS:?}")]
    BadCancelReason,
    #[error(transparent)]
    Doc(Box<DocError>),
}

impl From<DocError> for QueueError {
    fn from(e: DocError) -> Self {
        QueueError::Doc(Box::new(e))
    }
}

/// Who issues a command, for the stored transition and for tickets it creates.
#[derive(Debug, Clone)]
pub struct Issuer {
    /// The user id (or device id) acting.
    pub by: String,
    /// The node id.
    pub node: String,
    /// The node's ticket-number slot in its clinic.
    pub slot: u32,
}

/// A request for a new ticket.
#[derive(Debug, Clone)]
pub struct IssueTicket {
    pub service: String,
    pub prefix: String,
    pub priority: Option<PriorityGroup>,
    pub patient_id: Option<PatientId>,
    pub origin: Option<String>,
}

/// What a command changed: the tickets touched (first the one acted on) and the Automerge change.
#[derive(Debug)]
pub struct Applied {
    pub tickets: Vec<String>,
    pub change: Option<Change>,
}

/// A queue-day document with its hydrated state, kept in step after every local change.
#[derive(Debug)]
pub struct QueueDay {
    doc: Automerge,
    state: QueueDayState,
    /// Waiting tickets by service, then by priority label (`""` for none), ordered by (issued_at,
    /// number, id): enough to answer "how many are called before this one" without a scan.
    waiting: WaitingIndex,
}

type WaitingIndex =
    BTreeMap<String, BTreeMap<String, std::collections::BTreeSet<(i64, u64, String)>>>;

fn waiting_key(id: &str, t: &Ticket) -> (String, String, (i64, u64, String)) {
    (
        t.service.clone(),
        t.priority.clone().unwrap_or_default(),
        (t.issued_at, t.number, id.to_owned()),
    )
}

/// Writes a ticket as a new map under `tickets`, one key per field (absent options are not written).
fn put_ticket(
    tx: &mut automerge::transaction::Transaction<'_>,
    tickets: &automerge::ObjId,
    id: &str,
    t: &Ticket,
) -> Result<(), automerge::AutomergeError> {
    use automerge::{ObjType, ScalarValue};
    let o = tx.put_object(tickets, id, ObjType::Map)?;
    tx.put(&o, "service", t.service.as_str())?;
    tx.put(&o, "number", ScalarValue::Uint(t.number))?;
    tx.put(&o, "display", t.display.as_str())?;
    for (k, v) in [
        ("priority", &t.priority),
        ("patient_id", &t.patient_id),
        ("origin", &t.origin),
    ] {
        if let Some(v) = v {
            tx.put(&o, k, v.as_str())?;
        }
    }
    tx.put(&o, "issued_at", t.issued_at)?;
    tx.put(&o, "issued_by", t.issued_by.as_str())?;
    let tr = tx.put_object(&o, "transitions", ObjType::Map)?;
    for (k, v) in &t.transitions {
        put_transition(tx, &tr, k, v)?;
    }
    Ok(())
}

/// Writes one transition as a new map under a ticket's `transitions`.
fn put_transition(
    tx: &mut automerge::transaction::Transaction<'_>,
    transitions: &automerge::ObjId,
    id: &str,
    t: &Transition,
) -> Result<(), automerge::AutomergeError> {
    use automerge::{ObjType, ScalarValue};
    let o = tx.put_object(transitions, id, ObjType::Map)?;
    tx.put(&o, "kind", t.kind.as_str())?;
    tx.put(&o, "round", ScalarValue::Uint(t.round))?;
    tx.put(&o, "at", t.at)?;
    tx.put(&o, "by", t.by.as_str())?;
    for (k, v) in [
        ("counter", &t.counter),
        ("reason", &t.reason),
        ("next_ticket", &t.next_ticket),
    ] {
        if let Some(v) = v {
            tx.put(&o, k, v.as_str())?;
        }
    }
    Ok(())
}

/// How many ticket numbers each node slot owns per service and day (the last one is never used).
pub const NUMBERS_PER_SLOT: u64 = 10_000;

impl QueueDay {
    /// The document from genesis (the same first change on every replica).
    pub fn create(clinic: &ClinicId, date: ServiceDate, actor: ActorId) -> Result<Self, DocError> {
        Self::from_doc(genesis::genesis(&queue_day_doc_id(clinic, date), actor)?)
    }

    /// Wraps a loaded document, checking its kind and reading its state.
    pub fn from_doc(doc: Automerge) -> Result<Self, DocError> {
        genesis::expect_kind(&doc, DocKind::QueueDay)?;
        let state = autosurgeon::hydrate(&doc)?;
        let mut q = Self {
            doc,
            state,
            waiting: WaitingIndex::new(),
        };
        q.rebuild_index();
        Ok(q)
    }

    fn rebuild_index(&mut self) {
        self.waiting.clear();
        let ids: Vec<String> = self.state.tickets.keys().cloned().collect();
        for id in ids {
            self.index_ticket(&id);
        }
    }

    /// Puts a ticket in the waiting index, or takes it out, according to its derived status.
    fn index_ticket(&mut self, id: &str) {
        let Some(t) = self.state.tickets.get(id) else {
            return;
        };
        let (service, label, key) = waiting_key(id, t);
        let waiting = derive(t).status == Status::Waiting;
        let set = self
            .waiting
            .entry(service)
            .or_default()
            .entry(label)
            .or_default();
        if waiting {
            set.insert(key);
        } else {
            set.remove(&key);
        }
    }

    /// A waiting ticket's 1-based place in its service's calling order under `policy` (the order of
    /// [`QueueDay::waiting`]); `None` when the ticket is not waiting.
    pub fn position(&self, id: &str, policy: &PriorityPolicy) -> Option<u64> {
        let t = self.state.tickets.get(id)?;
        let (service, label, key) = waiting_key(id, t);
        let groups = self.waiting.get(&service)?;
        if !groups.get(&label).is_some_and(|s| s.contains(&key)) {
            return None;
        }
        let rank_of = |l: &str| policy.rank((!l.is_empty()).then_some(l));
        let own = rank_of(&label);
        let mut before = 0usize;
        for (l, set) in groups {
            let r = rank_of(l);
            if r < own {
                before += set.len();
            } else if r == own {
                before += set.range(..&key).count();
            }
        }
        Some(before as u64 + 1)
    }

    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    pub fn doc_id(&self) -> DocId {
        DocId::parse(&self.state.id).expect("hydrated from a queue-day document")
    }

    pub fn state(&self) -> &QueueDayState {
        &self.state
    }

    pub fn ticket(&self, id: &str) -> Option<&Ticket> {
        self.state.tickets.get(id)
    }

    /// Merges another replica's document (or any changes) into this one and re-reads the state.
    pub fn merge(&mut self, other: &mut Automerge) -> Result<(), DocError> {
        self.doc.merge(other)?;
        self.state = autosurgeon::hydrate(&self.doc)?;
        self.rebuild_index();
        Ok(())
    }

    /// Applies changes (raw change bytes, concatenated) received from elsewhere and re-reads the state.
    pub fn load_incremental(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        self.doc.load_incremental(bytes)?;
        self.state = autosurgeon::hydrate(&self.doc)?;
        self.rebuild_index();
        Ok(())
    }

    fn tickets_obj(&self) -> Result<automerge::ObjId, DocError> {
        use automerge::ReadDoc;
        match self.doc.get(ROOT, "tickets")? {
            Some((automerge::Value::Object(_), id)) => Ok(id),
            _ => Err(DocError::WrongKind {
                expected: "queue_day",
                found: Some("queue day without tickets".into()),
            }),
        }
    }

    /// The next free number of `service` in `slot`.
    fn next_number(&self, service: &str, slot: u32) -> Result<u64, QueueError> {
        let lo = u64::from(slot) * NUMBERS_PER_SLOT + 1;
        let hi = lo + NUMBERS_PER_SLOT - 2;
        let max = self
            .state
            .tickets
            .values()
            .filter(|t| t.service == service && (lo..=hi).contains(&t.number))
            .map(|t| t.number)
            .max();
        let next = max.map_or(lo, |m| m + 1);
        if next > hi {
            return Err(QueueError::NumbersExhausted {
                service: service.to_owned(),
            });
        }
        Ok(next)
    }

    fn new_ticket(
        &self,
        req: &IssueTicket,
        issuer: &Issuer,
        now_ms: i64,
    ) -> Result<(String, Ticket), QueueError> {
        let number = self.next_number(&req.service, issuer.slot)?;
        let ticket = Ticket {
            service: req.service.clone(),
            number,
            display: format!("{}-{number:03}", req.prefix),
            priority: req.priority.map(|p| p.as_str().to_owned()),
            patient_id: req.patient_id.as_ref().map(|p| p.as_str().to_owned()),
            issued_at: now_ms,
            issued_by: issuer.node.clone(),
            origin: req.origin.clone(),
            transitions: BTreeMap::new(),
        };
        Ok((crate::ids::new_ticket_id(), ticket))
    }

    /// Issues a new ticket.
    pub fn issue(
        &mut self,
        req: &IssueTicket,
        issuer: &Issuer,
        now_ms: i64,
    ) -> Result<Applied, QueueError> {
        let (id, ticket) = self.new_ticket(req, issuer, now_ms)?;
        let tickets = self.tickets_obj()?;
        let (_, change) = commit(&mut self.doc, now_ms, "issue", |tx| {
            put_ticket(tx, &tickets, &id, &ticket).map_err(DocError::from)
        })?;
        self.state.tickets.insert(id.clone(), ticket);
        self.index_ticket(&id);
        Ok(Applied {
            tickets: vec![id],
            change,
        })
    }

    /// Applies a command to a ticket, after checking it is allowed from the ticket's current status.
    pub fn apply(
        &mut self,
        ticket_id: &str,
        action: &Action,
        issuer: &Issuer,
        now_ms: i64,
    ) -> Result<Applied, QueueError> {
        let ticket = self
            .ticket(ticket_id)
            .ok_or_else(|| QueueError::UnknownTicket(ticket_id.to_owned()))?;
        let d = derive(ticket);
        if !action.allowed_from().contains(&d.status) {
            return Err(QueueError::IllegalTransition {
                from: d.status,
                action: action.kind(),
            });
        }
        if let Action::Cancel { reason } = action
            && !CANCEL_REASONS.contains(&reason.as_str())
        {
            return Err(QueueError::BadCancelReason);
        }
        let follow_up = match action {
            Action::Complete { next: Some(next) } => {
                let req = IssueTicket {
                    service: next.service.clone(),
                    prefix: next.prefix.clone(),
                    priority: ticket.priority.as_deref().and_then(PriorityGroup::parse),
                    patient_id: ticket
                        .patient_id
                        .as_deref()
                        .and_then(|p| PatientId::parse(p).ok()),
                    origin: Some(ticket_id.to_owned()),
                };
                Some(self.new_ticket(&req, issuer, now_ms)?)
            }
            _ => None,
        };
        let transition = Transition {
            kind: action.kind().as_str().to_owned(),
            round: if matches!(action, Action::Call { .. }) {
                d.round + 1
            } else {
                d.round
            },
            at: now_ms,
            counter: match action {
                Action::Call { counter } => Some(counter.clone()),
                Action::Start { counter } => counter.clone(),
                _ => d.counter.clone(),
            },
            by: issuer.by.clone(),
            reason: match action {
                Action::Cancel { reason } => Some(reason.clone()),
                _ => None,
            },
            next_ticket: follow_up.as_ref().map(|(id, _)| id.clone()),
        };
        let transition_id = uuid::Uuid::now_v7().simple().to_string();
        let tickets = self.tickets_obj()?;
        let (_, change) = commit(
            &mut self.doc,
            now_ms,
            action.kind().as_str(),
            |tx| -> Result<(), DocError> {
                let tobj = match automerge::ReadDoc::get(tx, &tickets, ticket_id)? {
                    Some((automerge::Value::Object(_), id)) => id,
                    _ => {
                        return Err(DocError::WrongKind {
                            expected: "ticket",
                            found: None,
                        });
                    }
                };
                let trans = match automerge::ReadDoc::get(tx, &tobj, "transitions")? {
                    Some((automerge::Value::Object(_), id)) => id,
                    _ => tx.put_object(&tobj, "transitions", automerge::ObjType::Map)?,
                };
                put_transition(tx, &trans, &transition_id, &transition)?;
                if let Some((id, t)) = &follow_up {
                    put_ticket(tx, &tickets, id, t)?;
                }
                Ok(())
            },
        )?;
        // The state gets exactly what was written (a test checks it equals a fresh read).
        if let Some(t) = self.state.tickets.get_mut(ticket_id) {
            t.transitions.insert(transition_id, transition);
        }
        self.index_ticket(ticket_id);
        let mut touched = vec![ticket_id.to_owned()];
        if let Some((id, t)) = follow_up {
            self.state.tickets.insert(id.clone(), t);
            self.index_ticket(&id);
            touched.push(id);
        }
        Ok(Applied {
            tickets: touched,
            change,
        })
    }

    /// The waiting tickets of a service in calling order.
    pub fn waiting(&self, service: &str, policy: &PriorityPolicy) -> Vec<(&str, &Ticket)> {
        let mut w: Vec<(&str, &Ticket)> = self
            .state
            .tickets
            .iter()
            .filter(|(_, t)| t.service == service && derive(t).status == Status::Waiting)
            .map(|(id, t)| (id.as_str(), t))
            .collect();
        w.sort_by(|a, b| {
            (
                policy.rank(a.1.priority.as_deref()),
                a.1.issued_at,
                a.1.number,
                a.0,
            )
                .cmp(&(
                    policy.rank(b.1.priority.as_deref()),
                    b.1.issued_at,
                    b.1.number,
                    b.0,
                ))
        });
        w
    }

    /// The ticket `call-next` should call for a service, honouring the policy's limit on consecutive
    /// priority calls.
    pub fn next_to_call(&self, service: &str, policy: &PriorityPolicy) -> Option<&str> {
        let waiting = self.waiting(service, policy);
        let first = waiting.first()?;
        let is_priority = |t: &Ticket| policy.rank(t.priority.as_deref()) < policy.order.len();
        if policy.max_consecutive > 0 && is_priority(first.1) {
            let mut called: Vec<(i64, &Ticket)> = self
                .state
                .tickets
                .values()
                .filter(|t| t.service == service)
                .filter_map(|t| derive(t).first_called_at.map(|at| (at, t)))
                .collect();
            called.sort_by_key(|c| std::cmp::Reverse(c.0));
            let streak = called.iter().take_while(|(_, t)| is_priority(t)).count();
            if streak >= policy.max_consecutive as usize
                && let Some(ordinary) = waiting.iter().find(|(_, t)| !is_priority(t))
            {
                return Some(ordinary.0);
            }
        }
        Some(first.0)
    }

    /// Saves the whole document (compacted).
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }
}

/// A broken invariant of a queue-day document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueViolation {
    DuplicateNumber { service: String, number: u64 },
    BadTicket { ticket: String, why: &'static str },
    RoundBeyondCalls { ticket: String },
}

/// Checks the invariants every queue-day document keeps after any merge.
pub fn check_invariants(state: &QueueDayState) -> Vec<QueueViolation> {
    let mut v = Vec::new();
    let mut seen: BTreeMap<(&str, u64), &str> = BTreeMap::new();
    for (id, t) in &state.tickets {
        if !crate::ids::is_ticket_id(id) {
            v.push(QueueViolation::BadTicket {
                ticket: id.clone(),
                why: "malformed id",
            });
        }
        if t.service.is_empty() || t.display.is_empty() || t.number == 0 {
            v.push(QueueViolation::BadTicket {
                ticket: id.clone(),
                why: "missing service or number",
            });
        }
        if let Some(p) = &t.patient_id
            && PatientId::parse(p).is_err()
        {
            v.push(QueueViolation::BadTicket {
                ticket: id.clone(),
                why: "malformed patient id",
            });
        }
        if seen.insert((t.service.as_str(), t.number), id).is_some() {
            v.push(QueueViolation::DuplicateNumber {
                service: t.service.clone(),
                number: t.number,
            });
        }
        let round = derive(t).round;
        if t.transitions.values().any(|tr| {
            tr.round > round || (tr.kind != "call" && tr.round == 0 && tr.kind != "cancel")
        }) {
            v.push(QueueViolation::RoundBeyondCalls { ticket: id.clone() });
        }
    }
    v
}

/// Concurrent operations on one ticket an administrator may want to look at (for example a ticket called
/// at two counters at once, or completed at one node while cancelled at another).
pub fn ticket_conflicts(ticket: &Ticket) -> Vec<&'static str> {
    let d = derive(ticket);
    let mut out = Vec::new();
    let counters: std::collections::BTreeSet<_> = ticket
        .transitions
        .values()
        .filter(|t| t.kind == "call" && t.round == d.round)
        .filter_map(|t| t.counter.as_deref())
        .collect();
    if counters.len() > 1 {
        out.push("called_at_two_counters");
    }
    let terminal: std::collections::BTreeSet<_> = ticket
        .transitions
        .values()
        .filter(|t| matches!(t.kind.as_str(), "complete" | "cancel" | "no_show"))
        .map(|t| t.kind.as_str())
        .collect();
    if terminal.len() > 1 {
        out.push("finished_differently");
    }
    out
}

#[cfg(test)]
mod tests;
