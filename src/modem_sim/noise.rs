//! Unsolicited noise, as USB sticks send it unasked: signal and mode reports, a boot
//! notice, a ring, a registration change, and now and then a line of garbage bytes (not
//! UTF-8, with controls) such as a stick prints while it resets. Drawn from a seeded
//! generator so that a test sees the same noise every run.

/// A small deterministic generator (xorshift64*); quality is not a concern here.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is xorshift's fixed point.
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next().checked_rem(n).unwrap_or(0)
    }
}

const LINES: &[&str] = &[
    "^RSSI: 17",
    "^BOOT:20952872,0,0,0,72",
    "RING",
    "+CREG: 1",
    "^MODE: 5,4",
];

/// Bytes a garbage line is made of: high bytes (never valid UTF-8 alone), controls and a
/// few printables. No line ends and no `>`, so garbage never ends a line early or looks
/// like the `> ` prompt.
const GARBAGE: &[u8] = &[
    0x80, 0x9F, 0xA0, 0xC3, 0xE2, 0xF8, 0xFE, 0xFF, 0x00, 0x07, 0x1B, 0x7F, b'~', b'#', b'x', b'!',
    b' ',
];

/// One unsolicited line, with its `\r\n` around it as a modem sends result codes.
pub(super) fn pick(rng: &mut Rng) -> Vec<u8> {
    // One time in six: garbage, 3 to 18 bytes of it.
    let choice = usize::try_from(rng.below(LINES.len() as u64 + 1)).unwrap_or(0);
    let body: Vec<u8> = match LINES.get(choice) {
        Some(line) => line.as_bytes().to_vec(),
        None => {
            let len = 3 + rng.below(16);
            (0..len)
                .map(|_| {
                    let i = usize::try_from(rng.below(GARBAGE.len() as u64)).unwrap_or(0);
                    GARBAGE.get(i).copied().unwrap_or(b'~')
                })
                .collect()
        }
    };
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(b"\r\n");
    out.extend(body);
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_every_kind_and_is_deterministic() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let picks: Vec<Vec<u8>> = (0..200).map(|_| pick(&mut a)).collect();
        let again: Vec<Vec<u8>> = (0..200).map(|_| pick(&mut b)).collect();
        assert_eq!(picks, again);
        for line in LINES {
            assert!(
                picks
                    .iter()
                    .any(|p| p.get(2..p.len() - 2) == Some(line.as_bytes())),
                "{line}"
            );
        }
        let garbage: Vec<&Vec<u8>> = picks
            .iter()
            .filter(|p| std::str::from_utf8(p).is_err())
            .collect();
        assert!(!garbage.is_empty());
        for p in &picks {
            let inner = &p[2..p.len() - 2];
            assert!(!inner.iter().any(|&b| b == b'\r' || b == b'\n' || b == b'>'));
        }
        assert_eq!(Rng::new(0).below(0), 0);
    }
}
