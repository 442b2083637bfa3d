//! Benchmark: issuing a queue ticket through the HTTP API at concurrency 16 with durable commits, beside a
//! baseline measured in the same run on the same disk: a plain rusqlite insert of a comparable row, one
//! transaction per insert, WAL + `synchronous=FULL`. Prints p50/p99 latency, throughput and the ratio.
//!
//! Run: `cargo bench -p clinic-node --bench issue_ticket`. Environment: `CLINIC_BENCH_SECS` (measured
//! seconds per side, default 10), `CLINIC_BENCH_WARMUP_SECS` (default 2), `CLINIC_BENCH_CONCURRENCY`
//! (default 16), `CLINIC_BENCH_DIR` (where the temporary data directories go; default the system temp
//! directory unless it is a tmpfs, then `target/bench-data`).
//!
//! A node numbers at most 999 tickets per service per day, so the node side runs in segments: a fresh
//! node on a fresh data directory per segment, each stopping before [`TICKETS_PER_NODE`] tickets. Only
//! the time spent issuing tickets is measured (not the restarts); the segments are listed.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use rusqlite::{Connection, params};
use serde_json::{Value, json};

const PASSWORD: &str = "bench-password-123";
const SERVICES: [&str; 4] = ["umum", "gigi", "kia", "apotek"];
/// Tickets issued per node (warm-up included) before it is replaced: 4 services x 999 minus a margin.
const TICKETS_PER_NODE: usize = 3_900;
/// Warm-up tickets per segment after the first (the first warms up for `CLINIC_BENCH_WARMUP_SECS`).
const SEGMENT_WARMUP: usize = 64;

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Latencies and the time they were measured over.
#[derive(Debug, Default)]
struct Sample {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
}

impl Sample {
    fn merge(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
        self.errors += other.errors;
    }

    fn percentile(sorted: &[Duration], p: f64) -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[i.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
    }

    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn row(&self, name: &str) -> String {
        let mut s = self.latencies.clone();
        s.sort();
        format!(
            "| {name:<26} | {:>8} | {:>7.2} | {:>9.0} | {:>7.2} | {:>7.2} | {:>7.2} | {:>7.2} | {:>6} |",
            s.len(),
            self.elapsed.as_secs_f64(),
            self.rate(),
            Self::percentile(&s, 50.0),
            Self::percentile(&s, 90.0),
            Self::percentile(&s, 99.0),
            s.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
            self.errors,
        )
    }

    fn p99(&self) -> f64 {
        let mut s = self.latencies.clone();
        s.sort();
        Self::percentile(&s, 99.0)
    }
}

const HEADER: &str = "| run                        | requests | seconds | per second | p50 ms  | p90 ms  | p99 ms  | max ms  | errors |\n\
                      |----------------------------|----------|---------|------------|---------|---------|---------|---------|--------|";

/// Where the temporary data directories go: never a tmpfs, which would make fsync free.
fn bench_parent() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CLINIC_BENCH_DIR") {
        std::fs::create_dir_all(&dir)?;
        return Ok(dir.into());
    }
    let tmp = std::env::temp_dir();
    if fs_type(&tmp).as_deref() != Some("tmpfs") {
        return Ok(tmp);
    }
    // target/release/deps/issue_ticket-HASH -> target/bench-data
    let exe = std::env::current_exe()?;
    let target = exe
        .ancestors()
        .nth(3)
        .context("bench executable outside target/")?
        .to_owned();
    let dir = target.join("bench-data");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The 1/5/15-minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The file system type of the mount holding `path`, from /proc/mounts (longest matching mount point).
fn fs_type(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, mount, ty) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(mount)
                .then(|| (mount.len(), ty.to_owned()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, ty)| ty)
}

/// The baseline: one Connection behind a Mutex, one transaction (one fsync) per ~300-byte row.
async fn baseline(
    parent: &Path,
    warmup: Duration,
    measure: Duration,
    concurrency: usize,
) -> anyhow::Result<Sample> {
    let dir = tempfile::tempdir_in(parent)?;
    let conn = Connection::open(dir.path().join("baseline.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE tickets (
            id TEXT PRIMARY KEY, date TEXT NOT NULL, service TEXT NOT NULL, number INTEGER NOT NULL,
            display TEXT NOT NULL, priority TEXT, status TEXT NOT NULL, issued_at INTEGER NOT NULL, data TEXT NOT NULL);
         CREATE INDEX tickets_day ON tickets (date, service, status);",
    )?;
    let conn = Arc::new(Mutex::new(conn));
    let counter = Arc::new(AtomicUsize::new(0));
    let run = |until: Instant| {
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let conn = conn.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    while Instant::now() < until {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let conn = conn.clone();
                        let t = Instant::now();
                        tokio::task::spawn_blocking(move || insert_baseline_row(&conn, n))
                            .await??;
                        lat.push(t.elapsed());
                    }
                    anyhow::Ok(lat)
                })
            })
            .collect();
        async move {
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await??);
            }
            anyhow::Ok(all)
        }
    };
    run(Instant::now() + warmup).await?;
    let start = Instant::now();
    let latencies = run(start + measure).await?;
    Ok(Sample {
        latencies,
        elapsed: start.elapsed(),
        errors: 0,
    })
}

fn insert_baseline_row(conn: &Mutex<Connection>, n: usize) -> anyhow::Result<()> {
    let service = SERVICES[n % SERVICES.len()];
    let id = format!("tkt_{}", uuid::Uuid::now_v7().simple());
    // What the node's ticket row and event carry, roughly: ids, numbers, times (~300 bytes in all).
    let data = json!({
        "id": id, "service": service, "number": n, "display": format!("A-{:03}", n % 1000),
        "status": "waiting", "issued_at": n, "issuer": "usr_0123456789abcdef", "node": "node_0123456789abcdef",
        "event_id": uuid::Uuid::now_v7().to_string(),
    })
    .to_string();
    let mut conn = conn.lock().expect("baseline lock");
    let tx = conn.transaction()?;
    tx.prepare_cached(
        "INSERT INTO tickets (id, date, service, number, display, priority, status, issued_at, data)
         VALUES (?1, '2026-01-01', ?2, ?3, ?4, NULL, 'waiting', ?5, ?6)",
    )?
    .execute(params![id, service, n as i64, format!("A-{:03}", n % 1000), n as i64, data])?;
    tx.commit()?;
    Ok(())
}

/// One node segment: a fresh node, warm-up, then tickets for `left` (measured from the end of the
/// warm-up) or until the per-node budget is used.
async fn node_segment(
    parent: &Path,
    warmup: Warmup,
    left: Duration,
    concurrency: usize,
) -> anyhow::Result<Sample> {
    let dir = tempfile::tempdir_in(parent)?;
    let mut config = clinic_node::Config::for_data_dir(dir.path());
    config.admin_password = Some(PASSWORD.into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(clinic_node::run(config, listener, async move {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = login["token"]
        .as_str()
        .context("login without token")?
        .to_owned();
    let issued = Arc::new(AtomicUsize::new(0));

    let fire = |until: Instant, budget: usize| {
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (http, base, token, issued) =
                    (http.clone(), base.clone(), token.clone(), issued.clone());
                tokio::spawn(async move {
                    let mut s = Sample::default();
                    while Instant::now() < until {
                        let n = issued.fetch_add(1, Ordering::Relaxed);
                        if n >= budget {
                            break;
                        }
                        let t = Instant::now();
                        let res = http
                            .post(format!("{base}/api/v1/queue/tickets"))
                            .bearer_auth(&token)
                            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                            .json(&json!({"service": SERVICES[n % SERVICES.len()]}))
                            .send()
                            .await;
                        let ok = match res {
                            Ok(r) => r.status() == 201 && r.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        if ok {
                            s.latencies.push(t.elapsed());
                        } else {
                            s.errors += 1;
                        }
                    }
                    s
                })
            })
            .collect::<Vec<_>>();
        async move {
            let mut all = Sample::default();
            for t in tasks {
                all.merge(t.await?);
            }
            anyhow::Ok(all)
        }
    };

    match warmup {
        Warmup::Time(d) => fire(Instant::now() + d, TICKETS_PER_NODE / 4).await?,
        Warmup::Count(n) => fire(Instant::now() + Duration::from_secs(3600), n).await?,
    };
    let start = Instant::now();
    let mut sample = fire(start + left, TICKETS_PER_NODE).await?;
    sample.elapsed = start.elapsed();

    drop(http);
    let _ = stop.send(());
    server.await??;
    Ok(sample)
}

#[derive(Debug, Clone, Copy)]
enum Warmup {
    Time(Duration),
    Count(usize),
}

fn main() -> anyhow::Result<()> {
    let measure = Duration::from_secs_f64(env_num("CLINIC_BENCH_SECS", 10.0));
    let warmup = Duration::from_secs_f64(env_num("CLINIC_BENCH_WARMUP_SECS", 2.0));
    let concurrency: usize = env_num("CLINIC_BENCH_CONCURRENCY", 16);
    let parent = bench_parent()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        println!("issue_ticket: concurrency {concurrency}, {:.0} s measured per side after {:.0} s warm-up", measure.as_secs_f64(), warmup.as_secs_f64());
        println!("data directories under {} ({})", parent.display(), fs_type(&parent).unwrap_or_else(|| "unknown fs".into()));

        println!("load average before: {}", load_average());
        let base = baseline(&parent, warmup, measure, concurrency).await?;

        let mut node = Sample::default();
        let mut segments = Vec::new();
        let mut first = true;
        while node.elapsed < measure {
            let left = measure - node.elapsed;
            let w = if first { Warmup::Time(warmup) } else { Warmup::Count(SEGMENT_WARMUP) };
            let seg = node_segment(&parent, w, left, concurrency).await?;
            first = false;
            segments.push((seg.latencies.len(), seg.elapsed));
            node.merge(seg);
        }

        println!();
        println!("{HEADER}");
        println!("{}", base.row("baseline: rusqlite insert"));
        println!("{}", node.row("node: POST /queue/tickets"));
        println!();
        println!(
            "node segments (fresh data directory each, <= {TICKETS_PER_NODE} tickets per node): {}",
            segments.iter().map(|(n, d)| format!("{n} in {:.2} s", d.as_secs_f64())).collect::<Vec<_>>().join(", ")
        );
        println!("load average after: {} (other work on the machine skews both sides)", load_average());
        let ratio = node.rate() / base.rate();
        println!("throughput ratio node/baseline: {ratio:.2}");
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        println!("target p99 <= 10 ms: {:.2} ms, {}", node.p99(), verdict(node.p99() <= 10.0));
        println!("target >= 1,000 tickets/s: {:.0}/s, {}", node.rate(), verdict(node.rate() >= 1000.0));
        println!("target >= half the baseline's rate: {ratio:.2}x, {}", verdict(ratio >= 0.5));
        if node.errors > 0 {
            println!("WARNING: {} requests failed", node.errors);
        }
        anyhow::Ok(())
    })
}
