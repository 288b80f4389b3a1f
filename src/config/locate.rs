//! Turning errors into `file:line:column: key: message`.
//!
//! Errors raised during deserialization carry a byte span (from toml) and a
//! key path (from `serde_path_to_error`). Checks that run after it, across
//! several fields, only know the key: [`Locator`] finds that key's span in
//! the spanned document that toml parsed first.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A refused config file, naming where and what.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    /// 1-based, in characters; 0 when `line` is 0.
    pub column: usize,
    /// Dotted key path such as `channel[1].window`; empty if none applies.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// An error at a byte span of `text`; no span gives line and column 0.
    pub(super) fn at(
        file: &Path,
        text: &str,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = span.map_or((0, 0), |s| line_col(text, s.start));
        Self {
            file: file.to_path_buf(),
            line,
            column,
            key: key.into(),
            message: message.into(),
        }
    }
}

/// 1-based line and column (counted in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let (mut line, mut column) = (1, 1);
    for (i, c) in text.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// The parsed document, kept to locate keys after deserialization.
pub(super) struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
    doc: DeTable<'a>,
}

impl<'a> Locator<'a> {
    pub(super) fn new(file: &'a Path, text: &'a str, doc: DeTable<'a>) -> Self {
        Self { file, text, doc }
    }

    /// Rewords a deserialization error and places it.
    pub(super) fn serde_error(
        &self,
        err: serde_path_to_error::Error<toml::de::Error>,
    ) -> ConfigError {
        // An empty path displays as "."; a top-level error has no key.
        let mut key = if err.path().iter().next().is_none() {
            String::new()
        } else {
            err.path().to_string()
        };
        let raw = err.inner().message();
        let message = if let Some(rest) = raw.strip_prefix("unknown field `") {
            // serde says "unknown field `x`, expected one of `a`, `b`" (or
            // "expected `a` or `b`"): keep just the names between backticks.
            let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
            if expected.is_empty() {
                "unknown key".to_string()
            } else {
                format!("unknown key (expected one of: {})", expected.join(", "))
            }
        } else if let Some(rest) = raw.strip_prefix("missing field `") {
            // The span is then the enclosing table's header; name the key.
            let field = rest.trim_end_matches('`');
            key = if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            };
            "missing required key".to_string()
        } else {
            raw.to_string()
        };
        ConfigError::at(self.file, self.text, err.inner().span(), key, message)
    }

    /// An error about `table.key` of a plain table such as `[limits]`, placed at its value
    /// (at the start of the file when it is absent).
    pub(super) fn table_error(
        &self,
        table: &str,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        let span = self
            .doc
            .get(table)
            .and_then(|t| t.get_ref().as_table())
            .and_then(|t| t.get(key))
            .map(Spanned::span);
        ConfigError::at(
            self.file,
            self.text,
            span,
            format!("{table}.{key}"),
            message,
        )
    }

    /// The table at `array[index]`, e.g. the second `[[channel]]`.
    fn entry(&self, array: &str, index: usize) -> Option<&Spanned<DeValue<'a>>> {
        self.doc.get(array)?.get_ref().as_array()?.get(index)
    }

    /// Keys of `array[index]` with their spans, in file order.
    pub(super) fn keys(&self, array: &str, index: usize) -> Vec<(&str, Range<usize>)> {
        let mut keys: Vec<_> = self
            .entry(array, index)
            .and_then(|e| e.get_ref().as_table())
            .map(|t| t.keys().map(|k| (k.get_ref().as_ref(), k.span())).collect())
            .unwrap_or_default();
        keys.sort_by_key(|(_, span)| span.start);
        keys
    }

    /// An error about `array[index].key`, placed at the key itself, or at
    /// its value if `at_value`. When the key is absent (a missing required
    /// key) the error is placed at the table's `[[array]]` header.
    pub(super) fn error(
        &self,
        array: &str,
        index: usize,
        key: &str,
        at_value: bool,
        message: impl Into<String>,
    ) -> ConfigError {
        let entry = self.entry(array, index);
        let found = entry
            .and_then(|e| e.get_ref().as_table())
            .and_then(|t| t.get_key_value(key));
        let span = match found {
            Some((_, v)) if at_value => Some(v.span()),
            Some((k, _)) => Some(k.span()),
            None => entry.map(Spanned::span),
        };
        let path = format!("{array}[{index}].{key}");
        ConfigError::at(self.file, self.text, span, path, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_in_chars() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        // "é" is two bytes but one column.
        assert_eq!(line_col(text, 10), (2, 4));
        assert_eq!(line_col(text, text.len()), (3, 1));
    }

    #[test]
    fn display_omits_empty_key() {
        let mut e = ConfigError::at(Path::new("otpd.toml"), "x", None, "", "cannot read");
        assert_eq!(e.to_string(), "otpd.toml:0:0: cannot read");
        e.key = "api.listen".into();
        assert_eq!(e.to_string(), "otpd.toml:0:0: api.listen: cannot read");
    }

    #[test]
    fn locates_keys_values_and_headers() {
        let text = "[[channel]]\nkind = \"sim\"\n\n[[channel]]\n  kind = \"smpp\"\n";
        let doc = DeTable::parse(text).unwrap().into_inner();
        let loc = Locator::new(Path::new("f.toml"), text, doc);
        let e = loc.error("channel", 1, "kind", false, "m");
        assert_eq!(
            (e.line, e.column, e.key.as_str()),
            (5, 3, "channel[1].kind")
        );
        let e = loc.error("channel", 1, "kind", true, "m");
        assert_eq!((e.line, e.column), (5, 10));
        let e = loc.error("channel", 1, "host", false, "m");
        assert_eq!((e.line, e.column), (4, 1));
        let keys = loc.keys("channel", 0);
        assert_eq!(keys, vec![("kind", 12..16)]);
        assert!(loc.keys("app", 0).is_empty());
    }
}
