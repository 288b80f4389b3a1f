//! The simulator end to end over loopback TCP: binds, submits, receipts, the link.
//! Time only passes where a test pauses the clock (`start_paused`); elsewhere nothing
//! waits on a timer. The fault flags have their own file, `fault_tests`.

use std::time::Duration;

use rusmpp::{CommandId, CommandStatus, Pdu};
use tokio::time::Instant;

use super::{
    SimArgs, SmscSim,
    test_client::{Bind, Client, message_id, receipt_parts, sim, submit_sm},
};

const DEST: &str = "255712345678";

#[tokio::test]
async fn binds_check_system_id_and_password() {
    let sim = sim(&[]).await;
    let mut client = Client::connect(&sim).await;
    let wrong_password = client.bind_as(Bind::Transceiver, "otpd", "nope").await;
    assert_eq!(wrong_password.status(), CommandStatus::EsmeRinvpaswd);
    let wrong_id = client.bind_as(Bind::Transmitter, "other", "secret").await;
    assert_eq!(wrong_id.status(), CommandStatus::EsmeRinvsysid);
    let ok = client.bind_as(Bind::Transceiver, "otpd", "secret").await;
    assert_eq!(ok.status(), CommandStatus::EsmeRok);
    let Some(Pdu::BindTransceiverResp(resp)) = ok.pdu() else {
        panic!("{ok:?}")
    };
    assert_eq!(resp.system_id.as_str(), "smsc-sim");
    assert_eq!(resp.sc_interface_version().map(u8::from), Some(0x34));
    let again = client.bind_as(Bind::Receiver, "otpd", "secret").await;
    assert_eq!(again.status(), CommandStatus::EsmeRalybnd);
    let stats = sim.stats();
    assert_eq!(
        (stats.binds_ok, stats.binds_refused, stats.connections),
        (1, 3, 1)
    );
    sim.stop().await;
}

#[tokio::test]
async fn refuse_binds_answers_every_bind_with_bindfail() {
    let sim = sim(&["--refuse-binds"]).await;
    let mut client = Client::connect(&sim).await;
    for kind in [Bind::Transmitter, Bind::Receiver, Bind::Transceiver] {
        let resp = client.bind_as(kind, "otpd", "secret").await;
        assert_eq!(resp.status(), CommandStatus::EsmeRbindfail);
    }
    sim.stop().await;
}

#[tokio::test]
async fn submit_before_bind_and_on_a_receiver_is_refused() {
    let sim = sim(&[]).await;
    let mut client = Client::connect(&sim).await;
    let resp = client.call(submit_sm(DEST, b"x", false)).await;
    assert_eq!(resp.status(), CommandStatus::EsmeRinvbndsts);
    client.bind(Bind::Receiver).await;
    let resp = client.call(submit_sm(DEST, b"x", false)).await;
    assert_eq!(resp.status(), CommandStatus::EsmeRinvbndsts);
    assert_eq!(sim.stats().rejected, 2);
    sim.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_submit_gets_an_id_then_a_receipt_after_the_delay() {
    let sim = sim(&["--dlr-delay", "5s"]).await;
    let mut client = Client::connect(&sim).await;
    client.bind(Bind::Transceiver).await;
    let start = Instant::now();
    let resp = client
        .call(submit_sm(DEST, b"Your code is 123456", true))
        .await;
    let id = message_id(&resp);
    assert!(
        id.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()),
        "{id}"
    );
    let receipt = client.recv().await;
    assert!(start.elapsed() >= Duration::from_secs(5));
    let (text, deliver, tlv_id, state) = receipt_parts(&receipt);
    assert!(
        text.starts_with(&format!("id:{id} sub:001 dlvrd:001 submit date:")),
        "{text}"
    );
    assert!(
        text.ends_with(" stat:DELIVRD err:000 text:Your code is 123456"),
        "{text}"
    );
    assert_eq!(u8::from(deliver.esm_class), 0x04);
    assert_eq!(deliver.source_addr.as_str(), DEST);
    assert_eq!(deliver.destination_addr.as_str(), "OTPD");
    assert_eq!((tlv_id.as_deref(), state), (Some(id.as_str()), Some(2)));
    client.ack_receipt(&receipt).await;
    client.sync().await;
    let stats = sim.stats();
    assert_eq!((stats.submits, stats.submits_ok), (1, 1));
    assert_eq!((stats.receipts_sent, stats.receipts_acked), (1, 1));
    assert_eq!(
        stats.messages,
        vec![(DEST.to_owned(), b"Your code is 123456".to_vec(), 0)]
    );
    sim.stop().await;
}

#[tokio::test]
async fn decimal_receipt_ids_show_the_same_number() {
    let flags = ["--receipt-id-format", "decimal", "--dlr-stat", "undeliv"];
    let sim = sim(&flags).await;
    let mut client = Client::connect(&sim).await;
    client.bind(Bind::Transceiver).await;
    let id = message_id(&client.call(submit_sm(DEST, b"1234", true)).await);
    let receipt = client.recv().await;
    let (text, _, tlv_id, state) = receipt_parts(&receipt);
    let decimal = u64::from_str_radix(&id, 16).unwrap().to_string();
    assert!(text.starts_with(&format!("id:{decimal} ")), "{text}");
    assert!(text.contains(" stat:UNDELIV "), "{text}");
    assert_eq!((tlv_id, state), (Some(decimal), Some(5)));
    sim.stop().await;
}

#[tokio::test]
async fn receipts_wait_for_a_receiver_and_survive_a_reconnect() {
    let sim = sim(&["--receipt-tlvs", "false"]).await;
    let mut transmitter = Client::connect(&sim).await;
    transmitter.bind(Bind::Transmitter).await;
    let id = message_id(&transmitter.call(submit_sm(DEST, b"x", true)).await);
    // A receipt for a transceiver that leaves without answering it.
    let mut first = Client::connect(&sim).await;
    first.bind(Bind::Transceiver).await;
    let receipt = first.recv().await;
    let (text, deliver, _, _) = receipt_parts(&receipt);
    assert!(text.starts_with(&format!("id:{id} ")), "{text}");
    assert!(deliver.tlvs().is_empty());
    drop(first);
    // The next receiver gets it again.
    let mut second = Client::connect(&sim).await;
    second.bind(Bind::Receiver).await;
    let again = second.recv().await;
    assert_eq!(receipt_parts(&again).0, text);
    second.ack_receipt(&again).await;
    second.sync().await;
    let stats = sim.stats();
    assert_eq!((stats.receipts_sent, stats.receipts_acked), (2, 1));
    sim.stop().await;
}

#[tokio::test]
async fn enquire_link_works_unbound_and_unbind_closes() {
    let sim = sim(&[]).await;
    let mut client = Client::connect(&sim).await;
    client.sync().await;
    client.bind(Bind::Transceiver).await;
    client.sync().await;
    let resp = client.call(Pdu::Unbind).await;
    assert_eq!(
        (resp.id(), resp.status()),
        (CommandId::UnbindResp, CommandStatus::EsmeRok)
    );
    client.expect_closed().await;
    sim.stop().await;
}

#[tokio::test]
async fn what_cannot_be_decoded_gets_a_generic_nack() {
    let sim = sim(&[]).await;
    let mut client = Client::connect(&sim).await;
    // Unknown command id 0x00000777, sequence 41.
    client
        .send_raw(&[0, 0, 0, 16, 0, 0, 7, 0x77, 0, 0, 0, 0, 0, 0, 0, 41])
        .await;
    // bind_transmitter (0x02) whose system_id lacks its NUL, sequence 42.
    client
        .send_raw(&[
            0, 0, 0, 19, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 42, b'a', b'b', b'c',
        ])
        .await;
    let unknown = client.recv().await;
    assert_eq!(
        (unknown.id(), unknown.status()),
        (CommandId::GenericNack, CommandStatus::EsmeRinvcmdid)
    );
    assert_eq!(unknown.sequence_number(), 41);
    let malformed = client.recv().await;
    assert_eq!(
        (malformed.id(), malformed.status()),
        (CommandId::GenericNack, CommandStatus::EsmeRinvcmdlen)
    );
    assert_eq!(malformed.sequence_number(), 42);
    client.sync().await;
    // A command_length below the header size: the stream cannot be trusted any more.
    client
        .send_raw(&[0, 0, 0, 4, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 43])
        .await;
    let nack = client.recv().await;
    assert_eq!(
        (nack.id(), nack.sequence_number()),
        (CommandId::GenericNack, 43)
    );
    client.expect_closed().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_pipelined_burst_gets_every_response_and_receipt() {
    const COUNT: usize = 2_000;
    let sim = sim(&[]).await;
    let mut client = Client::connect(&sim).await;
    client.bind(Bind::Transceiver).await;
    for i in 0..COUNT {
        client
            .send(submit_sm(&format!("2557{i:08}"), b"code 1234", true))
            .await;
    }
    let (mut responses, mut receipts) = (0, 0);
    while responses < COUNT || receipts < COUNT {
        let pdu = client.recv().await;
        match pdu.id() {
            CommandId::SubmitSmResp => responses += 1,
            CommandId::DeliverSm => {
                receipts += 1;
                client.ack_receipt(&pdu).await;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    client.sync().await;
    let stats = sim.stats();
    assert_eq!(
        (stats.submits_ok, stats.receipts_acked),
        (COUNT as u64, COUNT as u64)
    );
    sim.stop().await;
}

#[test]
fn flags_parse_with_their_defaults() {
    let args = SimArgs::from_flags(Vec::<String>::new()).unwrap();
    assert_eq!(args.listen.to_string(), "127.0.0.1:2775");
    assert_eq!(
        (args.system_id.as_str(), args.password.as_str()),
        ("otpd", "secret")
    );
    assert_eq!(
        (args.dlr_delay, args.dlr_stat.as_str()),
        (Duration::ZERO, "DELIVRD")
    );
    assert!(args.receipt_tlvs && !args.refuse_binds);
    let args = SimArgs::from_flags(["--receipt-tlvs", "false", "--stall", "1500ms"]).unwrap();
    assert!(!args.receipt_tlvs);
    assert_eq!(args.stall, Some(Duration::from_millis(1500)));
    assert!(SimArgs::from_flags(["--dlr-stat", "LOST"]).is_err());
}

#[tokio::test]
async fn start_refuses_settings_no_client_could_use() {
    let mut args = SimArgs::from_flags(["--listen", "127.0.0.1:0"]).unwrap();
    args.password = "longer-than-8".to_owned();
    assert!(SmscSim::start(args.clone()).await.is_err());
    args.password = "secret".to_owned();
    args.dlr_stat = "LOST".to_owned();
    let err = SmscSim::start(args).await.unwrap_err();
    assert!(err.to_string().contains("DELIVRD"), "{err}");
}
