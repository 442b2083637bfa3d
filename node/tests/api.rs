//! In-process API tests: every route against every role, bad input that must be refused without changing
//! anything, idempotency, rate limits, the ticket life cycle through HTTP, and projections rebuilt from the
//! documents equal to the ones written incrementally.

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode},
};
use clinic_node::{Config, Node, http::ROUTES};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Harness {
    app: Router,
    node: Option<Node>,
    dir: tempfile::TempDir,
    admin: String,
    operator: String,
    kiosk: String,
}

struct Answer {
    status: StatusCode,
    body: Value,
    headers: axum::http::HeaderMap,
}

impl Harness {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_data_dir(dir.path());
        config.admin_password = Some("rahasia-admin".into());
        tweak(&mut config);
        let node = Node::open(config).await.unwrap();
        let app = node.router();
        let mut h = Harness {
            app,
            node: Some(node),
            dir,
            admin: String::new(),
            operator: String::new(),
            kiosk: String::new(),
        };
        h.admin = h.login("admin", "rahasia-admin").await;
        let a = h.admin.clone();
        let r = h.call(Method::POST, "/api/v1/users", Some(&a), Some(json!({"username":"op1","display_name":"Operator Satu","role":"operator","password":"operator-1"}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        h.operator = h.login("op1", "operator-1").await;
        let r = h
            .call(
                Method::POST,
                "/api/v1/devices",
                Some(&a),
                Some(json!({"name":"Kiosk depan"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        h.kiosk = r.body["token"].as_str().unwrap().to_owned();
        h
    }

    async fn login(&self, user: &str, pw: &str) -> String {
        let r = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": user, "password": pw})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["token"].as_str().unwrap().to_owned()
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    async fn send(&self, req: Request<Body>) -> Answer {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            body,
            headers,
        }
    }

    /// Counts of what a refused request must not change.
    fn counts(&self) -> (i64, i64, i64, i64) {
        let conn = rusqlite::Connection::open(self.dir.path().join("clinic-node.db")).unwrap();
        let n = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        (
            n("SELECT COUNT(*) FROM outbox"),
            n("SELECT COUNT(*) FROM doc_chunks") + n("SELECT COUNT(*) FROM docs"),
            n("SELECT COUNT(*) FROM tickets"),
            n("SELECT COUNT(*) FROM idempotency"),
        )
    }

    async fn issue(&self, service: &str) -> Value {
        let r = self
            .call(
                Method::POST,
                "/api/v1/queue/tickets",
                Some(&self.operator),
                Some(json!({"service": service})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    async fn close(mut self) {
        if let Some(n) = self.node.take() {
            drop(self.app);
            n.close().await;
        }
    }
}

const NIK: &str = "3507224903820003";

#[tokio::test]
async fn every_route_checks_roles() {
    let h = Harness::start().await;
    let t = h.issue("umum").await;
    let ticket = t["id"].as_str().unwrap().to_owned();
    let p = h
        .call(
            Method::POST,
            "/api/v1/patients",
            Some(&h.operator),
            Some(json!({"nik": NIK, "name": "Siti Aminah"})),
        )
        .await;
    let patient = p.body["id"].as_str().unwrap().to_owned();
    let users = h
        .call(Method::GET, "/api/v1/users", Some(&h.admin), None)
        .await;
    let op_id = users.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "op1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let clinic = h.call(Method::GET, "/api/v1/clinic", None, None).await.body;
    // Which roles may use each route: a = anonymous, k = kiosk, o = operator, c = clinic admin.
    let matrix: &[(&str, &str, &str, Option<Value>)] = &[
        ("GET", "/api/v1/auth/me", "koc", None),
        ("GET", "/api/v1/users", "c", None),
        (
            "POST",
            "/api/v1/users",
            "c",
            Some(
                json!({"username":"x{n}","display_name":"X","role":"operator","password":"12345678"}),
            ),
        ),
        (
            "PATCH",
            "/api/v1/users/{op}",
            "c",
            Some(json!({"display_name":"Operator 1"})),
        ),
        ("GET", "/api/v1/devices", "c", None),
        (
            "POST",
            "/api/v1/devices",
            "c",
            Some(json!({"name":"Kiosk 2"})),
        ),
        ("DELETE", "/api/v1/devices/{dev}", "c", None),
        ("GET", "/api/v1/clinic", "akoc", None),
        ("PUT", "/api/v1/clinic", "c", Some(clinic.clone())),
        (
            "POST",
            "/api/v1/patients",
            "koc",
            Some(json!({"nik": NIK, "name": "Siti Aminah"})),
        ),
        ("GET", "/api/v1/patients?q=siti", "oc", None),
        ("GET", "/api/v1/patients/{patient}", "oc", None),
        (
            "PATCH",
            "/api/v1/patients/{patient}",
            "oc",
            Some(json!({"phone": "081234567890"})),
        ),
        (
            "POST",
            "/api/v1/queue/tickets",
            "koc",
            Some(json!({"service":"gigi"})),
        ),
        ("GET", "/api/v1/queue", "akoc", None),
        ("GET", "/api/v1/queue/tickets/{ticket}", "akoc", None),
        (
            "POST",
            "/api/v1/queue/call-next",
            "oc",
            Some(json!({"service":"gigi","counter":"loket-1"})),
        ),
        ("POST", "/api/v1/queue/tickets/{ticket}/recall", "oc", None),
        ("GET", "/api/v1/queue/stats", "oc", None),
        // A JSON body: allowed callers get 400 invalid_multipart, the others 401/403 first.
        ("POST", "/api/v1/ktp/scan", "koc", Some(json!({}))),
        ("GET", "/api/v1/events", "c", None),
        ("GET", "/api/v1/health", "akoc", None),
        ("GET", "/api/v1/ready", "akoc", None),
        ("GET", "/api/v1/metrics", "akoc", None),
        ("GET", "/api/v1/openapi.json", "akoc", None),
    ];
    // The first call of the ticket so that recall is legal for whoever is allowed.
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/queue/tickets/{ticket}/call"),
            Some(&h.operator),
            Some(json!({"counter":"loket-1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut n = 0;
    for (method, path, allowed, body) in matrix {
        for (who, token) in [
            ('a', None),
            ('k', Some(h.kiosk.as_str())),
            ('o', Some(h.operator.as_str())),
            ('c', Some(h.admin.as_str())),
        ] {
            n += 1;
            let dev = h
                .call(
                    Method::POST,
                    "/api/v1/devices",
                    Some(&h.admin),
                    Some(json!({"name":"throwaway"})),
                )
                .await
                .body["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let path = path
                .replace("{op}", &op_id)
                .replace("{dev}", &dev)
                .replace("{patient}", &patient)
                .replace("{ticket}", &ticket);
            let body = body.as_ref().map(|b| {
                serde_json::from_str(&b.to_string().replace("{n}", &n.to_string())).unwrap()
            });
            let r = h.call(method.parse().unwrap(), &path, token, body).await;
            if allowed.contains(who) {
                assert!(
                    r.status != StatusCode::UNAUTHORIZED && r.status != StatusCode::FORBIDDEN,
                    "{method} {path} as {who}: {} {}",
                    r.status,
                    r.body
                );
            } else {
                let want = if who == 'a' {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(r.status, want, "{method} {path} as {who}: {}", r.body);
                assert!(r.body["code"].is_string());
            }
        }
    }
    // Every route the router has is in the matrix or tested on its own (login, logout, live).
    for (method, path) in ROUTES {
        let generic = |p: &str| p.split('?').next().unwrap().to_owned();
        let covered = matrix.iter().any(|(m, p, ..)| {
            m == method && {
                let p = generic(p)
                    .replace("{op}", "{id}")
                    .replace("{dev}", "{id}")
                    .replace("{patient}", "{id}")
                    .replace("{ticket}", "{id}");
                p == *path || p.replace("/recall", "/{action}") == *path
            }
        });
        let separate = ["/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/live"].contains(path);
        assert!(
            covered || separate,
            "{method} {path} is not in the role matrix"
        );
    }
    // The OpenAPI description names every route.
    let spec = h
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .body;
    for (method, path) in ROUTES {
        let op = &spec["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "openapi.json lacks {method} {path}");
    }
    h.close().await;
}

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let h = Harness::start().await;
    let t = h.issue("umum").await;
    let ticket = t["id"].as_str().unwrap().to_owned();
    let cancelled = h.issue("umum").await["id"].as_str().unwrap().to_owned();
    let r = h
        .call(
            Method::POST,
            &format!("/api/v1/queue/tickets/{cancelled}/cancel"),
            Some(&h.operator),
            Some(json!({"reason":"patient_left"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = h
        .call(
            Method::POST,
            "/api/v1/patients",
            Some(&h.operator),
            Some(json!({"nik": NIK, "name": "Siti"})),
        )
        .await;
    let patient = p.body["id"].as_str().unwrap().to_owned();
    let r = h
        .call(
            Method::POST,
            "/api/v1/queue/tickets",
            Some(&h.operator),
            Some(json!({"service":"gigi"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let mut idem = Request::builder()
        .method("POST")
        .uri("/api/v1/queue/tickets")
        .header("authorization", format!("Bearer {}", h.operator))
        .header("content-type", "application/json")
        .header("idempotency-key", "key-1")
        .body(Body::from(r#"{"service":"kia"}"#))
        .unwrap();
    assert_eq!(h.send(idem).await.status, StatusCode::CREATED);
    let mut clinic = h.call(Method::GET, "/api/v1/clinic", None, None).await.body;
    clinic["services"][1]["prefix"] = json!("A");
    let mut renamed = h.call(Method::GET, "/api/v1/clinic", None, None).await.body;
    renamed["id"] = json!("other-clinic");
    // An expired login.
    let old = h.login("op1", "operator-1").await;
    {
        let conn = rusqlite::Connection::open(h.dir.path().join("clinic-node.db")).unwrap();
        let hash = clinic_node::auth::token_hash(&old);
        conn.execute(
            "UPDATE sessions SET expires_at = 1 WHERE token_hash = ?1",
            [hash],
        )
        .unwrap();
    }
    let op = h.operator.clone();
    let post = |path: &str, body: &str| {
        Request::builder()
            .method("POST")
            .uri(path)
            .header("authorization", format!("Bearer {op}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let big = format!(r#"{{"nik":"{NIK}","name":"{}"}}"#, "A".repeat(100_000));
    type Case = (&'static str, Request<Body>, StatusCode, &'static str);
    let tk = |a: &str| format!("/api/v1/queue/tickets/{ticket}/{a}");
    let cases: Vec<Case> = vec![
        (
            "bad JSON",
            post("/api/v1/patients", r#"{"nik": "#),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "no content type",
            Request::builder()
                .method("POST")
                .uri("/api/v1/patients")
                .header("authorization", format!("Bearer {op}"))
                .body(Body::from("{}"))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "missing NIK",
            post("/api/v1/patients", r#"{"name":"X"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            "short NIK",
            post("/api/v1/patients", r#"{"nik":"350722490382","name":"X"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nik_length",
        ),
        (
            "impossible date in NIK",
            post(
                "/api/v1/patients",
                r#"{"nik":"3507223302820003","name":"X"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nik_birth_date",
        ),
        (
            "letters in NIK",
            post(
                "/api/v1/patients",
                r#"{"nik":"35072249O3820003","name":"X"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nik_not_digits",
        ),
        (
            "unknown province",
            post(
                "/api/v1/patients",
                r#"{"nik":"9907224903820003","name":"X"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nik_unknown_province",
        ),
        (
            "serial 0000",
            post(
                "/api/v1/patients",
                r#"{"nik":"3507224903820000","name":"X"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nik_zero_serial",
        ),
        (
            "birth date disagrees",
            post(
                "/api/v1/patients",
                r#"{"nik":"3507224903820004","name":"X","birth_date":"1982-03-10"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nik_birth_date_mismatch",
        ),
        (
            "sex disagrees",
            post(
                "/api/v1/patients",
                r#"{"nik":"3507224903820004","name":"X","sex":"LAKI-LAKI"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nik_sex_mismatch",
        ),
        (
            "unknown field",
            post(
                "/api/v1/patients",
                r#"{"nik":"3507224903820004","name":"X","hobby":"golf"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "religion not on a KTP",
            post(
                "/api/v1/patients",
                r#"{"nik":"3507224903820004","name":"X","religion":"JEDI"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "unknown service",
            post("/api/v1/queue/tickets", r#"{"service":"bedah"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_service",
        ),
        (
            "unknown priority",
            post(
                "/api/v1/queue/tickets",
                r#"{"service":"umum","priority":"vip"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "ticket without service",
            post("/api/v1/queue/tickets", r#"{}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "ticket for unknown patient",
            post(
                "/api/v1/queue/tickets",
                r#"{"service":"umum","patient_id":"pat_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
            ),
            StatusCode::NOT_FOUND,
            "patient_not_found",
        ),
        (
            "nobody waiting",
            post(
                "/api/v1/queue/call-next",
                r#"{"service":"apotek","counter":"loket-1"}"#,
            ),
            StatusCode::NOT_FOUND,
            "queue_empty",
        ),
        (
            "unknown counter",
            post(
                "/api/v1/queue/call-next",
                r#"{"service":"umum","counter":"loket-9"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_counter",
        ),
        (
            "complete a cancelled ticket",
            post(&format!("/api/v1/queue/tickets/{cancelled}/complete"), ""),
            StatusCode::CONFLICT,
            "illegal_transition",
        ),
        (
            "recall a waiting ticket",
            post(&tk("recall"), ""),
            StatusCode::CONFLICT,
            "illegal_transition",
        ),
        (
            "unknown action",
            post(&tk("teleport"), ""),
            StatusCode::NOT_FOUND,
            "unknown_action",
        ),
        (
            "cancel without reason",
            post(&tk("cancel"), "{}"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            "cancel with a made-up reason",
            post(&tk("cancel"), r#"{"reason":"bosan"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "reason on a call",
            post(&tk("call"), r#"{"counter":"loket-1","reason":"x"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "unknown ticket",
            post(
                "/api/v1/queue/tickets/tkt_00000000000000000000000000000000/call",
                r#"{"counter":"loket-1"}"#,
            ),
            StatusCode::NOT_FOUND,
            "ticket_not_found",
        ),
        (
            "oversized body",
            post("/api/v1/patients", &big),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "kiosk calling",
            Request::builder()
                .method("POST")
                .uri("/api/v1/queue/call-next")
                .header("authorization", format!("Bearer {}", h.kiosk))
                .header("content-type", "application/json")
                .body(Body::from(r#"{"service":"umum","counter":"loket-1"}"#))
                .unwrap(),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "no login",
            Request::builder()
                .method("POST")
                .uri("/api/v1/queue/call-next")
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            "expired login",
            Request::builder()
                .method("POST")
                .uri("/api/v1/queue/tickets")
                .header("authorization", format!("Bearer {old}"))
                .header("content-type", "application/json")
                .body(Body::from(r#"{"service":"umum"}"#))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "session_expired",
        ),
        (
            "made-up token",
            Request::builder()
                .uri("/api/v1/auth/me")
                .header("authorization", "Bearer ses_nope")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            "idempotency key reused",
            {
                idem = post("/api/v1/queue/tickets", r#"{"service":"gigi"}"#);
                idem.headers_mut()
                    .insert("idempotency-key", "key-1".parse().unwrap());
                idem
            },
            StatusCode::CONFLICT,
            "idempotency_key_reused",
        ),
        (
            "malformed idempotency key",
            {
                let mut r = post("/api/v1/queue/tickets", r#"{"service":"gigi"}"#);
                r.headers_mut()
                    .insert("idempotency-key", "a b".parse().unwrap());
                r
            },
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
        ),
        (
            "impossible date",
            Request::builder()
                .uri("/api/v1/queue?date=2026-13-01")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_date",
        ),
        (
            "unknown query parameter",
            Request::builder()
                .uri("/api/v1/queue?day=2026-11-01")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "two services with one prefix",
            Request::builder()
                .method("PUT")
                .uri("/api/v1/clinic")
                .header("authorization", format!("Bearer {}", h.admin))
                .header("content-type", "application/json")
                .body(Body::from(clinic.to_string()))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "renaming the clinic id",
            Request::builder()
                .method("PUT")
                .uri("/api/v1/clinic")
                .header("authorization", format!("Bearer {}", h.admin))
                .header("content-type", "application/json")
                .body(Body::from(renamed.to_string()))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            "changing a NIK",
            Request::builder()
                .method("PATCH")
                .uri(format!("/api/v1/patients/{patient}"))
                .header("authorization", format!("Bearer {op}"))
                .header("content-type", "application/json")
                .body(Body::from(r#"{"nik":"3507224903820004"}"#))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nik_immutable",
        ),
        (
            "empty correction",
            Request::builder()
                .method("PATCH")
                .uri(format!("/api/v1/patients/{patient}"))
                .header("authorization", format!("Bearer {op}"))
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_patch",
        ),
        (
            "wrong password",
            Request::builder()
                .method("POST")
                .uri("/api/v1/auth/login")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"username":"op1","password":"nope-nope"}"#))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ),
        (
            "NIK and name search at once",
            Request::builder()
                .uri(format!("/api/v1/patients?nik={NIK}&q=siti"))
                .header("authorization", format!("Bearer {op}"))
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "unknown route",
            Request::builder()
                .uri("/api/v1/nothing-here")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_FOUND,
            "route_not_found",
        ),
    ];
    assert!(cases.len() >= 25);
    for (what, req, status, code) in cases {
        let before = h.counts();
        let r = h.send(req).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{what}: {}",
            r.body
        );
        assert!(
            r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: no message"
        );
        assert!(r.status.is_client_error());
        assert_eq!(h.counts(), before, "{what} changed something");
    }
    h.close().await;
}

#[tokio::test]
async fn a_patient_goes_from_registration_to_the_pharmacy() {
    let h = Harness::start().await;
    let k = h.kiosk.clone();
    let r = h
        .call(
            Method::POST,
            "/api/v1/patients",
            Some(&k),
            Some(json!({"nik": NIK, "name": "siti aminah", "phone": "081234567890"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["created"], true);
    assert!(
        r.body.get("name").is_none(),
        "a kiosk gets no personal data back"
    );
    let pid = r.body["id"].as_str().unwrap().to_owned();
    let again = h
        .call(
            Method::POST,
            "/api/v1/patients",
            Some(&h.operator),
            Some(json!({"nik": NIK, "name": "Siti Aminah"})),
        )
        .await;
    assert_eq!(
        (
            again.status,
            again.body["created"].clone(),
            again.body["id"].as_str()
        ),
        (StatusCode::OK, json!(false), Some(pid.as_str()))
    );
    let by_nik = h
        .call(
            Method::GET,
            &format!("/api/v1/patients?nik={NIK}"),
            Some(&h.operator),
            None,
        )
        .await;
    assert_eq!(by_nik.body["patients"][0]["name"], "SITI AMINAH");
    let fix = h
        .call(
            Method::PATCH,
            &format!("/api/v1/patients/{pid}"),
            Some(&h.operator),
            Some(json!({"occupation": "petani/pekebun"})),
        )
        .await;
    assert_eq!(fix.body["occupation"], "PETANI/PEKEBUN");
    let plain = h
        .call(
            Method::POST,
            "/api/v1/queue/tickets",
            Some(&k),
            Some(json!({"service":"umum"})),
        )
        .await
        .body;
    let t = h
        .call(
            Method::POST,
            "/api/v1/queue/tickets",
            Some(&k),
            Some(json!({"service":"umum","priority":"lansia","patient_id": pid})),
        )
        .await
        .body;
    assert_eq!(
        (t["display"].as_str(), t["position"].as_u64()),
        (Some("A-002"), Some(1)),
        "the elderly go first"
    );
    let plain_now = h
        .call(
            Method::GET,
            &format!("/api/v1/queue/tickets/{}", plain["id"].as_str().unwrap()),
            None,
            None,
        )
        .await
        .body;
    assert_eq!(plain_now["position"], 2);
    assert!(plain_now.get("patient_id").is_none());
    let called = h
        .call(
            Method::POST,
            "/api/v1/queue/call-next",
            Some(&h.operator),
            Some(json!({"service":"umum","counter":"loket-2"})),
        )
        .await
        .body;
    assert_eq!(
        (
            called["id"].clone(),
            called["status"].as_str(),
            called["counter"].as_str()
        ),
        (t["id"].clone(), Some("called"), Some("loket-2"))
    );
    let tid = t["id"].as_str().unwrap();
    let op = Some(h.operator.as_str());
    assert_eq!(
        h.call(
            Method::POST,
            &format!("/api/v1/queue/tickets/{tid}/recall"),
            op,
            None
        )
        .await
        .body["recalls"],
        1
    );
    assert_eq!(
        h.call(
            Method::POST,
            &format!("/api/v1/queue/tickets/{tid}/start"),
            op,
            None
        )
        .await
        .body["status"],
        "serving"
    );
    let done = h
        .call(
            Method::POST,
            &format!("/api/v1/queue/tickets/{tid}/complete"),
            op,
            Some(json!({"next_service":"apotek"})),
        )
        .await
        .body;
    assert_eq!(done["status"], "done");
    let next = h
        .call(
            Method::GET,
            &format!(
                "/api/v1/queue/tickets/{}",
                done["next_ticket_id"].as_str().unwrap()
            ),
            op,
            None,
        )
        .await
        .body;
    assert_eq!(
        (
            next["display"].as_str(),
            next["status"].as_str(),
            next["patient_id"].as_str()
        ),
        (Some("F-001"), Some("waiting"), Some(pid.as_str()))
    );
    let stats = h
        .call(Method::GET, "/api/v1/queue/stats", op, None)
        .await
        .body;
    let umum = stats["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "umum")
        .unwrap()
        .clone();
    assert_eq!(
        (
            umum["counts"]["done"].as_u64(),
            umum["counts"]["waiting"].as_u64(),
            umum["service_minutes"]["samples"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    // The outbox holds one event per step, ids only, with per-aggregate sequence numbers.
    let events = h
        .call(
            Method::GET,
            "/api/v1/events?limit=1000",
            Some(&h.admin),
            None,
        )
        .await
        .body;
    let evs: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["event"])
        .collect();
    let of_ticket: Vec<(&str, u64)> = evs
        .iter()
        .filter(|e| e["subject"] == tid)
        .map(|e| (e["type"].as_str().unwrap(), e["seq"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        of_ticket,
        [
            ("id.clinic.ticket.issued.v1", 1),
            ("id.clinic.ticket.called.v1", 2),
            ("id.clinic.ticket.recalled.v1", 3),
            ("id.clinic.ticket.started.v1", 4),
            ("id.clinic.ticket.completed.v1", 5)
        ]
    );
    let text = events.to_string();
    assert!(
        !text.contains(NIK) && !text.contains("SITI"),
        "events carry no personal data"
    );
    h.close().await;
}

#[tokio::test]
async fn rebuilt_projections_equal_the_incremental_ones() {
    let h = Harness::start().await;
    for (i, nik) in ["3507224903820003", "3507220903820001", "3273012505900002"]
        .iter()
        .enumerate()
    {
        let r = h
            .call(
                Method::POST,
                "/api/v1/patients",
                Some(&h.operator),
                Some(json!({"nik": nik, "name": format!("Pasien {}", ["Satu","Dua","Tiga"][i])})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let mut ids = Vec::new();
    for s in ["umum", "umum", "gigi", "kia", "umum"] {
        ids.push(h.issue(s).await["id"].as_str().unwrap().to_owned());
    }
    let op = Some(h.operator.as_str());
    h.call(
        Method::POST,
        "/api/v1/queue/call-next",
        op,
        Some(json!({"service":"umum","counter":"loket-1"})),
    )
    .await;
    h.call(
        Method::POST,
        &format!("/api/v1/queue/tickets/{}/call", ids[2]),
        op,
        Some(json!({"counter":"loket-2"})),
    )
    .await;
    h.call(
        Method::POST,
        &format!("/api/v1/queue/tickets/{}/skip", ids[2]),
        op,
        None,
    )
    .await;
    h.call(
        Method::POST,
        &format!("/api/v1/queue/tickets/{}/cancel", ids[3]),
        op,
        Some(json!({"reason":"duplicate"})),
    )
    .await;
    let dump = |dir: &std::path::Path| {
        let conn = rusqlite::Connection::open(dir.join("clinic-node.db")).unwrap();
        let rows = |sql: &str| -> Vec<String> {
            let mut s = conn.prepare(sql).unwrap();
            let n = s.column_count();
            s.query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        (
            rows("SELECT * FROM tickets ORDER BY id"),
            rows("SELECT * FROM patients ORDER BY id"),
        )
    };
    let before = dump(h.dir.path());
    assert_eq!((before.0.len(), before.1.len()), (5, 3));
    let dir = h.dir.path().to_owned();
    let keep = tempfile::tempdir().unwrap();
    // Stop the node, rebuild with the real binary's code path, compare.
    let Harness {
        app,
        node,
        dir: tmp,
        ..
    } = h;
    drop(app);
    node.unwrap().close().await;
    let mut conn = rusqlite::Connection::open(dir.join("clinic-node.db")).unwrap();
    let tx = conn.transaction().unwrap();
    let report = clinic_node::store::projection::rebuild(&tx).unwrap();
    tx.commit().unwrap();
    assert_eq!((report.tickets, report.patients), (5, 3));
    assert_eq!(dump(&dir), before);
    drop((tmp, keep));
}

#[tokio::test]
async fn login_is_rate_limited_and_sessions_end() {
    let h = Harness::start_with(|c| c.login_per_minute = 2).await;
    // The harness logged in twice already with this budget? No: each test client is 127.0.0.1 and the
    // budget refills over a minute, so the third attempt within the minute is refused.
    let mut limited = None;
    for _ in 0..3 {
        let r = h
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username":"op1","password":"operator-1"})),
            )
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("login must be rate limited");
    assert_eq!(r.body["code"], "rate_limited");
    assert!(
        r.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1)
    );
    let r = h
        .call(Method::POST, "/api/v1/auth/logout", Some(&h.operator), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        h.call(Method::GET, "/api/v1/auth/me", Some(&h.operator), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    h.close().await;
}

#[tokio::test]
async fn disabling_a_user_or_revoking_a_device_takes_effect_at_once() {
    let h = Harness::start().await;
    // Both tokens are used (and so cached) before they are withdrawn.
    assert_eq!(
        h.call(Method::GET, "/api/v1/auth/me", Some(&h.operator), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        h.call(Method::GET, "/api/v1/auth/me", Some(&h.kiosk), None)
            .await
            .status,
        StatusCode::OK
    );
    let users = h
        .call(Method::GET, "/api/v1/users", Some(&h.admin), None)
        .await
        .body;
    let op = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "op1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{op}"),
            Some(&h.admin),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        h.call(Method::GET, "/api/v1/auth/me", Some(&h.operator), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let devices = h
        .call(Method::GET, "/api/v1/devices", Some(&h.admin), None)
        .await
        .body;
    let dev = devices["devices"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.call(
            Method::DELETE,
            &format!("/api/v1/devices/{dev}"),
            Some(&h.admin),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.call(Method::GET, "/api/v1/auth/me", Some(&h.kiosk), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    h.close().await;
}

#[tokio::test]
async fn idempotency_records_keep_no_personal_data() {
    let h = Harness::start().await;
    let req = || {
        Request::builder()
            .method("POST")
            .uri("/api/v1/patients")
            .header("authorization", format!("Bearer {}", h.operator))
            .header("content-type", "application/json")
            .header("idempotency-key", "reg-1")
            .body(Body::from(format!(
                r#"{{"nik":"{NIK}","name":"Siti Aminah"}}"#
            )))
            .unwrap()
    };
    let a = h.send(req()).await;
    let b = h.send(req()).await;
    assert_eq!(
        (a.status, b.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(a.body, b.body, "the replay shows the same record");
    assert_eq!(b.headers.get("idempotent-replayed").unwrap(), "true");
    let conn = rusqlite::Connection::open(h.dir.path().join("clinic-node.db")).unwrap();
    let stored: String = conn
        .query_row(
            "SELECT body FROM idempotency WHERE key = 'reg-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        !stored.contains(NIK) && !stored.contains("SITI"),
        "{stored}"
    );
    h.close().await;
}

#[tokio::test]
async fn kiosk_requests_are_rate_limited_per_device() {
    let h = Harness::start_with(|c| c.kiosk_per_minute = 3).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            h.call(
                Method::POST,
                "/api/v1/queue/tickets",
                Some(&h.kiosk),
                Some(json!({"service":"umum"})),
            )
            .await
            .status,
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // Operators are not limited by the kiosk budget.
    assert_eq!(
        h.call(
            Method::POST,
            "/api/v1/queue/tickets",
            Some(&h.operator),
            Some(json!({"service":"umum"}))
        )
        .await
        .status,
        StatusCode::CREATED
    );
    h.close().await;
}

#[tokio::test]
async fn idempotent_replays_return_the_first_answer() {
    let h = Harness::start().await;
    let req = || {
        Request::builder()
            .method("POST")
            .uri("/api/v1/queue/tickets")
            .header("authorization", format!("Bearer {}", h.operator))
            .header("content-type", "application/json")
            .header("idempotency-key", "6f1c")
            .body(Body::from(r#"{"service":"umum"}"#))
            .unwrap()
    };
    let a = h.send(req()).await;
    let b = h.send(req()).await;
    assert_eq!(
        (a.status, b.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(b.headers.get("idempotent-replayed").unwrap(), "true");
    let q = h.call(Method::GET, "/api/v1/queue", None, None).await.body;
    assert_eq!(q["tickets"].as_array().unwrap().len(), 1);
    h.close().await;
}

#[tokio::test]
async fn the_live_stream_announces_committed_tickets_without_patient_ids() {
    let h = Harness::start().await;
    let resp = h
        .app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/api/v1/live")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let mut body = resp.into_body();
    let mut seen = String::new();
    let mut next_frame = async || {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
            .await
            .expect("an event in time");
        String::from_utf8(frame.unwrap().unwrap().into_data().unwrap().to_vec()).unwrap()
    };
    seen.push_str(&next_frame().await);
    assert!(seen.contains("event: hello"), "{seen}");
    let p = h
        .call(
            Method::POST,
            "/api/v1/patients",
            Some(&h.operator),
            Some(json!({"nik": NIK, "name": "Siti"})),
        )
        .await;
    let pid = p.body["id"].as_str().unwrap().to_owned();
    let r = h
        .call(
            Method::POST,
            "/api/v1/queue/tickets",
            Some(&h.operator),
            Some(json!({"service":"kia","patient_id": pid})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    while !seen.contains("C-001") {
        seen.push_str(&next_frame().await);
    }
    assert!(seen.contains("event: ticket"), "{seen}");
    assert!(
        !seen.contains(&pid),
        "the public stream carries no patient id"
    );
    h.close().await;
}

/// A multipart body with one file field.
fn multipart(field: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "ce-boundary-7d1f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"ktp.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Harness {
    async fn scan(&self, token: &str, field: &str, bytes: &[u8]) -> Answer {
        let (ct, body) = multipart(field, bytes);
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/ktp/scan")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", ct)
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }
}

#[tokio::test]
async fn a_kiosk_scans_a_ktp_photo_and_bad_photos_are_refused_plainly() {
    use ocr_model::synth::{FontSet, Renderer, Split, Tier, fonts};
    let h = Harness::start().await;
    let fonts = FontSet::load(&fonts::default_font_dir(), Split::Heldout).unwrap();
    let sample = Renderer::new(fonts, Tier::Photo, 31).render(3).unwrap();
    let (jpeg, _) = sample.file_bytes().unwrap();
    let before = h.counts();

    let r = h.scan(&h.kiosk, "image", &jpeg).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ok"], true);
    let fields = r.body["fields"].as_object().unwrap();
    let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 17, "{keys:?}");
    for k in [
        "nik",
        "name",
        "birth_date",
        "sex",
        "rt_rw",
        "province",
        "valid_until",
    ] {
        let f = &fields[k];
        assert!(
            f["value"].is_string() && f["confidence"].is_number(),
            "{k}: {f}"
        );
    }
    assert_eq!(fields["nik"]["value"].as_str().unwrap().len(), 16);
    assert!(r.body["warnings"].is_array());
    assert!(r.body["elapsed_ms"].as_f64().unwrap() > 0.0);
    // Reading a card stores nothing.
    assert_eq!(h.counts(), before);

    // Not an image, not a KTP, no image field, a JSON body, too large: each a plain 4xx.
    let r = h.scan(&h.operator, "image", b"this is not a photo").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "not_an_image");
    assert_eq!(r.body["ok"], false);
    assert_eq!(r.body["error"]["code"], "not_an_image");
    let mut png = Vec::new();
    image::RgbImage::from_pixel(640, 480, image::Rgb([90, 60, 40]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let r = h.scan(&h.operator, "image", &png).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "not_a_ktp");
    assert!(r.body["message"].as_str().unwrap().contains("KTP"));
    let r = h.scan(&h.operator, "photo", &jpeg).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["code"], "missing_image");
    let r = h
        .call(
            Method::POST,
            "/api/v1/ktp/scan",
            Some(&h.operator),
            Some(json!({"image": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["code"], "invalid_multipart");
    let big = vec![0xffu8; ocr_model::reader::MAX_BYTES + 1];
    let r = h.scan(&h.operator, "image", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(r.body["code"], "image_too_large");
    // Anonymous callers may not scan.
    let (ct, body) = multipart("image", &jpeg);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/ktp/scan")
        .header("content-type", ct)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.counts(), before);
    h.close().await;
}

/// Commands committed together: one that fails after writing (call-next on a new day with nobody
/// waiting creates the day's document first) is undone alone, and the others in its batch commit.
#[tokio::test]
async fn a_failed_command_in_a_batch_leaves_nothing_and_the_rest_commit() {
    let h = Harness::start().await;
    let before = h.counts();
    let call_next = || {
        h.call(
            Method::POST,
            "/api/v1/queue/call-next",
            Some(&h.operator),
            Some(json!({"service": "apotek", "counter": "loket-1"})),
        )
    };
    // Alone first: the refused command leaves no queue-day document behind.
    let r = call_next().await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.body["code"], "queue_empty");
    assert_eq!(h.counts(), before, "a refused command changed something");
    // Then mixed with tickets, all in flight at once.
    let issues = futures::future::join_all((0..24).map(|_| {
        h.call(
            Method::POST,
            "/api/v1/queue/tickets",
            Some(&h.operator),
            Some(json!({"service": "umum"})),
        )
    }));
    let calls = futures::future::join_all((0..8).map(|_| call_next()));
    let (issued, called) = tokio::join!(issues, calls);
    assert!(called.iter().all(|r| r.status == StatusCode::NOT_FOUND));
    let mut numbers: Vec<u64> = issued
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["number"].as_u64().unwrap()
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=24).collect::<Vec<_>>());
    let conn = rusqlite::Connection::open(h.dir.path().join("clinic-node.db")).unwrap();
    let n = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(n("SELECT COUNT(*) FROM tickets"), 24);
    assert_eq!(
        n(
            "SELECT COUNT(*) FROM outbox WHERE type = 'id.clinic.ticket.issued.v1' AND aggregate_seq = 1"
        ),
        24
    );
    assert_eq!(n("SELECT COUNT(*) FROM docs WHERE kind = 'queue_day'"), 1);
    drop(conn);
    h.close().await;
}
