//! The command line: `otpd serve` runs the daemon; `send`, `verify` and `status` are clients
//! of a running daemon over its Unix socket; `key`, `audit`, `backup` and `check-config` are
//! admin tools that work with or without a daemon running.

mod audit;
mod client;
mod keys;
mod modem;

use crate::config::Config;
use crate::daemon;
use crate::signals::StopSignals;
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "otpd",
    version,
    about = "Self-hosted one-time-PIN engine: send and verify OTPs over SMPP or a GSM modem"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground (logs to stderr).
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
    },
    /// Ask a running daemon to send an OTP; prints the JSON reply.
    Send {
        recipient: String,
        #[arg(long)]
        appid: Option<String>,
        #[arg(long, env = "OTPD_SOCKET")]
        socket: Option<PathBuf>,
    },
    /// Check a code; prints the JSON reply and exits 0 only when it is valid.
    Verify {
        #[arg(allow_hyphen_values = true)]
        verification_id: String,
        #[arg(allow_hyphen_values = true)]
        code: String,
        #[arg(long, env = "OTPD_SOCKET")]
        socket: Option<PathBuf>,
    },
    /// Print the status of a verification.
    Status {
        #[arg(allow_hyphen_values = true)]
        verification_id: String,
        #[arg(long, env = "OTPD_SOCKET")]
        socket: Option<PathBuf>,
    },
    /// Manage API keys (works while the daemon runs).
    Key {
        #[command(subcommand)]
        action: keys::KeyAction,
    },
    /// Print the audit log of admin actions (API keys created and revoked) as JSON lines,
    /// newest first.
    Audit(audit::AuditArgs),
    /// Validate a config file: exit 0 when valid, else name the file, line and key.
    CheckConfig { file: PathBuf },
    /// A consistent copy of the database, taken while the daemon runs (the pepper is not in
    /// it: back that up separately).
    Backup {
        file: PathBuf,
        #[command(flatten)]
        place: keys::Where,
    },
    /// An SMSC simulator (SMPP 3.4 server) for loopback tests and benchmarks, with fault
    /// injection.
    SmscSim(crate::smsc_sim::SimArgs),
    /// Work with a GSM modem directly.
    Modem {
        #[command(subcommand)]
        action: modem::ModemAction,
    },
    /// A simulated GSM modem (AT commands, PDU mode) on a pseudo-terminal, with fault
    /// injection; prints each message it sends as a JSON line.
    ModemSim(crate::modem_sim::SimArgs),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            data_dir,
            log_format,
        } => serve(config, data_dir, log_format),
        Command::Send {
            recipient,
            appid,
            socket,
        } => {
            let body = serde_json::json!({ "recipient": recipient, "appid": appid });
            client_call(
                socket,
                "POST",
                "/otp/send",
                Some(strip_nulls(body)),
                |status, _| status == 201,
            )
        }
        Command::Verify {
            verification_id,
            code,
            socket,
        } => {
            let body = serde_json::json!({ "verification_id": verification_id, "otp_code": code });
            client_call(
                socket,
                "POST",
                "/otp/verify",
                Some(body),
                |status, reply| {
                    status == 200 && reply.get("valid") == Some(&serde_json::Value::Bool(true))
                },
            )
        }
        Command::Status {
            verification_id,
            socket,
        } => {
            let query: String =
                serde_urlencoded::to_string([("verification_id", &verification_id)])?;
            client_call(
                socket,
                "GET",
                &format!("/otp/status?{query}"),
                None,
                |status, _| status == 200,
            )
        }
        Command::Key { action } => keys::run(action),
        Command::Audit(args) => audit::run(args),
        Command::Modem { action } => modem::run(action),
        Command::SmscSim(args) => {
            init_logs(LogFormat::Text);
            runtime()?.block_on(crate::smsc_sim::run(args))?;
            Ok(0)
        }
        Command::ModemSim(args) => {
            init_logs(LogFormat::Text);
            runtime()?.block_on(crate::modem_sim::run(args))?;
            Ok(0)
        }
        Command::Backup { file, place } => {
            let (dir, _) = place.resolve()?;
            let db = daemon::database_path(&dir);
            if !db.exists() {
                anyhow::bail!("there is no database at {}", db.display());
            }
            crate::store::backup(&db, &file).with_context(|| {
                format!("cannot back up {} to {}", db.display(), file.display())
            })?;
            println!("{} backed up to {}", db.display(), file.display());
            Ok(0)
        }
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                Ok(0)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(1)
            }
        },
    }
}

fn strip_nulls(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(map) = v.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    v
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn client_call(
    socket: Option<PathBuf>,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    success: impl Fn(u16, &serde_json::Value) -> bool,
) -> anyhow::Result<i32> {
    let socket = socket.unwrap_or_else(|| daemon::data_dir(None, None).join("otpd.sock"));
    let body = body.map(|b| b.to_string());
    let (status, reply) = runtime()?.block_on(client::call(&socket, method, path, body))?;
    let json: serde_json::Value =
        serde_json::from_str(&reply).unwrap_or(serde_json::Value::String(reply));
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(if success(status, &json) { 0 } else { 1 })
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OTPD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // If stderr goes away (a closed pipe), logging must not panic the task that logs:
    // tracing-subscriber would report the failed write with eprintln!, which panics.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn serve(
    config_path: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    log_format: LogFormat,
) -> anyhow::Result<i32> {
    init_logs(log_format);
    let config = match &config_path {
        Some(path) => Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Config::default(),
    };
    let data_dir = daemon::data_dir(data_dir, config_path.as_ref().map(|_| &config));
    let rt = runtime()?;
    rt.block_on(async move {
        let stop = CancellationToken::new();
        let signals = StopSignals::install().context("cannot install signal handlers")?;
        tokio::spawn({
            let stop = stop.clone();
            async move {
                signals.recv().await;
                tracing::info!("signal received: shutting down");
                stop.cancel();
            }
        });
        daemon::run(config, config_path, data_dir, stop)
            .await
            .context("otpd stopped with an error")
    })?;
    Ok(0)
}
