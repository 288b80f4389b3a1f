//! GET /otp/rate-limits: which limits a send by this caller to `recipient` in `appid` would
//! meet, how full each is, and the recipient's lockout. The counting is in
//! [`super::limits::status`]; here the rows are read and the caller's scope applied.

use super::limits::status::{self, LimitState, LockoutState};
use super::manage::app_filter;
use super::{DEFAULT_APP, Engine, Origin, OtpError, Scope, phone};
use serde::Serialize;

/// GET /otp/rate-limits, parsed.
#[derive(Debug, Clone, Default)]
pub struct RateLimitsRequest {
    pub recipient: Option<String>,
    pub appid: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RateLimitsReply {
    pub recipient: Option<String>,
    pub appid: String,
    /// per_recipient, then per_app, per_key, per_ip, per_prefix, as configured.
    pub limits: Vec<LimitState>,
    /// Only with a recipient, and `null` when the lockout is off.
    pub lockout: Option<LockoutState>,
}

impl Engine {
    /// `origin` is the caller's own key and address: per_key and per_ip show the counters
    /// that the caller's own sends use (none on the Unix socket, where they do not apply).
    pub async fn rate_limits(
        &self,
        scope: &Scope,
        origin: Origin,
        req: RateLimitsRequest,
    ) -> Result<RateLimitsReply, OtpError> {
        let now = self.clock.now();
        let live = self.live.get();
        let limits = &live.limits;
        let appid = app_filter(scope, req.appid)?.unwrap_or_else(|| DEFAULT_APP.to_string());
        let recipient = match req.recipient {
            Some(r) => Some(phone::normalize(&r).map_err(|e| OtpError::InvalidRecipient(e.0))?),
            None => None,
        };
        let counters = status::counter_keys(
            limits,
            recipient.as_deref(),
            Some(&appid),
            origin.key.as_deref(),
            origin.ip,
        );
        let wanted = counters
            .iter()
            .flat_map(|(scope, _, key, rates)| {
                rates
                    .iter()
                    .map(move |r| (scope.to_string(), key.clone(), r.window_ms()))
            })
            .collect();
        let rows = self
            .store
            .readers
            .limit_rows(recipient.clone(), wanted)
            .await?;
        let mut states = match &recipient {
            Some(r) => status::recipient_states(limits, r, rows.recipient.as_ref(), now),
            None => Vec::new(),
        };
        for (scope, name, key, rates) in &counters {
            for rate in rates {
                let row = rows
                    .counters
                    .iter()
                    .find(|((s, k, w), _)| s == scope && k == key && *w == rate.window_ms())
                    .and_then(|(_, row)| *row);
                states.push(status::counter_state(name, key, rate, row, now));
            }
        }
        let lockout = recipient
            .as_ref()
            .and_then(|_| status::lockout_state(limits, rows.recipient.as_ref(), now));
        Ok(RateLimitsReply {
            recipient,
            appid,
            limits: states,
            lockout,
        })
    }
}
