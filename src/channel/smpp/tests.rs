//! The SMPP channel against `otpd smsc-sim`, in process, one test per fault the simulator
//! can inject. Real time, short timeouts; every wait has a deadline.

use super::SmppChannel;
use crate::channel::{Channel, DeliveryReport, LinkState, Outgoing, SubmitOutcome};
use crate::config::{ChannelKind, Config, SmppConfig};
use crate::model::DeliveryState;
use crate::secret::Secret;
use crate::smsc_sim::{SimArgs, SmscSim};
use clap::Parser;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(20);

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    args: SimArgs,
}

async fn sim(flags: &[&str]) -> SmscSim {
    let mut argv = vec![
        "smsc-sim",
        "--listen",
        "127.0.0.1:0",
        "--system-id",
        "otpd",
        "--password",
        "pw",
    ];
    argv.extend_from_slice(flags);
    SmscSim::start(Wrap::parse_from(argv).args).await.unwrap()
}

fn config(port: u16, extra: &str) -> SmppConfig {
    let text = format!(
        "[[channel]]\nname = \"op\"\nkind = \"smpp\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         system_id = \"otpd\"\npassword = \"pw\"\nsource_addr = \"MyApp\"\nsubmit_timeout = \"2s\"\n{extra}"
    );
    let config = Config::parse(&text, std::path::Path::new("test.toml")).unwrap();
    match config.channels.into_iter().next().unwrap().kind {
        ChannelKind::Smpp(c) => c,
        _ => unreachable!(),
    }
}

struct Harness {
    channel: SmppChannel,
    reports: mpsc::Receiver<DeliveryReport>,
    stop: CancellationToken,
    tasks: tokio::task::JoinSet<()>,
}

impl Harness {
    fn start(config: SmppConfig) -> Harness {
        let (tx, reports) = mpsc::channel(1024);
        let stop = CancellationToken::new();
        let (channel, tasks) = SmppChannel::start("op".into(), config, tx, stop.clone());
        Harness {
            channel,
            reports,
            stop,
            tasks,
        }
    }

    async fn until_up(&self) {
        tokio::time::timeout(DEADLINE, async {
            while self.channel.health().state != LinkState::Up {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
    }

    async fn send(&self, to: &str) -> SubmitOutcome {
        self.send_text(to, "Your otpd code is 123456. It expires in 5 min.")
            .await
    }

    async fn send_text(&self, to: &str, text: &str) -> SubmitOutcome {
        let message = Outgoing {
            verification_id: "v".into(),
            recipient: to.into(),
            sender: None,
            text: Secret::new(text.into()),
            validity: Duration::from_secs(300),
        };
        tokio::time::timeout(DEADLINE, self.channel.submit(message))
            .await
            .unwrap()
    }

    /// The next report, recorded as the daemon's report sink would: the link may then
    /// acknowledge its deliver_sm.
    async fn report(&mut self) -> DeliveryReport {
        let report = self.unrecorded_report().await;
        report.recorded.call();
        report
    }

    /// The next report, never recorded (as if the daemon died before it could).
    async fn unrecorded_report(&mut self) -> DeliveryReport {
        tokio::time::timeout(DEADLINE, self.reports.recv())
            .await
            .unwrap()
            .unwrap()
    }

    async fn stop(mut self) {
        self.stop.cancel();
        tokio::time::timeout(DEADLINE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .unwrap();
    }
}

fn accepted(outcome: &SubmitOutcome) -> String {
    match outcome {
        SubmitOutcome::Accepted { message_id } => message_id.clone(),
        other => panic!("not accepted: {other:?}"),
    }
}

/// A receipt is answered only once its report is recorded: one the daemon did not record
/// (it died first) is not acknowledged, and the SMSC sends it again on the next bind.
#[tokio::test]
async fn a_receipt_not_recorded_is_not_acknowledged_and_comes_again() {
    let sim = sim(&[]).await;
    let mut h = Harness::start(config(sim.local_addr().port(), ""));
    h.until_up().await;
    let id = accepted(&h.send("+255712345678").await);
    let first = h.unrecorded_report().await;
    assert_eq!(first.message_id, id);
    h.stop().await;
    assert_eq!(sim.stats().receipts_acked, 0);

    let mut h = Harness::start(config(sim.local_addr().port(), ""));
    h.until_up().await;
    let again = h.report().await;
    assert_eq!(
        (again.message_id.as_str(), again.state),
        (id.as_str(), DeliveryState::Delivered)
    );
    h.stop().await;
    let stats = sim.stats();
    assert_eq!((stats.receipts_sent, stats.receipts_acked), (2, 1));
    sim.stop().await;
}

#[tokio::test]
async fn submit_receipt_and_unbind() {
    let sim = sim(&["--receipt-id-format", "decimal"]).await;
    let mut h = Harness::start(config(sim.local_addr().port(), ""));
    h.until_up().await;
    let id = accepted(&h.send("+255712345678").await);
    let report = h.report().await;
    // The receipt names the id in decimal; normalised, it matches the hex of submit_sm_resp.
    assert_eq!(
        (report.message_id.as_str(), report.state),
        (id.as_str(), DeliveryState::Delivered)
    );
    h.stop().await;
    let stats = sim.stats();
    assert_eq!(stats.submits_ok, 1);
    assert_eq!(stats.receipts_acked, 1);
    sim.stop().await;
}

#[tokio::test]
async fn throttling_pauses_and_retries_the_same_message() {
    let sim = sim(&["--throttle-every", "2"]).await;
    let h = Harness::start(config(sim.local_addr().port(), ""));
    h.until_up().await;
    accepted(&h.send("+255712345678").await);
    accepted(&h.send("+255712345679").await); // throttled once, then taken
    assert_eq!(sim.stats().throttled, 1);
    h.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_permanent_error_rejects_the_message_with_its_status() {
    let sim = sim(&["--reject-every", "1"]).await;
    let h = Harness::start(config(sim.local_addr().port(), ""));
    h.until_up().await;
    match h.send("+255712345678").await {
        SubmitOutcome::Reject { state, error } => {
            assert_eq!(state, DeliveryState::Undelivered);
            assert!(error.contains("ESME_RINVDSTADR"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    h.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_dropped_link_is_rebound_and_the_message_resubmitted() {
    // Each connection dies at its second submit, unanswered.
    let sim = sim(&["--drop-after", "2"]).await;
    let h = Harness::start(config(sim.local_addr().port(), ""));
    h.until_up().await;
    accepted(&h.send("+255712345678").await);
    // This one kills the link; after the rebind it is submitted again, as the new link's first.
    accepted(&h.send("+255712345679").await);
    assert!(sim.stats().connections >= 2);
    h.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_link_dropped_mid_window_loses_and_duplicates_nothing_that_was_in_it() {
    // Each connection takes two submits and dies at its third, unanswered, with the rest of
    // the burst in the window (10) behind it.
    let sim = sim(&["--drop-after", "3"]).await;
    let h = Harness::start(config(sim.local_addr().port(), ""));
    let mut pending: Vec<String> = (0..6).map(|i| format!("+25571234560{i}")).collect();
    // Each round is what the dispatcher does: what the channel gave back goes to it again
    // once it is up (it would also try the next channel; there is none here).
    for _round in 0..6 {
        if pending.is_empty() {
            break;
        }
        h.until_up().await;
        let outcomes = futures_util::future::join_all(pending.iter().map(|to| h.send(to))).await;
        let mut again = Vec::new();
        for (to, outcome) in pending.iter().zip(outcomes) {
            match outcome {
                SubmitOutcome::Accepted { .. } => {}
                // Unanswered when the link died and not resubmitted in time: given back.
                SubmitOutcome::Retry { .. } => again.push(to.clone()),
                other => panic!("{to}: {other:?}"),
            }
        }
        pending = again;
    }
    assert!(pending.is_empty(), "never accepted: {pending:?}");
    let stats = sim.stats();
    assert!(stats.connections >= 3, "{} connections", stats.connections);
    // Each taken exactly once: what died with a link had not been answered.
    assert_eq!(stats.submits_ok, 6);
    h.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_stalled_smsc_gives_the_message_back() {
    let sim = sim(&["--stall-after", "0"]).await;
    let h = Harness::start(config(sim.local_addr().port(), ""));
    h.until_up().await;
    match h.send("+255712345678").await {
        SubmitOutcome::Retry { .. } => {}
        other => panic!("{other:?}"),
    }
    h.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn garbage_from_the_smsc_does_not_drop_the_link() {
    let sim = sim(&["--garbage-every", "1"]).await;
    let h = Harness::start(config(sim.local_addr().port(), ""));
    h.until_up().await;
    accepted(&h.send("+255712345678").await);
    accepted(&h.send("+255712345679").await);
    assert_eq!(sim.stats().connections, 1);
    h.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_refused_bind_puts_the_channel_down_with_the_reason() {
    let sim = sim(&["--refuse-binds"]).await;
    let h = Harness::start(config(sim.local_addr().port(), ""));
    tokio::time::timeout(DEADLINE, async {
        loop {
            let health = h.channel.health();
            if health.state == LinkState::Down {
                assert!(
                    health
                        .last_error
                        .unwrap_or_default()
                        .contains("ESME_RBINDFAIL")
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    h.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn transmitter_and_receiver_binds_carry_submits_and_receipts() {
    let sim = sim(&[]).await;
    let mut h = Harness::start(config(
        sim.local_addr().port(),
        "bind = \"transmitter_receiver\"\n",
    ));
    h.until_up().await;
    let id = accepted(&h.send("+255712345678").await);
    assert_eq!(h.report().await.message_id, id);
    h.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn long_and_unicode_texts_are_split_with_udh_or_sar() {
    let long = "Your otpd code is 123456. ".repeat(8); // 208 GSM-7 characters: two parts
    for (extra, udh) in [("", true), ("concatenation = \"sar\"\n", false)] {
        let sim = sim(&[]).await;
        let h = Harness::start(config(sim.local_addr().port(), extra));
        h.until_up().await;
        accepted(&h.send_text("+255712345678", &long).await);
        accepted(
            &h.send_text("+255712345679", "Msimbo wako ni 123456 ✓")
                .await,
        );
        let messages = sim.stats().messages;
        assert_eq!(messages.len(), 3, "{extra}");
        for (dest, body, coding) in &messages[..2] {
            assert_eq!((dest.as_str(), *coding), ("255712345678", 0));
            assert_eq!(body.starts_with(&[0x05, 0x00, 0x03]), udh, "{body:?}");
        }
        let (_, body, coding) = &messages[2];
        assert_eq!(*coding, 8, "✓ is not in GSM-7: UCS-2");
        assert_eq!(body.len(), 2 * "Msimbo wako ni 123456 ✓".chars().count());
        h.stop().await;
        sim.stop().await;
    }
}

/// A TLS terminator in front of smsc-sim, with a self-signed certificate for "localhost";
/// returns its port and the CA (the certificate itself) as PEM.
async fn tls_front(backend: std::net::SocketAddr) -> (u16, String) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = key.cert.pem();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![key.cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, pem)
}

#[tokio::test]
async fn tls_links_bind_submit_and_receive_receipts() {
    let sim = sim(&[]).await;
    let (port, ca) = tls_front(sim.local_addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let mut config = config(port, "tls = true\n");
    config.host = "localhost".into();
    config.tls_ca_file = Some(ca_file);
    let mut h = Harness::start(config);
    h.until_up().await;
    let id = accepted(&h.send("+255712345678").await);
    assert_eq!(h.report().await.message_id, id);
    h.stop().await;
    sim.stop().await;
}
