//! The HTTP API (contract: API.md): routing, authentication, JSON shapes, problem+json
//! errors, and the listeners (TCP and the Unix socket). No SQL and no PIN logic here.

pub mod auth;
pub mod beem;
pub mod body;
pub mod client_ip;
pub mod key_cache;
mod manage_routes;
mod openapi;
mod ops_routes;
mod otp_routes;
pub mod problem;
pub mod serve;
mod webhook_routes;

// The request bodies and the query reader, for the fuzz targets (fuzz/): they parse exactly
// what the handlers parse.
pub use otp_routes::{IdBody, SendBody, VerifyBody, query_param};

use crate::channel::sim::SimPhones;
use crate::live::LiveConfig;
use crate::otp::Engine;
use auth::Transport;
use axum::Extension;
use axum::routing::{get, post};
use std::sync::Arc;

/// What every handler can reach.
pub struct AppState {
    pub engine: Arc<Engine>,
    /// The channels (and the rest of what SIGHUP reloads).
    pub live: LiveConfig,
    /// The simulated phones; /sim/messages shows them while a `sim` channel is configured.
    pub phones: Arc<SimPhones>,
    /// Request bodies larger than this are refused with 413.
    pub max_body: usize,
    pub keys: key_cache::KeyCache,
}

/// The routes, for one listener. Each is documented in `openapi.json` (see src/api/openapi.rs).
pub fn router(state: Arc<AppState>, transport: Transport) -> axum::Router {
    axum::Router::new()
        .route("/otp/send", post(otp_routes::send))
        .route("/otp/verify", post(otp_routes::verify))
        .route("/otp/resend", post(otp_routes::resend))
        .route("/otp/cancel", post(otp_routes::cancel))
        .route("/otp/status", get(otp_routes::status))
        .route("/otp/webhooks", get(webhook_routes::log))
        .route("/otp/list", get(manage_routes::list))
        .route("/otp/logs", get(manage_routes::logs))
        .route("/otp/attempts", get(manage_routes::attempts))
        .route("/otp/rate-limits", get(manage_routes::rate_limits))
        .route("/otp/reports", get(manage_routes::reports))
        .route("/v1/request", post(beem::request))
        .route("/v1/verify", post(beem::verify))
        .route("/healthz", get(ops_routes::healthz))
        .route("/readyz", get(ops_routes::readyz))
        .route("/metrics", get(ops_routes::metrics))
        .route("/sim/messages", get(ops_routes::sim_messages))
        .route("/openapi.json", get(openapi::openapi))
        .fallback(ops_routes::no_route)
        .method_not_allowed_fallback(ops_routes::wrong_method)
        .layer(Extension(transport))
        .with_state(state)
}
