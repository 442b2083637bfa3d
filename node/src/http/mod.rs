//! The JSON API under `/api/v1`: state, extractors (JSON with the app's error shape, the authenticated
//! principal), the router with its role checks, rate limits and metrics middleware. One file per resource.

mod clinic;
pub mod error;
mod ktp;
mod ops;
mod patients;
mod queue;
pub mod ratelimit;
mod users;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Request},
    http::{HeaderMap, header, request::Parts},
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

pub use self::error::AppError;
use crate::{
    auth::{self, Principal, Role},
    config::Config,
    store::{ReadPool, writer::WriterHandle},
};

/// Everything a handler needs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub writer: WriterHandle,
    pub reads: ReadPool,
    pub auth: AuthDb,
    pub config: Arc<Config>,
    pub limiter: ratelimit::Limiter,
    pub node_id: Arc<str>,
    pub secret: crdt_schema::ids::DeploymentSecret,
    /// Recently checked tokens, so a busy kiosk or console does not cost a database read per request.
    pub sessions: SessionCache,
    /// Cancelled at shutdown, so long-lived streams end and the server can drain.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The KTP reader's queue.
    pub ocr: crate::ocr::OcrService,
}

/// A read-write connection for users, sessions and devices, used from blocking threads only.
#[derive(Clone)]
pub struct AuthDb(pub Arc<std::sync::Mutex<rusqlite::Connection>>);

impl std::fmt::Debug for AuthDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthDb")
    }
}

impl AuthDb {
    /// Runs `f` with the connection on a blocking thread (the mutex is never held across an await).
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let db = self.0.clone();
        tokio::task::spawn_blocking(move || f(&db.lock().expect("auth db lock")))
            .await
            .map_err(AppError::internal)
    }
}

/// Tokens checked in the last [`SessionCache::TTL`], by token hash. Cleared whenever a login ends, a user
/// changes or a device is revoked, so those take effect at once. The mutex is held only for a map access.
#[derive(Debug, Clone, Default)]
pub struct SessionCache(
    Arc<std::sync::Mutex<std::collections::HashMap<String, (Principal, std::time::Instant)>>>,
);

impl SessionCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(30);

    fn get(&self, hash: &str) -> Option<Principal> {
        let map = self.0.lock().expect("session cache lock");
        let (p, at) = map.get(hash)?;
        let fresh =
            at.elapsed() < Self::TTL && p.expires_at.is_none_or(|e| e > crate::store::now_ms());
        fresh.then(|| p.clone())
    }

    fn put(&self, hash: String, p: Principal) {
        let mut map = self.0.lock().expect("session cache lock");
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(hash, (p, std::time::Instant::now()));
    }

    /// Forgets every cached token.
    pub fn clear(&self) {
        self.0.lock().expect("session cache lock").clear();
    }
}

/// JSON body extractor whose rejections use the app's error shape.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(v))
    }
}

/// Query-string extractor whose rejections use the app's error shape.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(v))
    }
}

/// The raw body, with an oversized body answered in the app's error shape.
#[derive(Debug)]
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(r) if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "Isi permintaan terlalu besar (the request body is too large)",
                ))
            }
            Err(r) => Err(AppError::bad_request("invalid_body", r.body_text())),
        }
    }
}

/// The bearer token of a request: `Authorization: Bearer ...` or the `ce_session` cookie.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("ce_session=").map(str::to_owned))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let token = bearer(&parts.headers).ok_or_else(AppError::unauthenticated)?;
        let hash = auth::token_hash(&token);
        if let Some(p) = state.sessions.get(&hash) {
            parts.extensions.insert(p.clone());
            return Ok(p);
        }
        let found = state
            .reads
            .read(move |conn| auth::authenticate(conn, &token).map_err(AppError::from))
            .await?;
        match found {
            Ok(p) => {
                state.sessions.put(hash, p.clone());
                parts.extensions.insert(p.clone());
                Ok(p)
            }
            Err(auth::TokenProblem::Expired) => Err(AppError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "session_expired",
                "Sesi Anda sudah berakhir, silakan masuk lagi (your login has expired)",
            )),
            Err(auth::TokenProblem::Unknown) => Err(AppError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_token",
                "Token tidak dikenal atau sudah dicabut (unknown or revoked token)",
            )),
        }
    }
}

/// A principal when the request carries a valid token, `None` when it carries none.
#[derive(Debug)]
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybePrincipal {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if bearer(&parts.headers).is_none() {
            return Ok(MaybePrincipal(None));
        }
        Principal::from_request_parts(parts, state)
            .await
            .map(|p| MaybePrincipal(Some(p)))
    }
}

/// Refuses with 403 unless the principal has one of `roles`.
pub fn require(p: &Principal, roles: &[Role]) -> Result<(), AppError> {
    if roles.contains(&p.role) {
        Ok(())
    } else {
        Err(AppError::forbidden())
    }
}

/// For the routes a kiosk may use (register, take a ticket): staff or kiosk, and a kiosk within its
/// per-device rate limit.
pub fn require_kiosk_route(st: &AppState, p: &Principal) -> Result<(), AppError> {
    require(p, STAFF_OR_KIOSK)?;
    if p.role == Role::Kiosk {
        st.limiter
            .check("kiosk", &p.id, st.config.kiosk_per_minute)
            .map_err(AppError::too_many)?;
    }
    Ok(())
}

/// Staff: operators and clinic admins.
pub const STAFF: &[Role] = &[Role::Operator, Role::ClinicAdmin];
/// Staff and kiosks.
pub const STAFF_OR_KIOSK: &[Role] = &[Role::Operator, Role::ClinicAdmin, Role::Kiosk];
/// Clinic admins only.
pub const ADMIN: &[Role] = &[Role::ClinicAdmin];

/// The client's address (for rate limits), or loopback when unknown (in-process tests).
pub fn client_ip(parts_ext: &axum::http::Extensions) -> std::net::IpAddr {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]))
}

/// The Idempotency-Key of a request with the hash of what it asked, or an error when the key is malformed.
pub fn idempotency(
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Option<crate::store::writer::Idempotency>, AppError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key harus 1-200 karakter ASCII tanpa spasi (must be 1-200 visible ASCII characters)",
            )
        })?;
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    Ok(Some(crate::store::writer::Idempotency {
        key: key.to_owned(),
        request_hash: data_encoding::HEXLOWER.encode(&h.finalize()),
    }))
}

/// Turns a writer reply into an HTTP answer.
pub fn reply(r: crate::store::writer::Reply) -> Response {
    use axum::response::IntoResponse;
    let status = axum::http::StatusCode::from_u16(r.status).unwrap_or(axum::http::StatusCode::OK);
    let mut resp = (status, axum::Json(r.body)).into_response();
    if r.replayed {
        resp.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    resp
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    crate::metrics::record_http(&route, resp.status().as_u16());
    resp
}

async fn not_found() -> AppError {
    AppError::not_found("route_not_found", "Alamat ini tidak ada (no such route)")
}

/// Every route: (method, path), as the router and the OpenAPI description name them.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/auth/me"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("PATCH", "/api/v1/users/{id}"),
    ("GET", "/api/v1/devices"),
    ("POST", "/api/v1/devices"),
    ("DELETE", "/api/v1/devices/{id}"),
    ("GET", "/api/v1/clinic"),
    ("PUT", "/api/v1/clinic"),
    ("POST", "/api/v1/patients"),
    ("GET", "/api/v1/patients"),
    ("GET", "/api/v1/patients/{id}"),
    ("PATCH", "/api/v1/patients/{id}"),
    ("POST", "/api/v1/queue/tickets"),
    ("GET", "/api/v1/queue"),
    ("GET", "/api/v1/queue/tickets/{id}"),
    ("POST", "/api/v1/queue/call-next"),
    ("POST", "/api/v1/queue/tickets/{id}/{action}"),
    ("GET", "/api/v1/queue/stats"),
    ("POST", "/api/v1/ktp/scan"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/live"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/ready"),
    ("GET", "/api/v1/metrics"),
    ("GET", "/api/v1/openapi.json"),
];

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login", post(users::login))
        .route("/auth/logout", post(users::logout))
        .route("/auth/me", get(users::me))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", axum::routing::patch(users::update))
        .route(
            "/devices",
            get(users::list_devices).post(users::create_device),
        )
        .route("/devices/{id}", axum::routing::delete(users::revoke_device))
        .route("/clinic", get(clinic::get_clinic).put(clinic::put_clinic))
        .route("/patients", post(patients::register).get(patients::search))
        .route(
            "/patients/{id}",
            get(patients::get_patient).patch(patients::update),
        )
        .route("/queue", get(queue::list))
        .route("/queue/tickets", post(queue::issue))
        .route("/queue/tickets/{id}", get(queue::get_ticket))
        .route("/queue/tickets/{id}/{action}", post(queue::transition))
        .route("/queue/call-next", post(queue::call_next))
        .route("/queue/stats", get(queue::stats))
        .route(
            "/ktp/scan",
            post(ktp::scan).layer(DefaultBodyLimit::max(ktp::BODY_LIMIT)),
        )
        .route("/events", get(ops::events))
        .route("/live", get(ops::live))
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(not_found);
    Router::new()
        .nest("/api/v1", api)
        .route("/", get(ops::index))
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .layer(middleware::from_fn(record_metrics))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}
