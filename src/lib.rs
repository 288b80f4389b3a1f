//! otpd: a self-hosted one-time-PIN engine.
//!
//! Layout, from the outside in (see DESIGN.md for the whole picture):
//!
//! - [`cli`]: the command line; `otpd serve` starts [`daemon`], the rest are clients and admin tools.
//! - [`daemon`]: wires config, store, engine, channels, dispatcher and API together and runs them.
//! - [`api`]: HTTP routing, authentication, JSON shapes and problem+json errors.
//! - [`otp`]: PINs, their keyed hashes, the verification rules and statuses.
//! - [`delivery`]: the dispatcher (outbox → channels, retries, failover, reports) and the sweeper.
//! - [`channel`]: the channels that carry messages (`sim` for now).
//! - [`store`]: every SQL statement, the schema and its upgrades, the one writer.
//! - [`webhook`]: signed POSTs of verification events to the apps' URLs, from a durable queue.
//! - [`config`]: the TOML configuration file.
//! - [`model`]: the plain records and enums the layers share.
//! - [`smsc_sim`], [`modem_sim`]: an SMSC and a GSM modem, simulated, for tests and demos.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod api;
pub mod auth;
pub mod channel;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod live;
pub mod log_mask;
pub mod metrics;
pub mod model;
pub mod modem_sim;
pub mod otp;
pub mod proto;
pub mod secret;
pub mod signals;
pub mod smsc_sim;
pub mod store;
pub mod systemd;
pub mod webhook;
