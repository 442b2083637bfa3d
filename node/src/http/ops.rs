//! Operations routes: the outbox for inspection, the live stream of queue changes (server-sent events),
//! health and readiness, Prometheus metrics, the OpenAPI description and a plain landing page.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{
        Html, IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::Stream;
use rusqlite::params;
use serde::Deserialize;
use tokio_stream::{StreamExt, wrappers::BroadcastStream};

use super::{ADMIN, ApiQuery, AppError, AppState, require};
use crate::{auth::Principal, store::writer::LiveEvent};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

pub async fn events(
    State(st): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Response, AppError> {
    require(&p, ADMIN)?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(AppError::bad_request(
            "invalid_query",
            "after must be 0 or more",
        ));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = st
        .reads
        .read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, event, sent_at FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(crate::store::StoreError::from)?;
            let rows = stmt
                .query_map(params![after, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                })
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(crate::store::StoreError::from)?;
            Ok::<_, AppError>(rows)
        })
        .await?;
    let next_after = rows.last().map_or(after, |r| r.0);
    let events: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(seq, ev, sent)| {
            let event: serde_json::Value =
                serde_json::from_str(&ev).unwrap_or(serde_json::Value::Null);
            serde_json::json!({ "seq": seq, "sent": sent.is_some(), "event": event })
        })
        .collect();
    Ok(
        axum::Json(serde_json::json!({ "events": events, "next_after": next_after }))
            .into_response(),
    )
}

/// Server-sent events of committed queue changes. Patient ids are never sent: the stream is public.
pub async fn live(
    State(st): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(st.writer.subscribe()).map(|item| {
        Ok(match item {
            Ok(LiveEvent::Ticket { mut ticket }) => {
                ticket.patient_id = None;
                Event::default()
                    .event("ticket")
                    .json_data(&ticket)
                    .unwrap_or_else(|_| Event::default().event("resync"))
            }
            Ok(LiveEvent::Clinic) => Event::default().event("clinic").data("{}"),
            // The subscriber fell behind: it should read the queue again.
            Err(_) => Event::default().event("resync").data("{}"),
        })
    });
    let hello = tokio_stream::once(Ok(Event::default().event("hello").data("{}")));
    let stop = st.shutdown.clone().cancelled_owned();
    Sse::new(futures::StreamExt::take_until(hello.chain(stream), stop))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

pub async fn health(State(st): State<AppState>) -> Response {
    axum::Json(serde_json::json!({
        "status": "ok",
        "node_id": &*st.node_id,
        "clinic_id": st.config.clinic_id.as_str(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

/// Ready when the database answers and the writer is running.
pub async fn ready(State(st): State<AppState>) -> Response {
    let db = st
        .reads
        .read(|c| {
            c.query_row("SELECT COUNT(*) FROM docs", [], |r| r.get::<_, i64>(0))
                .map_err(crate::store::StoreError::from)
        })
        .await;
    match db {
        Ok(docs) if !st.writer.is_closed() => {
            axum::Json(serde_json::json!({ "status": "ready", "documents": docs })).into_response()
        }
        _ => AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "Node belum siap (the node is not ready)",
        )
        .into_response(),
    }
}

pub async fn metrics(State(st): State<AppState>) -> Response {
    let counts = st
        .reads
        .read(|c| {
            let count = |sql: &str| {
                c.query_row(sql, [], |r| r.get::<_, i64>(0))
                    .map_err(crate::store::StoreError::from)
            };
            Ok::<_, crate::store::StoreError>((
                count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")?,
                count("SELECT COUNT(*) FROM docs")?,
            ))
        })
        .await
        .unwrap_or((-1, -1));
    let text = crate::metrics::render(&[
        (
            "clinic_outbox_pending",
            "Events not yet acknowledged upstream.",
            counts.0 as f64,
        ),
        ("clinic_documents", "Stored documents.", counts.1 as f64),
    ]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

pub async fn index(State(st): State<AppState>) -> Html<String> {
    let clinic = st.writer.clinic();
    Html(format!(
        "<!doctype html><html lang=\"id\"><meta charset=\"utf-8\"><title>Clinic Edge</title>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:2em auto\"><h1>Clinic Edge — {}</h1>\
         <p>Node berjalan. API: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>, \
         kesehatan: <a href=\"/health\">/health</a>.</p></body></html>",
        html_escape(&clinic.name)
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
