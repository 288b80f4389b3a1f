//! SIGHUP: read the config file again and apply what can change while running: the OTP
//! policy and templates, the apps, the test numbers, the rate limits and lockout (their counts
//! are kept), the fraud protection, and the channels (unchanged ones keep running; an SMPP link
//! whose config did not change stays bound), and the webhooks (deliveries already queued keep
//! their webhook's name; one whose webhook is gone is given up). A config with an error is
//! refused whole and the running one kept. Listeners, the data directory and the store need a
//! restart.

use super::channels::ChannelSet;
use crate::config::{Config, RecipientLogging};
use crate::live::LiveConfig;
use crate::store::Writer;
use crate::webhook::{WebhookTable, Webhooks};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// Where the webhooks' config lives: the sender's table and the writer's subscriptions.
pub struct Hooks {
    pub table: WebhookTable,
    pub writer: Writer,
}

/// Handles SIGHUP until `stop`; then gives the channels back for shutdown.
pub async fn on_sighup(
    path: Option<PathBuf>,
    mut current: Config,
    live: LiveConfig,
    mut channels: ChannelSet,
    hooks: Hooks,
    stop: CancellationToken,
) -> ChannelSet {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reloading is off");
        stop.cancelled().await;
        return channels;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {}
            () = stop.cancelled() => return channels,
        }
        let Some(path) = &path else {
            tracing::info!(
                "SIGHUP: otpd runs on its embedded defaults (no --config); nothing to reload"
            );
            continue;
        };
        let next = match Config::load(path) {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: the config has an error; keeping the running one");
                continue;
            }
        };
        if next.api.listen != current.api.listen
            || next.api.unix_socket != current.api.unix_socket
            || next.data_dir != current.data_dir
            || next.store.synchronous != current.store.synchronous
            || next.store.retention != current.store.retention
        {
            tracing::warn!(
                "SIGHUP: changes to [api] listeners, data_dir and [store] take effect at the next restart"
            );
        }
        match channels.apply(&next.channels) {
            Ok(running) => {
                live.set(super::live_from(&next, running));
                crate::log_mask::show_full(next.log.recipients == RecipientLogging::Full);
                let webhooks = Webhooks::from_config(&next.webhooks);
                hooks.writer.set_subscriptions(webhooks.subscriptions());
                hooks.table.set(webhooks);
                current = next;
                tracing::info!(path = %path.display(), "configuration reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: cannot start the channels; keeping the running configuration")
            }
        }
    }
}
