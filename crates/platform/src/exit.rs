//! How a binary ends when it cannot start. A setting that cannot work is the operator's
//! to fix: one line naming the setting and exit code 2, as `clap` ends for a malformed
//! value, and no backtrace. Anything else ends with its cause chain on one line and exit
//! code 1.

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use crate::kafka::KafkaConfigError;

/// The command line and environment parsed into `T`; `--help` and `--version` print and
/// exit 0, anything malformed ends `binary` with one line and exit code 2.
pub fn parse_or_exit<T: Parser>(binary: &str) -> T {
    T::try_parse().unwrap_or_else(|error| match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => error.exit(),
        _ => {
            eprintln!("{binary}: invalid configuration: {}", one_line(&error));
            std::process::exit(2)
        }
    })
}

/// A clap error on one line, without its `error: ` prefix, its usage line and its
/// pointer to `--help` (the possible values of a setting stay).
fn one_line(error: &clap::Error) -> String {
    let text = error.to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty()
                && !line.starts_with("Usage:")
                && !line.starts_with("For more information")
        })
        .collect();
    let line = parts.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

/// A setting, or a combination of settings, that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<anyhow::Error> for ConfigError {
    fn from(error: anyhow::Error) -> Self {
        Self(format!("{error:#}"))
    }
}

/// Whether `error`, or an error it was caused by, is a configuration error.
pub fn is_config_error(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.is::<ConfigError>() || cause.is::<KafkaConfigError>())
}

/// Prints `error` on one line of stderr and returns the exit code it ends `binary` with.
pub fn exit_code(binary: &str, error: &anyhow::Error) -> ExitCode {
    if is_config_error(error) {
        eprintln!("{binary}: invalid configuration: {}", cause_chain(error));
        ExitCode::from(2)
    } else {
        eprintln!("{binary}: {}", cause_chain(error));
        ExitCode::FAILURE
    }
}

/// The error and its causes, each told once (many errors already end with their
/// cause's text).
fn cause_chain(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_are_told_apart_through_context() {
        let config = anyhow::Error::new(ConfigError::new("LEADPIPE_X: bad")).context("starting");
        assert!(is_config_error(&config));
        let kafka = anyhow::Error::new(KafkaConfigError::HalfClientCertificate);
        assert!(is_config_error(&kafka));
        let other = anyhow::anyhow!("address in use").context("binding");
        assert!(!is_config_error(&other));
    }

    #[test]
    fn each_cause_is_told_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("reading the file: {0}")]
        struct Wrapper(#[source] std::io::Error);
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = anyhow::Error::new(Wrapper(io)).context("starting");
        assert_eq!(
            cause_chain(&error),
            "starting: reading the file: no such file"
        );
    }

    #[test]
    fn a_clap_error_is_told_in_its_first_line() {
        #[derive(Parser, Debug)]
        struct Cli {
            #[arg(long)]
            port: u16,
        }
        let error = Cli::try_parse_from(["x", "--port", "http"]).unwrap_err();
        let line = one_line(&error);
        assert!(
            line.starts_with("invalid value 'http' for '--port <PORT>'"),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }
}
