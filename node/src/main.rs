//! The `clinic-node` binary: parses the configuration, sets up logging, and runs the node or one of its
//! maintenance commands. Everything else lives in the library.

use std::io::Write as _;

use anyhow::Context;
use clap::Parser;
use clinic_node::{
    Config, Node,
    config::{Cli, Command},
    store,
};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clinic-node: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    let config = Config::resolve(cli.opts)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log)
                .context("parsing the log filter")?,
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::RebuildProjections => {
            let (_, mut conn) = store::open_database(&config.data_dir)?;
            let tx = conn.transaction()?;
            let report = store::projection::rebuild(&tx)?;
            tx.commit()?;
            println!(
                "Rebuilt projections: {} queue days, {} tickets, {} patients.",
                report.queue_days, report.tickets, report.patients
            );
            Ok(())
        }
        Command::Compact => {
            let (_, conn) = store::open_database(&config.data_dir)?;
            let n = store::docs::compact_all(&conn)?;
            println!("Compacted {n} documents.");
            Ok(())
        }
        Command::Ocr { json, images } => ocr(json, &images),
        Command::SetPassword { username, password } => {
            let password = match password {
                Some(p) => p,
                None => {
                    print!("New password for {username}: ");
                    std::io::stdout().flush()?;
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let (_, conn) = store::open_database(&config.data_dir)?;
            clinic_node::auth::set_password(&conn, &username, &password)?;
            println!("Password of {username} changed; their logins were ended.");
            Ok(())
        }
    }
}

/// `clinic-node ocr`: reads each image with the shipped model (loaded once) and prints the result.
fn ocr(json: bool, images: &[std::path::PathBuf]) -> anyhow::Result<()> {
    use ocr_model::reader::{ErrorBody, KtpReader, ScanOutput};
    let reader = KtpReader::shipped().context("loading the KTP model")?;
    let mut out = std::io::stdout().lock();
    for path in images {
        let file = path.display().to_string();
        let result = match std::fs::read(path) {
            Ok(bytes) => ScanOutput::read(&reader, Some(file), &bytes),
            Err(e) => ScanOutput {
                file: Some(file),
                ok: false,
                scan: None,
                error: Some(ErrorBody {
                    code: "unreadable_file".into(),
                    message: format!("Berkas tidak dapat dibaca / the file cannot be read: {e}"),
                }),
                elapsed_ms: 0.0,
            },
        };
        if json {
            writeln!(out, "{}", serde_json::to_string(&result)?)?;
        } else {
            writeln!(out, "{}", ocr_model::reader::summary(&result))?;
        }
    }
    Ok(())
}

fn serve(config: Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listen = config.listen;
        let data_dir = config.data_dir.clone();
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        let node = Node::open(config).await?;
        if let Some(pw) = &node.generated_admin_password {
            println!("First run: created user `admin` with one-time password: {pw}");
            println!("Change it after logging in (PATCH /api/v1/users/{{id}}) or with `clinic-node set-password admin`.");
        }
        println!("Data directory: {}", data_dir.display());
        println!("Clinic Edge node listening on http://{addr}");
        std::io::stdout().flush()?;
        node.serve(listener, shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
