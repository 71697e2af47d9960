//! Secrets from the environment: a value that never shows up in `Debug` output, logs or
//! `--help`, and the `_FILE` convention of Docker and Kubernetes secrets (a variable
//! naming a file that holds the value wins over the variable holding it).

use std::path::{Path, PathBuf};

/// A secret value. `Debug` prints `Secret(***)`; only [`Secret::expose`] reveals it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that hands it to a client library.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret file; trailing line breaks (which editors and `echo` add) are not
    /// part of the value.
    pub fn from_file(path: &Path) -> Result<Self, SecretFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretFileError {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self(text.trim_end_matches(['\n', '\r']).to_owned()))
    }

    /// The file's content when `file` is set, else `value`.
    pub fn resolve(
        value: Option<&Secret>,
        file: Option<&PathBuf>,
    ) -> Result<Option<Self>, SecretFileError> {
        match file {
            Some(path) => Self::from_file(path).map(Some),
            None => Ok(value.cloned()),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// A secret file that cannot be read. Names the file, never its content.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the secret file {}: {source}", path.display())]
pub struct SecretFileError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn a_file_wins_over_the_value_and_loses_its_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        std::fs::write(&path, "from-file\n").unwrap();
        let value = Secret::new("from-env");
        let resolved = Secret::resolve(Some(&value), Some(&path)).unwrap();
        assert_eq!(resolved.unwrap().expose(), "from-file");
        assert_eq!(
            Secret::resolve(Some(&value), None)
                .unwrap()
                .unwrap()
                .expose(),
            "from-env"
        );
        let missing = dir.path().join("nope");
        let error = Secret::resolve(None, Some(&missing)).unwrap_err();
        assert!(error.to_string().contains("nope"), "{error}");
    }
}
