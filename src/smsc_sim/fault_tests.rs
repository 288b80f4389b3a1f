//! The fault flags end to end over loopback TCP, one flag per test. "Nothing was
//! answered" is shown by a later enquire_link coming back first, never by waiting.

use std::time::Duration;

use rusmpp::{CommandId, CommandStatus, Pdu};
use tokio::time::Instant;

use super::test_client::{Bind, Client, sim, submit_sm};

const DEST: &str = "255712345678";

/// Statuses of `count` submits sent in one go, in order.
async fn statuses(client: &mut Client, count: usize) -> Vec<u32> {
    for _ in 0..count {
        client.send(submit_sm(DEST, b"x", false)).await;
    }
    let mut out = Vec::new();
    for _ in 0..count {
        let resp = client.recv().await;
        assert_eq!(resp.id(), CommandId::SubmitSmResp);
        out.push(u32::from(resp.status()));
    }
    out
}

#[tokio::test]
async fn throttle_every_answers_every_nth_submit_with_throttled() {
    let sim = sim(&["--throttle-every", "2"]).await;
    let mut client = Client::connect(&sim).await;
    client.bind(Bind::Transmitter).await;
    assert_eq!(statuses(&mut client, 4).await, [0, 0x58, 0, 0x58]);
    let stats = sim.stats();
    assert_eq!(
        (stats.submits, stats.submits_ok, stats.throttled),
        (4, 2, 2)
    );
    sim.stop().await;
}

#[tokio::test]
async fn reject_and_queue_full_every_nth_with_throttle_first() {
    let flags = [
        "--reject-every",
        "3",
        "--queue-full-every",
        "4",
        "--throttle-every",
        "6",
    ];
    let sim = sim(&flags).await;
    let mut client = Client::connect(&sim).await;
    client.bind(Bind::Transceiver).await;
    let got = statuses(&mut client, 12).await;
    assert_eq!(got, [0, 0, 0x0B, 0x14, 0, 0x58, 0, 0x14, 0x0B, 0, 0, 0x58]);
    let stats = sim.stats();
    assert_eq!(
        (stats.rejected, stats.queue_full, stats.throttled),
        (2, 2, 2)
    );
    assert_eq!(stats.messages.len(), 6);
    sim.stop().await;
}

#[tokio::test]
async fn drop_after_closes_at_the_nth_submit_without_answering_it() {
    let sim = sim(&["--drop-after", "3"]).await;
    let mut client = Client::connect(&sim).await;
    client.bind(Bind::Transmitter).await;
    for _ in 0..3 {
        client.send(submit_sm(DEST, b"x", false)).await;
    }
    for _ in 0..2 {
        assert_eq!(client.recv().await.status(), CommandStatus::EsmeRok);
    }
    client.expect_closed().await;
    // A new connection starts counting again.
    let mut client = Client::connect(&sim).await;
    client.bind(Bind::Transmitter).await;
    assert_eq!(statuses(&mut client, 2).await, [0, 0]);
    sim.stop().await;
}

#[tokio::test]
async fn stall_after_stops_answering_submits_but_keeps_the_link() {
    let sim = sim(&["--stall-after", "2"]).await;
    let mut client = Client::connect(&sim).await;
    client.bind(Bind::Transmitter).await;
    for _ in 0..4 {
        client.send(submit_sm(DEST, b"x", false)).await;
    }
    let ping = client.send(Pdu::EnquireLink).await;
    assert_eq!(client.recv().await.id(), CommandId::SubmitSmResp);
    assert_eq!(client.recv().await.id(), CommandId::SubmitSmResp);
    let next = client.recv().await;
    assert_eq!(
        (next.id(), next.sequence_number()),
        (CommandId::EnquireLinkResp, ping)
    );
    client.sync().await;
    assert_eq!((sim.stats().submits, sim.stats().submits_ok), (4, 2));
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stall_holds_every_response_back_in_order() {
    let sim = sim(&["--stall", "2s"]).await;
    let mut client = Client::connect(&sim).await;
    let start = Instant::now();
    client.bind(Bind::Transmitter).await;
    assert!(start.elapsed() >= Duration::from_secs(2));
    let first = client.send(submit_sm(DEST, b"x", false)).await;
    client.send(Pdu::EnquireLink).await;
    assert_eq!(client.recv().await.sequence_number(), first);
    assert_eq!(client.recv().await.id(), CommandId::EnquireLinkResp);
    assert!(start.elapsed() >= Duration::from_secs(4));
    sim.stop().await;
}

#[tokio::test]
async fn garbage_every_sends_an_unknown_command_after_the_response() {
    let sim = sim(&["--garbage-every", "2"]).await;
    let mut client = Client::connect(&sim).await;
    client.bind(Bind::Transmitter).await;
    assert_eq!(
        client.call(submit_sm(DEST, b"x", false)).await.status(),
        CommandStatus::EsmeRok
    );
    let second = client.call(submit_sm(DEST, b"x", false)).await;
    assert_eq!(second.id(), CommandId::SubmitSmResp);
    let garbage = client.recv().await;
    assert_eq!(garbage.id(), CommandId::Other(0x99));
    // A well-behaved client nacks it; the simulator takes that quietly.
    client
        .answer(
            CommandStatus::EsmeRinvcmdid,
            garbage.sequence_number(),
            Pdu::GenericNack,
        )
        .await;
    client.sync().await;
    sim.stop().await;
}
