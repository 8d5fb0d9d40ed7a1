// SPDX-License-Identifier: GPL-2.0
//! Where `ssnatctl` looks: the sysfs and proc roots and the directories of the iptables
//! tools, taken from the environment so tests can point them at a fake tree.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Variable naming the sysfs root (default `/sys`).
pub const VAR_SYSFS: &str = "SSNAT_SYSFS";
/// Variable naming the proc root (default `/proc`).
pub const VAR_PROC: &str = "SSNAT_PROC";
/// Variable naming the directories searched for the save commands, colon-separated
/// (default: `$PATH`, then the sbin directories it lacks).
pub const VAR_SAVE_PATH: &str = "SSNAT_SAVE_PATH";

/// Searched after `$PATH`: iptables lives in sbin, which a user's `$PATH` often lacks.
const SBIN_DIRS: [&str; 3] = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// The places `ssnatctl` reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Env {
    /// sysfs root, `/sys`.
    pub sysfs: PathBuf,
    /// proc root, `/proc`.
    pub proc_root: PathBuf,
    /// Directories searched, in order, for `iptables-legacy-save` and the like.
    pub save_dirs: Vec<PathBuf>,
}

impl Env {
    /// From this process's environment.
    pub fn from_process() -> Env {
        Env::from_vars(|name| std::env::var_os(name))
    }

    /// From the variables `get` returns; an empty variable counts as unset.
    pub fn from_vars(get: impl Fn(&str) -> Option<OsString>) -> Env {
        let get = |name: &str| get(name).filter(|v| !v.is_empty());
        let save_dirs = match get(VAR_SAVE_PATH) {
            Some(dirs) => absolute_dirs(&dirs),
            None => {
                let mut dirs = get("PATH").map(|p| absolute_dirs(&p)).unwrap_or_default();
                for sbin in SBIN_DIRS.map(PathBuf::from) {
                    if !dirs.contains(&sbin) {
                        dirs.push(sbin);
                    }
                }
                dirs
            }
        };
        Env {
            sysfs: get(VAR_SYSFS).map_or_else(|| "/sys".into(), PathBuf::from),
            proc_root: get(VAR_PROC).map_or_else(|| "/proc".into(), PathBuf::from),
            save_dirs,
        }
    }

    /// The first executable file called `name` in [`Env::save_dirs`].
    pub fn find_tool(&self, name: &str) -> Option<PathBuf> {
        self.save_dirs
            .iter()
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    }
}

/// The absolute directories of a `PATH`-like list. Empty and relative entries are dropped:
/// a tool run as root must not pick commands up from the current directory.
fn absolute_dirs(list: &std::ffi::OsStr) -> Vec<PathBuf> {
    std::env::split_paths(list)
        .filter(|p| p.is_absolute())
        .collect()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    // metadata() follows symlinks, as exec does (iptables-*-save are links to a multi-call
    // binary).
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Env::from_vars(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let e = env_of(&[("PATH", "/usr/bin:/bin")]);
        assert_eq!(e.sysfs, Path::new("/sys"));
        assert_eq!(e.proc_root, Path::new("/proc"));
        let want: Vec<PathBuf> = ["/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"]
            .map(PathBuf::from)
            .into();
        assert_eq!(e.save_dirs, want);
    }

    #[test]
    fn overrides_and_empty_values() {
        let e = env_of(&[
            ("SSNAT_SYSFS", "/tmp/fake/sys"),
            ("SSNAT_PROC", ""),
            ("SSNAT_SAVE_PATH", "/opt/x::rel/dir:/opt/y"),
            ("PATH", "/usr/bin"),
        ]);
        assert_eq!(e.sysfs, Path::new("/tmp/fake/sys"));
        assert_eq!(e.proc_root, Path::new("/proc"));
        assert_eq!(
            e.save_dirs,
            vec![PathBuf::from("/opt/x"), PathBuf::from("/opt/y")]
        );
    }

    #[test]
    fn sbin_dirs_are_not_repeated_and_relative_path_entries_dropped() {
        let e = env_of(&[("PATH", ".:/usr/sbin:bin:/usr/bin")]);
        let want: Vec<PathBuf> = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/sbin"]
            .map(PathBuf::from)
            .into();
        assert_eq!(e.save_dirs, want);
        assert_eq!(env_of(&[]).save_dirs.len(), 3);
    }

    #[test]
    fn finds_only_executable_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = dir.path().join("iptables-nft-save");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::write(dir.path().join("iptables-legacy-save"), "").expect("write");
        std::fs::create_dir(dir.path().join("ip6tables-nft-save")).expect("mkdir");
        let e = Env {
            sysfs: "/".into(),
            proc_root: "/".into(),
            save_dirs: vec![dir.path().into()],
        };
        assert_eq!(e.find_tool("iptables-nft-save"), Some(exe));
        assert_eq!(e.find_tool("iptables-legacy-save"), None);
        assert_eq!(e.find_tool("ip6tables-nft-save"), None);
        assert_eq!(e.find_tool("missing"), None);
    }
}
