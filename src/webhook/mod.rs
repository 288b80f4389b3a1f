//! Webhooks (`[[webhook]]`): each event about a verification of an app is POSTed, signed, to
//! the URLs that subscribed to it.
//!
//! ```text
//!  engine / dispatcher / reports ── tx.insert_event ──▶ store: event + one webhook_delivery row
//!                                                       per subscribed webhook (same commit)
//!  Sender: claims due rows (lease) ──▶ client::post (signed, timeout) ──▶ 2xx: delivered
//!                                                    └─ else: backoff::next → retry | failed
//! ```
//!
//! - [`payload`]: the JSON body. [`sign`]: the `Otpd-Signature` header. [`backoff`]: the retry
//!   schedule. [`client`]: one HTTP POST. [`sender`]: the task that drives the queue.
//! - This module decides who wants what ([`Webhooks::subscriptions`]); the store only applies
//!   that table when it writes an event.

pub mod backoff;
pub mod client;
pub mod payload;
pub mod sender;
pub mod sign;

use crate::config::WebhookConfig;
use crate::secret::Secret;
use crate::store::webhooks::{Subscription, Subscriptions};
use backoff::RetryPolicy;
use hyper::Uri;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Where and how to deliver to one webhook.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Uri,
    /// `None`: the Mozilla roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub secret: Secret,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub max_in_flight: usize,
}

/// The configured webhooks, by name.
#[derive(Debug, Clone, Default)]
pub struct Webhooks {
    pub targets: HashMap<String, Target>,
    subscriptions: Subscriptions,
}

impl Webhooks {
    pub fn from_config(hooks: &[WebhookConfig]) -> Webhooks {
        let targets = hooks
            .iter()
            .map(|h| {
                let target = Target {
                    url: h.url.clone(),
                    tls: h.tls.clone(),
                    secret: h.secret.clone(),
                    timeout: h.timeout,
                    retry: RetryPolicy {
                        min: h.retry_min,
                        max: h.retry_max,
                        max_age: h.max_age,
                    },
                    max_in_flight: h.max_in_flight,
                };
                (h.name.clone(), target)
            })
            .collect();
        let subscriptions = Subscriptions(
            hooks
                .iter()
                .map(|h| Subscription {
                    webhook: h.name.clone(),
                    app: h.app.clone(),
                    events: h.events.clone(),
                })
                .collect(),
        );
        Webhooks {
            targets,
            subscriptions,
        }
    }

    /// What the store needs to queue deliveries as events are written.
    pub fn subscriptions(&self) -> Subscriptions {
        self.subscriptions.clone()
    }

    /// The longest try any webhook may take, which a claim's lease must outlast.
    pub fn longest_timeout(&self) -> Duration {
        self.targets
            .values()
            .map(|t| t.timeout)
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

/// The current [`Webhooks`], swapped whole on reload; the sender reads it once per claim.
#[derive(Clone, Default)]
pub struct WebhookTable(Arc<RwLock<Arc<Webhooks>>>);

impl WebhookTable {
    pub fn new(hooks: Webhooks) -> WebhookTable {
        WebhookTable(Arc::new(RwLock::new(Arc::new(hooks))))
    }

    pub fn get(&self) -> Arc<Webhooks> {
        match self.0.read() {
            Ok(h) => h.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, hooks: Webhooks) {
        let hooks = Arc::new(hooks);
        match self.0.write() {
            Ok(mut current) => *current = hooks,
            Err(poisoned) => *poisoned.into_inner() = hooks,
        }
    }
}
