//! The running channels. A (re)load hands over the configured channel list; a channel whose
//! config did not change keeps running (an SMPP link stays bound), a changed or removed one is
//! stopped, and a new one is started. Every channel has its own stop token for that.

use crate::channel::modem::{Device, ModemChannel, Setup, Timing};
use crate::channel::sim::{self, SimPhones};
use crate::channel::smpp::SmppChannel;
use crate::channel::{Channel, DeliveryReport};
use crate::config::{ChannelConfig, ChannelKind};
use crate::model::Clock;
use crate::modem_sim;
use crate::proto::modem::{ModemConfig, SimPin};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Messages a modem takes before a burst spills over to the next modem that is up: the
/// one it is sending and the next, so it never waits between sends.
const MODEM_PREFERRED_LOAD: usize = 2;

struct Running {
    config: ChannelConfig,
    channel: Arc<dyn Channel>,
    stop: CancellationToken,
}

pub struct ChannelSet {
    running: Vec<Running>,
    /// Simulated modems started and maybe not ready yet; see [`ChannelSet::simulated_ready`].
    starting_sims: Vec<Arc<crate::channel::modem::ModemChannel>>,
    /// The simulated phones, shared by every `sim` channel of every load.
    pub phones: Arc<SimPhones>,
    reports: mpsc::Sender<DeliveryReport>,
    clock: Arc<dyn Clock>,
    /// The channels' I/O tasks, awaited at shutdown.
    pub tasks: JoinSet<()>,
}

impl ChannelSet {
    pub fn new(reports: mpsc::Sender<DeliveryReport>, clock: Arc<dyn Clock>) -> ChannelSet {
        ChannelSet {
            running: Vec::new(),
            starting_sims: Vec::new(),
            phones: Arc::new(SimPhones::default()),
            reports,
            clock,
            tasks: JoinSet::new(),
        }
    }

    /// Brings the running channels in line with `configs`; returns them in config order.
    /// Fails, changing nothing, if a channel cannot be built.
    pub fn apply(&mut self, configs: &[ChannelConfig]) -> anyhow::Result<Vec<Arc<dyn Channel>>> {
        let mut old = std::mem::take(&mut self.running);
        for config in configs {
            let kept = old
                .iter()
                .position(|r| r.config == *config)
                .map(|i| old.swap_remove(i));
            let running = match kept {
                Some(running) => running,
                None => self.start(config)?,
            };
            self.running.push(running);
        }
        for gone in old {
            tracing::info!(channel = %gone.config.name, "stopping a channel that the configuration changed or removed");
            gone.stop.cancel();
        }
        Ok(self.running.iter().map(|r| r.channel.clone()).collect())
    }

    fn start(&mut self, config: &ChannelConfig) -> anyhow::Result<Running> {
        let stop = CancellationToken::new();
        let channel: Arc<dyn Channel> = match &config.kind {
            ChannelKind::Sim => {
                tracing::warn!(channel = %config.name, "channel {} is a SIMULATED modem: messages go to GET /sim/messages, not to real phones", config.name);
                let (channel, task) = sim::start(
                    config.name.clone(),
                    self.phones.clone(),
                    modem_sim::Config::default(),
                    self.reports.clone(),
                    self.clock.clone(),
                    stop.clone(),
                );
                self.tasks.spawn(async move {
                    let _ = task.await;
                });
                let channel = Arc::new(channel);
                self.starting_sims.push(channel.clone());
                channel
            }
            ChannelKind::Smpp(smpp) => {
                let (channel, mut links) = SmppChannel::start(
                    config.name.clone(),
                    smpp.clone(),
                    self.reports.clone(),
                    stop.clone(),
                );
                self.tasks
                    .spawn(async move { while links.join_next().await.is_some() {} });
                Arc::new(channel)
            }
            ChannelKind::Modem(modem) => {
                let setup = Setup {
                    name: config.name.clone(),
                    kind: "modem",
                    device: Device::Serial {
                        path: modem.device.clone(),
                        baud: modem.baud,
                    },
                    session: ModemConfig {
                        sim_pin: modem.sim_pin.as_ref().map(|p| SimPin::new(p.expose())),
                        smsc: modem.smsc.clone(),
                        ..ModemConfig::default()
                    },
                    keepalive: modem.keepalive,
                    timing: Timing::default(),
                    preferred_load: MODEM_PREFERRED_LOAD,
                };
                let (channel, task) = ModemChannel::start(
                    setup,
                    self.reports.clone(),
                    self.clock.clone(),
                    stop.clone(),
                );
                self.tasks.spawn(async move {
                    let _ = task.await;
                });
                Arc::new(channel)
            }
        };
        Ok(Running {
            config: config.clone(),
            channel,
            stop,
        })
    }

    /// Waits (at most `limit`) for the simulated modems just started to finish their AT
    /// init, a few milliseconds in the process: the demo's and the tests' first code then
    /// goes out at once instead of after the dispatcher's wait for a channel.
    pub async fn simulated_ready(&mut self, limit: std::time::Duration) {
        let sims = std::mem::take(&mut self.starting_sims);
        let all = async {
            for sim in sims {
                sim.wait_up().await;
            }
        };
        let _ = tokio::time::timeout(limit, all).await;
    }

    /// Stops every channel (SMPP links unbind).
    pub fn stop_all(&mut self) {
        for r in self.running.drain(..) {
            r.stop.cancel();
        }
    }
}
