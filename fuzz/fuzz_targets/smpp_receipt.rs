//! The delivery receipt text parser (`id:... sub:... stat:... err:... text:...`), and the
//! message-id normaliser that matches the id it finds against the submit_sm_resp's.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otpd::proto::smpp::{message_id, receipt};

fuzz_target!(|data: &[u8]| {
    if let Some(r) = receipt::parse(data)
        && let Some(id) = &r.id
    {
        // An id matches its own canonical form (unless it is empty, which matches nothing):
        // the dispatcher stores one and compares the other.
        let canonical = message_id::normalize(id);
        if !canonical.is_empty() {
            assert!(message_id::matches(id, &canonical), "id {id:?}");
        }
    }
});
