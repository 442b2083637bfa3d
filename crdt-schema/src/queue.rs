//! The queue-day document: one per clinic per service day, tickets keyed by ticket id, and the ticket
//! status lattice.
//!
//! A ticket's status is never stored. Each transition (`call`, `recall`, `start`, `complete`, `skip`,
//! `no_show`, `cancel`) is its own entry, keyed by a unique id, and the status is derived from the set of
//! entries by a fixed precedence ([`derive`]). Any merge of concurrent operations is a union of entries, so
//! every replica derives the same status, and there is no state the derivation cannot name. Commands are
//! checked against the derived state when they are issued ([`QueueDay::apply`]).
//!
//! Precedence: `done` > `cancelled` > `no_show` > `serving` > (`skipped` or `called` in the latest call
//! round) > `waiting`. Calls are numbered in rounds: calling a skipped ticket starts a new round, recalls
//! and skips belong to the round they were made in.
//!
//! Ticket numbers are unique within a clinic's day per service even when nodes are partitioned: each node
//! of a clinic owns a slot, and numbers from slot `s` lie in `s*10000+1 ..= s*10000+9999`.
//!
//! # Stored form
//! Everything lives in the genesis map `tickets`, one immutable record per key, each record one JSON
//! string value (one Automerge operation):
//! - `tkt_<id>`: a ticket's fixed fields ([`Ticket`] without its transitions);
//! - `tkt_<id>/<transition id>`: one transition of that ticket ([`Transition`]).
//!
//! Records are written once and never edited, so concurrent writers only ever add keys; no nested object
//! is created after genesis, so no two replicas can create competing objects. Issuing a ticket costs one
//! operation and a transition one (a ticket as a map of fields cost eight and five). A record that does not
//! parse (a newer schema, a broken peer) is listed in [`QueueDayState::unreadable`], not fatal.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::{ActorId, Automerge, Change, ROOT, ReadDoc, transaction::Transactable};
use serde::{Deserialize, Serialize};

use crate::{
    DocError,
    genesis::{self, commit},
    ids::{ClinicId, DocId, DocKind, PatientId, ServiceDate, queue_day_doc_id},
};

/// The typed content of a queue-day document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDayState {
    pub schema: u64,
    pub kind: String,
    pub id: String,
    pub clinic: String,
    pub date: String,
    pub tickets: BTreeMap<String, Ticket>,
    /// Keys under `tickets` whose record could not be read (or a transition of an unknown ticket).
    pub unreadable: Vec<String>,
}

/// One ticket. Only ids and numbers: no personal data lives in a queue document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub service: String,
    pub number: u64,
    pub display: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    /// Milliseconds since the epoch.
    pub issued_at: i64,
    /// The node that issued it.
    pub issued_by: String,
    /// The ticket this one continues (a patient sent on from another service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Stored as records of their own, not inside the ticket's record.
    #[serde(skip)]
    pub transitions: BTreeMap<String, Transition>,
}

/// One transition of a ticket, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub kind: String,
    pub round: u64,
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// The user who did it.
    pub by: String,
    /// For `cancel`: a reason code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `complete` with a next service: the ticket issued there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// The genesis map every record lives in.
    tickets_obj: automerge::ObjId,
    /// Waiting tickets by service, then by priority label (`""` for none), ordered by (issued_at,
    /// number, id): enough to answer "how many are called before this one" without a scan.
    waiting: WaitingIndex,
    /// Every ticket number in use, by service: the next free number without a scan.
    numbers: HashMap<String, BTreeSet<u64>>,
}

type WaitingIndex = BTreeMap<String, BTreeMap<String, BTreeSet<(i64, u64, String)>>>;

fn waiting_key(id: &str, t: &Ticket) -> (String, String, (i64, u64, String)) {
    (
        t.service.clone(),
        t.priority.clone().unwrap_or_default(),
        (t.issued_at, t.number, id.to_owned()),
    )
}

/// The key of a transition record: the ticket id, `/`, the transition id.
fn transition_key(ticket_id: &str, transition_id: &str) -> String {
    format!("{ticket_id}/{transition_id}")
}

fn record<T: Serialize>(value: &T) -> String {
    // Plain structs of strings and integers: serialising cannot fail.
    serde_json::to_string(value).expect("a queue record serialises")
}

/// Reads the typed state out of a queue-day document.
fn read_state(doc: &Automerge) -> Result<(QueueDayState, automerge::ObjId), DocError> {
    use automerge::ScalarValueRef as S;
    let scalar = |key: &str| -> Result<Option<automerge::ScalarValue>, DocError> {
        Ok(match doc.get(ROOT, key)? {
            Some((automerge::Value::Scalar(s), _)) => Some(s.into_owned()),
            _ => None,
        })
    };
    let text = |key: &'static str| -> Result<String, DocError> {
        match scalar(key)? {
            Some(automerge::ScalarValue::Str(s)) => Ok(s.to_string()),
            _ => Err(DocError::Malformed(key)),
        }
    };
    let schema = match scalar("schema")? {
        Some(automerge::ScalarValue::Uint(n)) => n,
        _ => return Err(DocError::Malformed("schema")),
    };
    let tickets_obj = match doc.get(ROOT, "tickets")? {
        Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
        _ => return Err(DocError::Malformed("tickets")),
    };
    let mut tickets = BTreeMap::new();
    let mut transitions = Vec::new();
    let mut unreadable = Vec::new();
    for item in doc.map_range(&tickets_obj, ..) {
        let key = item.key.as_ref();
        let automerge::ValueRef::Scalar(S::Str(json)) = &item.value else {
            unreadable.push(key.to_owned());
            continue;
        };
        match key.split_once('/') {
            None => match serde_json::from_str::<Ticket>(json) {
                Ok(t) => {
                    tickets.insert(key.to_owned(), t);
                }
                Err(_) => unreadable.push(key.to_owned()),
            },
            Some((ticket, tr)) => match serde_json::from_str::<Transition>(json) {
                Ok(t) => transitions.push((ticket.to_owned(), tr.to_owned(), t, key.to_owned())),
                Err(_) => unreadable.push(key.to_owned()),
            },
        }
    }
    for (ticket, id, t, key) in transitions {
        match tickets.get_mut(&ticket) {
            Some(tk) => {
                tk.transitions.insert(id, t);
            }
            None => unreadable.push(key),
        }
    }
    let state = QueueDayState {
        schema,
        kind: text("kind")?,
        id: text("id")?,
        clinic: text("clinic")?,
        date: text("date")?,
        tickets,
        unreadable,
    };
    Ok((state, tickets_obj))
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
        let (state, tickets_obj) = read_state(&doc)?;
        let mut q = Self {
            doc,
            state,
            tickets_obj,
            waiting: WaitingIndex::new(),
            numbers: HashMap::new(),
        };
        q.rebuild_index();
        Ok(q)
    }

    fn rebuild_index(&mut self) {
        self.waiting.clear();
        self.numbers.clear();
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
        self.numbers
            .entry(t.service.clone())
            .or_default()
            .insert(t.number);
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
        self.state = read_state(&self.doc)?.0;
        self.rebuild_index();
        Ok(())
    }

    /// Applies changes (raw change bytes, concatenated) received from elsewhere and re-reads the state.
    pub fn load_incremental(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        crate::load::load_incremental(&mut self.doc, bytes)?;
        self.state = read_state(&self.doc)?.0;
        self.rebuild_index();
        Ok(())
    }

    /// The next free number of `service` in `slot`.
    fn next_number(&self, service: &str, slot: u32) -> Result<u64, QueueError> {
        let lo = u64::from(slot) * NUMBERS_PER_SLOT + 1;
        let hi = lo + NUMBERS_PER_SLOT - 2;
        let max = self
            .numbers
            .get(service)
            .and_then(|n| n.range(lo..=hi).next_back().copied());
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
        let tickets = self.tickets_obj.clone();
        let (_, change) = commit(&mut self.doc, now_ms, "issue", |tx| {
            tx.put(&tickets, id.as_str(), record(&ticket))
                .map_err(DocError::from)
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
        let tickets = self.tickets_obj.clone();
        let (_, change) = commit(
            &mut self.doc,
            now_ms,
            action.kind().as_str(),
            |tx| -> Result<(), DocError> {
                tx.put(
                    &tickets,
                    transition_key(ticket_id, &transition_id),
                    record(&transition),
                )?;
                if let Some((id, t)) = &follow_up {
                    tx.put(&tickets, id.as_str(), record(t))?;
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
    for key in &state.unreadable {
        v.push(QueueViolation::BadTicket {
            ticket: key.clone(),
            why: "unreadable record",
        });
    }
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
    let counters: BTreeSet<_> = ticket
        .transitions
        .values()
        .filter(|t| t.kind == "call" && t.round == d.round)
        .filter_map(|t| t.counter.as_deref())
        .collect();
    if counters.len() > 1 {
        out.push("called_at_two_counters");
    }
    let terminal: BTreeSet<_> = ticket
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
