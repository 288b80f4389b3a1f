//! Matching receipt ids to submitted ids. SMSCs may answer submit_sm with an id in hex and
//! name it in decimal in the receipt (or the other way), with leading zeros or another case.
//! `proto::smpp::message_id::normalize` makes most forms equal, but an all-digit id is
//! ambiguous: "123456" may be decimal, or hex text. So each accepted id is remembered under
//! both readings, and a receipt is looked up under both of its own.

use crate::proto::smpp::message_id::normalize;
use std::collections::{HashMap, VecDeque};

/// Ids remembered at most (oldest forgotten first); a receipt for a forgotten id is still
/// reported, under its normalised form.
const REMEMBER: usize = 200_000;

#[derive(Default)]
pub struct RecentIds {
    by_key: HashMap<String, String>,
    order: VecDeque<String>,
}

fn keys(id: &str) -> Vec<String> {
    let trimmed = id.trim().trim_matches('\0');
    let mut keys = vec![normalize(trimmed)];
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let as_hex_text = trimmed.trim_start_matches('0');
        keys.push(if as_hex_text.is_empty() {
            "0".into()
        } else {
            as_hex_text.to_string()
        });
    }
    keys
}

impl RecentIds {
    /// Remembers an id from submit_sm_resp; returns the form to record.
    pub fn accepted(&mut self, id: &str) -> String {
        let canonical = normalize(id);
        for (i, key) in keys(id).into_iter().enumerate() {
            // The exact reading (first) always wins; the alternative reading of an all-digit
            // id never takes the place of another message's exact one.
            if i > 0 && self.by_key.contains_key(&key) {
                continue;
            }
            if self.order.len() >= REMEMBER
                && let Some(old) = self.order.pop_front()
            {
                self.by_key.remove(&old);
            }
            self.by_key.insert(key.clone(), canonical.clone());
            self.order.push_back(key);
        }
        canonical
    }

    /// The recorded form of the message a receipt names.
    pub fn receipt(&self, id: &str) -> String {
        keys(id)
            .iter()
            .find_map(|k| self.by_key.get(k).cloned())
            .unwrap_or_else(|| normalize(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_text_of_digits_matches_its_decimal_receipt() {
        let mut ids = RecentIds::default();
        let recorded = ids.accepted("123456"); // hex text, all digits
        assert_eq!(ids.receipt("1193046"), recorded); // 0x123456 in decimal
        assert_eq!(ids.receipt("00123456"), recorded);
        let recorded = ids.accepted("0A1B");
        assert_eq!(ids.receipt("2587"), recorded);
        assert_eq!(ids.receipt("a1b"), recorded);
    }

    #[test]
    fn unknown_receipts_fall_back_to_the_normal_form() {
        let ids = RecentIds::default();
        assert_eq!(ids.receipt("0A1B"), normalize("0A1B"));
    }
}
