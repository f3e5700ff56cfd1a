//! What can go wrong with a script, always with the line it happened on.

use std::fmt;

/// The three ways a script fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not valid packetdrill (a typo, a missing field).
    Parse,
    /// Valid packetdrill, but something this runner does not model (IPv6,
    /// `sendmsg`, `%{ python }%`, …). Never skipped silently: a script that needs it
    /// cannot pass.
    Unsupported,
    /// The stack did not behave as the script says: a different packet, a packet at
    /// the wrong time, a missing or unexpected packet, a call that returned something
    /// else.
    Mismatch,
}

/// A failed script: the file, the line of the event (or construct) at fault, and a
/// message that shows what was expected and what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// The script's name as given to the runner (a path, or `<script>`).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    pub kind: ErrorKind,
    pub message: String,
}

impl ScriptError {
    pub(crate) fn new(kind: ErrorKind, line: usize, message: impl Into<String>) -> Self {
        ScriptError { file: String::new(), line, kind, message: message.into() }
    }

    pub(crate) fn parse(line: usize, message: impl Into<String>) -> Self {
        ScriptError::new(ErrorKind::Parse, line, message)
    }

    pub(crate) fn unsupported(line: usize, message: impl Into<String>) -> Self {
        ScriptError::new(ErrorKind::Unsupported, line, message)
    }

    pub(crate) fn mismatch(line: usize, message: impl Into<String>) -> Self {
        ScriptError::new(ErrorKind::Mismatch, line, message)
    }

    /// The same error, naming `file`.
    pub(crate) fn in_file(mut self, file: &str) -> Self {
        self.file = file.to_string();
        self
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = if self.file.is_empty() { "<script>" } else { &self.file };
        match self.kind {
            ErrorKind::Parse => write!(f, "{file}:{}: syntax error: {}", self.line, self.message),
            ErrorKind::Unsupported => {
                write!(f, "{file}:{}: unsupported: {}", self.line, self.message)
            }
            ErrorKind::Mismatch => write!(f, "{file}:{}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

/// Shorthand for the module's results.
pub type Result<T> = std::result::Result<T, ScriptError>;
