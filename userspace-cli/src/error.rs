// SPDX-License-Identifier: GPL-2.0
//! Errors of `ssnatctl` and their exit codes.
//!
//! Errors in the command line's syntax (exit code 2) never get here: clap reports them
//! itself. Bad values that clap lets through (a `--to-source` that does not parse, a bad
//! profile name) come back as [`Error::Usage`], also with exit code 2, before any
//! netlink traffic.

use std::fmt;
use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

/// Exit code of a generic error.
pub const EXIT_ERROR: u8 = 1;
/// Exit code of a usage error (clap's own).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a command needs the module and it is not loaded.
pub const EXIT_NOT_LOADED: u8 = 3;
/// Exit code when the kernel refused for lack of privilege (`EPERM`, `EACCES`).
pub const EXIT_NOT_PERMITTED: u8 = 4;
/// Exit code when the profile is in use by rules (`EBUSY`).
pub const EXIT_IN_USE: u8 = 5;
/// Exit code when the profile (or the entry) does not exist (`ENOENT`).
pub const EXIT_NO_PROFILE: u8 = 6;
/// Exit code when the profile (or the entry) already exists (`EEXIST`).
pub const EXIT_EXISTS: u8 = 7;

/// A request to the kernel's `SSNAT` generic netlink family, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `NEW`.
    Add,
    /// `SET`.
    Set,
    /// `DEL`.
    Del,
    /// `GET` of one profile.
    Get,
    /// `GET` dump of all profiles.
    Dump,
    /// Joining the `events` multicast group.
    Subscribe,
    /// `ENTRY_NEW`.
    EntryAdd,
    /// `ENTRY_SET`.
    EntrySet,
    /// `ENTRY_DEL`.
    EntryDel,
    /// `ENTRY_GET` of one entry.
    EntryGet,
    /// `ENTRY_FLUSH`.
    EntryFlush,
    /// `ENTRY_GET` dump of a profile's entries.
    EntryDump,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Add => "profile add",
            Op::Set => "profile set",
            Op::Del => "profile del",
            Op::Get => "profile show",
            Op::Dump => "profile dump",
            Op::Subscribe => "subscribing to events",
            Op::EntryAdd => "profile entry add",
            Op::EntrySet => "profile entry set",
            Op::EntryDel => "profile entry del",
            Op::EntryGet => "profile entry show",
            Op::EntryFlush => "profile entry flush",
            Op::EntryDump => "profile entry list",
        }
    }

    /// Whether the request is about an entry (its name: `PROFILE PROTO DEST`, its
    /// `ENOENT`: no such profile, or no such entry).
    fn is_entry(self) -> bool {
        matches!(
            self,
            Op::EntryAdd
                | Op::EntrySet
                | Op::EntryDel
                | Op::EntryGet
                | Op::EntryFlush
                | Op::EntryDump
        )
    }
}

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
    /// A bad value on the command line (or in a `restore` line), found before any
    /// netlink traffic: the message as the iptables extension gives it.
    Usage(String),
    /// The generic netlink family `SSNAT` is not registered: the module is not loaded.
    FamilyMissing,
    /// The kernel refused a request: `errno` from its `NLMSG_ERROR`, with the extended
    /// ack's message and the attribute it points at, if any.
    Kernel {
        op: Op,
        name: Option<String>,
        errno: Errno,
        extack: Option<String>,
        attr: Option<&'static str>,
    },
    /// The netlink socket failed, or a reply made no sense.
    Netlink(String),
    /// `--netns NAME` could not be entered.
    Netns {
        name: String,
        path: PathBuf,
        errno: Errno,
    },
    /// A file given to `restore` could not be read.
    Input { path: String, source: io::Error },
    /// A line of a `restore` file failed (to parse, or in the kernel).
    Line { line: usize, source: Box<Error> },
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotLoaded | Error::FamilyMissing => EXIT_NOT_LOADED,
            Error::Usage(_) => EXIT_USAGE,
            Error::Kernel { errno, .. } => exit_code_of_errno(*errno),
            Error::Netns { errno, .. } if is_permission(*errno) => EXIT_NOT_PERMITTED,
            Error::Line { source, .. } => source.exit_code(),
            _ => EXIT_ERROR,
        }
    }

    /// True for a write to a closed pipe (`ssnatctl status | head -1`), which is no failure
    /// worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// The exit code for a kernel error `errno`: 4 to 7 for the errors a user can act on
/// (see `ssnatctl --help`), 1 for the rest.
pub fn exit_code_of_errno(errno: Errno) -> u8 {
    match errno {
        e if is_permission(e) => EXIT_NOT_PERMITTED,
        Errno::EBUSY => EXIT_IN_USE,
        Errno::ENOENT => EXIT_NO_PROFILE,
        Errno::EEXIST => EXIT_EXISTS,
        _ => EXIT_ERROR,
    }
}

fn is_permission(errno: Errno) -> bool {
    matches!(errno, Errno::EPERM | Errno::EACCES)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLoaded => write!(f, "module {} not loaded", crate::module::MODULE_NAME),
            Error::Read { path, source } => write!(f, "{}: {}", path.display(), io_desc(source)),
            Error::Parse { path, what } => write!(f, "{}: {}", path.display(), what),
            Error::Sys { call, errno } => write!(f, "{call}: {}", errno.desc()),
            Error::Output(e) => write!(f, "write error: {}", io_desc(e)),
            Error::Usage(msg) => f.write_str(msg),
            Error::FamilyMissing => write!(
                f,
                "the {} generic netlink family is not registered: load the module with \
                 'modprobe {}'",
                ssnat_core::genl::FAMILY_NAME,
                crate::module::MODULE_NAME
            ),
            Error::Kernel {
                op,
                name,
                errno,
                extack,
                attr,
            } => {
                f.write_str(op.text())?;
                if let Some(name) = name {
                    write!(f, " {name}")?;
                }
                let name = name.as_deref().unwrap_or("NAME");
                // The profile's name alone (an entry's request names the entry too).
                let profile = name.split(' ').next().unwrap_or(name);
                // The errors a user acts on: what to do, rather than the kernel's words.
                match (*errno, op) {
                    // The kernel points at the destination: the entry is missing.
                    (Errno::ENOENT, op) if op.is_entry() && *attr == Some("DST_ADDR") => write!(
                        f,
                        ": no such entry (see 'ssnatctl profile entry list {profile}'; \
                         'ssnatctl profile entry add' creates one)"
                    ),
                    (Errno::ENOENT, op) if op.is_entry() => write!(
                        f,
                        ": no such profile (see 'ssnatctl profile list'; 'ssnatctl profile \
                         add {profile}' creates one without a mapping, for entries only)"
                    ),
                    (Errno::EEXIST, Op::EntryAdd) => f.write_str(
                        ": entry exists: use 'ssnatctl profile entry set' to replace it",
                    ),
                    // A profile's family stays while it has entries (of that family).
                    (Errno::EBUSY, Op::Set) if *attr == Some("FAMILY") => write!(
                        f,
                        ": profile has entries of its address family: delete them first \
                         ('ssnatctl profile entry flush {name}')"
                    ),
                    (Errno::EBUSY, Op::Set) => write!(
                        f,
                        ": profile in use by rules, which need its address family: delete \
                         the iptables rules that use it first (-j SSNAT --profile {name})"
                    ),
                    (Errno::EBUSY, Op::Del) => write!(
                        f,
                        ": profile in use by rules: delete the iptables rules that use it \
                         first (-j SSNAT --profile {name})"
                    ),
                    (Errno::ENOENT, Op::Add | Op::Set | Op::Del | Op::Get) => write!(
                        f,
                        ": no such profile (see 'ssnatctl profile list'; 'ssnatctl profile \
                         add' creates one)"
                    ),
                    (Errno::EEXIST, Op::Add) => {
                        f.write_str(": profile exists: use 'ssnatctl profile set' to replace it")
                    }
                    (e, _) => {
                        write!(f, ": {}", e.desc())?;
                        if let Some(msg) = extack {
                            write!(f, ": {msg}")?;
                        }
                        if let Some(attr) = attr {
                            write!(f, " (attribute {attr})")?;
                        }
                        if is_permission(e) {
                            f.write_str(
                                ": needs CAP_NET_ADMIN in the network namespace's user \
                                 namespace",
                            )?;
                        }
                        Ok(())
                    }
                }
            }
            Error::Netlink(msg) => write!(f, "netlink: {msg}"),
            Error::Netns { name, path, errno } => {
                write!(f, "network namespace {name}: ")?;
                match *errno {
                    Errno::ENOENT => {
                        write!(f, "{} does not exist (see 'ip netns list')", path.display())
                    }
                    Errno::EINVAL => {
                        write!(f, "{} is not a network namespace", path.display())
                    }
                    e if is_permission(e) => write!(
                        f,
                        "{}: {}: entering it needs CAP_SYS_ADMIN",
                        path.display(),
                        e.desc()
                    ),
                    e => write!(f, "{}: {}", path.display(), e.desc()),
                }
            }
            Error::Input { path, source } => write!(f, "{path}: {}", io_desc(source)),
            Error::Line { line, source } => write!(f, "line {line}: {source}"),
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
            Error::Read { source, .. } | Error::Output(source) | Error::Input { source, .. } => {
                Some(source)
            }
            Error::Line { source, .. } => Some(source.as_ref()),
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

    fn kernel(op: Op, errno: Errno, extack: Option<&str>) -> Error {
        Error::Kernel {
            op,
            name: Some("moh".into()),
            errno,
            extack: extack.map(str::to_owned),
            attr: None,
        }
    }

    #[test]
    fn errno_exit_codes() {
        for (errno, code) in [
            (Errno::EPERM, 4),
            (Errno::EACCES, 4),
            (Errno::EBUSY, 5),
            (Errno::ENOENT, 6),
            (Errno::EEXIST, 7),
            (Errno::EINVAL, 1),
            (Errno::ENOMEM, 1),
            (Errno::EOPNOTSUPP, 1),
        ] {
            assert_eq!(exit_code_of_errno(errno), code, "{errno:?}");
            assert_eq!(kernel(Op::Add, errno, None).exit_code(), code, "{errno:?}");
        }
        assert_eq!(Error::FamilyMissing.exit_code(), 3);
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Netlink("x".into()).exit_code(), 1);
        let line = Error::Line {
            line: 3,
            source: Box::new(kernel(Op::Set, Errno::EBUSY, None)),
        };
        assert_eq!(line.exit_code(), 5);
        let netns = |errno| Error::Netns {
            name: "blue".into(),
            path: "/run/netns/blue".into(),
            errno,
        };
        assert_eq!(netns(Errno::ENOENT).exit_code(), 1);
        assert_eq!(netns(Errno::EPERM).exit_code(), 4);
    }

    #[test]
    fn kernel_errors_say_what_to_do() {
        assert_eq!(
            kernel(Op::Add, Errno::EEXIST, Some("profile exists (use SET)")).to_string(),
            "profile add moh: profile exists: use 'ssnatctl profile set' to replace it"
        );
        assert_eq!(
            kernel(Op::Del, Errno::EBUSY, None).to_string(),
            "profile del moh: profile in use by rules: delete the iptables rules that use it \
             first (-j SSNAT --profile moh)"
        );
        assert!(kernel(Op::Set, Errno::EBUSY, None).to_string().starts_with(
            "profile set moh: profile in use by rules, which need its address family"
        ));
        assert_eq!(
            kernel(Op::Add, Errno::EPERM, None).to_string(),
            "profile add moh: Operation not permitted: needs CAP_NET_ADMIN in the network \
             namespace's user namespace"
        );
        assert!(kernel(Op::Get, Errno::ENOENT, None)
            .to_string()
            .starts_with("profile show moh: no such profile (see 'ssnatctl profile list'"));
        let mut e = kernel(Op::Add, Errno::EINVAL, Some("bad port range"));
        assert_eq!(
            e.to_string(),
            "profile add moh: Invalid argument: bad port range"
        );
        if let Error::Kernel { attr, .. } = &mut e {
            *attr = Some("MIN_PORT");
        }
        assert_eq!(
            e.to_string(),
            "profile add moh: Invalid argument: bad port range (attribute MIN_PORT)"
        );
        assert_eq!(
            Error::FamilyMissing.to_string(),
            "the SSNAT generic netlink family is not registered: load the module with \
             'modprobe xt_SSNAT'"
        );
        let line = Error::Line {
            line: 7,
            source: Box::new(Error::Usage("bad port \"x\"".into())),
        };
        assert_eq!(line.to_string(), "line 7: bad port \"x\"");
        let netns = Error::Netns {
            name: "blue".into(),
            path: "/run/netns/blue".into(),
            errno: Errno::ENOENT,
        };
        assert_eq!(
            netns.to_string(),
            "network namespace blue: /run/netns/blue does not exist (see 'ip netns list')"
        );
    }

    #[test]
    fn broken_pipe_is_recognised() {
        assert!(Error::Output(io::ErrorKind::BrokenPipe.into()).is_broken_pipe());
        assert!(!Error::Output(io::ErrorKind::Other.into()).is_broken_pipe());
        assert!(!Error::NotLoaded.is_broken_pipe());
    }
}
