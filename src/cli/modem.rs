//! `otpd modem probe`: what a modem says about itself, for an operator at a misbehaving
//! dongle.

use crate::channel::modem::Device;
use crate::channel::modem::probe::probe;
use crate::proto::modem::SimPin;
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand)]
pub enum ModemAction {
    /// Talk to a modem and print manufacturer, model, firmware, IMEI, SIM state, operator,
    /// registration and signal. Sends nothing. Stop otpd (or ModemManager) first if it
    /// holds the device: the port is opened exclusively.
    Probe {
        /// The modem's AT port, e.g. /dev/ttyUSB2 or /dev/serial/by-id/...
        device: PathBuf,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// Entered only if the SIM asks for a PIN, and only once.
        #[arg(long, env = "OTPD_SIM_PIN", hide_env_values = true)]
        sim_pin: Option<String>,
        /// How long each command may take.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
}

pub fn run(action: ModemAction) -> anyhow::Result<i32> {
    let ModemAction::Probe {
        device,
        baud,
        sim_pin,
        timeout,
    } = action;
    let pin = sim_pin.map(SimPin::new);
    let device = Device::Serial { path: device, baud };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(probe(&device, pin.as_ref(), timeout)) {
        Ok(report) => {
            println!("device:         {}", device.describe());
            for line in report.lines() {
                println!("{line}");
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("otpd modem probe: {e}");
            Ok(1)
        }
    }
}
