//! What the session does with each PDU the peer sends: responses settle our requests (the bind,
//! a submit from the window, an enquire_link, the unbind), requests are answered at once.
//!
//! A child module of `session` so that it works on the session's private fields directly; it
//! exists only to keep the state machine's public surface and its input handling apart.

use super::{Event, Pending, Session, State};
use crate::proto::smpp::incoming::{Incoming, Received};
use crate::proto::smpp::pdu;

impl Session {
    pub(super) fn on_pdu(&mut self, received: Received) {
        let Received {
            sequence,
            status,
            pdu,
        } = received;
        // bind, enquire_link and unbind have at most one of each outstanding, so their responses
        // are matched on state, not on sequence number: a peer that gets the number wrong on
        // these is sloppy but alive, and dropping the link for it would cost more than it saves.
        match pdu {
            Incoming::BindResp { .. } if self.state == State::Binding => {
                self.bind = None;
                if status == 0 {
                    self.state = State::Bound;
                    self.events.push_back(Event::Bound);
                } else {
                    self.bind_refused(status);
                }
            }
            Incoming::SubmitSmResp { message_id } => match self.window.remove(sequence) {
                Some(tag) if status == 0 => {
                    self.events
                        .push_back(Event::SubmitAccepted { tag, message_id });
                }
                Some(tag) => self.events.push_back(Event::SubmitRejected { tag, status }),
                None => self.events.push_back(Event::LateResponse { sequence }),
            },
            Incoming::DeliverSm(d) => {
                // Acknowledged by the caller (`acknowledge_deliver`) once it has recorded the
                // receipt: a crash before that leaves it unacknowledged, and the SMSC sends it
                // again after the next bind.
                self.events.push_back(Event::Deliver {
                    sequence,
                    source: d.source,
                    destination: d.destination,
                    esm_class: d.esm_class,
                    short_message: d.short_message,
                    receipted_message_id: d.receipted_message_id,
                    message_state: d.message_state,
                    network_error: d.network_error,
                });
            }
            Incoming::EnquireLink => self.send(&pdu::enquire_link_resp(sequence)),
            Incoming::EnquireLinkResp if self.enquire_link.is_some() => self.enquire_link = None,
            Incoming::Unbind => {
                self.send(&pdu::unbind_resp(sequence));
                self.unbound();
            }
            Incoming::UnbindResp if self.state == State::Unbinding => self.unbound(),
            Incoming::GenericNack => self.on_generic_nack(sequence, status),
            Incoming::BindResp { .. }
            | Incoming::EnquireLinkResp
            | Incoming::UnbindResp
            | Incoming::OtherResponse { .. } => {
                self.events.push_back(Event::LateResponse { sequence });
            }
            Incoming::NoResponse { .. } => {}
        }
    }

    /// A generic_nack answers one of our requests, found by its sequence number.
    fn on_generic_nack(&mut self, sequence: u32, status: u32) {
        self.events
            .push_back(Event::GenericNack { sequence, status });
        let ours = |p: Option<Pending>| p.is_some_and(|p| p.sequence == sequence);
        if let Some(tag) = self.window.remove(sequence) {
            // Some SMSCs throttle with generic_nack: the caller needs the tag and the status.
            self.events.push_back(Event::SubmitRejected { tag, status });
        } else if ours(self.bind) {
            self.bind = None;
            self.bind_refused(status);
        } else if ours(self.enquire_link) {
            // Not understood, but answered: the peer is alive, which is all we asked.
            self.enquire_link = None;
        } else if ours(self.unbind) {
            self.unbound();
        }
    }

    /// The first refusal leaves the link Open: the caller decides whether to bind again or drop
    /// the link. The second ends it, so a misconfigured bind cannot spin on one connection.
    fn bind_refused(&mut self, status: u32) {
        self.events.push_back(Event::BindFailed { status });
        self.bind_refusals = self.bind_refusals.saturating_add(1);
        if self.bind_refusals >= 2 {
            self.fatal(format!("bind refused twice (status {status:#010x})"));
        } else {
            self.state = State::Open;
        }
    }
}
