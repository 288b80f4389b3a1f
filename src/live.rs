//! What SIGHUP can change while the daemon runs: the OTP policy and templates, the apps, the
//! test numbers, the rate limits, the fraud protection, and the channels with their routes.
//! Readers take the current snapshot once per operation (an `Arc` clone under a short read
//! lock), so one send, verify or dispatch sees one consistent configuration, and a reload swaps
//! the whole snapshot at once.

use crate::channel::Channel;
use crate::delivery::router::Router;
use crate::otp::{App, Apps, Fraud, Limits, Policy, TestNumbers};
use std::sync::{Arc, RwLock};

pub struct Live {
    /// `[otp]`. Read an app's policy with [`Live::app`], which applies its overrides.
    pub policy: Policy,
    pub apps: Apps,
    /// `[[test_number]]`
    pub test_numbers: TestNumbers,
    /// `[limits]`: rate limits, lockout and trusted proxies.
    pub limits: Limits,
    /// `[fraud]`: the country allow-list, safe numbers and the SMS-pumping guard.
    pub fraud: Fraud,
    pub router: Router,
    /// In config order, as the router's indices count them.
    pub channels: Vec<Arc<dyn Channel>>,
}

impl Live {
    /// The app `appid`: its name, sender, policy and templates.
    pub fn app<'a>(&'a self, appid: &'a str) -> App<'a> {
        self.apps.app(appid, &self.policy)
    }
}

#[derive(Clone)]
pub struct LiveConfig(Arc<RwLock<Arc<Live>>>);

impl LiveConfig {
    pub fn new(live: Live) -> LiveConfig {
        LiveConfig(Arc::new(RwLock::new(Arc::new(live))))
    }

    /// The current snapshot.
    pub fn get(&self) -> Arc<Live> {
        match self.0.read() {
            Ok(live) => live.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, live: Live) {
        let live = Arc::new(live);
        match self.0.write() {
            Ok(mut current) => *current = live,
            Err(poisoned) => *poisoned.into_inner() = live,
        }
    }
}
