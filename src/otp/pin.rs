//! Random codes and identifiers from ChaCha20 seeded by the operating system.

use crate::secret::Secret;
use base64::Engine as _;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use std::sync::Mutex;

/// Code lengths the API accepts.
pub const LENGTHS: std::ops::RangeInclusive<u8> = 4..=10;

/// The one CSPRNG of the process. A mutex is enough: drawing a code takes well under a
/// microsecond, and it is never held across an await.
pub struct Randomness {
    rng: Mutex<ChaCha20Rng>,
}

impl Randomness {
    /// Seeds ChaCha20 from the OS.
    pub fn from_os() -> Result<Randomness, String> {
        Ok(Randomness {
            rng: Mutex::new(ChaCha20Rng::try_from_os_rng().map_err(|e| e.to_string())?),
        })
    }

    /// Seeded with a fixed value: for tests only, where a known sequence helps.
    pub fn from_seed(seed: [u8; 32]) -> Randomness {
        Randomness {
            rng: Mutex::new(ChaCha20Rng::from_seed(seed)),
        }
    }

    fn fill(&self, buf: &mut [u8]) {
        // A poisoned lock only means another thread panicked mid-draw; the generator state is
        // still a valid ChaCha20 state, so keep using it.
        let mut rng = match self.rng.lock() {
            Ok(rng) => rng,
            Err(poisoned) => poisoned.into_inner(),
        };
        rng.fill_bytes(buf);
    }

    /// A code of `length` decimal digits, each uniform over 0-9: bytes of 250 or more are
    /// rejected, so every digit comes from one of 25 equal-sized groups of byte values and no
    /// digit is more likely than another.
    pub fn code(&self, length: u8) -> Secret {
        let length = length.clamp(*LENGTHS.start(), *LENGTHS.end()) as usize;
        let mut code = String::with_capacity(length);
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        while code.len() < length {
            self.fill(&mut bytes[..]);
            for b in bytes.iter().filter(|b| **b < 250) {
                if code.len() == length {
                    break;
                }
                code.push(char::from(b'0' + b % 10));
            }
        }
        Secret::new(code)
    }

    /// `n` random bytes as unpadded URL-safe base64.
    pub fn token(&self, n: usize) -> String {
        let mut bytes = vec![0u8; n];
        self.fill(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A verification id: the creation time in milliseconds (12 hex digits) then 128 random
    /// bits (32 hex digits). The time prefix makes new ids sort last, so the database appends
    /// to its indexes instead of touching a random page per send; the random part makes them
    /// unguessable. Hex rather than base64 so an id never starts with '-' (which command lines
    /// read as an option) and survives case-folding.
    pub fn verification_id(&self, now: crate::model::Timestamp) -> String {
        use std::fmt::Write;
        let mut bytes = [0u8; 16];
        self.fill(&mut bytes);
        let mut id = format!("{:012x}", now.0.clamp(0, 0xffff_ffff_ffff));
        for b in bytes {
            let _ = write!(id, "{b:02x}");
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_asked_length_and_only_digits() {
        let r = Randomness::from_os().unwrap();
        for len in LENGTHS {
            let c = r.code(len);
            assert_eq!(c.expose().len(), len as usize);
            assert!(c.expose().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn digits_are_uniform() {
        // 200,000 digits: each count should be 20,000 with a standard deviation of about 134.
        // A chi-square test over 10 buckets (9 degrees of freedom) stays under 27.9 with
        // probability 0.999; with a fixed seed the outcome is also reproducible.
        let r = Randomness::from_seed([7; 32]);
        let mut counts = [0u32; 10];
        for _ in 0..20_000 {
            for b in r.code(10).expose().bytes() {
                counts[(b - b'0') as usize] += 1;
            }
        }
        let expected = 20_000.0;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 27.9, "chi-square {chi2} for counts {counts:?}");
    }

    #[test]
    fn verification_ids_are_time_ordered_hex_and_distinct() {
        let r = Randomness::from_os().unwrap();
        let a = r.verification_id(crate::model::Timestamp(1_700_000_000_000));
        let b = r.verification_id(crate::model::Timestamp(1_700_000_000_001));
        let c = r.verification_id(crate::model::Timestamp(1_700_000_000_001));
        assert_eq!(a.len(), 44);
        assert!(a.starts_with("018bcfe56800") && a < b && b != c);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
