//! Prometheus metrics (GET /metrics). Process-wide, like the log: the layers count into one
//! registry without every struct carrying a handle. Gauges that describe state (channels up,
//! outbox depth) are read when scraped rather than kept up to date.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelState {
    pub channel: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabel {
    pub channel: String,
}

pub struct Metrics {
    registry: Registry,
    /// API sends by outcome: `accepted` or the error code.
    pub sends: Family<Outcome, Counter>,
    /// API verifies by outcome: `approved`, the reason, or the error code.
    pub verifies: Family<Outcome, Counter>,
    /// Delivery events by channel and state: `submitted`, `channel_error`, and the states
    /// receipts report.
    pub deliveries: Family<ChannelState, Counter>,
    pub channel_up: Family<ChannelLabel, Gauge>,
    pub outbox_depth: Gauge,
    pub send_seconds: Histogram,
    pub verify_seconds: Histogram,
    /// submit_sm in flight on each SMPP link (its window occupancy).
    pub smpp_in_flight: Family<ChannelLabel, Gauge>,
    /// submit_sm → submit_sm_resp, per SMPP channel.
    pub smpp_round_trip: LatencyFamily,
    /// Signal strength each modem last reported (`AT+CSQ`), in dBm.
    pub modem_signal_dbm: Family<ChannelLabel, Gauge>,
    /// A part handed to the modem until its `+CMGS: <mr>` (queueing included), per modem channel.
    pub modem_send_time: LatencyFamily,
    /// Times a modem was reopened after it hung, vanished or failed to start.
    pub modem_reopens: Family<ChannelLabel, Counter>,
    /// Webhook tries by outcome: `delivered`, `retried` (failed, will try again), `failed`
    /// (given up).
    pub webhook_deliveries: Family<Outcome, Counter>,
    /// Webhook deliveries still to be made.
    pub webhook_queue_depth: Gauge,
    /// Sends refused by SMS-pumping protection, by reason: `country`, `prefix`, `ip`.
    pub fraud_blocked: Family<ReasonLabel, Counter>,
    /// Sends the fraud guard let through in record mode, by reason: `prefix`, `ip`.
    pub fraud_flagged: Family<ReasonLabel, Counter>,
    /// Ended verifications deleted by retention.
    pub purged_verifications: Counter,
}

fn latency() -> Histogram {
    // 100 µs to about 3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

type LatencyFamily = Family<ChannelLabel, Histogram, fn() -> Histogram>;

pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("otpd");
    let m = Metrics {
        registry: Registry::default(),
        sends: Family::default(),
        verifies: Family::default(),
        deliveries: Family::default(),
        channel_up: Family::default(),
        outbox_depth: Gauge::default(),
        send_seconds: latency(),
        verify_seconds: latency(),
        smpp_in_flight: Family::default(),
        smpp_round_trip: Family::new_with_constructor(latency),
        modem_signal_dbm: Family::default(),
        modem_send_time: Family::new_with_constructor(latency),
        modem_reopens: Family::default(),
        webhook_deliveries: Family::default(),
        webhook_queue_depth: Gauge::default(),
        fraud_blocked: Family::default(),
        fraud_flagged: Family::default(),
        purged_verifications: Counter::default(),
    };
    registry.register(
        "sends",
        "OTP sends through the API, by outcome",
        m.sends.clone(),
    );
    registry.register(
        "verifies",
        "Verifies through the API, by outcome",
        m.verifies.clone(),
    );
    registry.register(
        "deliveries",
        "Delivery events, by channel and state",
        m.deliveries.clone(),
    );
    registry.register(
        "channel_up",
        "1 when the channel can take messages",
        m.channel_up.clone(),
    );
    registry.register(
        "outbox_depth",
        "Messages waiting for a channel",
        m.outbox_depth.clone(),
    );
    registry.register(
        "send_duration_seconds",
        "Time to accept a send",
        m.send_seconds.clone(),
    );
    registry.register(
        "verify_duration_seconds",
        "Time to judge a verify",
        m.verify_seconds.clone(),
    );
    registry.register(
        "smpp_in_flight",
        "submit_sm awaiting their response, per SMPP channel",
        m.smpp_in_flight.clone(),
    );
    registry.register(
        "smpp_round_trip_seconds",
        "submit_sm to submit_sm_resp, per SMPP channel",
        m.smpp_round_trip.clone(),
    );
    registry.register(
        "modem_signal_dbm",
        "Signal strength the modem last reported, in dBm",
        m.modem_signal_dbm.clone(),
    );
    registry.register(
        "modem_send_seconds",
        "A part handed to the modem until its +CMGS reference (queueing included), per modem channel",
        m.modem_send_time.clone(),
    );
    registry.register(
        "modem_reopens",
        "Modem devices reopened after a hang, a vanished device or a failed start",
        m.modem_reopens.clone(),
    );
    registry.register(
        "webhook_deliveries",
        "Webhook tries, by outcome: delivered, retried, failed (given up)",
        m.webhook_deliveries.clone(),
    );
    registry.register(
        "webhook_queue_depth",
        "Webhook deliveries still to be made",
        m.webhook_queue_depth.clone(),
    );
    registry.register(
        "fraud_blocked",
        "Sends refused by SMS-pumping protection, by reason (country, prefix, ip)",
        m.fraud_blocked.clone(),
    );
    registry.register(
        "fraud_flagged",
        "Sends the fraud guard flagged and let through (mode record), by reason (prefix, ip)",
        m.fraud_flagged.clone(),
    );
    registry.register(
        "purged_verifications",
        "Ended verifications deleted (with their events and attempts) once past [store] retention",
        m.purged_verifications.clone(),
    );
    Metrics { registry, ..m }
});

pub fn count(family: &Family<Outcome, Counter>, outcome: &str) {
    family
        .get_or_create(&Outcome {
            outcome: outcome.to_string(),
        })
        .inc();
}

pub fn delivery(channel: &str, state: &str) {
    METRICS
        .deliveries
        .get_or_create(&ChannelState {
            channel: channel.to_string(),
            state: state.to_string(),
        })
        .inc();
}

/// Counts one send in `family` (`fraud_blocked` or `fraud_flagged`) under `reason`.
pub fn fraud(family: &Family<ReasonLabel, Counter>, reason: &str) {
    family
        .get_or_create(&ReasonLabel {
            reason: reason.to_string(),
        })
        .inc();
}

pub fn observe(histogram: &Histogram, took: Duration) {
    histogram.observe(took.as_secs_f64());
}

/// The registry in the Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &METRICS.registry).is_err() {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_text_format() {
        count(&METRICS.sends, "accepted");
        delivery("sim", "delivered");
        let text = render();
        assert!(
            text.contains("otpd_sends_total{outcome=\"accepted\"}"),
            "{text}"
        );
        assert!(
            text.contains("otpd_deliveries_total{channel=\"sim\",state=\"delivered\"}"),
            "{text}"
        );
        assert!(text.contains("otpd_send_duration_seconds_bucket"), "{text}");
    }
}
