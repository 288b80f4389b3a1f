//! Integration tests of otpd: one binary that drives the real `otpd` executable as a child
//! process, over its Unix socket and TCP, and reads its database and logs from outside.
//!
//! - [`support`]: the daemon harness (start, wait for log lines, stop, kill, restart).
//! - [`client`]: an HTTP/1.1 client and helpers for the simulated handset and problems.
//! - the other modules hold the tests, one concern each.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod apps;
mod auth;
mod beem;
mod cli;
mod client;
mod durability;
mod errors;
mod failover;
mod fraud;
mod limits;
mod manage;
mod modem;
mod modem_interop;
mod openapi;
mod operations;
mod ops;
mod otp_flow;
mod races;
mod reload;
mod resend;
mod retention;
mod schemathesis_interop;
mod secrets;
mod smpp_interop;
mod sms_interop;
mod storage_faults;
mod support;
mod webhooks;
