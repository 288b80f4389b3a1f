//! `otpd serve`: wires config, store, engine, channels, dispatcher and API, runs them, and
//! stops them in order.
//!
//! ```text
//!  start: data dir → pepper → store (schema upgrade, webhook subscriptions, leases freed) →
//!         channels → dispatcher, report sink, sweeper, webhook sender → listeners → "ready"
//!  stop:  listeners stop accepting and finish their requests → dispatcher finishes what it
//!         handed out, the webhook sender its tries in flight → report sink and sweeper stop →
//!         the writer drains and closes
//! ```

mod channels;
mod reload;

use crate::api::AppState;
use crate::api::serve::{Listeners, bind_tcp, bind_unix, serve};
use crate::channel::{Channel, DeliveryReport};
use crate::config::{Config, RecipientLogging, Synchronous};
use crate::delivery::Dispatcher;
use crate::delivery::reports::ReportSink;
use crate::delivery::router::{Route, Router};
use crate::delivery::sweeper::Sweeper;
use crate::live::{Live, LiveConfig};
use crate::model::{Clock, SystemClock};
use crate::otp::hash::Pepper;
use crate::otp::pin::Randomness;
use crate::otp::{
    AppProfile, Apps, Engine, Policy, PolicyOverrides, TestNumber, TestNumbers, phone,
};
use crate::store::{Durability, Store};
use crate::webhook::{self, WebhookTable, Webhooks};
use anyhow::Context;
use channels::ChannelSet;
use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// How long the dispatcher may take to finish its in-flight messages at shutdown.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// The data directory: the flag, else the config's `data_dir`, else `$STATE_DIRECTORY` (set
/// by systemd), else `./otpd-data`.
pub fn data_dir(flag: Option<PathBuf>, config: Option<&Config>) -> PathBuf {
    flag.or_else(|| config.and_then(|c| c.data_dir.clone()))
        .or_else(|| {
            std::env::var_os("STATE_DIRECTORY")
                .map(|v| PathBuf::from(v.to_string_lossy().split(':').next().unwrap_or_default()))
        })
        .unwrap_or_else(|| PathBuf::from("otpd-data"))
}

pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("otpd.db")
}

pub fn socket_path(data_dir: &Path, config: &Config) -> PathBuf {
    config
        .api
        .unix_socket
        .clone()
        .unwrap_or_else(|| data_dir.join("otpd.sock"))
}

/// The pepper file: `[otp] pepper_file`, else a credential named `pepper` passed by systemd
/// (`LoadCredential=pepper:...`), else `<data_dir>/pepper`.
pub fn pepper_path(config: &Config, data_dir: &Path) -> PathBuf {
    if let Some(path) = &config.otp.pepper_file {
        return path.clone();
    }
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let credential = PathBuf::from(dir).join("pepper");
        if credential.exists() {
            return credential;
        }
    }
    data_dir.join("pepper")
}

pub fn durability(config: &Config) -> Durability {
    match config.store.synchronous {
        Synchronous::Normal => Durability::Normal,
        Synchronous::Full => Durability::Full,
    }
}

/// Runs the daemon until `stop` fires.
/// Runs the daemon until `stop` fires. `config_path` is where SIGHUP reloads the config from
/// (`None`: the embedded defaults, nothing to reload).
pub async fn run(
    config: Config,
    config_path: Option<PathBuf>,
    data_dir: PathBuf,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    phone::warm_up();

    let pepper_path = pepper_path(&config, &data_dir);
    let (pepper, created) = Pepper::load_or_create(&pepper_path)?;
    if created {
        tracing::info!(path = %pepper_path.display(), "created a new pepper file; back it up apart from the database");
    }
    // One daemon per data directory: a second one would free the first one's leases and
    // send its messages again. The lock goes with the process, however it ends.
    let lock_path = data_dir.join("otpd.lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        anyhow::bail!(
            "another otpd is running on the data directory {}",
            data_dir.display()
        );
    }
    let db = database_path(&data_dir);
    let store = Store::open(&db, durability(&config))
        .with_context(|| format!("cannot open the database {}", db.display()))?;
    // Before anything can write an event, so that none misses its webhooks.
    let hooks = Webhooks::from_config(&config.webhooks);
    store.writer.set_subscriptions(hooks.subscriptions());
    let hooks = WebhookTable::new(hooks);
    let started = clock.now();
    let (released, hooks_released) = store
        .writer
        .run(move |tx| {
            Ok::<_, crate::store::StoreError>((
                tx.release_all_leases(started)?,
                tx.release_webhook_leases(started)?,
            ))
        })
        .await?;
    if hooks_released > 0 {
        tracing::info!(
            deliveries = hooks_released,
            "resuming webhook deliveries the last run had in flight"
        );
    }
    if released > 0 {
        tracing::info!(
            messages = released,
            "resuming messages left in the outbox by the last run"
        );
    }
    let random =
        Arc::new(Randomness::from_os().map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?);

    let (report_tx, report_rx) = mpsc::channel::<DeliveryReport>(8192);
    // Channels stop after the dispatcher (it may still hand them messages) and before the
    // report sink (their last receipts must be recorded).
    let mut channel_set = ChannelSet::new(report_tx, clock.clone());
    let channels = channel_set.apply(&config.channels)?;
    let live = LiveConfig::new(live_from(&config, channels));
    crate::log_mask::show_full(config.log.recipients == RecipientLogging::Full);
    let phones = channel_set.phones.clone();
    let pepper = Arc::new(pepper);
    let wake = Arc::new(Notify::new());
    let (handoff, handoffs) = mpsc::channel(crate::delivery::dispatcher::HANDOFFS);
    let engine = Arc::new(Engine {
        store: store.clone(),
        pepper: pepper.clone(),
        random: random.clone(),
        live: live.clone(),
        clock: clock.clone(),
        dispatch: wake.clone(),
        handoff: Some(handoff),
    });
    let dispatcher = Arc::new(Dispatcher {
        store: store.clone(),
        live: live.clone(),
        pepper,
        random,
        clock: clock.clone(),
        wake,
    });

    let workers = CancellationToken::new();
    let dispatching = tokio::spawn(dispatcher.run(workers.clone(), handoffs));
    let reports = ReportSink {
        store: store.clone(),
        clock: clock.clone(),
    };
    // Reports stop after the dispatcher, so the reports of its last submits are recorded.
    let reports_stop = CancellationToken::new();
    let reporting = tokio::spawn(reports.run(report_rx, reports_stop.clone()));
    let sweeping = tokio::spawn(
        Sweeper {
            store: store.clone(),
            clock: clock.clone(),
            retention: config.store.retention,
        }
        .run(workers.clone()),
    );
    let sending_hooks = tokio::spawn(
        webhook::sender::Sender {
            store: store.clone(),
            hooks: hooks.clone(),
            clock,
            drain: DRAIN_DEADLINE,
        }
        .run(workers.clone()),
    );

    let socket = socket_path(&data_dir, &config);
    let bound = match crate::api::serve::inherited() {
        // Socket activation: systemd's sockets replace `[api] listen` (and the Unix socket,
        // if it passed one).
        Ok(Some((tcp, Some(unix)))) => Ok((tcp, (unix, None))),
        Ok(Some((tcp, None))) => bind_unix(&socket, config.api.unix_socket_mode)
            .map(|unix| (tcp, (unix, Some(socket.clone())))),
        Ok(None) => match bind_tcp(&config.api.listen).await {
            Ok(tcp) => bind_unix(&socket, config.api.unix_socket_mode)
                .map(|unix| (tcp, (unix, Some(socket.clone())))),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let (tcp, unix) = match bound {
        Ok(bound) => bound,
        Err(e) => {
            workers.cancel();
            channel_set.stop_all();
            reports_stop.cancel();
            return Err(e);
        }
    };
    for l in &tcp {
        if let Ok(addr) = l.local_addr() {
            tracing::info!(%addr, "listening on TCP (API key required)");
        }
    }
    tracing::info!(path = %socket.display(), "listening on the Unix socket (trusted)");
    channel_set
        .simulated_ready(std::time::Duration::from_secs(2))
        .await;
    tracing::info!(data_dir = %data_dir.display(), "otpd is ready");
    crate::systemd::ready();
    crate::systemd::spawn_watchdog(store.clone(), workers.clone());

    let max_body = config.api.max_body_bytes;
    let reloading = tokio::spawn(reload::on_sighup(
        config_path,
        config,
        live.clone(),
        channel_set,
        reload::Hooks {
            table: hooks,
            writer: store.writer.clone(),
        },
        workers.clone(),
    ));
    let state = Arc::new(AppState {
        engine,
        live,
        phones,
        max_body,
        keys: Default::default(),
    });
    let stopping = stop.clone();
    tokio::spawn(async move {
        stopping.cancelled().await;
        crate::systemd::stopping();
    });
    let served = serve(
        state,
        Listeners {
            tcp,
            unix: Some(unix),
        },
        stop,
    )
    .await;

    tracing::info!("stopping: finishing messages in flight");
    workers.cancel();
    if tokio::time::timeout(DRAIN_DEADLINE, dispatching)
        .await
        .is_err()
    {
        tracing::warn!(
            "some messages were still in flight at the deadline; they will be sent again at the next start"
        );
    }
    // It gives its tries in flight DRAIN_DEADLINE itself, then abandons them.
    let _ = sending_hooks.await;
    // The reload task hands the channels back once the workers have stopped.
    let mut channel_set = match reloading.await {
        Ok(set) => set,
        Err(e) => anyhow::bail!("the reload task failed: {e}"),
    };
    channel_set.stop_all();
    if tokio::time::timeout(DRAIN_DEADLINE, async {
        while channel_set.tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!("a channel did not close in time");
    }
    reports_stop.cancel();
    let _ = reporting.await;
    let _ = sweeping.await;
    // Fold the WAL into the database file, so a copy of otpd.db alone is whole.
    if let Err(e) = crate::store::checkpoint(&db) {
        tracing::warn!(error = %e, "final checkpoint failed; the WAL is replayed at the next start");
    }
    tracing::info!("stopped");
    drop(lock);
    served
}

/// The swappable part of the daemon, from a config and its running channels.
pub(crate) fn live_from(config: &Config, channels: Vec<Arc<dyn Channel>>) -> Live {
    let router = Router::new(
        config
            .channels
            .iter()
            .map(|c| Route {
                channel: c.name.clone(),
                prefixes: c.recipients.clone(),
            })
            .collect(),
    );
    let policy = Policy {
        length: config.otp.length,
        ttl: config.otp.ttl,
        max_attempts: config.otp.max_attempts,
        resend_cooldown: config.otp.resend_cooldown,
        max_resends: config.otp.max_resends,
        template: config.otp.template.clone(),
        templates: config.otp.templates.0.clone(),
    };
    let apps = Apps::new(
        config
            .apps
            .iter()
            .map(|a| {
                let profile = AppProfile {
                    name: a.name.clone().unwrap_or_else(|| a.id.clone()),
                    from: a.from.clone(),
                    template: a.template.clone(),
                    templates: a.templates.0.clone(),
                    otp: PolicyOverrides {
                        length: a.otp.length,
                        ttl: a.otp.ttl,
                        max_attempts: a.otp.max_attempts,
                        resend_cooldown: a.otp.resend_cooldown,
                        max_resends: a.otp.max_resends,
                    },
                    beem_app_id: a.beem_app_id,
                };
                (a.id.clone(), profile)
            })
            .collect::<HashMap<_, _>>(),
    );
    let test_numbers = TestNumbers::new(config.test_numbers.iter().map(|n| {
        let number = TestNumber {
            code: n.code.clone(),
            app: n.app.clone(),
        };
        (n.recipient.clone(), number)
    }));
    Live {
        policy,
        apps,
        test_numbers,
        limits: config.limits.to_limits(),
        fraud: config.fraud.to_fraud(),
        router,
        channels,
    }
}
