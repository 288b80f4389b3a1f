//! A command line as a modem reads it (ITU-T V.250 §5.2): the `AT` prefix in either case,
//! then basic commands (`E0`, `&F`, `S7=60`, `I`) and extended ones (`+CMGF=0`, `^CURC?`),
//! extended ones separated by `;`. Names are upper-cased; arguments keep their case.

/// What is asked of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op<'a> {
    /// `+CSQ`, `E1`, `Z`: the value after a basic command's letter (may be empty).
    Exec(&'a str),
    /// `+CREG?`, `S3?`.
    Read,
    /// `+CMGF=?`.
    Test,
    /// `+CMGF=0`, `S0=1`: what follows `=`.
    Set(&'a str),
}

/// One command of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cmd<'a> {
    /// `+CMGS`, `^CURC`, `E`, `&F`, `S7`, `I`.
    pub name: String,
    pub op: Op<'a>,
}

/// The commands of `line` (without its line end), or `None` when it does not start with
/// `AT` or does not parse; the modem answers `ERROR` then.
pub(super) fn parse(line: &str) -> Option<Vec<Cmd<'_>>> {
    let line = line.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
    let prefix = line.get(..2)?;
    if !prefix.eq_ignore_ascii_case("AT") {
        return None;
    }
    let mut rest = line.get(2..)?;
    let mut cmds = Vec::new();
    while let Some(c) = rest.chars().next() {
        let (cmd, after) = match c {
            ' ' | ';' => (None, rest.get(1..)?),
            '+' | '^' | '$' | '%' | '*' | '#' => {
                let (cmd, after) = extended(rest)?;
                (Some(cmd), after)
            }
            _ => {
                let (cmd, after) = basic(rest)?;
                (Some(cmd), after)
            }
        };
        cmds.extend(cmd);
        rest = after;
    }
    Some(cmds)
}

/// `+NAME`, then `=?`, `?`, `=args` (to `;` outside quotes) or nothing.
fn extended(s: &str) -> Option<(Cmd<'_>, &str)> {
    let name_len = 1 + s
        .get(1..)?
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(s.len() - 1);
    if name_len < 2 {
        return None;
    }
    let name = s.get(..name_len)?.to_ascii_uppercase();
    let rest = s.get(name_len..)?;
    let (op, rest) = if let Some(rest) = rest.strip_prefix("=?") {
        (Op::Test, rest)
    } else if let Some(rest) = rest.strip_prefix('?') {
        (Op::Read, rest)
    } else if let Some(rest) = rest.strip_prefix('=') {
        let end = argument_end(rest)?;
        (Op::Set(rest.get(..end)?.trim()), rest.get(end..)?)
    } else {
        (Op::Exec(""), rest)
    };
    match rest.chars().next() {
        None | Some(';') | Some(' ') => Some((Cmd { name, op }, rest)),
        Some(_) => None,
    }
}

/// Where the arguments starting at `s` end: at a `;` outside quotes, or the end.
/// `None` when a quote is left open.
fn argument_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return Some(i),
            _ => {}
        }
    }
    (!quoted).then_some(s.len())
}

/// A basic command: a letter (or `&` and a letter), or `Sn` with `=v` / `?`, and its
/// decimal value. `D` takes the rest of the line, as dialling does.
fn basic(s: &str) -> Option<(Cmd<'_>, &str)> {
    let first = s.chars().next()?.to_ascii_uppercase();
    let (name_len, name) = match first {
        '&' => {
            let letter = s.get(1..2)?;
            if !letter.chars().all(|c| c.is_ascii_alphabetic()) {
                return None;
            }
            (2, format!("&{}", letter.to_ascii_uppercase()))
        }
        'D' => {
            return Some((
                Cmd {
                    name: "D".to_owned(),
                    op: Op::Exec(s.get(1..)?),
                },
                "",
            ));
        }
        'S' => {
            let digits = s
                .get(1..)?
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(s.len() - 1);
            if digits == 0 {
                return None;
            }
            (1 + digits, s.get(..1 + digits)?.to_ascii_uppercase())
        }
        c if c.is_ascii_alphabetic() => (1, c.to_string()),
        _ => return None,
    };
    let rest = s.get(name_len..)?;
    if name.starts_with('S') {
        if let Some(rest) = rest.strip_prefix('?') {
            return Some((Cmd { name, op: Op::Read }, rest));
        }
        let rest = rest.strip_prefix('=')?;
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let op = Op::Set(rest.get(..end)?);
        return Some((Cmd { name, op }, rest.get(end..)?));
    }
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let op = Op::Exec(rest.get(..end)?);
    Some((Cmd { name, op }, rest.get(end..)?))
}

/// The comma-separated arguments of `Set`, trimmed, with quotes removed.
pub(super) fn args(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(unquote(s.get(start..i).unwrap_or_default()));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(unquote(s.get(start..).unwrap_or_default()));
    out
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// A numeric argument; `None` when absent or not a number.
pub(super) fn number(arg: Option<&&str>) -> Option<u32> {
    arg.and_then(|a| a.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str, op: Op<'static>) -> Cmd<'static> {
        Cmd {
            name: name.to_owned(),
            op,
        }
    }

    #[test]
    fn single_commands() {
        let table: &[(&str, Vec<Cmd>)] = &[
            ("AT", vec![]),
            ("at", vec![]),
            ("aT+cmgf=0", vec![cmd("+CMGF", Op::Set("0"))]),
            ("AT+CREG?", vec![cmd("+CREG", Op::Read)]),
            ("AT+CMGF=?", vec![cmd("+CMGF", Op::Test)]),
            ("AT+CSQ", vec![cmd("+CSQ", Op::Exec(""))]),
            ("ATE0", vec![cmd("E", Op::Exec("0"))]),
            ("ATZ", vec![cmd("Z", Op::Exec(""))]),
            ("AT&F", vec![cmd("&F", Op::Exec(""))]),
            ("ATS7=60", vec![cmd("S7", Op::Set("60"))]),
            ("ATS3?", vec![cmd("S3", Op::Read)]),
            ("AT$TSSPCSW=?", vec![cmd("$TSSPCSW", Op::Test)]),
            ("AT^CURC=0", vec![cmd("^CURC", Op::Set("0"))]),
            (
                "AT+CPIN=\"12;34\"",
                vec![cmd("+CPIN", Op::Set("\"12;34\""))],
            ),
            ("ATD*99#", vec![cmd("D", Op::Exec("*99#"))]),
            ("  AT  \r", vec![]),
        ];
        for (line, want) in table {
            assert_eq!(parse(line).as_ref(), Some(want), "{line}");
        }
    }

    #[test]
    fn chains() {
        assert_eq!(
            parse("ATE0V1&FI3").unwrap(),
            [
                cmd("E", Op::Exec("0")),
                cmd("V", Op::Exec("1")),
                cmd("&F", Op::Exec("")),
                cmd("I", Op::Exec("3")),
            ]
        );
        assert_eq!(
            parse("AT+CMGF=0;+CNMI=2,1,0,1,0;E0").unwrap(),
            [
                cmd("+CMGF", Op::Set("0")),
                cmd("+CNMI", Op::Set("2,1,0,1,0")),
                cmd("E", Op::Exec("0")),
            ]
        );
    }

    #[test]
    fn refused_lines() {
        for bad in [
            "",
            "A",
            "hello",
            "XAT",
            "AT+",
            "AT+CPIN=\"12",
            "AT+CSQ?x",
            "AT&",
            "AT&1",
            "ATS=1",
            "ATS7",
            "AT!",
            "AT\u{e9}",
            "\u{e9}AT",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn arguments() {
        assert_eq!(args("2,1,0,1,0"), ["2", "1", "0", "1", "0"]);
        assert_eq!(args("\"+255,1\", 145"), ["+255,1", "145"]);
        assert_eq!(args(""), [""]);
        assert_eq!(args("\"SM\",\"SM\""), ["SM", "SM"]);
        assert_eq!(number(args("7").first()), Some(7));
        assert_eq!(number(args("x").first()), None);
        assert_eq!(number(None), None);
    }
}
