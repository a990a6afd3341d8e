//! The built-in quickstart: `scimgate serve` with no `--config` serves an embedded SQLite
//! database with Users and Groups mapped. The files are the ones in `mappings/quickstart/`,
//! compiled into the binary.

use std::path::Path;

use crate::config::{Diagnostic, SourceFile};

/// The pseudo-directory the embedded files appear under in messages.
pub const BUILTIN_DIR: &str = "<builtin>/mappings/quickstart";

const FILES: &[(&str, &str)] = &[
    ("scimgate.toml", include_str!("../mappings/quickstart/scimgate.toml")),
    ("users.toml", include_str!("../mappings/quickstart/users.toml")),
    ("groups.toml", include_str!("../mappings/quickstart/groups.toml")),
    ("schema.sql", include_str!("../mappings/quickstart/schema.sql")),
];

/// Reads an embedded file by its path relative to the quickstart directory.
pub fn read(path: &Path) -> Result<SourceFile, Diagnostic> {
    let name = path
        .strip_prefix(BUILTIN_DIR)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned();
    FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| SourceFile::new(Path::new(BUILTIN_DIR).join(n), *text))
        .ok_or_else(|| Diagnostic {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key: None,
            message: "not an embedded quickstart file".into(),
            hint: None,
        })
}

/// The embedded `scimgate.toml`.
pub fn config_source() -> SourceFile {
    read(Path::new("scimgate.toml")).expect("the quickstart config is embedded")
}
