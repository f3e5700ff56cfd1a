//! What can go wrong with a script, always with the line it happened on (or the
//! file, when there is no script to read).

use std::fmt;

/// The ways a script fails, each with its exit code ([`ErrorKind::exit_code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// There is no script to run: the file is missing, a directory, not text.
    Unreadable,
    /// The text is not valid packetdrill (a typo, a missing field), or it has no
    /// events at all (an empty file).
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

impl ErrorKind {
    /// `tunstack script`'s exit code for a script that failed this way: 1 a
    /// mismatch, 2 unreadable or invalid, 3 unsupported (0 is a pass).
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Mismatch => 1,
            ErrorKind::Unreadable | ErrorKind::Parse => 2,
            ErrorKind::Unsupported => 3,
        }
    }

    /// One word for a table: `mismatch`, `invalid`, `unsupported`.
    pub fn verdict(self) -> &'static str {
        match self {
            ErrorKind::Mismatch => "mismatch",
            ErrorKind::Unreadable | ErrorKind::Parse => "invalid",
            ErrorKind::Unsupported => "unsupported",
        }
    }
}

/// A failed script: the file, the line of the event (or construct) at fault, and a
/// message that shows what was expected and what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// The script's name as given to the runner (a path, or `<script>`).
    pub file: String,
    /// 1-based line number; 0 when the error is about the whole file or the
    /// command line.
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

    pub(crate) fn unreadable(message: impl Into<String>) -> Self {
        ScriptError::new(ErrorKind::Unreadable, 0, message)
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
    /// `file:line: ...`, packetdrill's and compilers' way; `file: ...` for an error
    /// about the whole file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = if self.file.is_empty() { "<script>" } else { &self.file };
        if self.line == 0 {
            write!(f, "{file}: ")?;
        } else {
            write!(f, "{file}:{}: ", self.line)?;
        }
        match self.kind {
            ErrorKind::Parse => write!(f, "syntax error: {}", self.message),
            ErrorKind::Unsupported => write!(f, "unsupported: {}", self.message),
            ErrorKind::Unreadable | ErrorKind::Mismatch => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

/// Shorthand for the module's results.
pub type Result<T> = std::result::Result<T, ScriptError>;
