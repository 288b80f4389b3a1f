//! Runs a [`Modem`] over an async byte stream: a pty master for `otpd modem-sim`, or one
//! end of `tokio::io::duplex` for the in-process `sim` channel. It only moves bytes and
//! keeps the modem's timer; every decision is the modem's.
//!
//! One read buffer is reused for the whole session and the modem hands over its output
//! in one piece per wake-up, so a byte-at-a-time DTE costs one small write per byte and
//! nothing more. Time comes from tokio's clock, so tests with paused time run at once.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::modem::{Delivered, Event, Modem};

/// Why [`serve`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `stop` was cancelled.
    Stopped,
    /// The other end closed the stream (end of file).
    Closed,
    /// The vanish fault struck: the device should disappear for this long. Everything
    /// the modem said before has been written. Call [`Modem::power_cycle`] before serving
    /// it again, as a device that comes back is a device that restarted.
    Vanished(Duration),
}

/// Answers the DTE at the other end of `stream` until `stop`, the end of the stream or
/// the vanish fault. Each message the network delivers goes to `delivered`; events are
/// logged. The modem is borrowed so that a caller can serve it again (a new pty after a
/// vanish) with its counters and stored reports intact.
///
/// Time is tokio's: make the modem with `tokio::time::Instant::now().into_std()` as its
/// `now`, so that it agrees with the clock here also when a test pauses time.
pub async fn serve<S>(
    mut stream: S,
    modem: &mut Modem,
    mut delivered: impl FnMut(Delivered),
    stop: CancellationToken,
) -> io::Result<Outcome>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 4096];
    loop {
        let mut vanish = None;
        while let Some(event) = modem.poll_event() {
            if let Event::Vanish { duration } = event {
                vanish = Some(duration);
            }
            log(&event);
        }
        while let Some(message) = modem.poll_delivered() {
            delivered(message);
        }
        if let Some(bytes) = modem.poll_output() {
            tokio::select! {
                () = stop.cancelled() => return Ok(Outcome::Stopped),
                written = write(&mut stream, &bytes) => written?,
            }
        }
        if let Some(duration) = vanish {
            return Ok(Outcome::Vanished(duration));
        }
        let deadline = modem.next_timeout().map(tokio::time::Instant::from_std);
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return Ok(Outcome::Stopped),
            read = stream.read(&mut buf) => {
                let n = read?;
                if n == 0 {
                    return Ok(Outcome::Closed);
                }
                modem.input(buf.get(..n).unwrap_or_default(), now());
            }
            () = timer => modem.handle_timeout(now()),
        }
    }
}

async fn write<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

fn log(event: &Event) {
    match event {
        Event::Sent {
            reference, part, ..
        } => tracing::debug!(reference, ?part, "modem-sim: message sent"),
        Event::SendFailed { cms } => tracing::info!(cms, "modem-sim: send refused"),
        Event::ReportSent { reference } => {
            tracing::debug!(reference, "modem-sim: status report sent (+CDS)");
        }
        Event::ReportStored {
            reference,
            index,
            announced,
        } => tracing::debug!(
            reference,
            index,
            announced,
            "modem-sim: status report stored"
        ),
        Event::ReportDropped { reference } => {
            tracing::info!(reference, "modem-sim: status report dropped");
        }
        Event::PinRejected { tries_left } => {
            tracing::info!(tries_left, "modem-sim: wrong SIM PIN");
        }
        Event::Hung { duration } => {
            tracing::warn!(?duration, "modem-sim: hanging (fault): no answers");
        }
        Event::Recovered => tracing::warn!("modem-sim: answering again"),
        Event::Vanish { duration } => {
            tracing::warn!(?duration, "modem-sim: vanishing (fault)");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;
    use crate::modem_sim::Config;
    use crate::proto::sms::{Submit, decode_status_report, encode_submit};

    /// A hand-written DTE: writes commands, reads until a wanted line, with a deadline.
    struct Dte {
        io: DuplexStream,
        seen: Vec<u8>,
    }

    impl Dte {
        async fn send(&mut self, bytes: &[u8]) {
            self.io.write_all(bytes).await.unwrap();
        }

        /// Reads until `want` has arrived; returns what came up to and including it.
        async fn until(&mut self, want: &str) -> String {
            let deadline = Duration::from_secs(60);
            tokio::time::timeout(deadline, async {
                let mut buf = [0u8; 256];
                loop {
                    let text = String::from_utf8_lossy(&self.seen).into_owned();
                    if let Some(at) = text.find(want) {
                        let end = at + want.len();
                        self.seen.drain(..end.min(self.seen.len()));
                        return text[..end].to_owned();
                    }
                    let n = self.io.read(&mut buf).await.unwrap();
                    assert!(n > 0, "the modem closed the stream");
                    self.seen.extend_from_slice(&buf[..n]);
                }
            })
            .await
            .unwrap_or_else(|_| panic!("no {want:?} from the modem"))
        }

        async fn command(&mut self, line: &str) -> String {
            self.send(format!("{line}\r").as_bytes()).await;
            self.until("\r\nOK\r\n").await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_and_its_report_over_duplex() {
        let config = Config {
            send_delay: Duration::from_secs(3),
            report_delay: Duration::from_secs(10),
            ..Config::default()
        };
        let modem = Modem::new(config, now());
        let (dte, dce) = tokio::io::duplex(1024);
        let (tx, rx) = mpsc::channel();
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut modem = modem;
                serve(dce, &mut modem, move |d| tx.send(d).unwrap(), stop).await
            }
        });
        let mut dte = Dte {
            io: dte,
            seen: Vec::new(),
        };
        assert_eq!(
            dte.command("AT").await,
            "AT\r\r\nOK\r\n",
            "echo is on at power-up"
        );
        assert_eq!(dte.command("ATE0").await, "ATE0\r\r\nOK\r\n");
        assert_eq!(dte.command("AT").await, "\r\nOK\r\n");
        dte.command("AT+CNMI=2,1,0,1,0").await;
        let pdus = encode_submit(&Submit {
            destination: "+255712345678",
            text: "Your code is 123456",
            reference: 0,
            status_report: true,
            validity: None,
            concat_reference: 0,
        });
        let pdu = &pdus[0];
        dte.send(format!("AT+CMGS={}\r", pdu.tpdu_len).as_bytes())
            .await;
        assert_eq!(dte.until("> ").await, "\r\n> ");
        let sent_at = tokio::time::Instant::now();
        dte.send(format!("{}\x1a", pdu.hex).as_bytes()).await;
        assert_eq!(dte.until("OK\r\n").await, "\r\n+CMGS: 0\r\n\r\nOK\r\n");
        assert_eq!(sent_at.elapsed(), Duration::from_secs(3), "the send delay");
        let delivered = rx.try_recv().unwrap();
        assert_eq!(delivered.recipient, "+255712345678");
        assert_eq!(delivered.text, "Your code is 123456");
        let header = dte.until("\r\n+CDS: ").await;
        assert_eq!(header, "\r\n+CDS: ");
        let rest = dte.until("\r\n").await; // the length
        assert_eq!(rest.trim(), "25");
        let hex = dte.until("\r\n").await;
        let report = decode_status_report(hex.trim(), true).unwrap();
        assert_eq!(report.reference, 0);
        assert_eq!(report.recipient, "+255712345678");
        assert_eq!(report.status, 0);
        assert_eq!(sent_at.elapsed(), Duration::from_secs(13));
        dte.command("AT+CNMA").await;
        stop.cancel();
        assert_eq!(task.await.unwrap().unwrap(), Outcome::Stopped);
    }

    #[tokio::test(start_paused = true)]
    async fn ends_when_the_dte_closes_and_on_vanish() {
        let mut modem = Modem::new(Config::default(), now());
        let (dte, dce) = tokio::io::duplex(64);
        drop(dte);
        let outcome = serve(dce, &mut modem, |_| {}, CancellationToken::new()).await;
        assert_eq!(outcome.unwrap(), Outcome::Closed);

        let config = Config {
            faults: crate::modem_sim::Faults {
                vanish_after: Some(1),
                vanish_for: Duration::from_secs(7),
                ..Default::default()
            },
            ..Config::default()
        };
        let mut modem = Modem::new(config, now());
        let (dte, dce) = tokio::io::duplex(1024);
        let mut dte = Dte {
            io: dte,
            seen: Vec::new(),
        };
        let server =
            tokio::spawn(
                async move { serve(dce, &mut modem, |_| {}, CancellationToken::new()).await },
            );
        let pdu = &encode_submit(&Submit {
            destination: "+1",
            text: "x",
            reference: 0,
            status_report: false,
            validity: None,
            concat_reference: 0,
        })[0];
        dte.send(format!("AT+CMGS={}\r", pdu.tpdu_len).as_bytes())
            .await;
        dte.until("> ").await;
        dte.send(format!("{}\x1a", pdu.hex).as_bytes()).await;
        dte.until("+CMGS: 0\r\n\r\nOK\r\n").await;
        let outcome = server.await.unwrap().unwrap();
        assert_eq!(outcome, Outcome::Vanished(Duration::from_secs(7)));
    }
}
