// SPDX-License-Identifier: GPL-2.0
//! Errors of `ssnatctl` and their exit codes.
//!
//! Usage errors (exit code 2) never get here: clap reports them itself.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Exit code of a generic error.
pub const EXIT_ERROR: u8 = 1;
/// Exit code of a usage error (clap's own).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a command needs the module and it is not loaded.
pub const EXIT_NOT_LOADED: u8 = 3;

/// Everything that makes a command fail.
#[derive(Debug)]
pub enum Error {
    /// The command needs `xt_SSNAT` and it is not loaded.
    NotLoaded,
    /// A system file exists but could not be read.
    Read { path: PathBuf, source: io::Error },
    /// A system file was read but its content makes no sense.
    Parse { path: PathBuf, what: String },
    /// A system call failed.
    Sys {
        call: &'static str,
        errno: nix::errno::Errno,
    },
    /// The report could not be written (stdout closed, disk full...).
    Output(io::Error),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotLoaded => EXIT_NOT_LOADED,
            _ => EXIT_ERROR,
        }
    }

    /// True for a write to a closed pipe (`ssnatctl status | head -1`), which is no failure
    /// worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLoaded => write!(f, "module {} not loaded", crate::module::MODULE_NAME),
            Error::Read { path, source } => write!(f, "{}: {}", path.display(), io_desc(source)),
            Error::Parse { path, what } => write!(f, "{}: {}", path.display(), what),
            Error::Sys { call, errno } => write!(f, "{call}: {}", errno.desc()),
            Error::Output(e) => write!(f, "write error: {}", io_desc(e)),
        }
    }
}

/// An I/O error as `strerror` says it, without Rust's " (os error N)" suffix.
pub fn io_desc(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } | Error::Output(source) => Some(source),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        // Serializing our own plain structs fails only when writing fails.
        Error::Output(io::Error::from(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Error::NotLoaded.exit_code(), 3);
        let e = Error::Parse {
            path: "/sys/module/xt_SSNAT/refcnt".into(),
            what: "x".into(),
        };
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            Error::Output(io::ErrorKind::BrokenPipe.into()).exit_code(),
            1
        );
    }

    #[test]
    fn messages_name_the_file() {
        let e = Error::Read {
            path: "/sys/module/xt_SSNAT/version".into(),
            source: io::Error::from_raw_os_error(13),
        };
        let msg = e.to_string();
        assert!(msg.starts_with("/sys/module/xt_SSNAT/version: "), "{msg}");
        assert_eq!(msg, "/sys/module/xt_SSNAT/version: Permission denied");
        assert_eq!(Error::NotLoaded.to_string(), "module xt_SSNAT not loaded");
    }

    #[test]
    fn broken_pipe_is_recognised() {
        assert!(Error::Output(io::ErrorKind::BrokenPipe.into()).is_broken_pipe());
        assert!(!Error::Output(io::ErrorKind::Other.into()).is_broken_pipe());
        assert!(!Error::NotLoaded.is_broken_pipe());
    }
}
