//! Delivery receipts: the `short_message` of a `deliver_sm` whose `esm_class` marks it as a
//! receipt, in the free-text format of SMPP 3.4 Appendix B:
//!
//! ```text
//! id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E Text:...
//! ```
//!
//! The appendix calls the format vendor specific, and SMSCs take it at its word: keys in
//! any case, `submit_date` for `submit date`, fields missing or reordered, ids of any
//! length, in decimal or hex, and the text cut short. So [`parse`] looks for `key:`
//! wherever a word starts, and takes as value the first word between it and the next key
//! (an empty field does not swallow its neighbour). The `Text:` field comes last and is
//! free-form: everything after it is text, spaces and key-like words included. Values are
//! kept as sent; a date with a space in it keeps only its first word.
//!
//! The `message_state` TLV carries the same state as a number; [`ReceiptState`] reads both.

use std::fmt;

/// A message's state as a receipt reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptState {
    Delivered,
    Expired,
    Deleted,
    Undeliverable,
    Accepted,
    Unknown,
    Rejected,
    Enroute,
    Skipped,
}

impl ReceiptState {
    /// Reads `message_state` (SMPP 3.4 §5.2.28, also the TLV of §5.3.2.35; `SKIPPED` is from SMPP 5.0). `None`
    /// for values without a meaning here, such as 0 (`SCHEDULED` in 5.0), so that an odd
    /// value is not mistaken for the state `UNKNOWN`.
    pub fn from_message_state(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Enroute,
            2 => Self::Delivered,
            3 => Self::Expired,
            4 => Self::Deleted,
            5 => Self::Undeliverable,
            6 => Self::Accepted,
            7 => Self::Unknown,
            8 => Self::Rejected,
            9 => Self::Skipped,
            _ => return None,
        })
    }

    /// Reads the `stat:` field: the seven-letter forms of Appendix B, or the full words
    /// some SMSCs write instead, in any case. `None` for anything else.
    pub fn from_stat(stat: &str) -> Option<Self> {
        let stat = stat.trim().to_ascii_uppercase();
        Some(match stat.as_str() {
            "DELIVRD" | "DELIVERED" => Self::Delivered,
            "EXPIRED" => Self::Expired,
            "DELETED" => Self::Deleted,
            "UNDELIV" | "UNDELIVERABLE" | "UNDELIVERED" => Self::Undeliverable,
            "ACCEPTD" | "ACCEPTED" => Self::Accepted,
            "UNKNOWN" => Self::Unknown,
            "REJECTD" | "REJECTED" => Self::Rejected,
            "ENROUTE" | "EN_ROUTE" => Self::Enroute,
            "SKIPPED" => Self::Skipped,
            _ => return None,
        })
    }
}

/// A parsed receipt. Every field is optional because SMSCs leave any of them out; values
/// are kept as sent (dates are not interpreted: their format and time zone vary).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    pub id: Option<String>,
    pub sub: Option<String>,
    pub dlvrd: Option<String>,
    pub submit_date: Option<String>,
    pub done_date: Option<String>,
    pub stat: Option<ReceiptState>,
    pub err: Option<String>,
    /// The start of the message that was sent, which for us holds the code.
    pub text: Option<String>,
}

/// `text` echoes the start of the message, and with it the PIN: `Debug` says whether it
/// is there but not what it is, so a logged receipt does not leak the code.
impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receipt")
            .field("id", &self.id)
            .field("sub", &self.sub)
            .field("dlvrd", &self.dlvrd)
            .field("submit_date", &self.submit_date)
            .field("done_date", &self.done_date)
            .field("stat", &self.stat)
            .field("err", &self.err)
            .field("text", &self.text.as_ref().map(|_| Redacted))
            .finish()
    }
}

struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The fields [`parse`] knows; `Other` is a key it skips (some SMSCs add their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Text,
    Other,
}

impl Field {
    /// `name` is the key lowercased with separators removed: `submit date` → `submitdate`.
    fn from_name(name: &str) -> Self {
        match name {
            "id" => Self::Id,
            "sub" => Self::Sub,
            "dlvrd" => Self::Dlvrd,
            "submitdate" => Self::SubmitDate,
            "donedate" => Self::DoneDate,
            "stat" => Self::Stat,
            "err" => Self::Err,
            "text" => Self::Text,
            _ => Self::Other,
        }
    }
}

/// Parses a receipt. `None` when the text is not one: neither an id nor a state could be
/// read from it. Invalid UTF-8 is replaced, not refused: the id and state are ASCII and
/// worth having even when the echoed text is mangled.
pub fn parse(text: &[u8]) -> Option<Receipt> {
    let text = String::from_utf8_lossy(text);
    let keys = find_keys(&text);
    let mut receipt = Receipt::default();
    for (n, key) in keys.iter().enumerate() {
        let value_end = keys
            .get(n.saturating_add(1))
            .map_or(text.len(), |next| next.start);
        let Some(value) = text.get(key.value_start..value_end).and_then(clean) else {
            continue;
        };
        // Only the text may hold spaces. Elsewhere words after the value are noise (an
        // unknown field without a colon, the stub of a truncated key) and must not spoil
        // `stat:DELIVRD` or the id.
        let value = match key.field {
            Field::Text => value,
            _ => value.split_whitespace().next().unwrap_or(value),
        };
        // The first occurrence wins; a repeat is more likely noise than a correction.
        let slot = match key.field {
            Field::Id => &mut receipt.id,
            Field::Sub => &mut receipt.sub,
            Field::Dlvrd => &mut receipt.dlvrd,
            Field::SubmitDate => &mut receipt.submit_date,
            Field::DoneDate => &mut receipt.done_date,
            Field::Err => &mut receipt.err,
            Field::Text => &mut receipt.text,
            Field::Stat => {
                if receipt.stat.is_none() {
                    receipt.stat = ReceiptState::from_stat(value);
                }
                continue;
            }
            Field::Other => continue,
        };
        if slot.is_none() {
            *slot = Some(value.to_owned());
        }
    }
    (receipt.id.is_some() || receipt.stat.is_some()).then_some(receipt)
}

/// A key found in the text: where it starts, where its value starts, which field it is.
struct Key {
    start: usize,
    value_start: usize,
    field: Field,
}

/// Finds the keys, in order. A key only counts at the start of a word, so `id:` inside
/// `msgid:` or a value such as `12:00` is not one; scanning stops at `text:`.
fn find_keys(text: &str) -> Vec<Key> {
    let bytes = text.as_bytes();
    let mut keys = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let word_start = i
            .checked_sub(1)
            .and_then(|before| bytes.get(before))
            .is_none_or(|&b| b.is_ascii_whitespace() || b == 0);
        if word_start && let Some((field, value_start)) = key_at(bytes, i) {
            keys.push(Key {
                start: i,
                value_start,
                field,
            });
            if field == Field::Text {
                break;
            }
            i = value_start;
            continue;
        }
        i = i.saturating_add(1);
    }
    keys
}

/// Reads a key at `i`: a word of ASCII letters, digits and `_` that starts with a letter,
/// or `submit`/`done` and `date` joined by spaces, `_` or `-`; then optional blanks and
/// `:`. Returns the field and where its value starts.
fn key_at(bytes: &[u8], i: usize) -> Option<(Field, usize)> {
    let is_word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    if !bytes.get(i)?.is_ascii_alphabetic() {
        return None;
    }
    let mut end = skip(bytes, i, is_word);
    let mut name: String = bytes
        .get(i..end)?
        .iter()
        .filter(|&&b| b != b'_')
        .map(|&b| char::from(b.to_ascii_lowercase()))
        .collect();
    if name == "submit" || name == "done" {
        let date_start = skip(bytes, end, |&b| matches!(b, b' ' | b'\t' | b'_' | b'-'));
        let date_end = date_start.saturating_add(4);
        let is_date = bytes
            .get(date_start..date_end)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"date"));
        if is_date && !bytes.get(date_end).is_some_and(is_word) {
            name.push_str("date");
            end = date_end;
        }
    }
    let colon = skip(bytes, end, |&b| b == b' ' || b == b'\t');
    (bytes.get(colon) == Some(&b':')).then(|| (Field::from_name(&name), colon.saturating_add(1)))
}

/// The first position at or after `from` whose byte does not satisfy `pred`.
fn skip(bytes: &[u8], from: usize, pred: impl Fn(&u8) -> bool) -> usize {
    let run = bytes
        .get(from..)
        .map_or(0, |rest| rest.iter().take_while(|b| pred(b)).count());
    from.saturating_add(run)
}

/// A value without the blanks and NULs around it; `None` if nothing is left.
fn clean(value: &str) -> Option<&str> {
    let value = value.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn reads_the_appendix_b_format() {
        let r = parse(
            b"id:0123456789 sub:001 dlvrd:001 submit date:2311221200 \
              done date:2311221201 stat:DELIVRD err:000 text:Hello",
        )
        .unwrap();
        assert_eq!(
            r,
            Receipt {
                id: some("0123456789"),
                sub: some("001"),
                dlvrd: some("001"),
                submit_date: some("2311221200"),
                done_date: some("2311221201"),
                stat: Some(ReceiptState::Delivered),
                err: some("000"),
                text: some("Hello"),
            }
        );
    }

    #[test]
    fn text_with_capital_t_and_spaces_is_kept_whole() {
        // The spelling of the SMPP 3.4 appendix itself.
        let r = parse(
            b"id:7F3A9BC2E1 sub:001 dlvrd:000 submit date:2311221200 done date:2311221300 \
              stat:UNDELIV err:001 Text:Your code is 4821 stat:x",
        )
        .unwrap();
        assert_eq!(r.id, some("7F3A9BC2E1"));
        assert_eq!(r.stat, Some(ReceiptState::Undeliverable));
        assert_eq!(r.err, some("001"));
        assert_eq!(r.text, some("Your code is 4821 stat:x"));
    }

    #[test]
    fn keys_in_any_case() {
        let r = parse(b"ID:abc123 SUB:001 DLVRD:001 SUBMIT DATE:2311221200 Done Date:2311221201 STAT:delivrd ERR:000 TEXT:hi").unwrap();
        assert_eq!(r.id, some("abc123"));
        assert_eq!(r.submit_date, some("2311221200"));
        assert_eq!(r.done_date, some("2311221201"));
        assert_eq!(r.stat, Some(ReceiptState::Delivered));
        assert_eq!(r.text, some("hi"));
    }

    #[test]
    fn missing_sub_dlvrd_and_text() {
        // The shape of several simulators and of some operators' receipts.
        let r =
            parse(b"id:44a2f7c1 submit date:2311221200 done date:2311221201 stat:EXPIRED err:0")
                .unwrap();
        assert_eq!(r.id, some("44a2f7c1"));
        assert_eq!((r.sub, r.dlvrd, r.text), (None, None, None));
        assert_eq!(r.stat, Some(ReceiptState::Expired));
        assert_eq!(r.err, some("0"));
    }

    #[test]
    fn underscore_spellings_and_another_order() {
        let r = parse(
            b"id:99 submit_date:2311221200 done_date:2311221201 stat:ACCEPTD sub:001 dlvrd:000 err:000 text:",
        )
        .unwrap();
        assert_eq!(r.submit_date, some("2311221200"));
        assert_eq!(r.done_date, some("2311221201"));
        assert_eq!(r.stat, Some(ReceiptState::Accepted));
        assert_eq!(r.sub, some("001"));
        assert_eq!(r.dlvrd, some("000"));
        assert_eq!(r.text, None);
    }

    #[test]
    fn extra_spaces_and_empty_fields() {
        let r =
            parse(b"  id:  123   sub: dlvrd:001  submit-date :2311221200 stat : REJECTD   err:  ")
                .unwrap();
        assert_eq!(r.id, some("123"));
        assert_eq!(r.sub, None);
        assert_eq!(r.dlvrd, some("001"));
        assert_eq!(r.submit_date, some("2311221200"));
        assert_eq!(r.stat, Some(ReceiptState::Rejected));
        assert_eq!(r.err, None);
    }

    #[test]
    fn twelve_digit_dates_and_long_ids() {
        let id = "c0ffee".repeat(11);
        let raw = format!(
            "id:{id} sub:001 dlvrd:001 submit date:231122120000 done date:231122120105 stat:DELIVRD err:000 text:Your code is 1234"
        );
        let r = parse(raw.as_bytes()).unwrap();
        assert_eq!(r.id, Some(id));
        assert_eq!(r.done_date, some("231122120105"));
        let r = parse(b"id:550e8400-e29b-41d4-a716-446655440000 stat:DELIVRD").unwrap();
        assert_eq!(r.id, some("550e8400-e29b-41d4-a716-446655440000"));
    }

    #[test]
    fn non_utf8_bytes_are_replaced() {
        let r = parse(b"id:1\xff2 stat:DELIVRD err:000 text:Code \xe9\xff 1234\0").unwrap();
        assert_eq!(r.id, some("1\u{FFFD}2"));
        assert_eq!(r.stat, Some(ReceiptState::Delivered));
        assert_eq!(r.text, some("Code \u{FFFD}\u{FFFD} 1234"));
    }

    #[test]
    fn truncated_receipts_keep_what_arrived() {
        let r = parse(b"id:123 sub:001 dlvrd:001 submit date:2311221200 done date:23112").unwrap();
        assert_eq!(r.id, some("123"));
        assert_eq!(r.done_date, some("23112"));
        assert_eq!(r.stat, None);
        // A key cut before its colon is noise after the previous value.
        let r = parse(b"id:123 sub:001 dlv").unwrap();
        assert_eq!(r.sub, some("001"));
        let r = parse(b"id:9 stat:DELIVRD err:000 text:Your co").unwrap();
        assert_eq!(r.text, some("Your co"));
    }

    #[test]
    fn every_prefix_and_garbage_is_safe() {
        let full = "id:0123456789 sub:001 dlvrd:001 submit date:2311221200 done date:2311221201 stat:DELIVRD err:000 text:Hé€llo";
        for cut in 0..=full.len() {
            let r = parse(&full.as_bytes()[..cut]);
            if cut > "id:0".len() {
                let id = r.unwrap().id.unwrap();
                assert!("0123456789".starts_with(&id), "{id}");
            }
        }
        // Bytes drawn from key fragments, separators and invalid UTF-8, by xorshift.
        let alphabet = b"id:stat :xDELIVRDsubmit_date-text \0\xff\xe2\x82";
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for len in 0..2000 {
            let bytes: Vec<u8> = (0..len % 300)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = parse(&bytes);
        }
    }

    #[test]
    fn not_a_receipt() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"Hello, see you at 12:00"), None);
        assert_eq!(parse(b"sub:001 dlvrd:001 err:000"), None);
        // Keys inside the text are text.
        assert_eq!(parse(b"text:id:123 stat:DELIVRD"), None);
        // `id:` inside a word is not the id key.
        assert_eq!(parse(b"msgid:123"), None);
    }

    #[test]
    fn an_unknown_stat_leaves_the_state_empty() {
        let r = parse(b"id:5 stat:FAILED err:069").unwrap();
        assert_eq!(r.stat, None);
        assert_eq!(r.err, some("069"));
        let r = parse(b"id:5 stat:delivered").unwrap();
        assert_eq!(r.stat, Some(ReceiptState::Delivered));
    }

    #[test]
    fn unknown_keys_are_skipped() {
        let r = parse(b"id:5 imsi:001010123456789 stat:DELIVRD mccmnc:64002 err:000").unwrap();
        assert_eq!(r.stat, Some(ReceiptState::Delivered));
        assert_eq!(r.err, some("000"));
    }

    #[test]
    fn the_first_occurrence_wins() {
        let r = parse(b"id:1 id:2 stat:ENROUTE stat:DELIVRD").unwrap();
        assert_eq!(r.id, some("1"));
        assert_eq!(r.stat, Some(ReceiptState::Enroute));
    }

    #[test]
    fn debug_hides_the_text() {
        let r = parse(b"id:1 stat:DELIVRD text:Your code is 482915").unwrap();
        let shown = format!("{r:?}");
        assert!(!shown.contains("482915"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert!(shown.contains("Delivered"));
    }

    #[test]
    fn message_state_values() {
        use ReceiptState::*;
        let expected = [
            (1, Enroute),
            (2, Delivered),
            (3, Expired),
            (4, Deleted),
            (5, Undeliverable),
            (6, Accepted),
            (7, Unknown),
            (8, Rejected),
            (9, Skipped),
        ];
        for (value, state) in expected {
            assert_eq!(ReceiptState::from_message_state(value), Some(state));
        }
        for value in [0, 10, 255] {
            assert_eq!(ReceiptState::from_message_state(value), None);
        }
    }

    #[test]
    fn stat_words() {
        use ReceiptState::*;
        let expected = [
            ("DELIVRD", Delivered),
            ("delivered", Delivered),
            ("EXPIRED", Expired),
            ("DELETED", Deleted),
            ("UNDELIV", Undeliverable),
            ("Undeliverable", Undeliverable),
            ("ACCEPTD", Accepted),
            ("accepted", Accepted),
            ("UNKNOWN", Unknown),
            ("REJECTD", Rejected),
            ("REJECTED", Rejected),
            ("ENROUTE", Enroute),
            ("SKIPPED", Skipped),
            (" delivrd ", Delivered),
        ];
        for (word, state) in expected {
            assert_eq!(ReceiptState::from_stat(word), Some(state), "{word}");
        }
        for word in ["", "DELIV", "OK", "2"] {
            assert_eq!(ReceiptState::from_stat(word), None, "{word}");
        }
    }
}
