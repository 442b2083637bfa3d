//! `POST /api/v1/ktp/scan`: a multipart photo of an e-KTP (field `image`, JPEG, PNG or WebP, at most
//! 10 MB) read by the node's KTP reader. Kiosks and staff may scan. The photo is never stored or
//! logged; the answer carries only the extracted text.

use axum::{
    extract::{Multipart, State, multipart::MultipartRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{AppError, AppState, require_kiosk_route};
use crate::{auth::Principal, ocr::OcrError};

/// The largest accepted image.
pub const MAX_IMAGE: usize = ocr_model::reader::MAX_BYTES;
/// The route's body limit: the image plus the multipart framing.
pub const BODY_LIMIT: usize = MAX_IMAGE + 64 * 1024;

fn too_large() -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "image_too_large",
        "Gambar terlalu besar, maksimal 10 MB (the image is too large, at most 10 MB)",
    )
}

fn multipart_error(e: &dyn std::fmt::Display, status: StatusCode) -> AppError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    AppError::bad_request(
        "invalid_multipart",
        format!(
            "Kirim foto sebagai multipart/form-data dengan kolom `image` (send the photo as multipart/form-data with an `image` field): {e}"
        ),
    )
}

pub async fn scan(
    State(st): State<AppState>,
    p: Principal,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    require_kiosk_route(&st, &p)?;
    let mut multipart = multipart.map_err(|r| multipart_error(&r.body_text(), r.status()))?;
    let mut image = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e.body_text(), e.status()))?
    {
        if field.name() == Some("image") {
            let bytes = field
                .bytes()
                .await
                .map_err(|e| multipart_error(&e.body_text(), e.status()))?;
            image = Some(bytes);
            break;
        }
    }
    let Some(bytes) = image else {
        return Err(AppError::bad_request(
            "missing_image",
            "Kolom `image` berisi foto KTP tidak ada (the `image` field with the KTP photo is missing)",
        ));
    };
    if bytes.len() > MAX_IMAGE {
        return Err(too_large());
    }
    if bytes.is_empty() {
        return Err(AppError::bad_request(
            "missing_image",
            "Kolom `image` kosong (the `image` field is empty)",
        ));
    }
    let out = st.ocr.scan(bytes).await.map_err(|e| match e {
        OcrError::Busy => {
            let mut e = AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ocr_busy",
                "Pembaca KTP sedang sibuk, coba lagi sebentar (the KTP reader is busy, try again shortly)",
            );
            e.retry_after = Some(1);
            e
        }
        OcrError::Unavailable(why) => AppError::internal(anyhow::anyhow!(why)),
    })?;
    crate::metrics::record_scan(out.ok, out.elapsed_ms);
    match &out.error {
        None => Ok(axum::Json(out).into_response()),
        Some(err) if err.code == ocr_model::reader::READER_FAILED => {
            Err(AppError::internal(anyhow::anyhow!("the KTP reader failed")))
        }
        Some(err) => {
            // A refusal: the photo cannot be read honestly. The usual error shape, plus the scan
            // answer's own `ok` and `error`, so kiosk code can treat both answers alike.
            let code = ocr_model::reader::Refusal::from_code(&err.code)
                .map_or("scan_refused", |r| r.code());
            let mut e = AppError::unprocessable(code, err.message.clone());
            e.extra = Some(serde_json::json!({
                "ok": false,
                "error": { "code": err.code, "message": err.message },
                "elapsed_ms": out.elapsed_ms,
            }));
            Err(e)
        }
    }
}
