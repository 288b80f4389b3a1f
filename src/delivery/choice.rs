//! Which channel takes a message now: the routes that may carry it, less those that gave up
//! on it, among those up, the one with room. Pure: the dispatcher acts on the answer.

use crate::channel::{Channel, LinkState, Load};
use crate::live::Live;
use crate::model::Verification;
use crate::store::outbox::OutboxEntry;
use std::collections::HashMap;
use std::sync::Arc;

/// What to do with a message now.
pub enum Choice {
    /// Hand it to this channel.
    Deliver(Arc<dyn Channel>),
    /// No configured channel serves its recipient any more: it fails.
    NoRoute,
    /// Every channel that may carry it gave up on it for now (down, errors, timeouts): none
    /// said it can never be delivered, so start over with all of them after a pause.
    StartOver,
    /// None of the channels that may carry it is up: it waits.
    Wait,
}

/// The choice for `v` (claimed as `entry`). `assigned`: messages of the same batch already
/// given to each channel, so that a batch spreads like a stream would.
pub fn choose(
    live: &Live,
    v: &Verification,
    entry: &OutboxEntry,
    assigned: &mut HashMap<usize, usize>,
) -> Choice {
    let Ok(candidates) = live
        .router
        .candidates(&v.recipient, v.channel_request.as_deref())
    else {
        return Choice::NoRoute;
    };
    let remaining: Vec<usize> = candidates
        .into_iter()
        .filter(|i| {
            live.router
                .name(*i)
                .is_some_and(|n| !entry.exhausted.iter().any(|e| e == n))
        })
        .collect();
    if remaining.is_empty() {
        return Choice::StartOver;
    }
    let loads: Vec<(usize, Option<Load>)> = remaining
        .iter()
        .filter_map(|i| live.channels.get(*i).map(|c| (*i, c)))
        .filter(|(_, c)| c.health().state == LinkState::Up)
        .map(|(i, c)| (i, c.load()))
        .collect();
    let chosen = pick(&loads, assigned).and_then(|i| {
        *assigned.entry(i).or_default() += 1;
        live.channels.get(i).cloned()
    });
    chosen.map_or(Choice::Wait, Choice::Deliver)
}

/// Among the channels up (in config order, with their load), the first with room (a busy
/// modem lets the next one help), else the least busy one, so that a burst queues evenly on
/// all modems. `assigned`: messages of this batch already given to each.
fn pick(up: &[(usize, Option<Load>)], assigned: &HashMap<usize, usize>) -> Option<usize> {
    let excess = |(i, load): &(usize, Option<Load>)| {
        load.map_or(i128::MIN, |l| {
            let busy = l.busy + assigned.get(i).copied().unwrap_or(0);
            busy as i128 - l.preferred as i128
        })
    };
    let with_room = up.iter().find(|c| excess(c) < 0);
    let least_busy = up.iter().min_by_key(|c| excess(c));
    with_room.or(least_busy).map(|(i, _)| *i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_modem_lets_the_next_one_help_and_a_burst_spreads_evenly() {
        let modem = |busy| Some(Load { busy, preferred: 2 });
        let none = HashMap::new();
        assert_eq!(pick(&[(0, modem(0)), (1, modem(0))], &none), Some(0));
        assert_eq!(pick(&[(0, modem(2)), (1, modem(1))], &none), Some(1));
        // None has room: the least busy, counting this batch's assignments.
        let batch = HashMap::from([(1, 3)]);
        assert_eq!(pick(&[(0, modem(4)), (1, modem(0))], &batch), Some(1));
        assert_eq!(pick(&[(0, modem(4)), (1, modem(2))], &batch), Some(0));
        // A channel without a load (SMPP) always has room; so does "no limit".
        assert_eq!(pick(&[(0, modem(9)), (2, None)], &none), Some(2));
        let unlimited = Some(Load {
            busy: 100,
            preferred: usize::MAX,
        });
        assert_eq!(pick(&[(3, unlimited), (2, None)], &none), Some(3));
        assert_eq!(pick(&[], &none), None);
    }
}
