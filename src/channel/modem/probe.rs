//! `otpd modem probe`: asks a modem what an operator needs to know when it misbehaves —
//! who made it, its firmware and IMEI, the SIM's state, the network, registration and
//! signal — without sending anything. Read-only except for entering the SIM PIN when one
//! is given and the SIM asks for it.

use super::device::{Device, Stream};
use crate::proto::at::{Digester, Final, Item};
use crate::proto::modem::SimPin;
use crate::proto::modem::commands::{registration_stat, signal_dbm};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

/// What the modem said, one field per line of the report. `None`: it did not say.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Probe {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub imei: Option<String>,
    pub sim: Option<String>,
    pub operator: Option<String>,
    pub registration: Option<String>,
    pub signal_dbm: Option<i32>,
    pub service_centre: Option<String>,
}

impl Probe {
    /// Signal as phones show it, 0–4 bars (CSQ ranges as most handsets draw them).
    pub fn bars(&self) -> u8 {
        match self.signal_dbm {
            None => 0,
            Some(dbm) if dbm < -105 => 1,
            Some(dbm) if dbm < -93 => 2,
            Some(dbm) if dbm < -83 => 3,
            Some(_) => 4,
        }
    }

    /// The report as `name: value` lines.
    pub fn lines(&self) -> Vec<String> {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(no answer)".into());
        let signal = match self.signal_dbm {
            Some(dbm) => format!("{dbm} dBm, {} of 4 bars", self.bars()),
            None => "unknown (no signal or no answer)".into(),
        };
        vec![
            format!("manufacturer:   {}", show(&self.manufacturer)),
            format!("model:          {}", show(&self.model)),
            format!("firmware:       {}", show(&self.firmware)),
            format!("IMEI:           {}", show(&self.imei)),
            format!("SIM:            {}", show(&self.sim)),
            format!("operator:       {}", show(&self.operator)),
            format!("registration:   {}", show(&self.registration)),
            format!("signal:         {signal}"),
            format!("service centre: {}", show(&self.service_centre)),
        ]
    }
}

/// One AT conversation, a command at a time.
struct Chat {
    stream: Stream,
    digester: Digester,
    input: Vec<u8>,
    timeout: Duration,
}

impl Chat {
    /// Writes `command` and collects its information lines until its final result;
    /// `Err` when the modem does not answer in time or the device fails.
    async fn ask(&mut self, command: &str) -> Result<(Vec<String>, Final), String> {
        self.digester.expect_echo(command);
        self.write(format!("{command}\r").as_bytes()).await?;
        let deadline = Instant::now() + self.timeout;
        let mut lines = Vec::new();
        loop {
            for item in self.digester.feed(&mut self.input) {
                match item {
                    Item::Line(line) => lines.push(line),
                    Item::Final(fin) => return Ok((lines, fin)),
                    Item::Prompt | Item::Urc(_) => {}
                }
            }
            let mut chunk = [0u8; 512];
            match timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return Err(format!("{command}: no answer in {:?}", self.timeout)),
                Ok(Ok(0)) => return Err("the device closed".into()),
                Ok(Ok(n)) => self
                    .input
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Ok(Err(e)) => return Err(format!("reading the device: {e}")),
            }
        }
    }

    /// The first information line of `command` when it answered OK, without a `+XXX: `
    /// prefix echoing the command's name.
    async fn value(&mut self, command: &str) -> Result<Option<String>, String> {
        let (lines, fin) = self.ask(command).await?;
        if fin != Final::Ok {
            return Ok(None);
        }
        let name = command.trim_start_matches("AT").trim_end_matches('?');
        Ok(lines.first().map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .unwrap_or(l)
                .trim()
                .to_owned()
        }))
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let written = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(self.timeout, written).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("writing to the device: {e}")),
            Err(_) => Err("the device does not take bytes".into()),
        }
    }

    /// ESC to abort a half-typed PDU, then drop whatever the modem says for a moment.
    async fn settle(&mut self) -> Result<(), String> {
        self.write(&[0x1b]).await?;
        let until = Instant::now() + Duration::from_millis(300);
        let mut chunk = [0u8; 512];
        while let Ok(read) = timeout_at(until, self.stream.read(&mut chunk)).await {
            match read {
                Ok(0) => return Err("the device closed".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("reading the device: {e}")),
            }
        }
        self.input.clear();
        self.digester = Digester::new();
        Ok(())
    }
}

/// Talks to the modem on `device` and reports what it says. `Err` only when it does not
/// answer `AT` at all.
pub async fn probe(
    device: &Device,
    pin: Option<&SimPin>,
    timeout: Duration,
) -> Result<Probe, String> {
    let stream = device
        .open()
        .map_err(|e| format!("cannot open {}: {e}", device.describe()))?;
    let mut chat = Chat {
        stream,
        digester: Digester::new(),
        input: Vec::new(),
        timeout,
    };
    chat.settle().await?;
    // A modem just plugged in may miss the first AT while its port settles.
    let mut alive = Err(String::new());
    for _ in 0..3 {
        alive = chat.ask("AT").await;
        if alive.is_ok() {
            break;
        }
    }
    alive.map_err(|e| format!("the modem does not answer AT ({e}); is this its AT port?"))?;
    chat.ask("ATE0").await?;
    chat.ask("AT+CMEE=1").await?;
    let mut p = Probe {
        manufacturer: chat.value("AT+CGMI").await?,
        model: chat.value("AT+CGMM").await?,
        firmware: chat.value("AT+CGMR").await?,
        imei: chat.value("AT+CGSN").await?,
        ..Probe::default()
    };
    p.sim = sim_state(&mut chat, pin).await?;
    p.operator = chat.value("AT+COPS?").await?.map(|v| operator(&v));
    p.registration = registration(&mut chat).await?;
    let (lines, _) = chat.ask("AT+CSQ").await?;
    p.signal_dbm = lines.iter().find_map(|l| signal_dbm(l));
    p.service_centre = chat
        .value("AT+CSCA?")
        .await?
        .and_then(|v| v.split('"').nth(1).map(str::to_owned));
    Ok(p)
}

/// `READY`, `SIM PIN`, … — after entering `pin` if the SIM asks for one.
async fn sim_state(chat: &mut Chat, pin: Option<&SimPin>) -> Result<Option<String>, String> {
    let (lines, fin) = chat.ask("AT+CPIN?").await?;
    let state = lines
        .iter()
        .find_map(|l| l.strip_prefix("+CPIN:"))
        .map(|s| s.trim().to_owned());
    let state = match (state, fin) {
        (Some(s), _) => s,
        (None, Final::CmeError(10)) => return Ok(Some("not inserted".into())),
        (None, fin) => return Ok(Some(format!("unknown ({fin:?})"))),
    };
    let Some(pin) = pin.filter(|_| state == "SIM PIN") else {
        return Ok(Some(state));
    };
    // Built here and never announced to the digester or printed.
    let command = format!("AT+CPIN=\"{}\"", pin.expose());
    let (_, fin) = chat.ask(&command).await?;
    Ok(Some(match fin {
        Final::Ok => "READY (PIN entered)".into(),
        other => format!("SIM PIN (the SIM refused the PIN: {other:?}; not retried)"),
    }))
}

/// `+COPS: 0,0,"Vodacom",7` → `Vodacom (LTE)`.
fn operator(value: &str) -> String {
    let name = value.split('"').nth(1);
    let act = value
        .rsplit(',')
        .next()
        .and_then(|a| a.trim().parse::<u8>().ok());
    let tech = match act {
        Some(0 | 1 | 3) => " (GSM)",
        Some(2 | 4 | 5 | 6) => " (UMTS)",
        Some(7) => " (LTE)",
        _ => "",
    };
    match name {
        Some(name) => format!("{name}{tech}"),
        None => "none".into(),
    }
}

async fn registration(chat: &mut Chat) -> Result<Option<String>, String> {
    let mut said = None;
    for (command, prefix, net) in [
        ("AT+CREG?", "+CREG:", "GSM/UMTS"),
        ("AT+CEREG?", "+CEREG:", "LTE"),
    ] {
        let (lines, _) = chat.ask(command).await?;
        let Some(stat) = lines.iter().find_map(|l| registration_stat(l, prefix)) else {
            continue;
        };
        let text = match stat {
            0 => "not registered, not searching",
            1 => "registered, home network",
            2 => "not registered, searching",
            3 => "registration denied",
            5 => "registered, roaming",
            _ => "unknown",
        };
        let line = format!("{text} ({net}, stat {stat})");
        if stat == 1 || stat == 5 {
            return Ok(Some(line));
        }
        said.get_or_insert(line);
    }
    Ok(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_and_bars() {
        assert_eq!(operator("0,0,\"Vodacom\",7"), "Vodacom (LTE)");
        assert_eq!(operator("0,0,\"Airtel TZ\",0"), "Airtel TZ (GSM)");
        assert_eq!(operator("0"), "none");
        let bars = |dbm| {
            Probe {
                signal_dbm: dbm,
                ..Probe::default()
            }
            .bars()
        };
        assert_eq!(bars(None), 0);
        assert_eq!(bars(Some(-111)), 1);
        assert_eq!(bars(Some(-95)), 2);
        assert_eq!(bars(Some(-85)), 3);
        assert_eq!(bars(Some(-71)), 4);
    }
}
