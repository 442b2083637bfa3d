//! Clinic Edge node: one clinic's patients and queues, kept in Automerge documents stored in SQLite, served
//! as a JSON API to the kiosk, the operator console and the display board. Works with no internet.
//!
//! # Layout
//! - [`config`]: layered configuration (defaults, file, environment, flags) into one [`Config`].
//! - [`store`]: the only module that sees SQLite: documents, outbox, projections, and the single writer
//!   thread that executes every [`domain::Command`] with group commit.
//! - [`domain`]: the commands and their errors.
//! - [`auth`]: users, logins, kiosk devices, roles.
//! - [`http`]: the axum router, one file per resource, the one [`http::AppError`].
//! - [`metrics`]: counters for `/metrics`.
//! - [`ocr`]: the KTP reader's worker threads and bounded queue.
//!
//! Entry points: [`Node::open`] prepares everything (database, identity, first admin, writer) and
//! [`Node::serve`] answers HTTP on a bound listener until a shutdown future resolves; [`run`] does both.

pub mod auth;
pub mod config;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod ocr;
pub mod store;

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::{Context, bail};
use crdt_schema::ids::DeploymentSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
use store::{
    ReadPool, meta_get, meta_get_or_init,
    writer::{Identity, Writer},
};

/// A node ready to serve: database open, writer running.
#[derive(Debug)]
pub struct Node {
    state: http::AppState,
    writer: Writer,
    ocr: ocr::OcrWorkers,
    /// Set when the first run generated the admin password; show it once.
    pub generated_admin_password: Option<String>,
    shutdown: CancellationToken,
}

impl Node {
    /// Opens (or creates) the node's data directory and starts the writer. Blocking work runs off the
    /// async runtime.
    pub async fn open(config: Config) -> anyhow::Result<Self> {
        let cfg = config.clone();
        let (conn, auth_conn, db_path, identity, generated) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let (db_path, conn) = store::open_database(&cfg.data_dir)
                .with_context(|| format!("opening the database in {}", cfg.data_dir.display()))?;
            let node_id = meta_get_or_init(&conn, "node_id", || format!("node_{}", uuid::Uuid::now_v7().simple()))?;
            let secret = match (&cfg.deployment_secret, meta_get(&conn, "deployment_secret")?) {
                (Some(given), Some(stored)) if given.to_hex() != stored => bail!(
                    "the configured deployment secret differs from the one this node's data was made with; \
                     patient ids would no longer match. Use the stored secret or a fresh data directory"
                ),
                (_, Some(stored)) => DeploymentSecret::from_hex(&stored).context("the stored deployment secret is malformed")?,
                (Some(given), None) => {
                    meta_get_or_init(&conn, "deployment_secret", || given.to_hex())?;
                    given.clone()
                }
                (None, None) => {
                    let mut bytes = [0u8; 32];
                    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
                    let s = DeploymentSecret::from_bytes(bytes);
                    meta_get_or_init(&conn, "deployment_secret", || s.to_hex())?;
                    s
                }
            };
            let generated = auth::ensure_admin(&conn, cfg.admin_password.as_deref())?;
            let auth_conn = store::open_conn(&db_path, false)?;
            let identity = Identity { node_id, clinic_id: cfg.clinic_id.clone(), slot: cfg.node_slot, secret };
            Ok((conn, auth_conn, db_path, identity, generated))
        })
        .await??;
        let node_id: Arc<str> = identity.node_id.clone().into();
        let secret = identity.secret.clone();
        let name = config.clinic_name.clone();
        let (writer, handle) =
            tokio::task::spawn_blocking(move || Writer::start(conn, identity, &name)).await??;
        let shutdown = CancellationToken::new();
        let (ocr_service, ocr) = ocr::start(config.ocr_threads, config.ocr_queue)
            .context("starting the KTP reader threads")?;
        let state = http::AppState {
            writer: handle,
            reads: ReadPool::new(db_path),
            auth: http::AuthDb(Arc::new(std::sync::Mutex::new(auth_conn))),
            config: Arc::new(config),
            limiter: http::ratelimit::Limiter::default(),
            node_id,
            secret,
            sessions: http::SessionCache::default(),
            shutdown: shutdown.clone(),
            ocr: ocr_service,
        };
        Ok(Self {
            state,
            writer,
            ocr,
            generated_admin_password: generated,
            shutdown,
        })
    }

    /// The HTTP application (for in-process tests).
    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }

    pub fn node_id(&self) -> &str {
        &self.state.node_id
    }

    /// Serves HTTP on `listener` until `shutdown` resolves, then stops the writer after the last answer.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Node {
            state,
            writer,
            ocr,
            shutdown: token,
            ..
        } = self;
        let app = http::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let stop = token.clone();
        tokio::spawn(async move {
            shutdown.await;
            stop.cancel();
        });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(token.clone().cancelled_owned())
            .await;
        token.cancel();
        // Every writer handle is gone once the router and this state are dropped; the writer then drains.
        drop(state);
        tokio::task::spawn_blocking(move || {
            writer.join();
            ocr.join();
        })
        .await?;
        served.context("serving HTTP")
    }

    /// Stops a node that is not serving (tests).
    pub async fn close(self) {
        let Node {
            state, writer, ocr, ..
        } = self;
        drop(state);
        let _ = tokio::task::spawn_blocking(move || {
            writer.join();
            ocr.join();
        })
        .await;
    }

    /// A token cancelled when the node shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Opens the node and serves until `shutdown` resolves.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    Node::open(config).await?.serve(listener, shutdown).await
}
