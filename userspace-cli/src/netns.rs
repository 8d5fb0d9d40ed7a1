// SPDX-License-Identifier: GPL-2.0
//! `--netns NAME`: run in a named network namespace, as `ip -n NAME` does.

use std::fs::File;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};

use crate::error::{io_desc, Error};

/// Where `ip netns add` keeps the named namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// The file of namespace `name`: `/run/netns/NAME`, or `name` itself when it has a `/`
/// (`/proc/PID/ns/net`).
pub fn path_of(name: &str) -> Result<PathBuf, Error> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    if name.is_empty() || name == "." || name == ".." {
        return Err(Error::Usage(format!(
            "bad network namespace name \"{name}\""
        )));
    }
    Ok(PathBuf::from(NETNS_RUN_DIR).join(name))
}

/// Moves this thread (the only one yet) into network namespace `name`; sockets opened
/// afterwards, and children, belong to it.
pub fn enter(name: &str) -> Result<(), Error> {
    let path = path_of(name)?;
    let fail = |errno| Error::Netns {
        name: name.to_owned(),
        path: path.clone(),
        errno,
    };
    let file = File::open(&path).map_err(|e| match e.raw_os_error() {
        Some(n) => fail(Errno::from_raw(n)),
        None => Error::Usage(format!("network namespace {name}: {}", io_desc(&e))),
    })?;
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(path_of("blue").unwrap(), PathBuf::from("/run/netns/blue"));
        assert_eq!(
            path_of("/proc/1/ns/net").unwrap(),
            PathBuf::from("/proc/1/ns/net")
        );
        for bad in ["", ".", ".."] {
            assert_eq!(path_of(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn missing_namespace_is_a_clear_error() {
        let e = enter("ssnatctl-test-no-such-netns").unwrap_err();
        assert_eq!(
            e.to_string(),
            "network namespace ssnatctl-test-no-such-netns: \
             /run/netns/ssnatctl-test-no-such-netns does not exist (see 'ip netns list')"
        );
        assert_eq!(e.exit_code(), 1);
        // A file that is not a namespace.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("plain");
        std::fs::write(&f, "").unwrap();
        let e = enter(f.to_str().unwrap()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Netns {
                    errno: Errno::EINVAL,
                    ..
                } | Error::Netns {
                    errno: Errno::EPERM,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
