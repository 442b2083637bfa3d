//! Benchmark: start-up time and resident memory of the real `clinic-node` binary on a data directory
//! holding 100,000 patients and 365 queue days. Measures spawn -> "listening" line, spawn -> first
//! `GET /api/v1/ready` = 200, and peak RSS (VmHWM) after a few typical reads, against the targets
//! start-up <= 2 s and RSS <= 200 MB.
//!
//! Run: `cargo build --release -p clinic-node && cargo bench -p clinic-node --bench startup`.
//! Environment: `CLINIC_NODE_BIN` (the binary; default `target/release/clinic-node` beside this bench),
//! `CLINIC_BENCH_SEED_DIR` (the seeded data directory, cached; default `target/bench-data/startup-seed`),
//! `CLINIC_BENCH_PATIENTS` (default 100000), `CLINIC_BENCH_DAYS` (default 365),
//! `CLINIC_BENCH_TICKETS_PER_DAY` (default 120), `CLINIC_BENCH_STARTS` (default 5). The first start
//! runs on a dropped page cache (cold) when the bench may write `/proc/sys/vm/drop_caches` (root).
//!
//! Seeding: patients go through the HTTP API (16 concurrent clients, timed). Past queue days cannot be
//! created through the API (tickets are issued for today), so they are built with `crdt_schema` (each
//! ticket issued, called, started and completed), stored as compacted documents in the `docs` table of
//! the stopped node's database, and projected by `clinic-node rebuild-projections`, the same path the
//! node uses to rebuild its views.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use crdt_schema::{
    automerge::ActorId,
    ids::{ClinicId, format_date, queue_day_doc_id},
    queue::{Action, IssueTicket, Issuer, QueueDay},
};
use serde_json::{Value, json};

const PASSWORD: &str = "bench-password-123";
const CLINIC: &str = "puskesmas-contoh";
const SERVICES: [(&str, &str); 4] = [("umum", "A"), ("gigi", "B"), ("kia", "C"), ("apotek", "F")];
const SEED_VERSION: &str = "startup-seed v1";

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// target/release/deps/startup-HASH -> target/release
fn profile_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .and_then(Path::parent)
        .context("bench executable outside target/")?
        .to_owned())
}

fn node_binary() -> anyhow::Result<PathBuf> {
    let bin = match std::env::var_os("CLINIC_NODE_BIN") {
        Some(b) => PathBuf::from(b),
        None => profile_dir()?.join("clinic-node"),
    };
    if !bin.exists() {
        bail!(
            "{} not found: build it first with `cargo build --release -p clinic-node`",
            bin.display()
        );
    }
    Ok(bin)
}

/// A running node; killed when dropped.
struct Node {
    child: Child,
    base: String,
    listening_after: Duration,
    spawned: Instant,
}

impl Node {
    fn start(bin: &Path, data_dir: &Path) -> anyhow::Result<Node> {
        let spawned = Instant::now();
        let mut child = Command::new(bin)
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
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.split("listening on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send((Instant::now(), url.trim().trim_end_matches('/').to_owned()));
                }
            }
        });
        let mut node = Node {
            child,
            base: String::new(),
            listening_after: Duration::ZERO,
            spawned,
        };
        let (at, base) = rx
            .recv_timeout(Duration::from_secs(120))
            .context("the node did not print its listening line")?;
        node.listening_after = at - spawned;
        node.base = base;
        Ok(node)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the node with SIGTERM (a clean shutdown), falling back to SIGKILL.
    fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn login(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let body: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(body["token"]
        .as_str()
        .context("login without token")?
        .to_owned())
}

/// A valid NIK for any `i` below 336 million (district 350722, a real birth date, non-zero serial).
fn nik(i: u64) -> String {
    let serial = i % 9999 + 1;
    let k = i / 9999;
    let day = k % 28 + 1 + if k.is_multiple_of(2) { 40 } else { 0 };
    let month = (k / 28) % 12 + 1;
    let yy = (k / 336) % 100;
    format!("350722{day:02}{month:02}{yy:02}{serial:04}")
}

const FIRST: [&str; 16] = [
    "SITI", "AHMAD", "DEWI", "BUDI", "SRI", "AGUS", "NUR", "EKO", "RINA", "JOKO", "PUTRI",
    "HENDRA", "WULAN", "RUDI", "YANTI", "IWAN",
];
const LAST: [&str; 16] = [
    "AMINAH",
    "SANTOSO",
    "LESTARI",
    "WIBOWO",
    "RAHAYU",
    "HIDAYAT",
    "SETIAWAN",
    "KURNIASIH",
    "PRATAMA",
    "SUSANTI",
    "NUGROHO",
    "HANDAYANI",
    "SAPUTRA",
    "WATI",
    "FIRMANSYAH",
    "MULYANI",
];

fn patient_body(i: u64) -> Value {
    let f = FIRST[(i % 16) as usize];
    let m = LAST[((i / 16) % 16) as usize];
    let l = LAST[((i / 256) % 16) as usize];
    json!({
        "nik": nik(i),
        "name": format!("{f} {m} {l}"),
        "birth_place": "MALANG",
        "address": format!("JL. MAWAR NO. {}", i % 200 + 1),
        "rt_rw": format!("{:03}/{:03}", i % 20 + 1, i % 12 + 1),
        "village": "KEDUNGKANDANG",
        "religion": "ISLAM",
        "marital_status": "KAWIN",
        "occupation": "WIRASWASTA",
        "nationality": "WNI",
        "phone": format!("08123{:07}", i),
    })
}

/// Registers `count` patients through the API with 16 concurrent clients.
async fn seed_patients(base: &str, count: u64) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let token = login(&http, base).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (http, base, token, next) =
                (http.clone(), base.to_owned(), token.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as u64;
                    if i >= count {
                        return anyhow::Ok(());
                    }
                    let res = http
                        .post(format!("{base}/api/v1/patients"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", format!("seed-patient-{i}"))
                        .json(&patient_body(i))
                        .send()
                        .await?;
                    let status = res.status();
                    if !status.is_success() {
                        bail!(
                            "registering patient {i} answered {status}: {}",
                            res.text().await.unwrap_or_default()
                        );
                    }
                    if i > 0 && i.is_multiple_of(20_000) {
                        eprintln!("  {i} patients registered");
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Builds `days` past queue days (each ticket issued, called, started, completed) straight into the
/// `docs` table, as compacted snapshots.
fn seed_queue_days(db: &Path, days: i64, per_day: usize) -> anyhow::Result<usize> {
    let clinic = ClinicId::parse(CLINIC)?;
    let conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let wib = time::UtcOffset::from_hms(7, 0, 0)?;
    let today = time::OffsetDateTime::now_utc().to_offset(wib).date();
    let issuer = Issuer {
        by: "usr_seed".into(),
        node: "node_seed".into(),
        slot: 0,
    };
    let tx = conn.unchecked_transaction()?;
    let mut tickets = 0;
    for back in 1..=days {
        let date = today - time::Duration::days(back);
        let mut q = QueueDay::create(&clinic, date, ActorId::random())?;
        let day_start = date.midnight().assume_offset(wib).unix_timestamp() * 1000 + 7 * 3_600_000;
        for n in 0..per_day {
            let (service, prefix) = SERVICES[n % SERVICES.len()];
            let t = day_start + n as i64 * 120_000;
            let req = IssueTicket {
                service: service.into(),
                prefix: prefix.into(),
                priority: None,
                patient_id: None,
                origin: None,
            };
            let id = q.issue(&req, &issuer, t)?.tickets[0].clone();
            q.apply(
                &id,
                &Action::Call {
                    counter: "loket-1".into(),
                },
                &issuer,
                t + 600_000,
            )?;
            q.apply(&id, &Action::Start { counter: None }, &issuer, t + 660_000)?;
            q.apply(&id, &Action::Complete { next: None }, &issuer, t + 900_000)?;
            tickets += 1;
        }
        tx.execute(
            "INSERT OR REPLACE INTO docs (doc_id, kind, snapshot, chunks, updated_at) VALUES (?1, 'queue_day', ?2, 0, ?3)",
            rusqlite::params![queue_day_doc_id(&clinic, date).as_str(), q.save(), day_start],
        )?;
        if back % 73 == 0 {
            eprintln!("  {back} queue days built ({})", format_date(date));
        }
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(tickets)
}

/// Seeds `dir` unless a complete seed of the same shape is cached there.
async fn ensure_seed(
    bin: &Path,
    dir: &Path,
    patients: u64,
    days: i64,
    per_day: usize,
) -> anyhow::Result<()> {
    let marker = dir.join("SEEDED");
    let want = format!("{SEED_VERSION}: {patients} patients, {days} days x {per_day} tickets");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(want.as_str()) {
        println!("using the cached seed in {} ({want})", dir.display());
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    println!("seeding {} ({want}); cached for later runs", dir.display());

    let t = Instant::now();
    let node = Node::start(bin, dir)?;
    seed_patients(&node.base, patients).await?;
    node.stop()?;
    let patients_took = t.elapsed();
    println!(
        "  {patients} patients through the API in {:.1} s ({:.0}/s)",
        patients_took.as_secs_f64(),
        patients as f64 / patients_took.as_secs_f64()
    );

    let t = Instant::now();
    let tickets = seed_queue_days(&dir.join("clinic-node.db"), days, per_day)?;
    println!(
        "  {days} queue days ({tickets} tickets) built in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let status = Command::new(bin)
        .arg("rebuild-projections")
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("rebuild-projections failed: {status}");
    }
    println!(
        "  rebuild-projections took {:.1} s",
        t.elapsed().as_secs_f64()
    );
    std::fs::write(marker, want)?;
    Ok(())
}

/// Empties the OS page cache so the next start reads the database from disk; false when not allowed.
fn drop_page_cache() -> bool {
    let synced = Command::new("sync").status().is_ok_and(|s| s.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

/// VmHWM and VmRSS of a process, in MiB.
fn memory_mib(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} missing"))?;
        let kb: f64 = line.split_whitespace().nth(1).context("value")?.parse()?;
        Ok(kb / 1024.0)
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

#[derive(Debug)]
struct Start {
    listening: Duration,
    ready: Duration,
    hwm_mib: f64,
    rss_mib: f64,
}

/// One start: spawn, the listening line, /ready polled until 200, typical reads, then memory.
async fn measure_start(bin: &Path, dir: &Path, days: i64) -> anyhow::Result<Start> {
    let node = Node::start(bin, dir)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let ready = loop {
        if let Ok(r) = http.get(format!("{}/api/v1/ready", node.base)).send().await
            && r.status() == 200
        {
            break node.spawned.elapsed();
        }
        if node.spawned.elapsed() > Duration::from_secs(120) {
            bail!("the node was not ready within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    // Typical reads: a name search, a patient, today's queue, a past day and its statistics, the outbox.
    let token = login(&http, &node.base).await?;
    let wib = time::UtcOffset::from_hms(7, 0, 0)?;
    let today = time::OffsetDateTime::now_utc().to_offset(wib).date();
    let past = format_date(today - time::Duration::days(days / 2));
    let search: Value = get(&http, &node.base, &token, "/patients?q=SITI").await?;
    let first_id = search["patients"][0]["id"]
        .as_str()
        .or(search[0]["id"].as_str())
        .map(str::to_owned);
    if let Some(id) = first_id {
        get(&http, &node.base, &token, &format!("/patients/{id}")).await?;
    }
    get(
        &http,
        &node.base,
        &token,
        &format!("/patients?nik={}", nik(54_321)),
    )
    .await?;
    get(&http, &node.base, &token, "/queue").await?;
    let day: Value = get(&http, &node.base, &token, &format!("/queue?date={past}")).await?;
    if day["tickets"].as_array().is_none_or(Vec::is_empty) {
        bail!("the past day {past} shows no tickets: the seed is not projected");
    }
    get(
        &http,
        &node.base,
        &token,
        &format!("/queue/stats?date={past}"),
    )
    .await?;
    get(&http, &node.base, &token, "/events?limit=100").await?;
    let (hwm_mib, rss_mib) = memory_mib(node.pid())?;
    let listening = node.listening_after;
    node.stop()?;
    Ok(Start {
        listening,
        ready,
        hwm_mib,
        rss_mib,
    })
}

async fn get(http: &reqwest::Client, base: &str, token: &str, path: &str) -> anyhow::Result<Value> {
    let res = http
        .get(format!("{base}/api/v1{path}"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = res.status();
    if !status.is_success() {
        bail!(
            "GET {path} answered {status}: {}",
            res.text().await.unwrap_or_default()
        );
    }
    Ok(res.json().await?)
}

fn main() -> anyhow::Result<()> {
    let bin = node_binary()?;
    let patients: u64 = env_num("CLINIC_BENCH_PATIENTS", 100_000);
    let days: i64 = env_num("CLINIC_BENCH_DAYS", 365);
    let per_day: usize = env_num("CLINIC_BENCH_TICKETS_PER_DAY", 120);
    let starts: usize = env_num("CLINIC_BENCH_STARTS", 5);
    let dir = match std::env::var_os("CLINIC_BENCH_SEED_DIR") {
        Some(d) => PathBuf::from(d),
        None => profile_dir()?
            .parent()
            .context("target dir")?
            .join("bench-data")
            .join("startup-seed"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        ensure_seed(&bin, &dir, patients, days, per_day).await?;
        let db_mib = std::fs::metadata(dir.join("clinic-node.db"))?.len() as f64 / (1024.0 * 1024.0);
        println!("binary {}, database {:.0} MiB", bin.display(), db_mib);
        let mut results = Vec::new();
        for i in 0..starts {
            // The first start is cold when the page cache can be dropped (root only); the rest are warm.
            let cold = i == 0 && drop_page_cache();
            results.push((cold, measure_start(&bin, &dir, days).await?));
        }
        println!();
        println!("| start      | spawn -> listening ms | spawn -> ready ms | peak RSS (VmHWM) MiB | RSS after reads MiB |");
        println!("|------------|-----------------------|-------------------|----------------------|---------------------|");
        for (i, (cold, s)) in results.iter().enumerate() {
            println!(
                "| {:>3} ({:>4}) | {:>21.1} | {:>17.1} | {:>20.1} | {:>19.1} |",
                i + 1,
                if *cold { "cold" } else { "warm" },
                s.listening.as_secs_f64() * 1e3,
                s.ready.as_secs_f64() * 1e3,
                s.hwm_mib,
                s.rss_mib
            );
        }
        let worst_ready = results.iter().map(|(_, s)| s.ready).max().unwrap_or_default();
        let worst_hwm = results.iter().map(|(_, s)| s.hwm_mib).fold(0.0, f64::max);
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        println!();
        println!("target start-up <= 2 s: worst {:.3} s, {}", worst_ready.as_secs_f64(), verdict(worst_ready <= Duration::from_secs(2)));
        println!("target resident memory <= 200 MB: worst peak {:.1} MiB ({:.1} MB), {}", worst_hwm, worst_hwm * 1.048_576, verdict(worst_hwm * 1.048_576 <= 200.0));
        anyhow::Ok(())
    })
}
