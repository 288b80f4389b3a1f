//! The modem channel against the simulated modem in the process, one fault at a time. Real
//! time with short timeouts; every wait is on an event with a deadline.

use super::*;
use crate::channel::sim::{SimPhones, simulated_modem};
use crate::channel::{LinkState, SubmitOutcome};
use crate::model::{DeliveryState, SystemClock};
use crate::modem_sim::{Config, Faults, Pin};
use crate::proto::modem::SimPin;
use crate::secret::Secret;

const DEADLINE: Duration = Duration::from_secs(10);

struct Rig {
    channel: ModemChannel,
    reports: mpsc::Receiver<DeliveryReport>,
    phones: Arc<SimPhones>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn rig(modem: Config, pin: Option<&str>) -> Rig {
    let phones = Arc::new(SimPhones::default());
    let (tx, reports) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let clock = Arc::new(SystemClock);
    let device = simulated_modem("m", phones.clone(), modem, clock.clone(), stop.clone());
    let setup = Setup {
        name: "m".into(),
        kind: "modem",
        device,
        session: ModemConfig {
            sim_pin: pin.map(SimPin::new),
            escape_settle: Duration::from_millis(5),
            command_timeout: Duration::from_millis(300),
            send_timeout: Duration::from_millis(500),
            ..ModemConfig::default()
        },
        keepalive: Duration::from_secs(60),
        timing: Timing {
            reopen_min: Duration::from_millis(20),
            reopen_max: Duration::from_millis(200),
            ..Timing::default()
        },
        preferred_load: 2,
    };
    let (channel, task) = ModemChannel::start(setup, tx, clock, stop.clone());
    Rig {
        channel,
        reports,
        phones,
        stop,
        task,
    }
}

fn message(recipient: &str, text: &str) -> Outgoing {
    Outgoing {
        verification_id: "v".into(),
        recipient: recipient.into(),
        sender: None,
        text: Secret::new(text.into()),
        validity: Duration::from_secs(300),
    }
}

impl Rig {
    async fn send(&self, recipient: &str, text: &str) -> SubmitOutcome {
        tokio::time::timeout(DEADLINE, self.channel.submit(message(recipient, text)))
            .await
            .expect("no outcome in time")
    }

    async fn accepted(&self, recipient: &str, text: &str) -> String {
        match self.send(recipient, text).await {
            SubmitOutcome::Accepted { message_id } => message_id,
            other => panic!("not accepted: {other:?}"),
        }
    }

    async fn report(&mut self) -> DeliveryReport {
        tokio::time::timeout(DEADLINE, self.reports.recv())
            .await
            .expect("no report in time")
            .expect("report queue closed")
    }

    async fn finish(self) {
        self.stop.cancel();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("the channel did not stop")
            .unwrap();
    }
}

fn faults(f: Faults) -> Config {
    Config {
        faults: f,
        ..Config::default()
    }
}

#[tokio::test]
async fn a_message_is_sent_and_its_status_report_names_it() {
    let mut rig = rig(Config::default(), None);
    let id = rig.accepted("+255712345678", "code 1").await;
    let report = rig.report().await;
    assert_eq!(
        (report.message_id.as_str(), report.state),
        (id.as_str(), DeliveryState::Delivered)
    );
    assert_eq!(rig.channel.health().state, LinkState::Up);
    rig.finish().await;
}

#[tokio::test]
async fn a_long_message_goes_in_parts_and_is_reported_once() {
    let mut rig = rig(Config::default(), None);
    let text = "0123456789".repeat(40);
    let id = rig.accepted("+255712345678", &text).await;
    let report = rig.report().await;
    assert_eq!(report.message_id, id);
    let got = rig.phones.messages(Some("+255712345678"));
    assert_eq!(got.len(), 1, "the handset joins the parts");
    assert_eq!(got[0].text.expose(), text);
    let again = rig.accepted("+255712345678", "short").await;
    assert_eq!(
        rig.report().await.message_id,
        again,
        "no second report of the long one"
    );
    rig.finish().await;
}

#[tokio::test]
async fn cms_errors_retry_reject_or_fail_over_by_code() {
    for (code, want) in [(500, "retry"), (1, "reject"), (330, "failover")] {
        let rig = rig(
            faults(Faults {
                cms_error_every: Some(2),
                cms_error: code,
                ..Faults::default()
            }),
            None,
        );
        rig.accepted("+255712345678", "one").await;
        let got = match rig.send("+255712345678", "two").await {
            SubmitOutcome::Retry { error, .. } => ("retry", error),
            SubmitOutcome::Reject { error, state } => {
                assert_eq!(state, DeliveryState::Rejected);
                ("reject", error)
            }
            SubmitOutcome::Failover { error } => ("failover", error),
            other => panic!("{other:?}"),
        };
        assert_eq!(got.0, want, "code {code}");
        assert!(got.1.contains(&format!("+CMS ERROR: {code}")), "{}", got.1);
        // The modem goes on after an error.
        rig.accepted("+255712345678", "three").await;
        rig.finish().await;
    }
}

#[tokio::test]
async fn missing_and_late_reports_do_not_mix_messages_up() {
    let mut rig = rig(
        Config {
            report_delay: Duration::from_millis(50),
            ..faults(Faults {
                drop_reports_every: Some(2),
                ..Faults::default()
            })
        },
        None,
    );
    let first = rig.accepted("+255712345678", "a").await;
    let _second = rig.accepted("+255712345678", "b").await;
    let third = rig.accepted("+255712345678", "c").await;
    assert_eq!(rig.report().await.message_id, first);
    assert_eq!(rig.report().await.message_id, third);
    assert!(rig.reports.try_recv().is_err());
    rig.finish().await;
}

#[tokio::test]
async fn stored_reports_are_read_back() {
    let mut rig = rig(
        faults(Faults {
            stored_reports: true,
            ..Faults::default()
        }),
        None,
    );
    let id = rig.accepted("+255712345678", "stored").await;
    assert_eq!(rig.report().await.message_id, id);
    rig.finish().await;
}

#[tokio::test]
async fn noise_and_a_stuck_echo_change_nothing() {
    let mut rig = rig(
        faults(Faults {
            echo_stuck: true,
            noise_every: Some(Duration::from_millis(2)),
            ..Faults::default()
        }),
        None,
    );
    for i in 0..20 {
        let id = rig.accepted("+255712345678", &format!("m{i}")).await;
        assert_eq!(rig.report().await.message_id, id);
    }
    assert_eq!(rig.phones.messages(None).len(), 20);
    rig.finish().await;
}

#[tokio::test]
async fn a_hung_modem_is_reopened_and_the_message_comes_back() {
    let rig = rig(
        faults(Faults {
            hang_after: Some(1),
            hang_for: Duration::from_secs(60),
            ..Faults::default()
        }),
        None,
    );
    rig.accepted("+255712345678", "before").await;
    // The modem stops answering: this send times out and is handed back to be retried.
    match rig.send("+255712345678", "during").await {
        SubmitOutcome::Retry { error, .. } => assert!(error.contains("timed out"), "{error}"),
        other => panic!("{other:?}"),
    }
    let down = tokio::time::timeout(
        DEADLINE,
        rig.channel
            .wait_health(|h| h.last_error.as_deref().is_some_and(|e| e.contains("hung"))),
    )
    .await
    .unwrap();
    assert!(down.last_error.unwrap().contains("timed out"));
    // Reopening powers the (simulated) stick up again.
    tokio::time::timeout(DEADLINE, rig.channel.wait_up())
        .await
        .unwrap();
    rig.accepted("+255712345678", "after").await;
    rig.finish().await;
}

#[tokio::test]
async fn the_right_pin_unlocks_the_sim() {
    let rig = rig(
        Config {
            sim_pin: Some(Pin::new("4321")),
            register_after: Duration::from_millis(50),
            ..Config::default()
        },
        Some("4321"),
    );
    rig.accepted("+255712345678", "unlocked").await;
    rig.finish().await;
}

#[tokio::test]
async fn a_refused_pin_is_never_entered_again() {
    let rig = rig(
        Config {
            sim_pin: Some(Pin::new("4321")),
            ..Config::default()
        },
        Some("0000"),
    );
    let refused = tokio::time::timeout(
        DEADLINE,
        rig.channel.wait_health(|h| {
            h.last_error
                .as_deref()
                .is_some_and(|e| e.contains("refused the PIN"))
        }),
    )
    .await
    .unwrap();
    assert_ne!(refused.state, LinkState::Up);
    assert!(
        !refused.last_error.unwrap().contains("0000"),
        "the PIN in an error"
    );
    // The next session (a fresh SIM in the simulator, still locked) is not given the PIN.
    tokio::time::timeout(
        DEADLINE,
        rig.channel.wait_health(|h| {
            h.last_error
                .as_deref()
                .is_some_and(|e| e.contains("none is configured"))
        }),
    )
    .await
    .unwrap();
    match rig.send("+255712345678", "x").await {
        SubmitOutcome::Failover { .. } => {}
        other => panic!("{other:?}"),
    }
    rig.finish().await;
}

#[tokio::test]
async fn a_bad_destination_is_rejected_without_touching_the_modem() {
    let rig = rig(Config::default(), None);
    match rig.send("+25571234567890123456789", "x").await {
        SubmitOutcome::Reject { state, .. } => assert_eq!(state, DeliveryState::Rejected),
        other => panic!("{other:?}"),
    }
    rig.accepted("+255712345678", "fine").await;
    rig.finish().await;
}

#[tokio::test]
async fn load_is_counted_until_the_outcome() {
    let rig = rig(
        Config {
            send_delay: Duration::from_millis(100),
            ..Config::default()
        },
        None,
    );
    let busy = || rig.channel.load().map(|l| (l.busy, l.preferred));
    assert_eq!(busy(), Some((0, 2)));
    let first = rig.channel.submit(message("+255712345678", "a"));
    assert_eq!(busy(), Some((1, 2)));
    let second = rig.channel.submit(message("+255712345679", "b"));
    let third = rig.channel.submit(message("+255712345670", "c"));
    assert_eq!(busy(), Some((3, 2)));
    let outcomes =
        tokio::time::timeout(DEADLINE, async { (first.await, second.await, third.await) })
            .await
            .unwrap();
    assert!(
        matches!(outcomes.2, SubmitOutcome::Accepted { .. }),
        "{outcomes:?}"
    );
    assert_eq!(busy(), Some((0, 2)));
    rig.finish().await;
}
