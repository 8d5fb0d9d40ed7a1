// SPDX-License-Identifier: GPL-2.0
//! What sysfs says about the kernel module: `/sys/module/xt_SSNAT/{version,refcnt,initstate}`.
//!
//! The directory exists while the module is loaded (or built in). `version` is the module
//! version, the workspace version like ssnatctl's; `refcnt` counts users (each rule using
//! the target holds one reference; absent without `CONFIG_MODULE_UNLOAD`); `initstate` is
//! `live`, `coming` or `going` (absent for a built-in module).

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;

/// Name of the kernel module, as in `/sys/module`.
pub const MODULE_NAME: &str = "xt_SSNAT";

/// The module's state. JSON: `{"name", "loaded", "initstate", "version", "refcnt"}`, the
/// last three `null` when unknown (always when not loaded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModuleState {
    /// Always [`MODULE_NAME`].
    pub name: &'static str,
    /// `/sys/module/xt_SSNAT` exists.
    pub loaded: bool,
    /// Content of `initstate`.
    pub initstate: Option<String>,
    /// Content of `version`.
    pub version: Option<String>,
    /// Content of `refcnt`.
    pub refcnt: Option<u64>,
}

impl ModuleState {
    /// The state of a module that is not loaded.
    pub fn not_loaded() -> ModuleState {
        ModuleState {
            name: MODULE_NAME,
            loaded: false,
            initstate: None,
            version: None,
            refcnt: None,
        }
    }

    /// Reads `<sysfs>/module/xt_SSNAT`. A missing directory or file is a fact (not loaded,
    /// unknown); a file that exists but cannot be read or parsed is an error.
    pub fn read(sysfs: &Path) -> Result<ModuleState, Error> {
        let dir = module_dir(sysfs);
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Ok(ModuleState::not_loaded()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ModuleState::not_loaded()),
            Err(source) => return Err(Error::Read { path: dir, source }),
        }
        let refcnt_path = dir.join("refcnt");
        let refcnt = match read_attr(&refcnt_path)? {
            Some(text) => Some(parse_refcnt(&text).map_err(|what| Error::Parse {
                path: refcnt_path,
                what,
            })?),
            None => None,
        };
        Ok(ModuleState {
            name: MODULE_NAME,
            loaded: true,
            initstate: read_attr(&dir.join("initstate"))?.filter(|s| !s.is_empty()),
            version: read_attr(&dir.join("version"))?.filter(|s| !s.is_empty()),
            refcnt,
        })
    }

    /// `true` when the module is loaded and says a version different from `ours`.
    pub fn version_differs(&self, ours: &str) -> bool {
        self.version.as_deref().is_some_and(|v| v != ours)
    }
}

/// `<sysfs>/module/xt_SSNAT`.
pub fn module_dir(sysfs: &Path) -> PathBuf {
    sysfs.join("module").join(MODULE_NAME)
}

/// Content of a one-line sysfs attribute without its trailing newline, or `None` if the
/// file does not exist.
pub fn read_attr(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Error::Parse {
            path: path.into(),
            what: "not UTF-8 text".into(),
        }),
        Err(source) => Err(Error::Read {
            path: path.into(),
            source,
        }),
    }
}

/// Parses the content of `refcnt` (a decimal count).
pub fn parse_refcnt(text: &str) -> Result<u64, String> {
    let t = text.trim();
    t.parse().map_err(|_| format!("bad reference count {t:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_module(files: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = module_dir(root.path());
        fs::create_dir_all(&dir).expect("mkdir");
        for (name, content) in files {
            fs::write(dir.join(name), content).expect("write");
        }
        root
    }

    #[test]
    fn parses_refcnt() {
        assert_eq!(parse_refcnt("0\n"), Ok(0));
        assert_eq!(parse_refcnt("17"), Ok(17));
        assert!(parse_refcnt("").is_err());
        assert!(parse_refcnt("-1\n").is_err());
        assert_eq!(
            parse_refcnt("two\n"),
            Err("bad reference count \"two\"".to_string())
        );
    }

    #[test]
    fn not_loaded_when_the_directory_is_missing() {
        let root = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            ModuleState::read(root.path()).expect("read"),
            ModuleState::not_loaded()
        );
        let missing_root = root.path().join("nonexistent");
        assert!(!ModuleState::read(&missing_root).expect("read").loaded);
    }

    #[test]
    fn reads_a_live_module() {
        let root = fake_module(&[
            ("version", "0.1.0\n"),
            ("refcnt", "2\n"),
            ("initstate", "live\n"),
        ]);
        let m = ModuleState::read(root.path()).expect("read");
        assert_eq!(
            m,
            ModuleState {
                name: "xt_SSNAT",
                loaded: true,
                initstate: Some("live".into()),
                version: Some("0.1.0".into()),
                refcnt: Some(2),
            }
        );
        assert!(!m.version_differs("0.1.0"));
        assert!(m.version_differs("0.2.0"));
        assert!(!ModuleState::not_loaded().version_differs("0.2.0"));
    }

    #[test]
    fn missing_attributes_are_unknown() {
        let root = fake_module(&[("version", "\n")]);
        let m = ModuleState::read(root.path()).expect("read");
        assert!(m.loaded);
        assert_eq!((m.initstate, m.version, m.refcnt), (None, None, None));
    }

    #[test]
    fn bad_refcnt_is_an_error_naming_the_file() {
        let root = fake_module(&[("refcnt", "lots\n")]);
        let e = ModuleState::read(root.path()).expect_err("must fail");
        assert_eq!(e.exit_code(), 1);
        let msg = e.to_string();
        assert!(
            msg.ends_with("/module/xt_SSNAT/refcnt: bad reference count \"lots\""),
            "{msg}"
        );
    }

    #[test]
    fn unreadable_attribute_is_an_error() {
        // A directory where a file should be: read fails with EISDIR, even as root.
        let root = fake_module(&[]);
        fs::create_dir(module_dir(root.path()).join("version")).expect("mkdir");
        let e = ModuleState::read(root.path()).expect_err("must fail");
        assert!(matches!(e, Error::Read { .. }), "{e:?}");
        let root = fake_module(&[]);
        fs::write(module_dir(root.path()).join("initstate"), b"\xff\xfe").expect("write");
        let e = ModuleState::read(root.path()).expect_err("must fail");
        assert!(e.to_string().ends_with("initstate: not UTF-8 text"), "{e}");
    }
}
