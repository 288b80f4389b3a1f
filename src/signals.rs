//! SIGTERM and SIGINT, for `otpd serve` and the simulators.
//!
//! The handlers are installed before the caller starts serving, not in a task that may run
//! later: a signal that comes right after start-up (a supervisor, a test) must reach the
//! graceful path, not the default action, which kills the process with a failure status.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Installed handlers for SIGTERM and SIGINT.
pub struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    /// Installs both handlers. Needs a Tokio runtime.
    pub fn install() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves at the first SIGTERM or SIGINT.
    pub async fn recv(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
