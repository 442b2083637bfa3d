//! Node configuration, layered: built-in defaults, then `clinic-node.toml` in the data directory (or the
//! file named by `--config`), then `CLINIC_NODE_*` environment variables, then command-line flags. The
//! result is one validated [`Config`] the library receives; nothing below `main` reads the environment.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

/// Clinic Edge node: patient registration and queues for one clinic, working with or without internet.
#[derive(Debug, Parser)]
#[command(name = "clinic-node", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub opts: Opts,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node (the default when no command is given).
    Serve,
    /// Rebuild the search index, queue view and statistics from the stored documents.
    RebuildProjections,
    /// Compact every stored document into one snapshot.
    Compact,
    /// Read e-KTP photos with the built-in reader and print one JSON object per image.
    Ocr {
        /// Print one JSON object per image, one per line (otherwise a readable summary).
        #[arg(long)]
        json: bool,
        /// Image files (JPEG, PNG or WebP).
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Set a new password for a user (for example a forgotten admin password).
    SetPassword {
        /// The user name.
        username: String,
        /// The new password (at least 8 characters); prompted from standard input when absent.
        #[arg(long, env = "CLINIC_NODE_NEW_PASSWORD")]
        password: Option<String>,
    },
}

/// Options shared by every command. Each may also come from the environment or the config file.
#[derive(Debug, Args, Default)]
pub struct Opts {
    /// Directory holding the database and the config file [default: ./clinic-edge-data].
    #[arg(long, env = "CLINIC_NODE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Config file [default: DATA_DIR/clinic-node.toml, if present].
    #[arg(long, env = "CLINIC_NODE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "CLINIC_NODE_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Password for the `admin` user created on first run [default: a generated one-time password, printed].
    #[arg(
        long,
        env = "CLINIC_NODE_ADMIN_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub admin_password: Option<String>,
    /// This clinic's id, e.g. pkm-kedungkandang [default: puskesmas-contoh].
    #[arg(long, env = "CLINIC_NODE_CLINIC_ID", global = true)]
    pub clinic_id: Option<String>,
    /// The clinic's name, used when its configuration is first created [default: Puskesmas Contoh].
    #[arg(long, env = "CLINIC_NODE_CLINIC_NAME", global = true)]
    pub clinic_name: Option<String>,
    /// This node's ticket-number slot within its clinic, 0-8; nodes of one clinic need different slots [default: 0].
    #[arg(long, env = "CLINIC_NODE_SLOT", global = true)]
    pub node_slot: Option<u32>,
    /// The deployment secret (64 hex digits) shared by every node, used to derive patient ids from NIKs
    /// [default: generated and kept in the database on first run].
    #[arg(
        long,
        env = "CLINIC_NODE_DEPLOYMENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub deployment_secret: Option<String>,
    /// Log filter, e.g. info or clinic_node=debug [default: info].
    #[arg(long, env = "CLINIC_NODE_LOG", global = true)]
    pub log: Option<String>,
    /// Hours a login stays valid [default: 12].
    #[arg(long, env = "CLINIC_NODE_SESSION_HOURS", global = true)]
    pub session_hours: Option<u32>,
    /// Login attempts allowed per client per minute [default: 10].
    #[arg(long, env = "CLINIC_NODE_LOGIN_PER_MINUTE", global = true)]
    pub login_per_minute: Option<u32>,
    /// Kiosk requests (scan, register, take a ticket) allowed per device per minute [default: 60].
    #[arg(long, env = "CLINIC_NODE_KIOSK_PER_MINUTE", global = true)]
    pub kiosk_per_minute: Option<u32>,
    /// Threads reading KTP photos [default: 1].
    #[arg(long, env = "CLINIC_NODE_OCR_THREADS", global = true)]
    pub ocr_threads: Option<usize>,
    /// KTP photos that may wait for a reader thread; more are answered 503 ocr_busy [default: 4].
    #[arg(long, env = "CLINIC_NODE_OCR_QUEUE", global = true)]
    pub ocr_queue: Option<usize>,
}

/// The config file's shape: the same options as the flags, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    admin_password: Option<String>,
    clinic_id: Option<String>,
    clinic_name: Option<String>,
    node_slot: Option<u32>,
    deployment_secret: Option<String>,
    log: Option<String>,
    session_hours: Option<u32>,
    login_per_minute: Option<u32>,
    kiosk_per_minute: Option<u32>,
    ocr_threads: Option<usize>,
    ocr_queue: Option<usize>,
}

/// The validated configuration the node runs with.
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub admin_password: Option<String>,
    pub clinic_id: crdt_schema::ids::ClinicId,
    pub clinic_name: String,
    pub node_slot: u32,
    pub deployment_secret: Option<crdt_schema::ids::DeploymentSecret>,
    pub log: String,
    pub session_hours: u32,
    pub login_per_minute: u32,
    pub kiosk_per_minute: u32,
    pub ocr_threads: usize,
    pub ocr_queue: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("clinic_id", &self.clinic_id)
            .field("node_slot", &self.node_slot)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration for tests and embedding: defaults with the given data directory.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self::resolve(Opts {
            data_dir: Some(data_dir.into()),
            ..Opts::default()
        })
        .expect("defaults are valid")
    }

    /// Resolves flags and environment (already merged by clap) over the file over the defaults.
    pub fn resolve(opts: Opts) -> anyhow::Result<Self> {
        let data_dir = opts
            .data_dir
            .unwrap_or_else(|| PathBuf::from("clinic-edge-data"));
        let file_path = opts
            .config
            .clone()
            .unwrap_or_else(|| data_dir.join("clinic-node.toml"));
        let file: FileConfig = match std::fs::read_to_string(&file_path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("reading config file {}", file_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && opts.config.is_none() => {
                FileConfig::default()
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading config file {}", file_path.display()));
            }
        };
        let clinic_id = opts
            .clinic_id
            .or(file.clinic_id)
            .unwrap_or_else(|| "puskesmas-contoh".into());
        let clinic_id = crdt_schema::ids::ClinicId::parse(&clinic_id).map_err(|_| {
            anyhow::anyhow!("clinic id {clinic_id:?} must be lower-case letters, digits, - or _")
        })?;
        let node_slot = opts.node_slot.or(file.node_slot).unwrap_or(0);
        if node_slot > 8 {
            bail!("node slot must be 0 to 8, got {node_slot}");
        }
        let deployment_secret = match opts.deployment_secret.or(file.deployment_secret) {
            Some(s) => Some(
                crdt_schema::ids::DeploymentSecret::from_hex(&s)
                    .context("the deployment secret must be 64 hexadecimal digits")?,
            ),
            None => None,
        };
        let admin_password = opts.admin_password.or(file.admin_password);
        if let Some(p) = &admin_password
            && p.chars().count() < 8
        {
            bail!("the admin password must be at least 8 characters");
        }
        Ok(Self {
            data_dir,
            listen: opts
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            admin_password,
            clinic_id,
            clinic_name: opts
                .clinic_name
                .or(file.clinic_name)
                .unwrap_or_else(|| "Puskesmas Contoh".into()),
            node_slot,
            deployment_secret,
            log: opts.log.or(file.log).unwrap_or_else(|| "info".into()),
            session_hours: opts
                .session_hours
                .or(file.session_hours)
                .unwrap_or(12)
                .clamp(1, 24 * 30),
            login_per_minute: opts
                .login_per_minute
                .or(file.login_per_minute)
                .unwrap_or(10)
                .max(1),
            kiosk_per_minute: opts
                .kiosk_per_minute
                .or(file.kiosk_per_minute)
                .unwrap_or(60)
                .max(1),
            ocr_threads: opts
                .ocr_threads
                .or(file.ocr_threads)
                .unwrap_or(1)
                .clamp(1, 16),
            ocr_queue: opts.ocr_queue.or(file.ocr_queue).unwrap_or(4).clamp(1, 256),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("clinic-node.toml"),
            "listen = \"127.0.0.1:9000\"\nclinic_id = \"pkm-file\"\nnode_slot = 2\n",
        )
        .unwrap();
        let cfg = Config::resolve(Opts {
            data_dir: Some(dir.path().into()),
            node_slot: Some(3),
            ..Opts::default()
        })
        .unwrap();
        assert_eq!(cfg.listen.port(), 9000, "file over default");
        assert_eq!(cfg.clinic_id.as_str(), "pkm-file");
        assert_eq!(cfg.node_slot, 3, "flag over file");
        assert_eq!(cfg.session_hours, 12, "default");
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let err = |o: Opts| {
            Config::resolve(Opts {
                data_dir: Some(dir.path().into()),
                ..o
            })
            .unwrap_err()
            .to_string()
        };
        assert!(
            err(Opts {
                node_slot: Some(9),
                ..Opts::default()
            })
            .contains("slot")
        );
        assert!(
            err(Opts {
                clinic_id: Some("Bad Id".into()),
                ..Opts::default()
            })
            .contains("clinic id")
        );
        assert!(
            err(Opts {
                admin_password: Some("short".into()),
                ..Opts::default()
            })
            .contains("8 characters")
        );
        std::fs::write(dir.path().join("clinic-node.toml"), "listne = 1").unwrap();
        assert!(
            format!(
                "{:#}",
                Config::resolve(Opts {
                    data_dir: Some(dir.path().into()),
                    ..Opts::default()
                })
                .unwrap_err()
            )
            .contains("unknown field")
        );
    }
}
