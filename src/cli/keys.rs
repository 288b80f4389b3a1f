//! `otpd key create|list|revoke`: straight on the database, next to a running daemon (SQLite
//! WAL lets both write; the daemon reads keys on every request, so changes apply at once).
//! Each change is recorded in the audit log (`otpd audit`) with the actor of [`actor`].

use super::audit::actor;
use crate::config::Config;
use crate::model::{Clock, SystemClock};
use crate::otp::pin::Randomness;
use crate::{auth, daemon, store};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args)]
pub struct Where {
    /// The daemon's data directory.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// The daemon's config file (for its data_dir).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum KeyAction {
    /// Create a key; prints {"appid","api_key","api_secret"}: the secret is shown only now.
    Create {
        #[arg(long, default_value = crate::otp::DEFAULT_APP)]
        appid: String,
        #[command(flatten)]
        place: Where,
    },
    /// List keys (never their secrets).
    List {
        #[command(flatten)]
        place: Where,
    },
    /// Revoke a key; it stops working at once.
    Revoke {
        api_key: String,
        #[command(flatten)]
        place: Where,
    },
}

impl Where {
    /// The data directory these flags name, and the config if one was given.
    pub fn resolve(&self) -> anyhow::Result<(PathBuf, Option<Config>)> {
        let config = match &self.config {
            Some(path) => Some(Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?),
            None => None,
        };
        Ok((
            daemon::data_dir(self.data_dir.clone(), config.as_ref()),
            config,
        ))
    }
}

fn open(place: &Where) -> anyhow::Result<rusqlite::Connection> {
    let (dir, config) = place.resolve()?;
    open_in(&dir, config.as_ref())
}

fn open_in(dir: &std::path::Path, config: Option<&Config>) -> anyhow::Result<rusqlite::Connection> {
    let dir = dir.to_path_buf();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let durability = config.map_or(store::Durability::Full, daemon::durability);
    let path = daemon::database_path(&dir);
    store::open_write_connection(&path, durability)
        .with_context(|| format!("cannot open {}", path.display()))
}

pub fn run(action: KeyAction) -> anyhow::Result<i32> {
    let now = SystemClock.now();
    match action {
        KeyAction::Create { appid, place } => {
            if !crate::otp::valid_appid(&appid) {
                anyhow::bail!("--appid must be 1 to 64 of A-Z a-z 0-9 _ . -");
            }
            let (dir, config) = place.resolve()?;
            // An app without an [[app]] table is allowed (its id is its name), but with a
            // config at hand a missing one is more likely a typo.
            if let Some(config) = &config
                && !config.apps.iter().any(|a| a.id == appid)
            {
                eprintln!(
                    "warning: the config has no [[app]] with id = {appid:?}; the key works, and \
                     the app's messages use its id as its name and the [otp] settings"
                );
            }
            let conn = open_in(&dir, config.as_ref())?;
            let random =
                Randomness::from_os().map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
            let key = auth::create_key(&conn, &random, &appid, now, &actor())?;
            println!("{}", serde_json::to_string_pretty(&key)?);
            Ok(0)
        }
        KeyAction::List { place } => {
            let conn = open(&place)?;
            let keys: Vec<serde_json::Value> = store::keys::list(&conn)?
                .into_iter()
                .map(|k| {
                    serde_json::json!({
                        "api_key": k.key,
                        "appid": k.appid,
                        "created_at": k.created_at,
                        "revoked_at": k.revoked_at,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&keys)?);
            Ok(0)
        }
        KeyAction::Revoke { api_key, place } => {
            let conn = open(&place)?;
            if store::keys::revoke(&conn, &api_key, now, &actor())? {
                println!("revoked {api_key}");
                Ok(0)
            } else {
                eprintln!("no active key {api_key}");
                Ok(1)
            }
        }
    }
}
