//! Config errors that point at a file, line, column and key, with a hint.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A loaded config or mapping file, kept to turn byte offsets into positions.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    pub fn read(path: &Path) -> Result<SourceFile, Diagnostic> {
        std::fs::read_to_string(path)
            .map(|text| SourceFile::new(path, text))
            .map_err(|e| Diagnostic {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                key: None,
                message: format!("cannot read file: {e}"),
                hint: Some("check the path; relative paths are resolved against the config file's directory".into()),
            })
    }

    /// 1-based line and column of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// A diagnostic at `span` (from a `toml::Spanned` or a parse error).
    pub fn error(&self, span: Option<Range<usize>>, key: Option<&str>, message: impl Into<String>) -> Diagnostic {
        let (line, column) = span.map_or((0, 0), |s| self.position(s.start));
        Diagnostic {
            file: self.path.clone(),
            line,
            column,
            key: key.map(str::to_owned),
            message: message.into(),
            hint: None,
        }
    }

    /// A TOML syntax or shape error from the `toml` crate.
    pub fn toml_error(&self, err: &toml::de::Error) -> Diagnostic {
        let message = err.message().to_owned();
        let hint = hint_for_toml_message(&message);
        let mut d = self.error(err.span(), None, message);
        d.hint = hint;
        d
    }
}

fn hint_for_toml_message(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some("remove the key or fix its spelling; mappings/README.md lists every key".into())
    } else if message.starts_with("missing field") {
        Some("add the key; mappings/README.md shows a worked example".into())
    } else if message.contains("did not match any variant") {
        Some("the value has the wrong shape; see mappings/README.md for the accepted forms".into())
    } else {
        None
    }
}

/// One config error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based; 0 when the error concerns the whole file.
    pub line: usize,
    pub column: usize,
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every error found in a config, reported together.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "error: {d}")?;
        }
        write!(f, "{} error(s)", self.0.len())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let f = SourceFile::new("a.toml", "x = 1\ny = 2\n");
        assert_eq!(f.position(0), (1, 1));
        assert_eq!(f.position(6), (2, 1));
        assert_eq!(f.position(10), (2, 5));
    }

    #[test]
    fn display_has_file_line_column_key_and_hint() {
        let f = SourceFile::new("m.toml", "a = 1\nbad = 2\n");
        let d = f.error(Some(6..9), Some("bad"), "unknown key").with_hint("remove it");
        assert_eq!(d.to_string(), "m.toml:2:1: `bad`: unknown key\n  hint: remove it");
    }
}
