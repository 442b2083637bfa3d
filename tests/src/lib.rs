//! Helpers for cross-crate scenarios: start real nodes in-process on temporary data directories and talk
//! to them through their HTTP router.

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode},
};
use clinic_node::{Config, Node};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A node running in-process on its own temporary data directory, with an operator logged in.
#[derive(Debug)]
pub struct TestNode {
    node: Option<Node>,
    app: Router,
    pub dir: tempfile::TempDir,
    pub token: String,
}

impl TestNode {
    /// Starts a node of `clinic` with ticket-number slot `slot` and a shared deployment secret.
    pub async fn start(clinic: &str, slot: u32) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path());
        config.clinic_id = crdt_schema::ids::ClinicId::parse(clinic).expect("clinic id");
        config.node_slot = slot;
        config.admin_password = Some("rahasia-admin".into());
        config.deployment_secret = Some(crdt_schema::ids::DeploymentSecret::from_bytes([42; 32]));
        let node = Node::open(config).await.expect("node opens");
        let app = node.router();
        let mut t = Self {
            node: Some(node),
            app,
            dir,
            token: String::new(),
        };
        let r = t
            .call(
                Method::POST,
                "/api/v1/auth/login",
                Some(json!({"username":"admin","password":"rahasia-admin"})),
            )
            .await;
        assert_eq!(r.0, StatusCode::OK);
        t.token = r.1["token"].as_str().expect("token").to_owned();
        t
    }

    /// Sends a request with the node's login; returns the status and the JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if !self.token.is_empty() {
            b = b.header("authorization", format!("Bearer {}", self.token));
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        let resp = self.app.clone().oneshot(req).await.expect("router answers");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Path of the node's database.
    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("clinic-node.db")
    }

    /// Stops the node (its writer drains and exits).
    pub async fn stop(mut self) -> tempfile::TempDir {
        drop(std::mem::replace(&mut self.app, Router::new()));
        if let Some(n) = self.node.take() {
            n.close().await;
        }
        self.dir
    }
}
