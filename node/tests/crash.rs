//! Crash safety of the write path, proven on the real binary: a `clinic-node` child process taking
//! concurrent writes through the HTTP API is killed with SIGKILL at random moments, run after run on one
//! accumulating data directory. After every restart each acknowledged ticket and patient is present, the
//! outbox holds exactly one `ticket.issued` event per ticket (unique event ids, gapless per-aggregate
//! sequences), and replaying the requests that were in flight at the kill yields exactly one ticket each.
//! Finally the projections are rebuilt from the documents and must equal what the node had.
//!
//! Knobs: `CLINIC_CRASH_SEED` (replay a seed; it is printed), `CLINIC_CRASH_RUNS` (default 30),
//! `CLINIC_CRASH_KEEP=1` (keep the data directory and node logs).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

const PASSWORD: &str = "crash-test-password";
const SERVICES: [&str; 4] = ["umum", "gigi", "kia", "apotek"];
const CLIENTS: usize = 4;
/// Most acknowledged writes before a kill; keeps the day's tickets far below the 999-per-service limit.
const MAX_ACKS_BEFORE_KILL: usize = 80;

/// A running node child process. Dropping it (also when an assertion fails) kills it and reaps it.
struct NodeProcess {
    child: Child,
    base: String,
}

impl NodeProcess {
    /// Starts the binary and waits for its "listening on" line (no sleeping: the line is the signal).
    fn start(data_dir: &Path, log: &Path) -> NodeProcess {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open node log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_clinic-node"))
            .arg("--data-dir")
            .arg(data_dir)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--admin-password",
                PASSWORD,
                "--log",
                "warn",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start clinic-node");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut node = NodeProcess {
            child,
            base: String::new(),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        // Keeps draining stdout after the line so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.split("listening on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.trim().trim_end_matches('/').to_owned());
                }
            }
        });
        node.base = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| {
                panic!(
                    "the node did not print its listening line ({e}); see {}",
                    data_dir.display()
                )
            });
        node
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL the node");
        self.child.wait().expect("reap the node");
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A logged-in API client for one node process.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn login(base: &str) -> Api {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let res = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": PASSWORD}))
            .send()
            .await
            .expect("login request");
        assert_eq!(
            res.status(),
            200,
            "login: {}",
            res.text().await.unwrap_or_default()
        );
        let body: Value = res.json().await.unwrap();
        let token = body["token"].as_str().expect("token").to_owned();
        Api {
            http,
            base: base.to_owned(),
            token,
        }
    }

    async fn post(
        &self,
        path: &str,
        key: Option<&str>,
        body: &Value,
    ) -> reqwest::Result<(u16, Value, bool)> {
        let mut req = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
            .json(body);
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let replayed = res.headers().contains_key("idempotent-replayed");
        let body = res.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body, replayed))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap_or(Value::Null))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ticket,
    Patient,
}

/// A write sent with an Idempotency-Key whose answer has not (yet) arrived.
#[derive(Debug, Clone)]
struct Pending {
    kind: Kind,
    key: String,
    body: Value,
}

/// Everything the clients know for sure, across runs.
#[derive(Debug, Default)]
struct Ledger {
    /// Ticket id -> its Idempotency-Key, for every ticket whose creation was answered 2xx.
    tickets: BTreeMap<String, String>,
    /// Service dates the tickets were issued on.
    dates: BTreeSet<String>,
    patients: BTreeSet<String>,
    /// NIKs registered so far (re-registering one must answer with the same patient).
    niks: Vec<String>,
    /// Tickets an acknowledged call-next called: never `waiting` again.
    called: BTreeSet<String>,
    /// Sent, not answered: the node may or may not have committed them.
    in_flight: HashMap<String, Pending>,
    acks_this_run: usize,
    unexpected: Vec<String>,
}

/// A valid NIK (district 350722, a real birth date, a non-zero serial) for any `i` below 336 million.
fn nik(i: u64) -> String {
    let serial = i % 9999 + 1;
    let k = i / 9999;
    let day = k % 28 + 1 + if k.is_multiple_of(2) { 40 } else { 0 };
    let month = (k / 28) % 12 + 1;
    let yy = (k / 336) % 100;
    format!("350722{day:02}{month:02}{yy:02}{serial:04}")
}

fn uuid(rng: &mut impl Rng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string()
}

/// One client: issues tickets (mostly), registers patients, sometimes calls the next ticket, until the node dies.
async fn client(
    api: Api,
    ledger: Arc<Mutex<Ledger>>,
    acks: tokio::sync::watch::Sender<usize>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    loop {
        let roll = rng.random_range(0..100);
        if roll < 5 {
            let service = SERVICES[rng.random_range(0..SERVICES.len())];
            let body = json!({"service": service, "counter": "loket-1"});
            match api.post("/queue/call-next", None, &body).await {
                Ok((200, b, _)) => {
                    let id = b["id"]
                        .as_str()
                        .or(b["ticket"]["id"].as_str())
                        .map(str::to_owned);
                    let mut l = ledger.lock().unwrap();
                    if let Some(id) = id {
                        l.called.insert(id);
                    }
                }
                Ok((404, _, _)) => {}
                Ok((s, b, _)) => ledger
                    .lock()
                    .unwrap()
                    .unexpected
                    .push(format!("call-next answered {s}: {b}")),
                Err(_) => return,
            }
            continue;
        }
        let key = uuid(&mut rng);
        let pending = if roll < 80 {
            let mut body = json!({"service": SERVICES[rng.random_range(0..SERVICES.len())]});
            if rng.random_ratio(1, 5) {
                body["priority"] = json!("lansia");
            }
            Pending {
                kind: Kind::Ticket,
                key,
                body,
            }
        } else {
            let mut l = ledger.lock().unwrap();
            let nik = if !l.niks.is_empty() && rng.random_ratio(1, 5) {
                l.niks[rng.random_range(0..l.niks.len())].clone()
            } else {
                let n = nik(rng.random_range(0..300_000_000));
                l.niks.push(n.clone());
                n
            };
            drop(l);
            Pending {
                kind: Kind::Patient,
                key,
                body: json!({"nik": nik, "name": "PASIEN UJI CRASH"}),
            }
        };
        ledger
            .lock()
            .unwrap()
            .in_flight
            .insert(pending.key.clone(), pending.clone());
        let path = if pending.kind == Kind::Ticket {
            "/queue/tickets"
        } else {
            "/patients"
        };
        let result = api.post(path, Some(&pending.key), &pending.body).await;
        let mut l = ledger.lock().unwrap();
        match result {
            Ok((status @ 200..=299, b, _)) => {
                l.in_flight.remove(&pending.key);
                match record(&mut l, &pending, status, &b) {
                    Ok(()) => {
                        l.acks_this_run += 1;
                        acks.send_replace(l.acks_this_run);
                    }
                    Err(e) => l.unexpected.push(e),
                }
            }
            Ok((status, b, _)) => {
                l.in_flight.remove(&pending.key);
                l.unexpected.push(format!("{path} answered {status}: {b}"));
            }
            // The node is gone (or going): the request stays in flight, its fate unknown.
            Err(_) => return,
        }
    }
}

/// Records an acknowledged write.
fn record(l: &mut Ledger, p: &Pending, status: u16, body: &Value) -> Result<(), String> {
    let id = body["id"]
        .as_str()
        .ok_or_else(|| format!("answer without id: {body}"))?
        .to_owned();
    match p.kind {
        Kind::Ticket => {
            if status != 201 {
                return Err(format!("issuing a ticket answered {status}, not 201"));
            }
            if !id.starts_with("tkt_") {
                return Err(format!("ticket id {id}"));
            }
            if let Some(prev) = l.tickets.insert(id.clone(), p.key.clone())
                && prev != p.key
            {
                return Err(format!(
                    "two Idempotency-Keys ({prev}, {}) gave the same ticket {id}",
                    p.key
                ));
            }
            l.dates.insert(
                body["date"]
                    .as_str()
                    .ok_or("ticket without date")?
                    .to_owned(),
            );
        }
        Kind::Patient => {
            if !id.starts_with("pat_") {
                return Err(format!("patient id {id}"));
            }
            l.patients.insert(id);
        }
    }
    Ok(())
}

/// Reads the whole outbox.
async fn outbox(api: &Api) -> Vec<Value> {
    let mut after = 0u64;
    let mut all = Vec::new();
    loop {
        let (status, page) = api.get(&format!("/events?after={after}&limit=1000")).await;
        assert_eq!(status, 200, "GET /events: {page}");
        let events = page["events"].as_array().expect("events array").clone();
        if events.is_empty() {
            return all;
        }
        for e in &events {
            let seq = e["seq"].as_u64().expect("outbox seq");
            assert!(seq > after, "outbox seq {seq} not after {after}");
            after = seq;
        }
        all.extend(events);
    }
}

/// The tickets in the queue view, over every date the test issued on: id -> status.
async fn queue(api: &Api, dates: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for date in dates {
        let (status, body) = api.get(&format!("/queue?date={date}")).await;
        assert_eq!(status, 200, "GET /queue?date={date}: {body}");
        for t in body["tickets"].as_array().expect("tickets array") {
            let id = t["id"].as_str().expect("ticket id").to_owned();
            let st = t["status"].as_str().expect("ticket status").to_owned();
            assert!(
                out.insert(id.clone(), st).is_none(),
                "ticket {id} listed twice"
            );
        }
    }
    out
}

/// The acknowledged writes are all there (checked before any in-flight request is retried).
async fn assert_acknowledged_present(api: &Api, l: &Ledger, run: usize) {
    for id in l.tickets.keys() {
        let (status, body) = api.get(&format!("/queue/tickets/{id}")).await;
        assert_eq!(
            status, 200,
            "run {run}: acknowledged ticket {id} is missing after the restart: {body}"
        );
        assert_eq!(body["id"], json!(id));
    }
    for id in &l.patients {
        let (status, body) = api.get(&format!("/patients/{id}")).await;
        assert_eq!(
            status, 200,
            "run {run}: acknowledged patient {id} is missing after the restart: {body}"
        );
    }
    let q = queue(api, &l.dates).await;
    for id in l.tickets.keys() {
        assert!(
            q.contains_key(id),
            "run {run}: acknowledged ticket {id} is not in GET /queue"
        );
    }
    for id in &l.called {
        assert_ne!(
            q.get(id).map(String::as_str),
            Some("waiting"),
            "run {run}: called ticket {id} is waiting again"
        );
    }
}

/// Replays every request whose answer the kill swallowed, with its Idempotency-Key: each must now
/// answer (once created, always the same ticket), and a second replay must give the same id.
/// Returns how many were replayed and how many of those the node had committed before the kill.
async fn replay_in_flight(
    api: &Api,
    l: &mut Ledger,
    rng: &mut StdRng,
    run: usize,
) -> (usize, usize) {
    let mut pending: Vec<Pending> = l.in_flight.drain().map(|(_, p)| p).collect();
    pending.sort_by(|a, b| a.key.cmp(&b.key));
    let n = pending.len();
    let mut committed = 0;
    for p in pending {
        let path = if p.kind == Kind::Ticket {
            "/queue/tickets"
        } else {
            "/patients"
        };
        let (status, body, replayed) = api.post(path, Some(&p.key), &p.body).await.expect("replay");
        committed += usize::from(replayed);
        assert!(
            (200..300).contains(&status),
            "run {run}: replaying {} answered {status}: {body}",
            p.key
        );
        if let Err(e) = record(l, &p, status, &body) {
            panic!("run {run}: replaying {}: {e}", p.key);
        }
        if rng.random_ratio(1, 2) {
            let (status2, body2, replayed2) = api
                .post(path, Some(&p.key), &p.body)
                .await
                .expect("second replay");
            assert_eq!(
                (status2, &body2["id"]),
                (status, &body["id"]),
                "run {run}: a second replay answered differently"
            );
            assert!(
                replayed2,
                "run {run}: a second replay was not marked as replayed"
            );
        }
    }
    (n, committed)
}

/// Queue view and outbox agree exactly with what the clients know: no lost and no doubled ticket or event.
async fn assert_exactly_once(api: &Api, l: &Ledger, run: usize) -> (usize, usize) {
    let q = queue(api, &l.dates).await;
    let known: BTreeSet<&String> = l.tickets.keys().collect();
    let listed: BTreeSet<&String> = q.keys().collect();
    assert_eq!(
        listed, known,
        "run {run}: the queue holds exactly the tickets that were created (no orphans, none lost)"
    );

    let events = outbox(api).await;
    let mut ids = HashSet::new();
    let mut per_aggregate: HashMap<String, Vec<u64>> = HashMap::new();
    let mut issued: HashMap<String, usize> = HashMap::new();
    let mut registered: HashMap<String, usize> = HashMap::new();
    for e in &events {
        let ev = &e["event"];
        let id = ev["id"]
            .as_str()
            .unwrap_or_else(|| panic!("event without id: {ev}"));
        assert!(
            ids.insert(id.to_owned()),
            "run {run}: event id {id} appears twice in the outbox"
        );
        let subject = ev["subject"]
            .as_str()
            .unwrap_or_else(|| panic!("event without subject: {ev}"))
            .to_owned();
        let seq = ev["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("event without per-aggregate seq: {ev}"));
        per_aggregate.entry(subject.clone()).or_default().push(seq);
        match ev["type"].as_str().unwrap_or_default() {
            "id.clinic.ticket.issued.v1" => *issued.entry(subject).or_default() += 1,
            "id.clinic.patient.registered.v1" => *registered.entry(subject).or_default() += 1,
            _ => {}
        }
    }
    for (agg, seqs) in &per_aggregate {
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(
            seqs, &expected,
            "run {run}: per-aggregate sequence of {agg} has a gap, a double or is out of order"
        );
    }
    for id in &known {
        assert_eq!(
            issued.get(*id),
            Some(&1),
            "run {run}: ticket {id} needs exactly one ticket.issued event"
        );
    }
    for id in issued.keys() {
        assert!(
            known.contains(id),
            "run {run}: ticket.issued for {id}, which is not in the queue"
        );
    }
    for id in &l.patients {
        assert_eq!(
            registered.get(id),
            Some(&1),
            "run {run}: patient {id} needs exactly one patient.registered event"
        );
    }
    (known.len(), events.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_at_random_moments() {
    let seed: u64 = std::env::var("CLINIC_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let runs: usize = std::env::var("CLINIC_CRASH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    println!("crash test seed: {seed} (replay with CLINIC_CRASH_SEED={seed}), {runs} runs");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::Builder::new()
        .prefix("clinic-crash-")
        .tempdir()
        .unwrap();
    let data_dir = dir.path().join("data");
    let log = dir.path().join("node.log");
    println!(
        "data directory {}, node log {}",
        data_dir.display(),
        log.display()
    );
    let dir_guard = if std::env::var_os("CLINIC_CRASH_KEEP").is_some() {
        let kept = dir.keep();
        println!("keeping {}", kept.display());
        None
    } else {
        Some(dir)
    };

    let started = Instant::now();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let (mut replayed_total, mut committed_total) = (0, 0);
    for run in 0..runs {
        let node = NodeProcess::start(&data_dir, &log);
        let api = Api::login(&node.base).await;
        {
            // No client runs now: the ledger is taken out for the checks and put back.
            let mut l = std::mem::take(&mut *ledger.lock().unwrap());
            assert!(
                l.unexpected.is_empty(),
                "run {run}: unexpected answers: {:?}",
                l.unexpected
            );
            assert_acknowledged_present(&api, &l, run).await;
            let (n, c) = replay_in_flight(&api, &mut l, &mut rng, run).await;
            replayed_total += n;
            committed_total += c;
            assert_exactly_once(&api, &l, run).await;
            l.acks_this_run = 0;
            *ledger.lock().unwrap() = l;
        }

        let target = rng.random_range(0..=MAX_ACKS_BEFORE_KILL);
        let extra = Duration::from_micros(rng.random_range(0..20_000));
        let (acks, mut acks_rx) = tokio::sync::watch::channel(0usize);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                tokio::spawn(client(
                    api.clone(),
                    ledger.clone(),
                    acks.clone(),
                    rng.random(),
                ))
            })
            .collect();
        drop(acks);
        tokio::time::timeout(Duration::from_secs(60), acks_rx.wait_for(|n| *n >= target))
            .await
            .unwrap_or_else(|_| {
                panic!("run {run}: the clients stalled before {target} acknowledged writes")
            })
            .expect("clients alive");
        // A random instant after the target: the kill lands anywhere in a commit or an answer.
        tokio::time::sleep(extra).await;
        node.kill();
        for c in clients {
            c.await.expect("client task");
        }
        let l = ledger.lock().unwrap();
        println!(
            "run {run:2}: killed after {:3} acks (+{:5} us); {} tickets, {} patients acknowledged so far, {} in flight",
            l.acks_this_run,
            extra.as_micros(),
            l.tickets.len(),
            l.patients.len(),
            l.in_flight.len()
        );
    }

    // Last restart: everything checked once more, then the projections rebuilt from the documents must match.
    let node = NodeProcess::start(&data_dir, &log);
    let api = Api::login(&node.base).await;
    let mut l = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(
        l.unexpected.is_empty(),
        "unexpected answers: {:?}",
        l.unexpected
    );
    let before = {
        assert_acknowledged_present(&api, &l, runs).await;
        let (n, c) = replay_in_flight(&api, &mut l, &mut rng, runs).await;
        replayed_total += n;
        committed_total += c;
        let (tickets, events) = assert_exactly_once(&api, &l, runs).await;
        println!(
            "final: {tickets} tickets, {} patients, {events} outbox events, {replayed_total} in-flight requests replayed ({committed_total} had committed before the kill, unacknowledged)",
            l.patients.len()
        );
        queue(&api, &l.dates).await
    };
    node.kill();
    let status = Command::new(env!("CARGO_BIN_EXE_clinic-node"))
        .arg("rebuild-projections")
        .arg("--data-dir")
        .arg(&data_dir)
        .stdout(Stdio::null())
        .status()
        .expect("run rebuild-projections");
    assert!(status.success(), "rebuild-projections failed: {status}");
    let node = NodeProcess::start(&data_dir, &log);
    let api = Api::login(&node.base).await;
    assert_eq!(
        queue(&api, &l.dates).await,
        before,
        "the rebuilt queue view differs from the incremental one"
    );
    assert_acknowledged_present(&api, &l, runs + 1).await;
    assert_exactly_once(&api, &l, runs + 1).await;
    drop(node);
    drop(dir_guard);
    println!(
        "{runs} SIGKILL runs passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
