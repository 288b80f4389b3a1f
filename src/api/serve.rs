//! The listeners: every TCP address of `[api] listen` and the Unix socket, all serving the
//! same routes until the stop token fires (then they stop accepting and finish what they have).

use super::auth::Transport;
use super::{AppState, router};
use anyhow::Context;
use axum::serve::ListenerExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

/// How long requests in progress may take to finish after the stop.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Listeners {
    pub tcp: Vec<TcpListener>,
    /// The Unix listener, and its path when otpd bound it (removed at exit; a socket systemd
    /// passed is systemd's to keep).
    pub unix: Option<(UnixListener, Option<PathBuf>)>,
}

pub async fn bind_tcp(addrs: &[std::net::SocketAddr]) -> anyhow::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    for addr in addrs {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        out.push(listener);
    }
    Ok(out)
}

/// Listeners handed over by systemd socket activation (`LISTEN_FDS`, see
/// systemd/otpd.socket): TCP ones, and at most one Unix one. `None` when there are none.
pub fn inherited() -> anyhow::Result<Option<(Vec<TcpListener>, Option<UnixListener>)>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    let mut tcp = Vec::new();
    let mut unix = None;
    for i in 0..fds.len() {
        if let Ok(Some(l)) = fds.take_tcp_listener(i) {
            l.set_nonblocking(true)?;
            tcp.push(TcpListener::from_std(l)?);
        } else if let Ok(Some(l)) = fds.take_unix_listener(i) {
            l.set_nonblocking(true)?;
            unix = Some(UnixListener::from_std(l)?);
        } else {
            anyhow::bail!(
                "socket {i} passed by systemd is neither a TCP nor a Unix stream listener"
            );
        }
    }
    Ok(Some((tcp, unix)))
}

/// Binds the Unix socket with `mode`. A socket file left by a crash is replaced; one that a
/// running daemon answers on is not.
pub fn bind_unix(path: &Path, mode: u32) -> anyhow::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "another process is serving on {}; is otpd already running?",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot bind {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    Ok(listener)
}

/// Serves until `stop`; returns once every listener has stopped.
pub async fn serve(
    state: Arc<AppState>,
    listeners: Listeners,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut servers = tokio::task::JoinSet::new();
    for listener in listeners.tcp {
        let app = router(state.clone(), Transport::Tcp);
        let stop = stop.clone();
        let listener = listener.tap_io(|tcp| {
            // Small request/response pairs: Nagle would add up to 40 ms to each.
            let _ = tcp.set_nodelay(true);
        });
        // The peer address, for per_ip limits (see client_ip.rs).
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        servers.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        });
    }
    let unix_path = listeners.unix.as_ref().and_then(|(_, p)| p.clone());
    if let Some((listener, path)) = listeners.unix {
        let app = router(state.clone(), Transport::Unix);
        let stop = stop.clone();
        servers.spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Some(path) = path {
                let _ = std::fs::remove_file(path);
            }
            served
        });
    }
    // Until stop, a listener ending is an error; after it, the listeners finish the requests
    // they have, but a client that never completes its request must not hold the daemon up.
    tokio::select! {
        done = servers.join_next() => {
            if let Some(done) = done {
                done.context("a listener task failed")?.context("a listener failed")?;
            }
        }
        () = stop.cancelled() => {}
    }
    let drained = tokio::time::timeout(DRAIN, async {
        while let Some(done) = servers.join_next().await {
            done.context("a listener task failed")?
                .context("a listener failed")?;
        }
        anyhow::Ok(())
    })
    .await;
    match drained {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                "some HTTP connections were still open {} s after the stop; closing them",
                DRAIN.as_secs()
            );
            servers.abort_all();
            if let Some(path) = unix_path {
                let _ = std::fs::remove_file(path);
            }
            Ok(())
        }
    }
}
