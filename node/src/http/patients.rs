//! Patient registration, search by NIK or name, reading and correcting a record.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use crdt_schema::{nik::Nik, patient::PatientFields};
use serde::Deserialize;

use super::{
    ApiQuery, AppError, AppState, RawBody, STAFF, idempotency, reply, require, require_kiosk_route,
};
use crate::{
    auth::{Principal, Role},
    domain::Command,
    store::{projection, writer::Caller},
};

/// Parses a JSON body with the app's error shape (used where the raw bytes are also needed).
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, AppError> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(AppError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Kirim JSON dengan Content-Type: application/json (send JSON with Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            AppError::bad_request(
                "invalid_json",
                "Isi permintaan bukan JSON yang benar (the body is not valid JSON)",
            )
        } else {
            AppError::unprocessable(
                "invalid_body",
                format!("Isi permintaan tidak sesuai (the request body does not fit): {e}"),
            )
        }
    })
}

pub async fn register(
    State(st): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, AppError> {
    require_kiosk_route(&st, &p)?;
    let mut fields: PatientFields = parse_json(&headers, &body)?;
    let nik = fields
        .nik
        .take()
        .map(|n| n.trim().to_owned())
        .ok_or_else(|| {
            AppError::unprocessable("missing_field", "NIK wajib diisi (nik is required)")
        })?;
    let idem = idempotency(&headers, "POST", "/api/v1/patients", &body)?;
    let r = st
        .writer
        .execute(
            Command::RegisterPatient { nik, fields },
            Caller { id: p.id.clone() },
            idem,
        )
        .await?;
    let mut resp = reply(r);
    // A kiosk learns the patient id and whether the record is new, never the stored data (typing NIKs at a
    // kiosk must not reveal who they belong to).
    if p.role == Role::Kiosk && resp.status().is_success() {
        resp = strip_for_kiosk(resp).await?;
    }
    Ok(resp)
}

async fn strip_for_kiosk(resp: Response) -> Result<Response, AppError> {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(AppError::internal)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(AppError::internal)?;
    let slim = serde_json::json!({ "id": v["id"], "created": v["created"] });
    Ok((parts.status, parts.headers, axum::Json(slim)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    nik: Option<String>,
    q: Option<String>,
    limit: Option<u32>,
}

pub async fn search(
    State(st): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Response, AppError> {
    require(&p, STAFF)?;
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let patients = match (q.nik, q.q) {
        (Some(nik), None) => {
            let nik = Nik::parse(nik.trim())
                .map_err(|e| AppError::unprocessable(e.code(), e.to_string()))?;
            let id = st.secret.patient_id(&nik);
            st.reads
                .read(move |c| projection::patient(c, id.as_str()).map_err(AppError::from))
                .await?
                .into_iter()
                .collect()
        }
        (None, Some(text)) => {
            let text = text.trim().to_owned();
            if text.chars().count() < 2 {
                return Err(AppError::unprocessable(
                    "query_too_short",
                    "Ketik minimal 2 huruf (type at least 2 letters)",
                ));
            }
            st.reads
                .read(move |c| projection::search_patients(c, &text, limit).map_err(AppError::from))
                .await?
        }
        _ => {
            return Err(AppError::bad_request(
                "invalid_query",
                "Gunakan salah satu: ?nik= atau ?q= (use exactly one of ?nik= or ?q=)",
            ));
        }
    };
    Ok(axum::Json(serde_json::json!({ "patients": patients })).into_response())
}

pub async fn get_patient(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    require(&p, STAFF)?;
    let found = st
        .reads
        .read(move |c| projection::patient(c, &id).map_err(AppError::from))
        .await?;
    found.map(|v| axum::Json(v).into_response()).ok_or_else(|| {
        AppError::not_found(
            "patient_not_found",
            "Pasien tidak ditemukan (patient not found)",
        )
    })
}

pub async fn update(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, AppError> {
    require(&p, STAFF)?;
    let patch: PatientFields = parse_json(&headers, &body)?;
    if patch == PatientFields::default() {
        return Err(AppError::unprocessable(
            "empty_patch",
            "Tidak ada kolom yang diubah (no field to change)",
        ));
    }
    let r = st
        .writer
        .execute(
            Command::UpdatePatient { id, patch },
            Caller { id: p.id.clone() },
            None,
        )
        .await?;
    Ok(reply(r))
}
