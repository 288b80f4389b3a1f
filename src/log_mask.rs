//! How log lines show a phone number: masked (`+2557****678`) by default, so that logs can be
//! read, shipped and kept without telling whom codes went to; whole with
//! `[log] recipients = "full"` (applied at start and on SIGHUP).

use std::sync::atomic::{AtomicBool, Ordering};

static FULL: AtomicBool = AtomicBool::new(false);

/// Whether log lines show whole numbers from now on.
pub fn show_full(full: bool) {
    FULL.store(full, Ordering::Relaxed);
}

/// `recipient` as a log line shows it.
pub fn recipient(recipient: &str) -> String {
    if FULL.load(Ordering::Relaxed) {
        recipient.to_string()
    } else {
        mask(recipient)
    }
}

/// The country code and the last three digits: `+2557****678`.
pub fn mask(recipient: &str) -> String {
    let chars: Vec<char> = recipient.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars.iter().take(5).collect();
    let tail: String = chars.iter().skip(chars.len() - 3).collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_but_the_country_and_the_last_three_digits() {
        assert_eq!(mask("+255712345678"), "+2557****678");
        assert_eq!(mask("+4479"), "*****");
        assert_eq!(mask(""), "");
    }
}
