//! The CLI's one error type, and the exit code each kind ends the process with.

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The API refused: its `{"error": {"code", "message"}}`.
    #[error("{code}: {message}")]
    Api { code: String, message: String },
    /// The command line (or a file it names) is wrong.
    #[error("{0}")]
    Usage(String),
    /// The server could not be reached or did not answer in time.
    #[error("cannot reach {server}: {reason}")]
    Connect { server: String, reason: String },
    /// Anything else: an answer the CLI did not expect, a refused local edit.
    #[error("{0}")]
    Other(String),
    /// Not a failure: a comparison (`pac show --diff`) found a difference. Exits 1 like
    /// diff(1), with this message instead of an error.
    #[error("{0}")]
    Differs(String),
}

impl CliError {
    /// 1 for API (and other) errors and differences found, 2 for usage, 3 for connection
    /// failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Api { .. } | CliError::Other(_) | CliError::Differs(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Connect { .. } => 3,
        }
    }

    /// True for an API error with this code.
    pub fn is_api(&self, wanted: &str) -> bool {
        matches!(self, CliError::Api { code, .. } if code == wanted)
    }
}
