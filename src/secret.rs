//! Secrets (tokens, passwords, connection URLs) that never reach a log line.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// Where a secret comes from in a config file: inline, `{ env = "VAR" }` or `{ file = "path" }`.
///
/// Inline values are allowed for things that are not secret in every deployment (a SQLite
/// path), but tokens and passwords belong in the environment or a file.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(untagged, deny_unknown_fields)]
pub enum SecretSource {
    Inline(String),
    Env { env: String },
    File { file: PathBuf },
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("<inline secret>"),
            SecretSource::Env { env } => write!(f, "{{ env = {env:?} }}"),
            SecretSource::File { file } => write!(f, "{{ file = {file:?} }}"),
        }
    }
}

impl SecretSource {
    /// Reads the secret. Errors name the variable or file, never the value.
    pub fn resolve(&self) -> Result<Secret, String> {
        match self {
            SecretSource::Inline(s) => Ok(Secret::new(s.clone())),
            SecretSource::Env { env } => std::env::var(env)
                .map(Secret::new)
                .map_err(|_| format!("environment variable {env} is not set")),
            SecretSource::File { file } => std::fs::read_to_string(file)
                .map(|s| Secret::new(s.trim_end_matches(['\r', '\n']).to_owned()))
                .map_err(|e| format!("cannot read secret file {}: {e}", file.display())),
        }
    }
}

/// A secret value. `Debug` and `Display` print a placeholder, and it has no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    /// The value, for the one place that must use it (a bind, a comparison).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// For config fields that hold a secret as text: accepts `"inline"`, `{ env = "VAR" }` or
/// `{ file = "path" }` and resolves it while parsing, so a missing variable is reported at
/// the key's line.
pub fn deserialize_resolved<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let source = SecretSource::deserialize(d)?;
    source.resolve().map(|s| s.0).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted_in_debug_and_display() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        let src = SecretSource::Inline("hunter2".into());
        assert!(!format!("{src:?}").contains("hunter2"));
    }

    #[test]
    fn file_secret_drops_trailing_newline() {
        let path = std::env::temp_dir().join(format!("scimgate-secret-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, "tok\n").unwrap();
        let s = SecretSource::File { file: path.clone() }.resolve().unwrap();
        assert_eq!(s.expose(), "tok");
        std::fs::remove_file(path).unwrap();
    }
}
