//! Projections: the patient search index and the queue view, written from the documents in the same
//! transaction as each change, and rebuildable from the documents at any time. The same functions serve
//! both paths, so a rebuild equals the incremental result by construction (and a test checks it).
//! Read queries over the projections live here too.

use crdt_schema::{
    clinic::ClinicConfig,
    ids::DocId,
    patient::Patient,
    queue::{PriorityPolicy, QueueDay, Status, Ticket, derive},
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{StoreError, docs};

/// Upper-cases and strips a name for search.
pub fn normalise_name(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// Writes one ticket's row.
pub fn project_ticket(
    conn: &Connection,
    queue_day: &DocId,
    date: &str,
    id: &str,
    t: &Ticket,
) -> Result<(), StoreError> {
    let d = derive(t);
    conn.prepare_cached(
        "INSERT OR REPLACE INTO tickets (id, queue_day, date, service, number, display, priority, patient_id, status, counter,
            round, recalls, issued_at, first_called_at, called_at, started_at, finished_at, origin, next_ticket, cancel_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )?
    .execute(params![
        id,
        queue_day.as_str(),
        date,
        t.service,
        t.number,
        t.display,
        t.priority,
        t.patient_id,
        d.status.as_str(),
        d.counter,
        d.round,
        d.recalls,
        t.issued_at,
        d.first_called_at,
        d.called_at,
        d.started_at,
        d.finished_at,
        t.origin,
        d.next_ticket,
        d.cancel_reason,
    ])?;
    Ok(())
}

/// Writes every ticket of a queue day.
pub fn project_queue_day(conn: &Connection, q: &QueueDay) -> Result<(), StoreError> {
    let id = q.doc_id();
    for (tid, t) in &q.state().tickets {
        project_ticket(conn, &id, &q.state().date, tid, t)?;
    }
    Ok(())
}

/// Writes a patient's row. `updated_at` is the time of the document's latest change, so a rebuild
/// writes exactly what the incremental path wrote.
pub fn project_patient(conn: &Connection, p: &Patient) -> Result<(), StoreError> {
    let updated_at = p
        .doc()
        .get_changes(&[])
        .iter()
        .map(|c| c.timestamp())
        .max()
        .unwrap_or(0);
    let s = p.state();
    let fields = serde_json::to_string(&s.fields)
        .map_err(|_| StoreError::Corrupt("patient fields do not serialise"))?;
    let conflicts = serde_json::to_string(&p.conflicts())
        .map_err(|_| StoreError::Corrupt("conflicts do not serialise"))?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO patients (id, name_norm, birth_date, fields, conflicts, registered_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        p.id().as_str(),
        normalise_name(s.fields.name.as_deref().unwrap_or("")),
        s.fields.birth_date,
        fields,
        conflicts,
        s.registration.at,
        updated_at,
    ])?;
    Ok(())
}

/// Drops and rebuilds every projection from the stored documents. Runs in the caller's transaction.
pub fn rebuild(conn: &Connection) -> Result<RebuildReport, StoreError> {
    conn.execute("DELETE FROM tickets", [])?;
    conn.execute("DELETE FROM patients", [])?;
    let mut report = RebuildReport::default();
    for_each_doc(conn, "queue_day", QueueDay::from_doc, |q| {
        project_queue_day(conn, &q)?;
        report.queue_days += 1;
        report.tickets += q.state().tickets.len();
        Ok(())
    })?;
    for_each_doc(conn, "patient", Patient::from_doc, |p| {
        project_patient(conn, &p)?;
        report.patients += 1;
        Ok(())
    })?;
    Ok(report)
}

/// Loads every stored document of `kind`, reads it with `read` and hands it to `f`.
fn for_each_doc<T>(
    conn: &Connection,
    kind: &str,
    read: impl Fn(crdt_schema::automerge::Automerge) -> Result<T, crdt_schema::DocError>,
    mut f: impl FnMut(T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for id in docs::ids_of_kind(conn, kind)? {
        let doc = docs::load(conn, &id)?.ok_or(StoreError::Corrupt("listed document vanished"))?;
        let value = read(doc).map_err(|e| StoreError::Doc {
            doc_id: id.to_string(),
            source: Box::new(e),
        })?;
        f(value)?;
    }
    Ok(())
}

/// What a rebuild did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RebuildReport {
    pub queue_days: usize,
    pub tickets: usize,
    pub patients: usize,
}

/// A ticket as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketView {
    pub id: String,
    pub date: String,
    pub service: String,
    pub number: u64,
    pub display: String,
    pub priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    pub status: Status,
    pub counter: Option<String>,
    pub recalls: u64,
    pub issued_at: i64,
    pub called_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_ticket_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_ticket_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// 1-based place among the waiting tickets of its service (waiting tickets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// Estimated minutes until it is called (waiting tickets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait_minutes: Option<u64>,
}

const TICKET_COLS: &str = "id, date, service, number, display, priority, patient_id, status, counter, recalls, issued_at, called_at, started_at, finished_at, origin, next_ticket, cancel_reason";

fn ticket_row(r: &Row<'_>) -> rusqlite::Result<TicketView> {
    let status: String = r.get(7)?;
    Ok(TicketView {
        id: r.get(0)?,
        date: r.get(1)?,
        service: r.get(2)?,
        number: r.get(3)?,
        display: r.get(4)?,
        priority: r.get(5)?,
        patient_id: r.get(6)?,
        status: Status::parse(&status).unwrap_or(Status::Waiting),
        counter: r.get(8)?,
        recalls: r.get(9)?,
        issued_at: r.get(10)?,
        called_at: r.get(11)?,
        started_at: r.get(12)?,
        finished_at: r.get(13)?,
        origin_ticket_id: r.get(14)?,
        next_ticket_id: r.get(15)?,
        cancel_reason: r.get(16)?,
        position: None,
        estimated_wait_minutes: None,
    })
}

/// Tickets of a day, optionally of one service, in number order, with positions and waits filled in.
pub fn queue(
    conn: &Connection,
    date: &str,
    service: Option<&str>,
    clinic: &ClinicConfig,
) -> Result<Vec<TicketView>, StoreError> {
    let sql = format!(
        "SELECT {TICKET_COLS} FROM tickets WHERE date = ?1 AND (?2 IS NULL OR service = ?2) ORDER BY service, number"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut tickets = stmt
        .query_map(params![date, service], ticket_row)?
        .collect::<Result<Vec<_>, _>>()?;
    fill_positions(conn, date, &mut tickets, clinic)?;
    Ok(tickets)
}

/// One ticket with its position and estimated wait.
pub fn ticket(
    conn: &Connection,
    id: &str,
    clinic: &ClinicConfig,
) -> Result<Option<TicketView>, StoreError> {
    let sql = format!("SELECT {TICKET_COLS} FROM tickets WHERE id = ?1");
    let Some(t) = conn
        .prepare_cached(&sql)?
        .query_row([id], ticket_row)
        .optional()?
    else {
        return Ok(None);
    };
    let date = t.date.clone();
    let mut v = vec![t];
    fill_positions(conn, &date, &mut v, clinic)?;
    Ok(v.pop())
}

/// The queue-day document holding a ticket.
pub fn ticket_queue_day(conn: &Connection, id: &str) -> Result<Option<DocId>, StoreError> {
    let s: Option<String> = conn
        .prepare_cached("SELECT queue_day FROM tickets WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    s.map(|s| {
        DocId::parse(&s)
            .map_err(|_| StoreError::Corrupt("malformed queue-day id in the queue view"))
    })
    .transpose()
}

/// Mean service minutes of a day's completed tickets of a service, when there are at least three.
fn observed_service_minutes(
    conn: &Connection,
    date: &str,
    service: &str,
) -> Result<Option<f64>, StoreError> {
    let (n, avg): (i64, Option<f64>) = conn
        .prepare_cached(
            "SELECT COUNT(*), AVG(finished_at - COALESCE(started_at, called_at)) FROM tickets
             WHERE date = ?1 AND service = ?2 AND status = 'done' AND COALESCE(started_at, called_at) IS NOT NULL",
        )?
        .query_row(params![date, service], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(if n >= 3 {
        avg.map(|ms| ms / 60_000.0)
    } else {
        None
    })
}

fn fill_positions(
    conn: &Connection,
    date: &str,
    tickets: &mut [TicketView],
    clinic: &ClinicConfig,
) -> Result<(), StoreError> {
    let policy = clinic.policy();
    let mut services: Vec<String> = tickets
        .iter()
        .filter(|t| t.status == Status::Waiting)
        .map(|t| t.service.clone())
        .collect();
    services.sort();
    services.dedup();
    for service in services {
        let counters = clinic
            .counters
            .iter()
            .filter(|c| c.services.contains(&service))
            .count()
            .max(1) as f64;
        let minutes = match observed_service_minutes(conn, date, &service)? {
            Some(m) => m,
            None => f64::from(
                clinic
                    .service(&service)
                    .map_or(7, |s| s.avg_service_minutes),
            ),
        };
        let waiting: Vec<&mut TicketView> = tickets
            .iter_mut()
            .filter(|t| t.status == Status::Waiting && t.service == service)
            .collect();
        let positions: Vec<u64> = if waiting.len() == 1 {
            vec![waiting_before(conn, date, &service, &policy, waiting[0])? + 1]
        } else {
            let order: std::collections::HashMap<String, u64> =
                waiting_order(conn, date, &service, &policy)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, id)| (id, i as u64 + 1))
                    .collect();
            waiting
                .iter()
                .map(|t| order.get(&t.id).copied().unwrap_or(0))
                .collect()
        };
        for (t, pos) in waiting.into_iter().zip(positions) {
            if pos > 0 {
                t.position = Some(pos);
                t.estimated_wait_minutes =
                    Some((((pos - 1) as f64) * minutes / counters).round() as u64);
            }
        }
    }
    Ok(())
}

/// Minutes each ticket ahead adds to a wait: the day's mean service time (or the configured one until three
/// tickets are done) divided by the counters serving the service.
fn minutes_per_ticket(
    conn: &Connection,
    date: &str,
    service: &str,
    clinic: &ClinicConfig,
) -> Result<f64, StoreError> {
    let counters = clinic
        .counters
        .iter()
        .filter(|c| c.services.iter().any(|s| s == service))
        .count()
        .max(1) as f64;
    let minutes = match observed_service_minutes(conn, date, service)? {
        Some(m) => m,
        None => f64::from(clinic.service(service).map_or(7, |s| s.avg_service_minutes)),
    };
    Ok(minutes / counters)
}

/// A ticket's view built from the document in memory (the writer's answer), with the position the
/// queue-day index gave.
pub fn view_of(
    conn: &Connection,
    date: &str,
    id: &str,
    t: &Ticket,
    position: Option<u64>,
    clinic: &ClinicConfig,
) -> Result<TicketView, StoreError> {
    let d = derive(t);
    let wait = match position {
        Some(p) => Some(
            ((p - 1) as f64 * minutes_per_ticket(conn, date, &t.service, clinic)?).round() as u64,
        ),
        None => None,
    };
    Ok(TicketView {
        id: id.to_owned(),
        date: date.to_owned(),
        service: t.service.clone(),
        number: t.number,
        display: t.display.clone(),
        priority: t.priority.clone(),
        patient_id: t.patient_id.clone(),
        status: d.status,
        counter: d.counter,
        recalls: d.recalls,
        issued_at: t.issued_at,
        called_at: d.called_at,
        started_at: d.started_at,
        finished_at: d.finished_at,
        origin_ticket_id: t.origin.clone(),
        next_ticket_id: d.next_ticket,
        cancel_reason: d.cancel_reason,
        position,
        estimated_wait_minutes: wait,
    })
}

/// How many waiting tickets of the service are called before `t` (one indexed count, no sorting).
fn waiting_before(
    conn: &Connection,
    date: &str,
    service: &str,
    policy: &PriorityPolicy,
    t: &TicketView,
) -> Result<u64, StoreError> {
    let mut rank = String::from("CASE priority");
    for (i, p) in policy.order.iter().enumerate() {
        // Group names are a closed set of identifiers, safe to inline.
        rank.push_str(&format!(" WHEN '{}' THEN {i}", p.as_str()));
    }
    rank.push_str(&format!(" ELSE {} END", policy.order.len()));
    let sql = format!(
        "SELECT COUNT(*) FROM tickets WHERE date = ?1 AND service = ?2 AND status = 'waiting'
         AND ({rank}, issued_at, number, id) < (?3, ?4, ?5, ?6)"
    );
    let own_rank = policy.rank(t.priority.as_deref()) as i64;
    Ok(conn.prepare_cached(&sql)?.query_row(
        params![date, service, own_rank, t.issued_at, t.number, t.id],
        |r| r.get(0),
    )?)
}

/// Ids of a service's waiting tickets in calling order (the same order as [`QueueDay::waiting`]).
pub fn waiting_order(
    conn: &Connection,
    date: &str,
    service: &str,
    policy: &PriorityPolicy,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, priority, issued_at, number FROM tickets WHERE date = ?1 AND service = ?2 AND status = 'waiting'",
    )?;
    let mut rows = stmt
        .query_map(params![date, service], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, u64>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.sort_by(|a, b| {
        (policy.rank(a.1.as_deref()), a.2, a.3, &a.0).cmp(&(
            policy.rank(b.1.as_deref()),
            b.2,
            b.3,
            &b.0,
        ))
    });
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Waiting-time and service-time statistics of one service on one day, in minutes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceStats {
    pub service: String,
    pub counts: std::collections::BTreeMap<&'static str, u64>,
    pub total: u64,
    pub waiting_minutes: Summary,
    pub service_minutes: Summary,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub samples: u64,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

fn summarise(mut v: Vec<f64>) -> Summary {
    v.sort_by(f64::total_cmp);
    let pick = |q: f64| -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        // Nearest-rank percentile.
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(round2(v[rank - 1]))
    };
    Summary {
        samples: v.len() as u64,
        mean: (!v.is_empty()).then(|| round2(v.iter().sum::<f64>() / v.len() as f64)),
        p50: pick(0.5),
        p90: pick(0.9),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Statistics per service for a day (every configured service, plus any other seen in the tickets).
pub fn stats(
    conn: &Connection,
    date: &str,
    clinic: &ClinicConfig,
) -> Result<Vec<ServiceStats>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT service, status, issued_at, first_called_at, started_at, called_at, finished_at FROM tickets WHERE date = ?1",
    )?;
    type Row7 = (
        String,
        String,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Row7> = stmt
        .query_map([date], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut services: Vec<String> = clinic.services.iter().map(|s| s.id.clone()).collect();
    for r in &rows {
        if !services.contains(&r.0) {
            services.push(r.0.clone());
        }
    }
    Ok(services
        .into_iter()
        .map(|service| {
            let mine: Vec<&Row7> = rows.iter().filter(|r| r.0 == service).collect();
            let mut counts: std::collections::BTreeMap<&'static str, u64> =
                Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
            for r in &mine {
                if let Some(s) = Status::parse(&r.1) {
                    *counts.entry(s.as_str()).or_default() += 1;
                }
            }
            let waits = mine
                .iter()
                .filter_map(|r| r.3.map(|c| (c - r.2) as f64 / 60_000.0))
                .collect();
            let services = mine
                .iter()
                .filter(|r| r.1 == "done")
                .filter_map(|r| Some((r.6? - r.4.or(r.5)?) as f64 / 60_000.0))
                .collect();
            ServiceStats {
                service,
                total: mine.len() as u64,
                counts,
                waiting_minutes: summarise(waits),
                service_minutes: summarise(services),
            }
        })
        .collect())
}

/// A patient as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PatientView {
    pub id: String,
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub conflicts: serde_json::Value,
    pub registered_at: Option<i64>,
    pub updated_at: i64,
}

fn patient_row(r: &Row<'_>) -> rusqlite::Result<(String, String, String, Option<i64>, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn patient_view(
    row: (String, String, String, Option<i64>, i64),
) -> Result<PatientView, StoreError> {
    let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&row.1)
        .map_err(|_| StoreError::Corrupt("patient projection is not JSON"))?;
    let conflicts = serde_json::from_str(&row.2)
        .map_err(|_| StoreError::Corrupt("patient conflicts are not JSON"))?;
    Ok(PatientView {
        id: row.0,
        fields,
        conflicts,
        registered_at: row.3,
        updated_at: row.4,
    })
}

const PATIENT_COLS: &str = "id, fields, conflicts, registered_at, updated_at";

pub fn patient(conn: &Connection, id: &str) -> Result<Option<PatientView>, StoreError> {
    let sql = format!("SELECT {PATIENT_COLS} FROM patients WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id], patient_row)
        .optional()?
        .map(patient_view)
        .transpose()
}

/// Patients whose name contains `q` (case-insensitive), at most `limit`, by name.
pub fn search_patients(
    conn: &Connection,
    q: &str,
    limit: u32,
) -> Result<Vec<PatientView>, StoreError> {
    let pattern = format!(
        "%{}%",
        normalise_name(q)
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let sql = format!(
        "SELECT {PATIENT_COLS} FROM patients WHERE name_norm LIKE ?1 ESCAPE '\\' ORDER BY name_norm, id LIMIT ?2"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params![pattern, limit], patient_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(patient_view).collect()
}
