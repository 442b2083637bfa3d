//! Login, logout and `me`; users (clinic admin); kiosk devices (clinic admin).

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{ADMIN, ApiJson, AppError, AppState, bearer, client_ip, require};
use crate::auth::{self, Principal, Role, UserError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

pub async fn login(
    State(st): State<AppState>,
    ext: axum::http::Extensions,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, AppError> {
    let client = client_ip(&ext).to_string();
    st.limiter
        .check("login", &client, st.config.login_per_minute)
        .map_err(AppError::too_many)?;
    let delay = st.limiter.login_delay(&client);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let hours = st.config.session_hours;
    let LoginBody { username, password } = body;
    let result = st
        .auth
        .call(move |c| auth::login(c, &username, &password, hours))
        .await??;
    let Some((token, principal)) = result else {
        let failures = st.limiter.login_failed(&client);
        tracing::warn!(client = %client, failures, "login failed");
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Nama pengguna atau kata sandi salah (wrong username or password)",
        ));
    };
    st.limiter.login_succeeded(&client);
    tracing::info!(user = %principal.id, "login");
    let cookie = format!(
        "ce_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        u64::from(hours) * 3600
    );
    let mut resp = Json(serde_json::json!({ "token": token, "user": principal })).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

pub async fn logout(
    State(st): State<AppState>,
    _p: Principal,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(token) = bearer(&headers) {
        st.auth.call(move |c| auth::logout(c, &token)).await??;
    }
    st.sessions.clear();
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("ce_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(resp)
}

pub async fn me(p: Principal) -> Json<Principal> {
    Json(p)
}

fn user_error(e: UserError) -> AppError {
    match e {
        UserError::Store(s) => AppError::internal(s),
        UserError::Taken => AppError::new(
            StatusCode::CONFLICT,
            "username_taken",
            "Nama pengguna sudah dipakai (username taken)",
        ),
        UserError::NotFound => {
            AppError::not_found("user_not_found", "Pengguna tidak ditemukan (no such user)")
        }
        other => AppError::unprocessable("invalid_field", other.to_string()),
    }
}

pub async fn list(State(st): State<AppState>, p: Principal) -> Result<Response, AppError> {
    require(&p, ADMIN)?;
    let users = st.auth.call(auth::list_users).await??;
    Ok(Json(serde_json::json!({ "users": users })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    display_name: String,
    role: String,
    password: String,
}

fn parse_role(s: &str) -> Result<Role, AppError> {
    Role::parse(s).ok_or_else(|| {
        AppError::unprocessable("invalid_field", "role must be operator or clinic_admin")
    })
}

pub async fn create(
    State(st): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<Response, AppError> {
    require(&p, ADMIN)?;
    let role = parse_role(&body.role)?;
    let user = st
        .auth
        .call(move |c| {
            auth::create_user(
                c,
                &body.username,
                body.display_name.trim(),
                role,
                &body.password,
            )
        })
        .await?
        .map_err(user_error)?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    display_name: Option<String>,
    role: Option<String>,
    password: Option<String>,
    disabled: Option<bool>,
}

pub async fn update(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserPatch>,
) -> Result<Response, AppError> {
    require(&p, ADMIN)?;
    let role = body.role.as_deref().map(parse_role).transpose()?;
    if id == p.id && (body.disabled == Some(true) || role.is_some_and(|r| r != Role::ClinicAdmin)) {
        return Err(AppError::unprocessable(
            "cannot_demote_self",
            "Admin tidak bisa menonaktifkan atau menurunkan dirinya sendiri (you cannot lock yourself out)",
        ));
    }
    let user = st
        .auth
        .call(move |c| {
            auth::update_user(
                c,
                &id,
                body.display_name.as_deref(),
                role,
                body.password.as_deref(),
                body.disabled,
            )
        })
        .await?
        .map_err(user_error)?;
    st.sessions.clear();
    Ok(Json(user).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    name: String,
}

pub async fn create_device(
    State(st): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<NewDevice>,
) -> Result<Response, AppError> {
    require(&p, ADMIN)?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.len() > 80 {
        return Err(AppError::unprocessable(
            "invalid_field",
            "name must be 1 to 80 characters",
        ));
    }
    let dev = st
        .auth
        .call(move |c| auth::create_device(c, &name))
        .await??;
    Ok((StatusCode::CREATED, Json(dev)).into_response())
}

pub async fn list_devices(State(st): State<AppState>, p: Principal) -> Result<Response, AppError> {
    require(&p, ADMIN)?;
    let devices = st.auth.call(auth::list_devices).await??;
    Ok(Json(serde_json::json!({ "devices": devices })).into_response())
}

pub async fn revoke_device(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    require(&p, ADMIN)?;
    let revoked = st.auth.call(move |c| auth::revoke_device(c, &id)).await??;
    st.sessions.clear();
    if revoked {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(AppError::not_found(
            "device_not_found",
            "Perangkat tidak ditemukan (no such device)",
        ))
    }
}
