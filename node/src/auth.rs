//! Users, logins and kiosk devices: argon2 password hashes, bearer tokens stored only as SHA-256,
//! session expiry, roles, and the first-run admin. Everything here runs on a blocking thread with its own
//! read-write connection; it never touches documents, so it does not go through the writer.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::{StoreError, now_ms};

/// What a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    ClinicAdmin,
    /// A kiosk device: may only scan, register and take tickets.
    Kiosk,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::ClinicAdmin => "clinic_admin",
            Role::Kiosk => "kiosk",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "operator" => Some(Role::Operator),
            "clinic_admin" => Some(Role::ClinicAdmin),
            "kiosk" => Some(Role::Kiosk),
            _ => None,
        }
    }
}

/// Someone authenticated: a user or a kiosk device.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// When the login ends (ms since epoch); devices do not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// A user as the admin screens show it.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", data_encoding::BASE64URL_NOPAD.encode(&bytes))
}

/// SHA-256 of a token, hex: what the database keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

/// Hashes a password with argon2id and a fresh salt.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| StoreError::Corrupt("password hashing failed"))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A one-time password for the first admin: 16 characters from an unambiguous alphabet.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Creates the `admin` user when no user exists. Returns the password when one was generated.
pub fn ensure_admin(
    conn: &Connection,
    password: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let users: i64 = conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
    if users > 0 {
        return Ok(None);
    }
    let (password, generated) = match password {
        Some(p) => (p.to_owned(), false),
        None => (generate_password(), true),
    };
    create_user(conn, "admin", "Administrator", Role::ClinicAdmin, &password).map_err(
        |e| match e {
            UserError::Store(s) => s,
            _ => StoreError::Corrupt("the first admin could not be created"),
        },
    )?;
    Ok(generated.then_some(password))
}

/// Why a user could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("username must be 3 to 32 lower-case letters, digits, . _ or -")]
    BadUsername,
    #[error("the password must be at least 8 characters")]
    WeakPassword,
    #[error("that username is taken")]
    Taken,
    #[error("kiosk is a device role: create a device instead")]
    KioskUser,
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn valid_username(u: &str) -> bool {
    (3..=32).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Creates a user.
pub fn create_user(
    conn: &Connection,
    username: &str,
    display_name: &str,
    role: Role,
    password: &str,
) -> Result<UserView, UserError> {
    if !valid_username(username) {
        return Err(UserError::BadUsername);
    }
    if password.chars().count() < 8 {
        return Err(UserError::WeakPassword);
    }
    if role == Role::Kiosk {
        return Err(UserError::KioskUser);
    }
    let id = format!("usr_{}", uuid::Uuid::now_v7().simple());
    let now = now_ms();
    let hash = hash_password(password)?;
    match conn.execute(
        "INSERT INTO users (id, username, display_name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, username, display_name, role.as_str(), hash, now],
    ) {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => return Err(UserError::Taken),
        Err(e) => return Err(StoreError::from(e).into()),
    }
    Ok(UserView {
        id,
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        role,
        disabled: false,
        created_at: now,
    })
}

/// Lists users.
pub fn list_users(conn: &Connection) -> Result<Vec<UserView>, StoreError> {
    let mut stmt = conn.prepare("SELECT id, username, display_name, role, disabled, created_at FROM users ORDER BY username")?;
    let rows = stmt
        .query_map([], user_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserView> {
    let role: String = r.get(3)?;
    Ok(UserView {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Operator),
        disabled: r.get::<_, i64>(4)? != 0,
        created_at: r.get(5)?,
    })
}

/// Changes a user's display name, role, password or disabled flag. Disabling or a new password ends the
/// user's logins.
pub fn update_user(
    conn: &Connection,
    id: &str,
    display_name: Option<&str>,
    role: Option<Role>,
    password: Option<&str>,
    disabled: Option<bool>,
) -> Result<UserView, UserError> {
    if role == Some(Role::Kiosk) {
        return Err(UserError::KioskUser);
    }
    if password.is_some_and(|p| p.chars().count() < 8) {
        return Err(UserError::WeakPassword);
    }
    let tx = conn.unchecked_transaction().map_err(StoreError::from)?;
    let exists = tx
        .prepare("SELECT 1 FROM users WHERE id = ?1")
        .and_then(|mut s| s.exists([id]))
        .map_err(StoreError::from)?;
    if !exists {
        return Err(UserError::NotFound);
    }
    let s = |e: rusqlite::Error| UserError::Store(e.into());
    if let Some(n) = display_name {
        tx.execute(
            "UPDATE users SET display_name = ?2 WHERE id = ?1",
            params![id, n],
        )
        .map_err(s)?;
    }
    if let Some(r) = role {
        tx.execute(
            "UPDATE users SET role = ?2 WHERE id = ?1",
            params![id, r.as_str()],
        )
        .map_err(s)?;
    }
    if let Some(p) = password {
        tx.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![id, hash_password(p)?],
        )
        .map_err(s)?;
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])
            .map_err(s)?;
    }
    if let Some(d) = disabled {
        tx.execute(
            "UPDATE users SET disabled = ?2 WHERE id = ?1",
            params![id, d as i64],
        )
        .map_err(s)?;
        if d {
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])
                .map_err(s)?;
        }
    }
    let view = tx
        .query_row("SELECT id, username, display_name, role, disabled, created_at FROM users WHERE id = ?1", [id], user_row)
        .map_err(s)?;
    tx.commit().map_err(s)?;
    Ok(view)
}

/// Sets a user's password by username (the `set-password` command).
pub fn set_password(conn: &Connection, username: &str, password: &str) -> Result<(), UserError> {
    let id: Option<String> = conn
        .query_row(
            "SELECT id FROM users WHERE username = ?1",
            [username],
            |r| r.get(0),
        )
        .optional()
        .map_err(StoreError::from)?;
    let id = id.ok_or(UserError::NotFound)?;
    update_user(conn, &id, None, None, Some(password), Some(false)).map(|_| ())
}

/// Checks a username and password; on success creates a session and returns its token.
pub fn login(
    conn: &Connection,
    username: &str,
    password: &str,
    session_hours: u32,
) -> Result<Option<(String, Principal)>, StoreError> {
    let row: Option<(String, String, String, String, i64)> = conn
        .query_row(
            "SELECT id, display_name, role, password_hash, disabled FROM users WHERE username = ?1",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((id, display_name, role, hash, disabled)) = row else {
        // Spend the same time as a real check so a wrong username is not faster than a wrong password.
        static DUMMY: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| hash_password("not-a-real-password").unwrap_or_default());
        let _ = verify_password(password, &DUMMY);
        return Ok(None);
    };
    if disabled != 0 || !verify_password(password, &hash) {
        return Ok(None);
    }
    let token = random_token("ses_");
    let now = now_ms();
    let expires = now + i64::from(session_hours) * 3_600_000;
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash(&token), id, now, expires],
    )?;
    conn.execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
    let role = Role::parse(&role).unwrap_or(Role::Operator);
    Ok(Some((
        token,
        Principal {
            id,
            username: username.to_owned(),
            display_name,
            role,
            expires_at: Some(expires),
        },
    )))
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Unknown,
    Expired,
}

/// Resolves a bearer token (a login or a kiosk device) to its principal.
pub fn authenticate(
    conn: &Connection,
    token: &str,
) -> Result<Result<Principal, TokenProblem>, StoreError> {
    let hash = token_hash(token);
    if token.starts_with("dev_") {
        let row: Option<(String, String)> = conn
            .prepare_cached(
                "SELECT id, name FROM devices WHERE token_hash = ?1 AND revoked_at IS NULL",
            )?
            .query_row([&hash], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        return Ok(row
            .map(|(id, name)| Principal {
                id: id.clone(),
                username: id,
                display_name: name,
                role: Role::Kiosk,
                expires_at: None,
            })
            .ok_or(TokenProblem::Unknown));
    }
    let row: Option<(String, String, String, String, i64, i64)> = conn
        .prepare_cached(
            "SELECT u.id, u.username, u.display_name, u.role, u.disabled, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1",
        )?
        .query_row([&hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .optional()?;
    Ok(match row {
        None => Err(TokenProblem::Unknown),
        Some((.., disabled, _)) if disabled != 0 => Err(TokenProblem::Unknown),
        Some((.., expires)) if expires <= now_ms() => Err(TokenProblem::Expired),
        Some((id, username, display_name, role, _, expires)) => Ok(Principal {
            id,
            username,
            display_name,
            role: Role::parse(&role).unwrap_or(Role::Operator),
            expires_at: Some(expires),
        }),
    })
}

/// Ends a login.
pub fn logout(conn: &Connection, token: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM sessions WHERE token_hash = ?1",
        [token_hash(token)],
    )?;
    Ok(())
}

/// A kiosk device as the admin screens show it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// Only in the answer that created it: the token to configure on the kiosk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Registers a kiosk device and returns its token (shown once).
pub fn create_device(conn: &Connection, name: &str) -> Result<DeviceView, StoreError> {
    let id = format!("dev_{}", uuid::Uuid::now_v7().simple());
    let token = random_token("dev_");
    let now = now_ms();
    conn.execute(
        "INSERT INTO devices (id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, name, token_hash(&token), now],
    )?;
    Ok(DeviceView {
        id,
        name: name.to_owned(),
        created_at: now,
        revoked_at: None,
        token: Some(token),
    })
}

pub fn list_devices(conn: &Connection) -> Result<Vec<DeviceView>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT id, name, created_at, revoked_at FROM devices ORDER BY created_at")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(DeviceView {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: r.get(2)?,
                revoked_at: r.get(3)?,
                token: None,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Revokes a device; returns false when there is no such device.
pub fn revoke_device(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
        params![id, now_ms()],
    )? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let (_, conn) = crate::store::open_database(dir.path()).unwrap();
        (dir, conn)
    }

    #[test]
    fn first_run_admin_and_login() {
        let (_d, conn) = db();
        let pw = ensure_admin(&conn, None).unwrap().expect("generated");
        assert_eq!(pw.len(), 16);
        assert!(ensure_admin(&conn, None).unwrap().is_none(), "only once");
        assert!(
            login(&conn, "admin", "wrong-password", 1)
                .unwrap()
                .is_none()
        );
        let (token, p) = login(&conn, "admin", &pw, 1).unwrap().unwrap();
        assert_eq!(p.role, Role::ClinicAdmin);
        assert_eq!(authenticate(&conn, &token).unwrap().unwrap().id, p.id);
        let stored: String = conn
            .query_row("SELECT token_hash FROM sessions", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, token, "tokens are stored hashed");
        logout(&conn, &token).unwrap();
        assert_eq!(
            authenticate(&conn, &token).unwrap().unwrap_err(),
            TokenProblem::Unknown
        );
    }

    #[test]
    fn expired_sessions_and_revoked_devices_are_refused() {
        let (_d, conn) = db();
        ensure_admin(&conn, Some("rahasia-123")).unwrap();
        let (token, _) = login(&conn, "admin", "rahasia-123", 1).unwrap().unwrap();
        conn.execute("UPDATE sessions SET expires_at = 1", [])
            .unwrap();
        assert_eq!(
            authenticate(&conn, &token).unwrap().unwrap_err(),
            TokenProblem::Expired
        );
        let dev = create_device(&conn, "Kiosk depan").unwrap();
        let t = dev.token.clone().unwrap();
        assert_eq!(authenticate(&conn, &t).unwrap().unwrap().role, Role::Kiosk);
        assert!(revoke_device(&conn, &dev.id).unwrap());
        assert!(authenticate(&conn, &t).unwrap().is_err());
    }

    #[test]
    fn users_are_validated_and_disabling_ends_logins() {
        let (_d, conn) = db();
        assert!(matches!(
            create_user(&conn, "Op", "x", Role::Operator, "12345678"),
            Err(UserError::BadUsername)
        ));
        assert!(matches!(
            create_user(&conn, "op1", "x", Role::Operator, "short"),
            Err(UserError::WeakPassword)
        ));
        let u = create_user(&conn, "op1", "Operator 1", Role::Operator, "12345678").unwrap();
        assert!(matches!(
            create_user(&conn, "op1", "x", Role::Operator, "12345678"),
            Err(UserError::Taken)
        ));
        let (token, _) = login(&conn, "op1", "12345678", 1).unwrap().unwrap();
        update_user(&conn, &u.id, None, None, None, Some(true)).unwrap();
        assert!(authenticate(&conn, &token).unwrap().is_err());
        assert!(login(&conn, "op1", "12345678", 1).unwrap().is_none());
    }
}
