//! Process-wide counters for the Prometheus text at `/metrics`: HTTP answers by route and status class,
//! commits (count, batch sizes, latency histogram), events by type and KTP scans. Plain atomics and one mutex-guarded
//! map; nothing here blocks on I/O.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

static COMMITS: AtomicU64 = AtomicU64::new(0);
static COMMANDS: AtomicU64 = AtomicU64::new(0);
const BUCKETS_MS: [u64; 10] = [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000];
static COMMIT_BUCKETS: [AtomicU64; 10] = [const { AtomicU64::new(0) }; 10];
static COMMIT_MICROS: AtomicU64 = AtomicU64::new(0);
// Mutexes are held only to bump a counter, never across an await.
static HTTP: Mutex<BTreeMap<(String, u16), u64>> = Mutex::new(BTreeMap::new());
static EVENTS: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());
static SCANS_READ: AtomicU64 = AtomicU64::new(0);
static SCANS_REFUSED: AtomicU64 = AtomicU64::new(0);
static SCAN_MICROS: AtomicU64 = AtomicU64::new(0);

/// Records one KTP scan: read or refused, and how long the reader took.
pub fn record_scan(read: bool, elapsed_ms: f64) {
    if read {
        SCANS_READ.fetch_add(1, Ordering::Relaxed);
    } else {
        SCANS_REFUSED.fetch_add(1, Ordering::Relaxed);
    }
    SCAN_MICROS.fetch_add((elapsed_ms * 1e3) as u64, Ordering::Relaxed);
}

/// Records one group commit of `commands` commands that took `took`.
pub fn record_commit(commands: usize, took: Duration) {
    COMMITS.fetch_add(1, Ordering::Relaxed);
    COMMANDS.fetch_add(commands as u64, Ordering::Relaxed);
    COMMIT_MICROS.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    let ms = took.as_millis() as u64;
    for (i, b) in BUCKETS_MS.iter().enumerate() {
        if ms < *b {
            COMMIT_BUCKETS[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Records one outbox event.
pub fn record_event(ty: &'static str) {
    *EVENTS.lock().expect("metrics lock").entry(ty).or_default() += 1;
}

/// Records one HTTP answer for a route pattern (not the concrete path, so ids never appear).
pub fn record_http(route: &str, status: u16) {
    *HTTP
        .lock()
        .expect("metrics lock")
        .entry((route.to_owned(), status))
        .or_default() += 1;
}

/// The Prometheus text exposition.
pub fn render(extra: &[(&str, &str, f64)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP clinic_http_responses_total HTTP answers by route and status.\n# TYPE clinic_http_responses_total counter"
    );
    for ((route, status), n) in HTTP.lock().expect("metrics lock").iter() {
        let _ = writeln!(
            out,
            "clinic_http_responses_total{{route=\"{route}\",status=\"{status}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP clinic_commits_total Group commits of the writer.\n# TYPE clinic_commits_total counter"
    );
    let _ = writeln!(
        out,
        "clinic_commits_total {}",
        COMMITS.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP clinic_commands_total Commands executed by the writer.\n# TYPE clinic_commands_total counter"
    );
    let _ = writeln!(
        out,
        "clinic_commands_total {}",
        COMMANDS.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP clinic_commit_seconds Duration of a group commit.\n# TYPE clinic_commit_seconds histogram"
    );
    for (i, b) in BUCKETS_MS.iter().enumerate() {
        let _ = writeln!(
            out,
            "clinic_commit_seconds_bucket{{le=\"{}\"}} {}",
            *b as f64 / 1000.0,
            COMMIT_BUCKETS[i].load(Ordering::Relaxed)
        );
    }
    let commits = COMMITS.load(Ordering::Relaxed);
    let _ = writeln!(out, "clinic_commit_seconds_bucket{{le=\"+Inf\"}} {commits}");
    let _ = writeln!(
        out,
        "clinic_commit_seconds_sum {}",
        COMMIT_MICROS.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "clinic_commit_seconds_count {commits}");
    let _ = writeln!(
        out,
        "# HELP clinic_events_total Outbox events by type.\n# TYPE clinic_events_total counter"
    );
    for (ty, n) in EVENTS.lock().expect("metrics lock").iter() {
        let _ = writeln!(out, "clinic_events_total{{type=\"{ty}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP clinic_ktp_scans_total KTP photos read or refused.\n# TYPE clinic_ktp_scans_total counter\n\
         clinic_ktp_scans_total{{outcome=\"read\"}} {}\nclinic_ktp_scans_total{{outcome=\"refused\"}} {}",
        SCANS_READ.load(Ordering::Relaxed),
        SCANS_REFUSED.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP clinic_ktp_scan_seconds_sum Time the KTP reader spent.\n# TYPE clinic_ktp_scan_seconds_sum counter\n\
         clinic_ktp_scan_seconds_sum {}",
        SCAN_MICROS.load(Ordering::Relaxed) as f64 / 1e6
    );
    for (name, help, v) in extra {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    }
    out
}
