use std::fmt;
use std::path::{Path, PathBuf};

/// A config or manifest that cannot be used. Always names the file, and where it can the
/// line and the dotted key, and says what was allowed. Maps to exit code 2 (bad input).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is not acceptable.
    #[error("{}", Located { file, line: *line, key, message })]
    Invalid {
        /// The file at fault.
        file: PathBuf,
        /// 1-based line, where known.
        line: Option<usize>,
        /// Dotted key path (`kernels.under_test[1]`), or empty for the whole file.
        key: String,
        /// What is wrong and what was allowed.
        message: String,
    },
}

struct Located<'a> {
    file: &'a Path,
    line: Option<usize>,
    key: &'a str,
    message: &'a str,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": key `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ConfigError {
    pub(crate) fn invalid(
        file: &Path,
        text: &str,
        span: Option<std::ops::Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            file: file.to_path_buf(),
            line: span.map(|s| line_of(text, s.start)),
            key: key.into(),
            message: message.into(),
        }
    }
}

/// 1-based line of the first `leaf = ...` assignment or `[..leaf]` header in `text`.
pub(crate) fn line_of_key(text: &str, leaf: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            let assigns = t
                .strip_prefix(leaf)
                .map(|rest| rest.trim_start().starts_with('='))
                .unwrap_or(false);
            let header = t.starts_with('[') && t.trim_end().trim_end_matches(']').ends_with(leaf);
            assigns || header
        })
        .map(|i| i + 1)
}

/// 1-based line number of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses `text` as TOML into `T`, turning any error into [`ConfigError::Invalid`] with the
/// line of the offending value and the dotted key path.
pub(crate) fn parse_strict<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
) -> Result<T, ConfigError> {
    let de = toml::Deserializer::parse(text)
        .map_err(|e| ConfigError::invalid(file, text, e.span(), "", clean_message(e.message())))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        // toml's `Spanned` shows up in the path as a private field name: drop it.
        let key = e
            .path()
            .to_string()
            .replace("$__serde_spanned_private_value.", "")
            .replace(".$__serde_spanned_private_value", "");
        let key = if key == "." { String::new() } else { key };
        let inner = e.into_inner();
        ConfigError::invalid(
            file,
            text,
            inner.span(),
            key,
            clean_message(inner.message()),
        )
    })
}

fn clean_message(m: &str) -> String {
    m.trim().replace('\n', " ")
}
