//! Queue routes: take a ticket, list a day's queue, read one ticket, call the next, move a ticket through
//! its life (call, recall, start, complete, skip, no-show, cancel), and the day's statistics.

use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use crdt_schema::{ids::parse_date, queue::PriorityGroup};
use serde::Deserialize;

use super::{
    ApiQuery, AppError, AppState, MaybePrincipal, RawBody, STAFF, idempotency,
    patients::parse_json, reply, require, require_kiosk_route,
};
use crate::{
    auth::Principal,
    domain::{Command, TransitionRequest},
    store::{
        projection,
        writer::{Caller, today_string},
    },
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTicket {
    service: String,
    priority: Option<PriorityGroup>,
    patient_id: Option<String>,
}

pub async fn issue(
    State(st): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, AppError> {
    require_kiosk_route(&st, &p)?;
    let t: NewTicket = parse_json(&headers, &body)?;
    let idem = idempotency(&headers, "POST", "/api/v1/queue/tickets", &body)?;
    let cmd = Command::IssueTicket {
        service: t.service,
        priority: t.priority,
        patient_id: t.patient_id,
    };
    Ok(reply(
        st.writer.execute(cmd, Caller { id: p.id }, idem).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    date: Option<String>,
    service: Option<String>,
}

fn date_or_today(st: &AppState, date: Option<String>) -> Result<String, AppError> {
    match date {
        None => Ok(today_string(&st.writer.clinic())),
        Some(d) => parse_date(&d)
            .map(crdt_schema::ids::format_date)
            .ok_or_else(|| {
                AppError::bad_request(
                    "invalid_date",
                    "Tanggal harus YYYY-MM-DD (date must be YYYY-MM-DD)",
                )
            }),
    }
}

/// Staff see which patient holds a ticket; the display board and anonymous readers do not.
fn hide_patients(mp: &MaybePrincipal, tickets: &mut [projection::TicketView]) {
    let staff = mp.0.as_ref().is_some_and(|p| STAFF.contains(&p.role));
    if !staff {
        for t in tickets {
            t.patient_id = None;
        }
    }
}

pub async fn list(
    State(st): State<AppState>,
    mp: MaybePrincipal,
    ApiQuery(q): ApiQuery<DayQuery>,
) -> Result<Response, AppError> {
    let date = date_or_today(&st, q.date)?;
    let clinic = st.writer.clinic();
    if let Some(s) = &q.service
        && clinic.service(s).is_none()
    {
        return Err(AppError::unprocessable(
            "unknown_service",
            format!("Layanan {s:?} tidak dikenal (unknown service)"),
        ));
    }
    let d = date.clone();
    let mut tickets = st
        .reads
        .read(move |c| {
            projection::queue(c, &d, q.service.as_deref(), &clinic).map_err(AppError::from)
        })
        .await?;
    hide_patients(&mp, &mut tickets);
    Ok(axum::Json(serde_json::json!({ "date": date, "tickets": tickets })).into_response())
}

pub async fn get_ticket(
    State(st): State<AppState>,
    mp: MaybePrincipal,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let clinic = st.writer.clinic();
    let found = st
        .reads
        .read(move |c| projection::ticket(c, &id, &clinic).map_err(AppError::from))
        .await?;
    let mut t = found.ok_or_else(|| {
        AppError::not_found(
            "ticket_not_found",
            "Tiket tidak ditemukan (ticket not found)",
        )
    })?;
    hide_patients(&mp, std::slice::from_mut(&mut t));
    Ok(axum::Json(t).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallNext {
    service: String,
    counter: String,
}

pub async fn call_next(
    State(st): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, AppError> {
    require(&p, STAFF)?;
    let b: CallNext = parse_json(&headers, &body)?;
    let idem = idempotency(&headers, "POST", "/api/v1/queue/call-next", &body)?;
    let cmd = Command::CallNext {
        service: b.service,
        counter: b.counter,
    };
    Ok(reply(
        st.writer.execute(cmd, Caller { id: p.id }, idem).await?,
    ))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TransitionBody {
    counter: Option<String>,
    next_service: Option<String>,
    reason: Option<String>,
}

pub async fn transition(
    State(st): State<AppState>,
    p: Principal,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, AppError> {
    require(&p, STAFF)?;
    let b: TransitionBody = if body.is_empty() {
        TransitionBody::default()
    } else {
        parse_json(&headers, &body)?
    };
    let missing =
        |f: &str| AppError::unprocessable("missing_field", format!("{f} is required for {action}"));
    let unexpected = |f: &str| {
        AppError::unprocessable("invalid_field", format!("{f} does not apply to {action}"))
    };
    let req = match action.as_str() {
        "call" => TransitionRequest::Call {
            counter: b.counter.clone().ok_or_else(|| missing("counter"))?,
        },
        "recall" => TransitionRequest::Recall,
        "start" => TransitionRequest::Start {
            counter: b.counter.clone(),
        },
        "complete" => TransitionRequest::Complete {
            next_service: b.next_service.clone(),
        },
        "skip" => TransitionRequest::Skip,
        "no-show" => TransitionRequest::NoShow,
        "cancel" => TransitionRequest::Cancel {
            reason: b.reason.clone().ok_or_else(|| missing("reason"))?,
        },
        _ => {
            return Err(AppError::not_found(
                "unknown_action",
                "Aksi tidak dikenal: gunakan call, recall, start, complete, skip, no-show atau cancel (unknown action)",
            ));
        }
    };
    if b.next_service.is_some() && action != "complete" {
        return Err(unexpected("next_service"));
    }
    if b.reason.is_some() && action != "cancel" {
        return Err(unexpected("reason"));
    }
    if b.counter.is_some() && !matches!(action.as_str(), "call" | "start") {
        return Err(unexpected("counter"));
    }
    let path = format!("/api/v1/queue/tickets/{id}/{action}");
    let idem = idempotency(&headers, "POST", &path, &body)?;
    let cmd = Command::Transition {
        ticket_id: id,
        action: req,
    };
    Ok(reply(
        st.writer.execute(cmd, Caller { id: p.id }, idem).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    date: Option<String>,
}

pub async fn stats(
    State(st): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Response, AppError> {
    require(&p, STAFF)?;
    let date = date_or_today(&st, q.date)?;
    let clinic = st.writer.clinic();
    let d = date.clone();
    let services = st
        .reads
        .read(move |c| projection::stats(c, &d, &clinic).map_err(AppError::from))
        .await?;
    Ok(axum::Json(serde_json::json!({ "date": date, "services": services })).into_response())
}
