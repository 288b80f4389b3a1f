//! Passwords and PINs: given inline or read from a file, never printed.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::locate::{ConfigError, Locator};

pub use crate::secret::Secret;

/// The secret of `channel[i]`, given inline as `key` or in the file named
/// by `key_file`; setting both is refused as ambiguous.
pub(super) fn read_secret(
    inline: Option<String>,
    file: Option<PathBuf>,
    key: &str,
    i: usize,
    loc: &Locator<'_>,
) -> Result<Option<Secret>, ConfigError> {
    let file_key = format!("{key}_file");
    match (inline, file) {
        (Some(_), Some(_)) => {
            let msg = format!("{key} and {file_key} are both set; set only one");
            Err(loc.error("channel", i, &file_key, false, msg))
        }
        (Some(text), None) => Ok(Some(Secret::new(text))),
        (None, Some(path)) => read_secret_file(&path).map(Some).map_err(|e| {
            let msg = format!("cannot read {}: {e}", path.display());
            loc.error("channel", i, &file_key, true, msg)
        }),
        (None, None) => Ok(None),
    }
}

/// Reads a secret file; the trailing newline editors add is not part of it.
pub(super) fn read_secret_file(path: &Path) -> std::io::Result<Secret> {
    let mut text = Zeroizing::new(std::fs::read_to_string(path)?);
    while text.ends_with(['\n', '\r']) {
        text.pop();
    }
    Ok(Secret::new(std::mem::take(&mut *text)))
}

#[cfg(test)]
mod tests {
    use super::super::ChannelKind;
    use super::super::tests::{err_at, parse};
    use super::*;

    const SMPP: &str =
        "[[channel]]\nname = \"op\"\nkind = \"smpp\"\nhost = \"h\"\nsystem_id = \"id\"\n";

    /// A file under the temp dir that is removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, content: &str) -> Self {
            let path = std::env::temp_dir().join(format!("otpd-{}-{name}", std::process::id()));
            std::fs::write(&path, content).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn password_and_password_file() {
        let text = format!("{SMPP}password = \"pw\"\npassword_file = \"/x\"\n");
        let msg = err_at(&text, 7, 1, "channel[0].password_file");
        assert!(msg.contains("both set"), "{msg}");
        let text = format!("{SMPP}password_file = \"/nonexistent/otpd-pw\"\n");
        let msg = err_at(&text, 6, 17, "channel[0].password_file");
        assert!(
            msg.starts_with("cannot read /nonexistent/otpd-pw: "),
            "{msg}"
        );
    }

    #[test]
    fn secret_files_are_read_and_trimmed() {
        let pw = TempFile::new("pw", "s3cret \r\n\n");
        let pin = TempFile::new("pin", "1234");
        let text = format!(
            "{SMPP}password_file = {:?}\n[[channel]]\nname = \"m\"\nkind = \"modem\"\n\
             device = \"/dev/ttyUSB0\"\nsim_pin_file = {:?}\n",
            pw.0, pin.0
        );
        let channels = parse(&text).channels;
        let ChannelKind::Smpp(smpp) = &channels[0].kind else {
            panic!("not smpp");
        };
        assert_eq!(smpp.password.expose(), "s3cret ");
        let ChannelKind::Modem(modem) = &channels[1].kind else {
            panic!("not modem");
        };
        assert_eq!(modem.sim_pin.as_ref().unwrap().expose(), "1234");
        assert_eq!(modem.baud, 115_200);
    }

    #[test]
    fn secret_debug_is_redacted() {
        let secret = Secret::new("hunter2".to_string());
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        let text = format!("{SMPP}password = \"hunter2\"\n");
        let debug = format!("{:?}", parse(&text));
        assert!(!debug.contains("hunter2"), "{debug}");
        assert_eq!(secret.clone().expose(), "hunter2");
    }
}
