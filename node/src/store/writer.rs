//! The single writer: one thread that owns the read-write SQLite connection and the in-memory documents,
//! and executes every domain command.
//!
//! Group commit: the thread takes the waiting commands (up to [`MAX_BATCH`]) and runs them in one SQLite
//! transaction. A command that fails before writing leaves nothing behind; one that fails after writing
//! makes the batch roll back and run again with a savepoint per command, so it alone is undone. The
//! others commit together with one fsync (`synchronous=FULL`), and only then are their answers sent. So
//! one operator action is still all-or-nothing (document change, outbox events, projection rows,
//! idempotency record), and no answer is sent before its data is durable.
//!
//! The in-memory documents are a cache: any document a failed command or a failed commit touched is
//! evicted and read again from SQLite, the truth. Compaction and WAL checkpoints run on the maintenance
//! thread ([`super::maintain`]); the writer only swaps finished snapshots in, inside a batch.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    thread::JoinHandle,
};

use crdt_schema::{
    automerge::{ActorId, Change},
    clinic::{Clinic, ClinicConfig},
    event::{CloudEvent, EventKind, PatientData, TicketData, node_source},
    ids::{
        ClinicId, DeploymentSecret, DocId, PatientId, ServiceDate, format_date, queue_day_doc_id,
    },
    nik::Nik,
    patient::{self, Patient, Registration},
    queue::{Action, IssueTicket, Issuer, NextService, QueueDay},
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{
    StoreError, docs,
    maintain::{COMPACT_AFTER_CHUNKS, Maintainer, MaintainerLink},
    now_ms, projection,
};
use crate::domain::{Command, DomainError, TransitionRequest};

/// The most commands committed together.
pub const MAX_BATCH: usize = 64;
const MAX_CACHED_PATIENTS: usize = 512;

/// Who asked, for idempotency records and stored transitions.
#[derive(Debug, Clone)]
pub struct Caller {
    /// A user id (`usr_...`) or device id (`dev_...`).
    pub id: String,
}

/// An Idempotency-Key and the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// The answer to a command: an HTTP status and a JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    /// True when this is the stored answer to an earlier request with the same Idempotency-Key.
    pub replayed: bool,
}

/// A change pushed to live subscribers (consoles, the display board) after it commits.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    Ticket { ticket: Box<projection::TicketView> },
    Clinic,
}

struct Job {
    cmd: Command,
    caller: Caller,
    idem: Option<Idempotency>,
    reply: oneshot::Sender<Result<Reply, DomainError>>,
}

/// What the node is: its ids, its actor, its clinic, and the secret for patient ids.
#[derive(Debug, Clone)]
pub struct Identity {
    pub node_id: String,
    pub clinic_id: ClinicId,
    pub slot: u32,
    pub secret: DeploymentSecret,
}

/// The handle through which the async side sends commands to the writer thread.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
    live: broadcast::Sender<LiveEvent>,
    clinic: Arc<RwLock<ClinicConfig>>,
}

impl WriterHandle {
    /// Sends a command and waits for its answer (sent after the commit).
    pub async fn execute(
        &self,
        cmd: Command,
        caller: Caller,
        idem: Option<Idempotency>,
    ) -> Result<Reply, DomainError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job {
                cmd,
                caller,
                idem,
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Subscribes to committed queue changes.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.live.subscribe()
    }

    /// True once the writer thread has stopped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// The clinic configuration as last committed.
    pub fn clinic(&self) -> ClinicConfig {
        // No await happens while the lock is held.
        self.clinic.read().expect("clinic lock").clone()
    }
}

/// Owns the writer thread; [`Writer::join`] waits for it after every handle is dropped.
#[derive(Debug)]
pub struct Writer {
    thread: JoinHandle<()>,
    maintainer: Maintainer,
}

impl Writer {
    /// Starts the writer on `conn`, creating the clinic document on first run.
    pub fn start(
        conn: Connection,
        identity: Identity,
        clinic_name: &str,
    ) -> Result<(Self, WriterHandle), StoreError> {
        let actor = ActorId::random();
        let clinic = load_or_create_clinic(&conn, &identity, actor.clone(), clinic_name)?;
        // Checkpoints run on the maintenance thread, not inside the writer's commits.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let path = conn
            .path()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
            .ok_or(StoreError::Corrupt("the writer needs a database file"))?;
        let (maintainer, maint) = Maintainer::start(path)?;
        let config = Arc::new(RwLock::new(clinic.config().clone()));
        let (tx, rx) = mpsc::channel(1024);
        let (live, _) = broadcast::channel(1024);
        let mut state = State {
            conn,
            identity,
            actor,
            clinic,
            queues: HashMap::new(),
            patients: HashMap::new(),
            shared_clinic: config.clone(),
            live: live.clone(),
            source: String::new(),
            last_purge: std::time::Instant::now(),
            aggregate_seq: HashMap::new(),
            maint,
            compaction_due: false,
        };
        state.source = node_source(state.identity.clinic_id.as_str(), &state.identity.node_id);
        let thread = std::thread::Builder::new()
            .name("clinic-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|_| StoreError::WriterGone)?;
        Ok((
            Self { thread, maintainer },
            WriterHandle {
                tx,
                live,
                clinic: config,
            },
        ))
    }

    /// Waits for the thread to finish (it does once every handle is dropped and the queue is drained),
    /// then for the maintenance thread's last checkpoint.
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the writer thread panicked");
        }
        self.maintainer.join();
    }
}

fn load_or_create_clinic(
    conn: &Connection,
    identity: &Identity,
    actor: ActorId,
    name: &str,
) -> Result<Clinic, StoreError> {
    let id = identity.clinic_id.doc_id();
    if let Some(mut doc) = docs::load(conn, &id)? {
        doc.set_actor(actor);
        return Clinic::from_doc(doc).map_err(|e| StoreError::Doc {
            doc_id: id.to_string(),
            source: Box::new(e),
        });
    }
    let mut config = ClinicConfig::default_for(&identity.clinic_id);
    config.name = name.to_owned();
    let now = now_ms();
    let (clinic, _) = Clinic::create(&config, actor, now).map_err(|e| StoreError::Doc {
        doc_id: id.to_string(),
        source: Box::new(e),
    })?;
    docs::insert(conn, &id, "clinic", &clinic.doc().save(), now)?;
    Ok(clinic)
}

/// A command executed in the current batch, waiting for the commit before its answer goes out.
type Finished = (
    oneshot::Sender<Result<Reply, DomainError>>,
    Result<Reply, DomainError>,
    Effects,
);

struct State {
    conn: Connection,
    identity: Identity,
    actor: ActorId,
    clinic: Clinic,
    queues: HashMap<DocId, QueueDay>,
    patients: HashMap<DocId, Patient>,
    shared_clinic: Arc<RwLock<ClinicConfig>>,
    live: broadcast::Sender<LiveEvent>,
    source: String,
    last_purge: std::time::Instant,
    /// The last outbox sequence number of recently used aggregates (a cache of the outbox; cleared
    /// whenever a write is undone).
    aggregate_seq: HashMap<String, u64>,
    /// The compaction and checkpoint thread.
    maint: MaintainerLink,
    /// A chunk list passed the compaction threshold in this batch: nudge the maintenance thread.
    compaction_due: bool,
}

/// Aggregates whose last sequence number is kept in memory.
const MAX_CACHED_AGGREGATES: usize = 20_000;

/// What one command left to do after the commit.
#[derive(Default)]
struct Effects {
    touched: Vec<DocId>,
    live: Vec<LiveEvent>,
    clinic_changed: bool,
}

impl State {
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.process(batch);
        }
        tracing::debug!("writer stopped");
    }

    /// Runs a batch in one transaction. Fast path: no savepoints. A command that fails before writing
    /// anything (every validation error) needs nothing undone; if one fails after writing, the batch is
    /// rolled back and run again with a savepoint per command ([`State::process_isolated`]).
    fn process(&mut self, batch: Vec<Job>) {
        let started = std::time::Instant::now();
        let mut batch = batch;
        if !self.begin(&mut batch) {
            return;
        }
        let now = now_ms();
        let mut done: Vec<(Result<Reply, DomainError>, Effects)> = Vec::with_capacity(batch.len());
        let mut dirty = false;
        for job in &batch {
            let before = self.conn.total_changes();
            let mut fx = Effects::default();
            let result = self.handle(job, now, &mut fx);
            if result.is_err() {
                self.evict(&fx.touched);
                self.aggregate_seq.clear();
                if self.conn.total_changes() != before {
                    dirty = true;
                    break;
                }
                fx = Effects::default();
            }
            done.push((result, fx));
        }
        if dirty {
            let _ = self.conn.execute_batch("ROLLBACK");
            for (_, fx) in &done {
                self.evict(&fx.touched);
            }
            self.process_isolated(batch);
            return;
        }
        let finished = batch
            .into_iter()
            .zip(done)
            .map(|(job, (result, fx))| (job.reply, result, fx))
            .collect();
        self.commit(finished, started);
    }

    /// Runs a batch with a savepoint around each command, so a failing command leaves nothing behind.
    fn process_isolated(&mut self, batch: Vec<Job>) {
        let started = std::time::Instant::now();
        let mut batch = batch;
        if !self.begin(&mut batch) {
            return;
        }
        let now = now_ms();
        let mut done: Vec<Finished> = Vec::with_capacity(batch.len());
        for job in batch {
            let mut fx = Effects::default();
            let result = self.savepoint(|s| s.handle(&job, now, &mut fx));
            if result.is_err() {
                self.evict(&fx.touched);
                self.aggregate_seq.clear();
                fx = Effects::default();
            }
            done.push((job.reply, result, fx));
        }
        self.commit(done, started);
    }

    /// Begins the batch's transaction; on failure answers every job with the error and returns false.
    fn begin(&mut self, batch: &mut Vec<Job>) -> bool {
        match self.conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => {
                if let Err(e) = self.upkeep() {
                    tracing::warn!(error = %e, "upkeep inside the batch failed; will retry");
                }
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "could not begin a transaction");
                let e = Arc::new(e);
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(StoreError::Batch(e.clone()).into()));
                }
                false
            }
        }
    }

    /// Commits the batch, then sends the answers (or, if the commit fails, refuses every command).
    fn commit(&mut self, done: Vec<Finished>, started: std::time::Instant) {
        let n = done.len();
        match self.conn.execute_batch("COMMIT").map_err(Arc::new) {
            Ok(()) => {
                crate::metrics::record_commit(n, started.elapsed());
                if std::mem::take(&mut self.compaction_due) {
                    self.maint.nudge();
                }
                for (reply, result, fx) in done {
                    if fx.clinic_changed {
                        *self.shared_clinic.write().expect("clinic lock") =
                            self.clinic.config().clone();
                    }
                    for ev in fx.live {
                        let _ = self.live.send(ev);
                    }
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed; the batch is refused");
                let _ = self.conn.execute_batch("ROLLBACK");
                self.aggregate_seq.clear();
                for (reply, _, fx) in done {
                    self.evict(&fx.touched);
                    let _ = reply.send(Err(StoreError::Batch(e.clone()).into()));
                }
                // The clinic document may have been changed in memory: read it again.
                if let Ok(c) =
                    load_or_create_clinic(&self.conn, &self.identity, self.actor.clone(), "")
                {
                    self.clinic = c;
                }
            }
        }
    }

    fn savepoint<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        self.conn
            .prepare_cached("SAVEPOINT job")
            .and_then(|mut st| st.execute([]))
            .map_err(StoreError::from)?;
        let r = f(self);
        let end = |sql: &str| {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut st| st.execute([]))
                .map_err(StoreError::from)
        };
        if r.is_err() {
            end("ROLLBACK TO job")?;
        }
        end("RELEASE job")?;
        r
    }

    fn evict(&mut self, ids: &[DocId]) {
        for id in ids {
            self.queues.remove(id);
            self.patients.remove(id);
            if *id == self.identity.clinic_id.doc_id()
                && let Ok(c) =
                    load_or_create_clinic(&self.conn, &self.identity, self.actor.clone(), "")
            {
                self.clinic = c;
            }
        }
    }

    fn handle(&mut self, job: &Job, now: i64, fx: &mut Effects) -> Result<Reply, DomainError> {
        if let Some(idem) = &job.idem {
            let stored: Option<(String, u16, String)> = self
                .conn
                .prepare_cached("SELECT request_hash, status, body FROM idempotency WHERE principal = ?1 AND key = ?2")
                .and_then(|mut s| s.query_row(params![job.caller.id, idem.key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
                .map_err(StoreError::from)?;
            if let Some((hash, status, body)) = stored {
                if hash != idem.request_hash {
                    return Err(DomainError::conflict(
                        "idempotency_key_reused",
                        "Idempotency-Key ini sudah dipakai untuk permintaan lain (this Idempotency-Key was used with a different request)",
                    ));
                }
                let mut body: serde_json::Value = serde_json::from_str(&body)
                    .map_err(|_| StoreError::Corrupt("stored idempotent answer is not JSON"))?;
                if let Some(id) = body
                    .get("patient_ref")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                {
                    // The answer named a patient: show the record as it is now.
                    let created = body["created"].clone();
                    let view = projection::patient(&self.conn, &id)?.ok_or_else(|| {
                        DomainError::not_found(
                            "patient_not_found",
                            "Pasien tidak ditemukan (patient not found)",
                        )
                    })?;
                    body = json(&view);
                    body["created"] = created;
                }
                return Ok(Reply {
                    status,
                    body,
                    replayed: true,
                });
            }
        }
        let reply = self.execute(&job.cmd, &job.caller, now, fx)?;
        if let Some(idem) = &job.idem {
            self.conn
                .prepare_cached("INSERT INTO idempotency (principal, key, request_hash, status, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .and_then(|mut s| s.execute(params![job.caller.id, idem.key, idem.request_hash, reply.status, stored_answer(&reply.body).to_string(), now]))
                .map_err(StoreError::from)?;
        }
        Ok(reply)
    }

    fn execute(
        &mut self,
        cmd: &Command,
        caller: &Caller,
        now: i64,
        fx: &mut Effects,
    ) -> Result<Reply, DomainError> {
        match cmd {
            Command::RegisterPatient { nik, fields } => self.register_patient(nik, fields, now, fx),
            Command::UpdatePatient { id, patch } => self.update_patient(id, patch, now, fx),
            Command::IssueTicket {
                service,
                priority,
                patient_id,
            } => {
                let config = self.clinic.config();
                let svc = config
                    .service(service)
                    .filter(|s| s.active)
                    .ok_or_else(|| {
                        DomainError::invalid(
                            "unknown_service",
                            format!("Layanan {service:?} tidak dikenal (unknown service)"),
                        )
                    })?;
                let patient_id = match patient_id {
                    Some(p) => {
                        let pid = PatientId::parse(p).map_err(|_| {
                            DomainError::invalid("invalid_field", "patient_id is malformed")
                        })?;
                        if !self.doc_exists(&pid.doc_id())? {
                            return Err(DomainError::not_found(
                                "patient_not_found",
                                "Pasien tidak ditemukan (patient not found)",
                            ));
                        }
                        Some(pid)
                    }
                    None => None,
                };
                let req = IssueTicket {
                    service: svc.id.clone(),
                    prefix: svc.prefix.clone(),
                    priority: *priority,
                    patient_id,
                    origin: None,
                };
                let issuer = self.issuer(caller);
                let qid = queue_day_doc_id(&self.identity.clinic_id, self.today(now));
                self.queue_day(&qid, now, fx)?;
                let q = self.queues.get_mut(&qid).expect("loaded above");
                let applied = q.issue(&req, &issuer, now)?;
                let view = self.after_queue_change(
                    &qid,
                    applied.change,
                    &applied.tickets,
                    &[EventKind::TicketIssued],
                    now,
                    fx,
                )?;
                Ok(Reply {
                    status: 201,
                    body: json(&view),
                    replayed: false,
                })
            }
            Command::CallNext { service, counter } => {
                let config = self.clinic.config();
                if config.service(service).is_none() {
                    return Err(DomainError::invalid(
                        "unknown_service",
                        format!("Layanan {service:?} tidak dikenal (unknown service)"),
                    ));
                }
                self.check_counter(counter, Some(service))?;
                let policy = config.policy();
                let qid = queue_day_doc_id(&self.identity.clinic_id, self.today(now));
                self.queue_day(&qid, now, fx)?;
                let next = self.queues[&qid]
                    .next_to_call(service, &policy)
                    .map(str::to_owned);
                let Some(ticket_id) = next else {
                    return Err(DomainError::not_found(
                        "queue_empty",
                        format!(
                            "Tidak ada antrean menunggu untuk layanan {service} (nobody is waiting)"
                        ),
                    ));
                };
                self.transition(
                    &qid,
                    &ticket_id,
                    Action::Call {
                        counter: counter.clone(),
                    },
                    caller,
                    now,
                    fx,
                )
            }
            Command::Transition { ticket_id, action } => {
                let qid =
                    projection::ticket_queue_day(&self.conn, ticket_id)?.ok_or_else(|| {
                        DomainError::not_found(
                            "ticket_not_found",
                            format!("Tiket {ticket_id} tidak ditemukan (ticket not found)"),
                        )
                    })?;
                let action = match action {
                    TransitionRequest::Call { counter } => {
                        self.check_counter(counter, None)?;
                        Action::Call {
                            counter: counter.clone(),
                        }
                    }
                    TransitionRequest::Recall => Action::Recall,
                    TransitionRequest::Start { counter } => {
                        if let Some(c) = counter {
                            self.check_counter(c, None)?;
                        }
                        Action::Start {
                            counter: counter.clone(),
                        }
                    }
                    TransitionRequest::Complete { next_service } => Action::Complete {
                        next: match next_service {
                            Some(s) => {
                                let svc = self.clinic.config().service(s).filter(|x| x.active).ok_or_else(|| {
                                    DomainError::invalid("unknown_service", format!("Layanan lanjutan {s:?} tidak dikenal (unknown next service)"))
                                })?;
                                Some(NextService {
                                    service: svc.id.clone(),
                                    prefix: svc.prefix.clone(),
                                })
                            }
                            None => None,
                        },
                    },
                    TransitionRequest::Skip => Action::Skip,
                    TransitionRequest::NoShow => Action::NoShow,
                    TransitionRequest::Cancel { reason } => Action::Cancel {
                        reason: reason.clone(),
                    },
                };
                self.queue_day(&qid, now, fx)?;
                self.transition(&qid, ticket_id, action, caller, now, fx)
            }
            Command::UpdateClinic { config } => {
                if config.id != self.identity.clinic_id.as_str() {
                    return Err(DomainError::invalid(
                        "invalid_field",
                        format!("id must stay {:?}", self.identity.clinic_id.as_str()),
                    ));
                }
                config
                    .validate()
                    .map_err(|e| DomainError::invalid("invalid_field", e.to_string()))?;
                let id = self.identity.clinic_id.doc_id();
                fx.touched.push(id.clone());
                let change = self.clinic.update(config, now)?;
                if let Some(change) = change {
                    self.append_chunk(&id, change.raw_bytes(), now)?;
                    let clinic_id = self.identity.clinic_id.to_string();
                    self.emit(
                        EventKind::ClinicUpdated,
                        &clinic_id,
                        serde_json::json!({ "clinic_id": clinic_id }),
                        now,
                    )?;
                    fx.clinic_changed = true;
                    fx.live.push(LiveEvent::Clinic);
                }
                Ok(Reply {
                    status: 200,
                    body: json(self.clinic.config()),
                    replayed: false,
                })
            }
        }
    }

    fn transition(
        &mut self,
        qid: &DocId,
        ticket_id: &str,
        action: Action,
        caller: &Caller,
        now: i64,
        fx: &mut Effects,
    ) -> Result<Reply, DomainError> {
        let issuer = self.issuer(caller);
        let kind = EventKind::for_transition(action.kind());
        let q = self.queues.get_mut(qid).expect("loaded by the caller");
        let applied = q.apply(ticket_id, &action, &issuer, now)?;
        // The first ticket touched is the one acted on.
        let view = self.after_queue_change(
            qid,
            applied.change,
            &applied.tickets,
            &[kind, EventKind::TicketIssued],
            now,
            fx,
        )?;
        Ok(Reply {
            status: 200,
            body: json(&view),
            replayed: false,
        })
    }

    /// Persists a queue change, projects the touched tickets and emits one event per ticket
    /// (`kinds[i]` for the i-th ticket touched).
    fn after_queue_change(
        &mut self,
        qid: &DocId,
        change: Option<Change>,
        tickets: &[String],
        kinds: &[EventKind],
        now: i64,
        fx: &mut Effects,
    ) -> Result<projection::TicketView, DomainError> {
        fx.touched.push(qid.clone());
        if let Some(change) = change {
            self.append_chunk(qid, change.raw_bytes(), now)?;
        }
        let q = &self.queues[qid];
        let date = q.state().date.clone();
        let mut events = Vec::new();
        for (i, tid) in tickets.iter().enumerate() {
            let t = q
                .ticket(tid)
                .ok_or(StoreError::Corrupt("a touched ticket is missing"))?;
            projection::project_ticket(&self.conn, qid, &date, tid, t)?;
            events.push((
                kinds[i.min(kinds.len() - 1)],
                tid.clone(),
                TicketData::from_ticket(qid.as_str(), tid, t),
            ));
        }
        let mut first = None;
        let policy = self.clinic.config().policy();
        for (kind, tid, data) in events {
            self.emit(kind, &tid, data, now)?;
            let q = &self.queues[qid];
            let t = q
                .ticket(&tid)
                .ok_or(StoreError::Corrupt("a touched ticket is missing"))?;
            let view = projection::view_of(
                &self.conn,
                &date,
                &tid,
                t,
                q.position(&tid, &policy),
                self.clinic.config(),
            )?;
            first.get_or_insert_with(|| view.clone());
            fx.live.push(LiveEvent::Ticket {
                ticket: Box::new(view),
            });
        }
        first.ok_or_else(|| StoreError::Corrupt("a queue change touched no ticket").into())
    }

    fn register_patient(
        &mut self,
        nik: &str,
        fields: &patient::PatientFields,
        now: i64,
        fx: &mut Effects,
    ) -> Result<Reply, DomainError> {
        let nik = Nik::parse(nik).map_err(patient::PatientError::from)?;
        let mut fields = fields.clone();
        patient::normalise_and_validate(&mut fields, &nik, self.current_year(now))?;
        let id = self.identity.secret.patient_id(&nik);
        let doc_id = id.doc_id();
        if self.doc_exists(&doc_id)? {
            let view = projection::patient(&self.conn, id.as_str())?
                .ok_or(StoreError::Corrupt("patient document without projection"))?;
            let mut body = json(&view);
            body["created"] = serde_json::Value::Bool(false);
            return Ok(Reply {
                status: 200,
                body,
                replayed: false,
            });
        }
        let registration = Registration {
            clinic: Some(self.identity.clinic_id.to_string()),
            node: Some(self.identity.node_id.clone()),
            at: Some(now),
        };
        let (p, _) = Patient::create(&id, self.actor.clone(), &fields, registration, now)?;
        fx.touched.push(doc_id.clone());
        docs::insert(&self.conn, &doc_id, "patient", &p.doc().save(), now)?;
        projection::project_patient(&self.conn, &p)?;
        let names = patient::FIELD_NAMES
            .iter()
            .filter(|n| matches!(fields.get(n), Some(Some(_))))
            .map(|n| n.to_string())
            .collect();
        self.emit(
            EventKind::PatientRegistered,
            id.as_str(),
            PatientData {
                patient_id: id.to_string(),
                fields: names,
            },
            now,
        )?;
        self.cache_patient(doc_id, p);
        let view = projection::patient(&self.conn, id.as_str())?.ok_or(StoreError::Corrupt(
            "patient projection missing after insert",
        ))?;
        let mut body = json(&view);
        body["created"] = serde_json::Value::Bool(true);
        Ok(Reply {
            status: 201,
            body,
            replayed: false,
        })
    }

    fn update_patient(
        &mut self,
        id: &str,
        patch: &patient::PatientFields,
        now: i64,
        fx: &mut Effects,
    ) -> Result<Reply, DomainError> {
        let pid = PatientId::parse(id).map_err(|_| {
            DomainError::not_found(
                "patient_not_found",
                "Pasien tidak ditemukan (patient not found)",
            )
        })?;
        if patch.nik.is_some() {
            return Err(patient::PatientError::NikImmutable.into());
        }
        let doc_id = pid.doc_id();
        let p = self.patient(&doc_id)?;
        let nik = p
            .state()
            .fields
            .nik
            .as_deref()
            .and_then(|n| Nik::parse(n).ok())
            .ok_or(StoreError::Corrupt("stored patient without a valid NIK"))?;
        // Validate the record as it would be after the patch.
        let mut next = p.state().fields.clone();
        next.apply_patch(patch);
        let year = self.current_year(now);
        patient::normalise_and_validate(&mut next, &nik, year)?;
        let p = self.patients.get_mut(&doc_id).expect("loaded above");
        let (changed, change) = p.update(&next, now)?;
        fx.touched.push(doc_id.clone());
        if let Some(change) = change {
            self.append_chunk(&doc_id, change.raw_bytes(), now)?;
            let p = &self.patients[&doc_id];
            projection::project_patient(&self.conn, p)?;
            let data = PatientData {
                patient_id: pid.to_string(),
                fields: changed.iter().map(|s| s.to_string()).collect(),
            };
            self.emit(EventKind::PatientUpdated, pid.as_str(), data, now)?;
        }
        let view = projection::patient(&self.conn, pid.as_str())?
            .ok_or(StoreError::Corrupt("patient projection missing"))?;
        Ok(Reply {
            status: 200,
            body: json(&view),
            replayed: false,
        })
    }

    fn check_counter(&self, counter: &str, service: Option<&str>) -> Result<(), DomainError> {
        let config = self.clinic.config();
        let c = config.counter(counter).ok_or_else(|| {
            DomainError::invalid(
                "unknown_counter",
                format!("Loket {counter:?} tidak dikenal (unknown counter)"),
            )
        })?;
        if let Some(s) = service
            && !c.services.iter().any(|x| x == s)
        {
            return Err(DomainError::invalid(
                "counter_not_for_service",
                format!(
                    "Loket {counter} tidak melayani {s} (the counter does not serve this service)"
                ),
            ));
        }
        Ok(())
    }

    fn issuer(&self, caller: &Caller) -> Issuer {
        Issuer {
            by: caller.id.clone(),
            node: self.identity.node_id.clone(),
            slot: self.identity.slot,
        }
    }

    fn today(&self, now: i64) -> ServiceDate {
        local_date(now, self.clinic.config().utc_offset_minutes)
    }

    fn current_year(&self, now: i64) -> i32 {
        self.today(now).year()
    }

    fn doc_exists(&self, id: &DocId) -> Result<bool, StoreError> {
        if self.patients.contains_key(id) || self.queues.contains_key(id) {
            return Ok(true);
        }
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM docs WHERE doc_id = ?1")?
            .exists([id.as_str()])?)
    }

    /// Loads (or creates from genesis) a queue-day document into the cache.
    fn queue_day(&mut self, id: &DocId, now: i64, fx: &mut Effects) -> Result<(), DomainError> {
        if self.queues.contains_key(id) {
            return Ok(());
        }
        let q = match docs::load(&self.conn, id)? {
            Some(mut doc) => {
                doc.set_actor(self.actor.clone());
                QueueDay::from_doc(doc)?
            }
            None => {
                let (clinic, date) = id
                    .queue_day_parts()
                    .ok_or(StoreError::Corrupt("queue-day id without date"))?;
                let q = QueueDay::create(&clinic, date, self.actor.clone())?;
                fx.touched.push(id.clone());
                docs::insert(&self.conn, id, "queue_day", &q.save(), now)?;
                q
            }
        };
        // Keep only a few days in memory: today and whatever was touched recently.
        if self.queues.len() >= 8 {
            self.queues.clear();
        }
        self.queues.insert(id.clone(), q);
        Ok(())
    }

    fn patient(&mut self, id: &DocId) -> Result<&Patient, DomainError> {
        if !self.patients.contains_key(id) {
            let mut doc = docs::load(&self.conn, id)?.ok_or_else(|| {
                DomainError::not_found(
                    "patient_not_found",
                    "Pasien tidak ditemukan (patient not found)",
                )
            })?;
            doc.set_actor(self.actor.clone());
            let p = Patient::from_doc(doc)?;
            self.cache_patient(id.clone(), p);
        }
        Ok(&self.patients[id])
    }

    fn cache_patient(&mut self, id: DocId, p: Patient) {
        if self.patients.len() >= MAX_CACHED_PATIENTS {
            self.patients.clear();
        }
        self.patients.insert(id, p);
    }

    /// Appends an event to the outbox with the next sequence number of its aggregate.
    fn emit(
        &mut self,
        kind: EventKind,
        subject: &str,
        data: impl Serialize,
        now: i64,
    ) -> Result<(), StoreError> {
        let seq = match self.aggregate_seq.get(subject) {
            Some(last) => last + 1,
            // A ticket id is new when it is issued: nothing to look up.
            None if kind == EventKind::TicketIssued => 1,
            None => self
                .conn
                .prepare_cached(
                    "SELECT COALESCE(MAX(aggregate_seq), 0) + 1 FROM outbox WHERE aggregate = ?1",
                )?
                .query_row([subject], |r| r.get(0))?,
        };
        if self.aggregate_seq.len() >= MAX_CACHED_AGGREGATES {
            self.aggregate_seq.clear();
        }
        self.aggregate_seq.insert(subject.to_owned(), seq);
        let ev = CloudEvent::new(kind, &self.source, subject, now, seq, data);
        let text = serde_json::to_string(&ev)
            .map_err(|_| StoreError::Corrupt("event does not serialise"))?;
        self.conn
            .prepare_cached("INSERT INTO outbox (id, aggregate, aggregate_seq, type, time_ms, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![ev.id, subject, seq, ev.ty, now, text])?;
        crate::metrics::record_event(kind.type_name());
        Ok(())
    }

    /// Work done at the start of a batch, inside its transaction: swapping in the snapshots the
    /// maintenance thread made, and (once a minute) forgetting old idempotency answers.
    fn upkeep(&mut self) -> Result<(), StoreError> {
        for c in self.maint.ready() {
            let applied = c.apply(&self.conn);
            self.maint.finished(&c.doc_id);
            if !applied? {
                tracing::debug!(doc = %c.doc_id, "document changed since its snapshot was made; skipped");
            }
        }
        // Idempotency keys protect retries, which happen within minutes: keep answers for a day.
        if self.last_purge.elapsed() > std::time::Duration::from_secs(60) {
            self.last_purge = std::time::Instant::now();
            self.conn
                .prepare_cached("DELETE FROM idempotency WHERE created_at < ?1")?
                .execute([now_ms() - IDEMPOTENCY_KEEP_MS])?;
        }
        Ok(())
    }

    /// Appends a change to a stored document, noting when its chunk list has grown long.
    fn append_chunk(&mut self, id: &DocId, bytes: &[u8], now: i64) -> Result<(), StoreError> {
        if docs::append(&self.conn, id, bytes, now)? >= COMPACT_AFTER_CHUNKS {
            self.compaction_due = true;
        }
        Ok(())
    }
}

/// How long an Idempotency-Key's answer is kept.
pub const IDEMPOTENCY_KEEP_MS: i64 = 24 * 3_600_000;

/// What the idempotency table keeps of an answer. A patient record is personal data, which lives only in
/// the patient document and its projection: for those answers only the patient id is kept, and a replay
/// reads the record again.
fn stored_answer(body: &serde_json::Value) -> serde_json::Value {
    match body.get("id").and_then(|v| v.as_str()) {
        Some(id) if id.starts_with("pat_") => {
            serde_json::json!({ "patient_ref": id, "created": body["created"] })
        }
        _ => body.clone(),
    }
}

/// The clinic's local date at `now_ms`.
pub fn local_date(now_ms: i64, utc_offset_minutes: i32) -> ServiceDate {
    let secs = now_ms.div_euclid(1000) + i64::from(utc_offset_minutes) * 60;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN)
}

/// Today's date string in the clinic's time zone.
pub fn today_string(config: &ClinicConfig) -> String {
    format_date(local_date(now_ms(), config.utc_offset_minutes))
}

fn json(v: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}
