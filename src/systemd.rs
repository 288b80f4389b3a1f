//! systemd integration (`Type=notify`): READY=1 once the store is open and the API listens,
//! STOPPING=1 on the way down, and WATCHDOG=1 keepalives while the daemon really works.
//! Outside systemd (no `NOTIFY_SOCKET`) every call here does nothing.

use crate::store::Store;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub fn ready() {
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("ready"),
    ]);
}

pub fn stopping() {
    notify(&[
        sd_notify::NotifyState::Stopping,
        sd_notify::NotifyState::Status("stopping"),
    ]);
}

fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// With `WatchdogSec=` set, sends WATCHDOG=1 at half the interval, but only after a job has
/// gone through the store's writer: a daemon whose writer is stuck stops its keepalives, and
/// systemd restarts it.
pub fn spawn_watchdog(store: Store, stop: CancellationToken) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let every = Duration::from_micros(usec / 2);
    tracing::info!(
        every_ms = every.as_millis() as u64,
        "systemd watchdog enabled"
    );
    tokio::spawn(async move {
        loop {
            let alive = tokio::time::timeout(every, store.writer.run(|tx| tx.next_due())).await;
            if matches!(alive, Ok(Ok(_))) {
                notify(&[sd_notify::NotifyState::Watchdog]);
            } else {
                tracing::error!(
                    "the store's writer did not answer; withholding the watchdog keepalive"
                );
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => return,
            }
        }
    });
}
