//! The one HTTP error type. Every refusal is a JSON body `{"code": ..., "message": ...}` with a stable code
//! and a message in plain words (Bahasa Indonesia, then English). Internal failures answer a generic 500
//! and are logged with their cause (which never includes personal data).

use axum::{
    Json,
    extract::rejection::{JsonRejection, PathRejection, QueryRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::domain::DomainError;

/// An HTTP error answer.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
    /// The cause of a 500, logged and never shown.
    pub source: Option<anyhow::Error>,
    /// More members of the JSON body beside `code` and `message` (an object), for answers that
    /// carry their own shape too (a refused KTP scan).
    pub extra: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            source: None,
            extra: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Silakan masuk terlebih dahulu (log in first)",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Peran Anda tidak boleh melakukan ini (your role may not do this)",
        )
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn too_many(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "Terlalu banyak permintaan, coba lagi dalam {retry_after} detik (too many requests)"
            ),
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Terjadi kesalahan pada node; data tidak diubah (the node failed; nothing was changed)",
        );
        e.source = Some(source.into());
        e
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Some(source) = &self.source {
            tracing::error!(error = format!("{source:#}"), "request failed");
        }
        let mut resp = match self.extra {
            Some(serde_json::Value::Object(mut extra)) => {
                extra.insert("code".into(), self.code.into());
                extra.insert("message".into(), self.message.clone().into());
                (self.status, Json(serde_json::Value::Object(extra))).into_response()
            }
            _ => (
                self.status,
                Json(Body {
                    code: self.code,
                    message: &self.message,
                }),
            )
                .into_response(),
        };
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { code, message } => AppError::unprocessable(code, message),
            DomainError::NotFound { code, message } => AppError::not_found(code, message),
            DomainError::Conflict { code, message } => {
                AppError::new(StatusCode::CONFLICT, code, message)
            }
            DomainError::Store(s) => AppError::internal(s),
        }
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        AppError::internal(e)
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        match &r {
            JsonRejection::JsonDataError(e) => AppError::unprocessable(
                "invalid_body",
                format!(
                    "Isi permintaan tidak sesuai (the request body does not fit): {}",
                    data_error_text(e)
                ),
            ),
            JsonRejection::JsonSyntaxError(_) => AppError::bad_request(
                "invalid_json",
                "Isi permintaan bukan JSON yang benar (the body is not valid JSON)",
            ),
            JsonRejection::MissingJsonContentType(_) => AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Kirim JSON dengan Content-Type: application/json (send JSON with Content-Type: application/json)",
            ),
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "Isi permintaan terlalu besar (the request body is too large)",
            ),
            _ => AppError::bad_request("invalid_body", r.body_text()),
        }
    }
}

fn data_error_text(e: &axum::extract::rejection::JsonDataError) -> String {
    use std::error::Error;
    // The innermost serde message names the field and what was wrong, without echoing values at length.
    let mut src: Option<&dyn Error> = Some(e);
    let mut last = e.to_string();
    while let Some(s) = src {
        last = s.to_string();
        src = s.source();
    }
    last.chars().take(300).collect()
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::bad_request(
            "invalid_query",
            format!(
                "Parameter tidak sesuai (bad query parameters): {}",
                r.body_text()
            ),
        )
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        AppError::bad_request("invalid_path", r.body_text())
    }
}
