//! The digester: the modem's byte stream in, [`Item`]s out, in arrival order.
//!
//! It cuts lines at `\r`, `\n` or `\r\n` and classifies each one; the only things it
//! remembers between calls are the echo it expects, the command in progress and a URC
//! header still waiting for its PDU line:
//!
//! ```text
//!            +CDS: <len> / +CMT: / +CBM:
//!   Idle ───────────────────────────────► AwaitPdu(header)
//!    ▲                                        │ next line: Urc{pdu: Some(line)}
//!    └────────────────────────────────────────┤ a final or a URC instead:
//!                                             │ Urc{pdu: None}, then that line
//! ```
//!
//! Bytes that cannot start a line (controls, spaces, DEL, non-ASCII, NUL) are dropped
//! where a line would begin, so garbage before a line never becomes part of it. A result is
//! a [`Final`] only when the whole line is one, so `xOK` is a line, not `OK`. A line that
//! grows past [`MAX_LINE`] bytes without ending is dropped up to its line end, which keeps
//! the buffer bounded against a stream of noise.
//!
//! Nothing here depends on how the bytes were split into calls: feeding one byte at a time
//! gives the same items as feeding everything at once.

use super::urc::{self, Follow};
use super::{Final, Item, Urc};

/// The longest line kept, in bytes. A PDU line is at most about 360 hex digits and a
/// UCS-2 `+CUSD:` about 750; anything longer is noise.
pub const MAX_LINE: usize = 4096;

/// Cuts AT responses and URCs out of the modem's byte stream. See the module doc.
#[derive(Debug, Default)]
pub struct Digester {
    /// The echo of the command last written, dropped when it comes back. Cleared by that
    /// echo, by a final result or by a prompt, so an echo that never comes (`ATE0`) is
    /// forgotten with its command.
    echo: Option<String>,
    /// The command in progress, from [`Digester::expect_echo`] to its final result: it
    /// decides whether a read's answer (`+CREG: 0,1` to `AT+CREG?`) is a line or a URC.
    command: Option<String>,
    /// A URC header whose PDU line has not arrived yet.
    awaiting_pdu: Option<Urc>,
    /// Inside a line longer than [`MAX_LINE`]: drop bytes up to the next line end.
    discarding: bool,
}

impl Digester {
    /// A digester with nothing expected and nothing pending.
    pub fn new() -> Digester {
        Digester::default()
    }

    /// Announces a command about to be written, so that its echo is dropped and its
    /// answers are read as its own. Also usable for the PDU written after the prompt (with
    /// or without its Ctrl-Z), whose echo some modems send back.
    pub fn expect_echo(&mut self, command: &str) {
        let command = command.trim_end_matches(|c: char| c.is_ascii_whitespace() || c == '\x1a');
        let command = command.trim_start();
        if command.is_empty() {
            self.echo = None;
        } else {
            self.echo = Some(command.to_owned());
            self.command = Some(command.to_owned());
        }
    }

    /// Consumes what it can from `buf`, draining the consumed bytes, and returns the items
    /// found. A partial line stays in `buf` for the next call, as does a lone `>` that may
    /// yet become the prompt.
    pub fn feed(&mut self, buf: &mut Vec<u8>) -> Vec<Item> {
        let mut items = Vec::new();
        let mut used = 0;
        loop {
            let rest = buf.get(used..).unwrap_or_default();
            if self.discarding {
                match rest.iter().position(|&b| is_line_end(b)) {
                    Some(end) => {
                        used += end;
                        self.discarding = false;
                    }
                    None => {
                        used += rest.len();
                        break;
                    }
                }
                continue;
            }
            let junk = rest.iter().take_while(|&&b| !starts_line(b)).count();
            if junk > 0 {
                used += junk;
                continue;
            }
            match rest {
                [] | [b'>'] => break,
                [b'>', b' ', ..] => {
                    used += 2;
                    self.prompt(&mut items);
                    continue;
                }
                _ => {}
            }
            let window = rest.get(..=MAX_LINE).unwrap_or(rest);
            match window.iter().position(|&b| is_line_end(b)) {
                Some(end) => {
                    self.line(window.get(..end).unwrap_or_default(), &mut items);
                    used += end + 1;
                }
                None if window.len() > MAX_LINE => {
                    used += window.len();
                    self.discarding = true;
                }
                None => break,
            }
        }
        buf.drain(..used.min(buf.len()));
        items
    }

    fn prompt(&mut self, items: &mut Vec<Item>) {
        self.echo = None;
        items.push(Item::Prompt);
    }

    /// Handles one complete line, without its line end; it starts with a printable byte.
    fn line(&mut self, raw: &[u8], items: &mut Vec<Item>) {
        let keep = raw
            .iter()
            .rposition(|&b| b > b' ' && b != 0x7f)
            .map_or(0, |last| last + 1);
        let text = String::from_utf8_lossy(raw.get(..keep).unwrap_or_default()).into_owned();
        if text.is_empty() {
            return;
        }
        if text == ">" {
            // The prompt as a line of its own, from modems that end it with a line end.
            self.prompt(items);
            return;
        }
        let fin = final_result(&text);
        let urc = match fin {
            Some(_) => None,
            None => urc::classify(&text, self.command.as_deref()),
        };
        if let Some(mut header) = self.awaiting_pdu.take() {
            if fin.is_none() && urc.is_none() {
                header.pdu = Some(text);
                items.push(Item::Urc(header));
                return;
            }
            // The PDU never came: hand over the header alone rather than swallow a result.
            items.push(Item::Urc(header));
        }
        if let Some(fin) = fin {
            self.echo = None;
            self.command = None;
            items.push(Item::Final(fin));
            return;
        }
        if self
            .echo
            .as_deref()
            .is_some_and(|echo| echo.eq_ignore_ascii_case(&text))
        {
            self.echo = None;
            return;
        }
        match urc {
            Some((header, Follow::Pdu)) => self.awaiting_pdu = Some(header),
            Some((urc, Follow::Nothing)) => items.push(Item::Urc(urc)),
            None => items.push(Item::Line(text)),
        }
    }
}

fn is_line_end(b: u8) -> bool {
    b == b'\r' || b == b'\n'
}

/// Whether `b` may begin a line: printable ASCII other than the space.
fn starts_line(b: u8) -> bool {
    b.is_ascii_graphic()
}

/// The final result that `line` is in its entirety, if any.
fn final_result(line: &str) -> Option<Final> {
    match line {
        "OK" => return Some(Final::Ok),
        "ERROR" => return Some(Final::Error),
        "NO CARRIER" | "BUSY" | "NO ANSWER" | "NO DIALTONE" => {
            return Some(Final::Other(line.to_owned()));
        }
        _ => {}
    }
    if let Some(code) = line.strip_prefix("+CMS ERROR:") {
        return Some(match code.trim().parse::<u16>() {
            Ok(n) => Final::CmsError(n),
            Err(_) => Final::Other(line.to_owned()),
        });
    }
    if let Some(code) = line.strip_prefix("+CME ERROR:") {
        let code = code.trim();
        return Some(
            if code.bytes().all(|b| b.is_ascii_digit()) && !code.is_empty() {
                match code.parse::<u16>() {
                    Ok(n) => Final::CmeError(n),
                    Err(_) => Final::Other(line.to_owned()),
                }
            } else {
                Final::CmeErrorText(code.to_owned())
            },
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One step of a conversation: the command announced (if any), then the bytes read.
    type Step<'a> = (Option<&'a str>, &'a [u8]);

    fn run(steps: &[Step], chunk: usize) -> (Vec<Item>, Vec<u8>) {
        let mut d = Digester::new();
        let mut buf = Vec::new();
        let mut items = Vec::new();
        for (echo, bytes) in steps {
            if let Some(cmd) = echo {
                d.expect_echo(cmd);
            }
            for piece in bytes.chunks(chunk.max(1)) {
                buf.extend_from_slice(piece);
                items.extend(d.feed(&mut buf));
                assert!(buf.len() <= MAX_LINE + 1, "buffer grew to {}", buf.len());
            }
        }
        (items, buf)
    }

    /// Digests `steps` whole, one byte at a time and in chunks of 2, 3 and 7, checks that all
    /// give the same items and leftover, and returns them.
    fn digest_steps(steps: &[Step]) -> (Vec<Item>, Vec<u8>) {
        let whole = run(steps, usize::MAX);
        for chunk in [1, 2, 3, 7] {
            assert_eq!(run(steps, chunk), whole, "chunks of {chunk} differ");
        }
        whole
    }

    fn digest(input: &[u8]) -> Vec<Item> {
        let (items, rest) = digest_steps(&[(None, input)]);
        assert!(rest.is_empty(), "left over: {rest:?}");
        items
    }

    fn line(s: &str) -> Item {
        Item::Line(s.to_owned())
    }

    fn urc(name: &str, text: &str, pdu: Option<&str>) -> Item {
        Item::Urc(Urc {
            name: name.into(),
            text: text.into(),
            pdu: pdu.map(Into::into),
        })
    }

    const PDU: &str = "07919471060040340006D60B911326880736F4111011715421401110117154214000";

    #[test]
    fn every_final() {
        let input = b"OK\r\nERROR\r\n+CMS ERROR: 500\r\n+CME ERROR: 10\r\n\
            +CME ERROR: SIM not inserted\r\nNO CARRIER\r\nBUSY\r\nNO ANSWER\r\nNO DIALTONE\r\n\
            +CMS ERROR: unknown\r\n+CME ERROR: 70000\r\n";
        assert_eq!(
            digest(input),
            vec![
                Item::Final(Final::Ok),
                Item::Final(Final::Error),
                Item::Final(Final::CmsError(500)),
                Item::Final(Final::CmeError(10)),
                Item::Final(Final::CmeErrorText("SIM not inserted".into())),
                Item::Final(Final::Other("NO CARRIER".into())),
                Item::Final(Final::Other("BUSY".into())),
                Item::Final(Final::Other("NO ANSWER".into())),
                Item::Final(Final::Other("NO DIALTONE".into())),
                Item::Final(Final::Other("+CMS ERROR: unknown".into())),
                Item::Final(Final::Other("+CME ERROR: 70000".into())),
            ]
        );
    }

    #[test]
    fn cms_error_500() {
        assert_eq!(
            digest(b"\r\n+CMS ERROR: 500\r\n"),
            vec![Item::Final(Final::CmsError(500))]
        );
    }

    #[test]
    fn cme_error_text() {
        assert_eq!(
            digest(b"\r\n+CME ERROR: SIM not inserted\r\n"),
            vec![Item::Final(Final::CmeErrorText("SIM not inserted".into()))]
        );
    }

    #[test]
    fn info_lines_then_ok() {
        assert_eq!(
            digest(b"\r\nQuectel\r\nEC25\r\nRevision: EC25EFAR06A06M4G\r\n\r\nOK\r\n"),
            vec![
                line("Quectel"),
                line("EC25"),
                line("Revision: EC25EFAR06A06M4G"),
                Item::Final(Final::Ok)
            ]
        );
    }

    #[test]
    fn echo_is_dropped() {
        let (items, rest) =
            digest_steps(&[(Some("AT+CSQ\r"), b"AT+CSQ\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n")]);
        assert_eq!(items, vec![line("+CSQ: 21,99"), Item::Final(Final::Ok)]);
        assert!(rest.is_empty());
    }

    #[test]
    fn echo_is_expected_once() {
        // The second "AT" is not an echo any more: it is a line.
        let (items, _) = digest_steps(&[(Some("AT"), b"AT\r\r\nOK\r\nAT\r\n")]);
        assert_eq!(items, vec![Item::Final(Final::Ok), line("AT")]);
        // An echo that never came (ATE0) is forgotten at the final result.
        let (items, _) = digest_steps(&[(Some("AT+CSQ"), b"\r\nOK\r\nAT+CSQ\r\n")]);
        assert_eq!(items, vec![Item::Final(Final::Ok), line("AT+CSQ")]);
    }

    #[test]
    fn garbage_prefix_is_discarded() {
        let (items, rest) =
            digest_steps(&[(Some("AT"), b"\x00\xff\xfeAT\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n")]);
        assert_eq!(items, vec![line("+CSQ: 21,99"), Item::Final(Final::Ok)]);
        assert!(rest.is_empty());
        assert_eq!(
            digest(b"\x00\x00\xff\x80\x1a\x7f  \tOK\r\n"),
            vec![Item::Final(Final::Ok)]
        );
    }

    #[test]
    fn garbage_never_merges_into_a_final() {
        assert_eq!(digest(b"xOK\r\n"), vec![line("xOK")]);
        assert_eq!(digest(b"\xffzERROR\r\n"), vec![line("zERROR")]);
        assert_eq!(digest(b"OK\xff\r\n"), vec![line("OK\u{fffd}")]);
        assert_eq!(digest(b"+CSQ: 2\x001\r\n"), vec![line("+CSQ: 2\x001")]);
    }

    #[test]
    fn line_endings_are_tolerated() {
        assert_eq!(
            digest(b"+CSQ: 1,2\nOK\r+CSQ: 3,4\n\rOK\r\n\n\r\r"),
            vec![
                line("+CSQ: 1,2"),
                Item::Final(Final::Ok),
                line("+CSQ: 3,4"),
                Item::Final(Final::Ok)
            ]
        );
    }

    #[test]
    fn prompt_then_cmgs_result() {
        let (items, rest) = digest_steps(&[
            (Some("AT+CMGS=23\r"), b"AT+CMGS=23\r\r\n> "),
            (
                Some("0011000B91\x1a"),
                b"0011000B91\x1a\r\n+CMGS: 5\r\n\r\nOK\r\n",
            ),
        ]);
        assert_eq!(
            items,
            vec![Item::Prompt, line("+CMGS: 5"), Item::Final(Final::Ok)]
        );
        assert!(rest.is_empty());
        assert_eq!(
            digest(b"\r\n> \r\n+CMGS: 5\r\n\r\nOK\r\n"),
            vec![Item::Prompt, line("+CMGS: 5"), Item::Final(Final::Ok)]
        );
    }

    #[test]
    fn prompt_followed_by_nothing() {
        assert_eq!(digest(b"\r\n> "), vec![Item::Prompt]);
        // A lone '>' waits: it may yet become the prompt.
        let (items, rest) = digest_steps(&[(None, b"\r\n>")]);
        assert_eq!((items, rest), (vec![], b">".to_vec()));
        // Some modems end the prompt with a line end.
        assert_eq!(digest(b"\r\n>\r\n"), vec![Item::Prompt]);
        assert_eq!(digest(b">x\r\n"), vec![line(">x")]);
    }

    #[test]
    fn cds_with_its_pdu_is_one_urc() {
        let input = format!("\r\n+CDS: 25\r\n{PDU}\r\n");
        assert_eq!(digest(input.as_bytes()), vec![urc("+CDS", "25", Some(PDU))]);
    }

    #[test]
    fn cds_split_across_feeds_waits_for_its_pdu() {
        let mut d = Digester::new();
        let mut buf = b"\r\n+CDS: 25\r\n".to_vec();
        assert_eq!(d.feed(&mut buf), vec![]);
        assert!(buf.is_empty());
        buf.extend_from_slice(&PDU.as_bytes()[..10]);
        assert_eq!(d.feed(&mut buf), vec![]);
        buf.extend_from_slice(&PDU.as_bytes()[10..]);
        buf.extend_from_slice(b"\r\n");
        assert_eq!(d.feed(&mut buf), vec![urc("+CDS", "25", Some(PDU))]);
        assert!(buf.is_empty());
    }

    #[test]
    fn cmt_and_text_mode_cds() {
        let input = format!(
            "\r\n+CMT: ,24\r\n{PDU}\r\n\r\n+CDS: 6,46,\"+4912345\",145,\"26/11/22,05:05:40+04\"\r\n"
        );
        assert_eq!(
            digest(input.as_bytes()),
            vec![
                urc("+CMT", ",24", Some(PDU)),
                urc(
                    "+CDS",
                    "6,46,\"+4912345\",145,\"26/11/22,05:05:40+04\"",
                    None
                ),
            ]
        );
    }

    #[test]
    fn header_without_pdu_does_not_swallow_a_result() {
        assert_eq!(
            digest(b"+CDS: 25\r\nOK\r\n"),
            vec![urc("+CDS", "25", None), Item::Final(Final::Ok)]
        );
        assert_eq!(
            digest(b"+CMT: ,24\r\n+CMTI: \"SM\",1\r\n"),
            vec![urc("+CMT", ",24", None), urc("+CMTI", "\"SM\",1", None)]
        );
    }

    #[test]
    fn urc_between_info_and_ok() {
        let (items, _) = digest_steps(&[(
            Some("AT+CSQ"),
            b"AT+CSQ\r\r\n+CSQ: 21,99\r\n\r\n+CMTI: \"SM\",3\r\n\r\nOK\r\n",
        )]);
        assert_eq!(
            items,
            vec![
                line("+CSQ: 21,99"),
                urc("+CMTI", "\"SM\",3", None),
                Item::Final(Final::Ok)
            ]
        );
        let input = format!("+CSQ: 21,99\r\n\r\n+CDS: 25\r\n{PDU}\r\n\r\nOK\r\n");
        assert_eq!(
            digest(input.as_bytes()),
            vec![
                line("+CSQ: 21,99"),
                urc("+CDS", "25", Some(PDU)),
                Item::Final(Final::Ok)
            ]
        );
    }

    #[test]
    fn every_urc_kind() {
        let input = b"\r\n+CDSI: \"SM\",4\r\n^RSSI:17\r\n^BOOT:1234,0,0,0,72\r\n^MODE:5,4\r\n\
            ^HCSQ:\"LTE\",50,40,120,20\r\nRING\r\n+CREG: 1\r\n+CEREG: 5\r\n\
            +CUSD: 0,\"Balance 5.00\",15\r\n+CIEV: 2,3\r\nRDY\r\n";
        assert_eq!(
            digest(input),
            vec![
                urc("+CDSI", "\"SM\",4", None),
                urc("^RSSI", "17", None),
                urc("^BOOT", "1234,0,0,0,72", None),
                urc("^MODE", "5,4", None),
                urc("^HCSQ", "\"LTE\",50,40,120,20", None),
                urc("RING", "", None),
                urc("+CREG", "1", None),
                urc("+CEREG", "5", None),
                urc("+CUSD", "0,\"Balance 5.00\",15", None),
                urc("+CIEV", "2,3", None),
                urc("RDY", "", None),
            ]
        );
    }

    #[test]
    fn cpin_and_cmgs_are_lines() {
        assert_eq!(
            digest(b"\r\n+CPIN: READY\r\n+CMGS: 12\r\n"),
            vec![line("+CPIN: READY"), line("+CMGS: 12")]
        );
    }

    #[test]
    fn read_answer_is_a_line_until_its_final() {
        let (items, _) = digest_steps(&[
            (
                Some("AT+CREG?"),
                b"\r\n+CREG: 0,1\r\n\r\nOK\r\n+CREG: 1\r\n",
            ),
            (Some("AT+CSQ"), b"\r\n+CREG: 5\r\n+CSQ: 9,99\r\nOK\r\n"),
        ]);
        assert_eq!(
            items,
            vec![
                line("+CREG: 0,1"),
                Item::Final(Final::Ok),
                urc("+CREG", "1", None),
                urc("+CREG", "5", None),
                line("+CSQ: 9,99"),
                Item::Final(Final::Ok),
            ]
        );
    }

    #[test]
    fn overlong_line_is_dropped() {
        let mut input = vec![b'A'; MAX_LINE * 3];
        input.extend_from_slice(b"\r\nOK\r\n");
        assert_eq!(digest(&input), vec![Item::Final(Final::Ok)]);
        let mut exact = vec![b'B'; MAX_LINE];
        exact.extend_from_slice(b"\r\n");
        assert_eq!(digest(&exact), vec![line(&"B".repeat(MAX_LINE))]);
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// The text that input must hold for `fin` to come out of it.
    fn text_of_final(fin: &Final) -> &'static str {
        match fin {
            Final::Ok => "OK",
            Final::Error | Final::CmsError(_) | Final::CmeError(_) | Final::CmeErrorText(_) => {
                "ERROR"
            }
            Final::Other(_) => "",
        }
    }

    fn contains(hay: &[u8], needle: &str) -> bool {
        hay.windows(needle.len().max(1))
            .any(|w| w == needle.as_bytes())
    }

    #[test]
    fn random_bytes_never_panic_nor_make_finals() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut finals = 0;
        // Any byte, a small alphabet that builds near-results, and one with no O/K/E/R.
        let alphabets: [&[u8]; 2] = [
            b"OKER \r\n>+CMSE:0123,\x00\xff",
            b"ABCD \r\n>+:^019\x00\xfe\x1a",
        ];
        for round in 0..300 {
            let len = (rng.next() % 3000) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    let r = rng.next();
                    match round % 3 {
                        0 => r as u8,
                        n => {
                            let a = alphabets[n - 1];
                            a[(r as usize) % a.len()]
                        }
                    }
                })
                .collect();
            let (items, _) = digest_steps(&[(None, &input)]);
            for item in &items {
                if let Item::Final(fin) = item {
                    finals += 1;
                    let text = text_of_final(fin);
                    match fin {
                        Final::Other(line) => assert!(contains(&input, line)),
                        _ => assert!(contains(&input, text), "{fin:?} from {input:?}"),
                    }
                }
            }
            if !contains(&input, "OK") && !contains(&input, "ERROR") {
                assert!(
                    !items.iter().any(|i| matches!(i, Item::Final(_))),
                    "final from garbage: {items:?}"
                );
            }
        }
        // The near-result alphabet does build real results now and then.
        assert!(finals > 0);
    }
}
