// SPDX-License-Identifier: GPL-2.0
//! The `version` and `status` reports: gathered from the system, printed as text or JSON.
//!
//! # JSON schema 1
//!
//! Both reports are one JSON object on one line. `"schema"` is the schema version; within
//! a version members are only added, never removed, renamed or retyped.
//!
//! `MODULE` (both reports):
//! `{"name": "xt_SSNAT", "loaded": bool, "initstate": string|null, "version": string|null,
//! "refcnt": int|null}`, the last three `null` when not loaded or not shown by sysfs.
//!
//! `ssnatctl version --json`:
//! ```text
//! {"schema": 1, "ssnatctl": string, "abi": int,
//!  "target": {"name": "SSNAT", "revision": int},
//!  "module": MODULE, "kernel": string, "warnings": [string]}
//! ```
//! `abi` and `target` are what this ssnatctl was built for (`ssnat_core::abi`); `kernel`
//! is the running kernel's release.
//!
//! `ssnatctl status --json`:
//! ```text
//! {"schema": 1, "module": MODULE,
//!  "target": {"name": "SSNAT", "ipv4": bool|null, "ipv6": bool|null},
//!  "rules": [{"backend": "legacy"|"nft", "family": "ipv4"|"ipv6",
//!             "table": string, "chain": string, "rule": string}],
//!  "notes": [string], "warnings": [string]}
//! ```
//! `ipv4`/`ipv6` say whether the target is registered for the family, `null` when the
//! kernel does not list its targets (legacy tables not loaded). `rule` is the line as the
//! save command printed it. `notes` tell what could not be listed (a save command missing
//! or failing) and oddities; `warnings` are also printed to stderr.

use std::io::{ErrorKind, Write};

use serde::Serialize;
use ssnat_core::abi;

use crate::env::Env;
use crate::error::{io_desc, Error};
use crate::module::ModuleState;
use crate::rules::{self, Family, Listing, Rule};
use crate::xtables;

/// Version of the JSON schema.
pub const SCHEMA: u32 = 1;
/// This program's version (the workspace's, like the module's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The target this ssnatctl was built for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetAbi {
    pub name: &'static str,
    pub revision: u8,
}

/// The `version` report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Version {
    pub schema: u32,
    pub ssnatctl: &'static str,
    pub abi: u32,
    pub target: TargetAbi,
    pub module: ModuleState,
    pub kernel: String,
    pub warnings: Vec<String>,
}

impl Version {
    /// Reads the module's state and the kernel release.
    pub fn gather(env: &Env) -> Result<Version, Error> {
        let module = ModuleState::read(&env.sysfs)?;
        let uts = nix::sys::utsname::uname().map_err(|errno| Error::Sys {
            call: "uname",
            errno,
        })?;
        Ok(Version::new(
            module,
            uts.release().to_string_lossy().into_owned(),
        ))
    }

    /// The report for these facts.
    pub fn new(module: ModuleState, kernel: String) -> Version {
        let warnings = version_warning(&module).into_iter().collect();
        Version {
            schema: SCHEMA,
            ssnatctl: VERSION,
            abi: abi::ABI_VERSION,
            target: TargetAbi {
                name: abi::TARGET_NAME,
                revision: abi::TARGET_REVISION,
            },
            module,
            kernel,
            warnings,
        }
    }

    /// The text form, one `key value` line per fact.
    pub fn text(&self) -> String {
        let module = match (&self.module.loaded, &self.module.version) {
            (false, _) => "not loaded",
            (true, Some(v)) => v.as_str(),
            (true, None) => "unknown",
        };
        format!(
            "ssnatctl {}\nabi {} target {} revision {}\nmodule {}\nkernel {}\n",
            self.ssnatctl, self.abi, self.target.name, self.target.revision, module, self.kernel
        )
    }

    /// Writes the report as text or JSON.
    pub fn write(&self, out: &mut dyn Write, json: bool) -> Result<(), Error> {
        write_report(out, json, self, || self.text())
    }
}

/// Registration of the target with xtables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetState {
    pub name: &'static str,
    /// Listed in `ip_tables_targets`; `None` when that file does not exist.
    pub ipv4: Option<bool>,
    /// Listed in `ip6_tables_targets`; `None` when that file does not exist.
    pub ipv6: Option<bool>,
}

/// The `status` report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    pub schema: u32,
    pub module: ModuleState,
    pub target: TargetState,
    pub rules: Vec<Rule>,
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
}

impl Status {
    /// Reads sysfs and proc and runs the save commands.
    pub fn gather(env: &Env) -> Result<Status, Error> {
        let module = ModuleState::read(&env.sysfs)?;
        // The target lists are root-only (0440): unreadable is "unknown", with a note.
        let mut notes = Vec::new();
        let mut registered =
            |family| match xtables::registered(&env.proc_root, family, abi::TARGET_NAME) {
                Err(Error::Read { path, source })
                    if source.kind() == ErrorKind::PermissionDenied =>
                {
                    notes.push(format!("{}: {}", path.display(), io_desc(&source)));
                    Ok(None)
                }
                r => r,
            };
        let target = TargetState {
            name: abi::TARGET_NAME,
            ipv4: registered(Family::Ipv4)?,
            ipv6: registered(Family::Ipv6)?,
        };
        let denied = !notes.is_empty();
        let mut listing = rules::collect(env, abi::TARGET_NAME);
        notes.append(&mut listing.notes);
        let uid = nix::unistd::geteuid();
        if !uid.is_root() && (denied || listing.failed) {
            notes.push(format!("not root (uid {uid}): the above may need root"));
        }
        listing.notes = notes;
        Ok(Status::new(module, target, listing))
    }

    /// The report for these facts, with the notes and warnings they call for.
    pub fn new(module: ModuleState, target: TargetState, listing: Listing) -> Status {
        let Listing {
            rules,
            mut notes,
            complete,
            ..
        } = listing;
        if !module.loaded && (target.ipv4 == Some(true) || target.ipv6 == Some(true)) {
            notes.push(format!(
                "{} registered but no module {} in sysfs (built in?)",
                target.name, module.name
            ));
        }
        if let (true, Some(refcnt)) = (complete, module.refcnt) {
            if refcnt != rules.len() as u64 {
                notes.push(format!(
                    "refcnt {refcnt} but {} rules listed (rules in other network namespaces?)",
                    rules.len()
                ));
            }
        }
        let warnings = version_warning(&module).into_iter().collect();
        Status {
            schema: SCHEMA,
            module,
            target,
            rules,
            notes,
            warnings,
        }
    }

    /// The text form: `module`, `target` and `rules` lines, then one `rule` line per rule
    /// and one `note` line per note.
    pub fn text(&self) -> String {
        let m = &self.module;
        let mut s = format!("module {}", m.name);
        if m.loaded {
            s += " ";
            s += m.initstate.as_deref().unwrap_or("loaded");
            if let Some(v) = &m.version {
                s += &format!(" version {v}");
            }
            if let Some(n) = m.refcnt {
                s += &format!(" refcnt {n}");
            }
        } else {
            s += " not loaded";
        }
        let yes_no = |r: Option<bool>| match r {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        s += &format!(
            "\ntarget {} ipv4 {} ipv6 {}\nrules {}\n",
            self.target.name,
            yes_no(self.target.ipv4),
            yes_no(self.target.ipv6),
            self.rules.len()
        );
        for r in &self.rules {
            s += &format!("rule {} {} {} {}\n", r.backend, r.family, r.table, r.rule);
        }
        for n in &self.notes {
            s += &format!("note {n}\n");
        }
        s
    }

    /// Writes the report as text or JSON.
    pub fn write(&self, out: &mut dyn Write, json: bool) -> Result<(), Error> {
        write_report(out, json, self, || self.text())
    }
}

/// The warning when the loaded module is not the version of this ssnatctl.
fn version_warning(module: &ModuleState) -> Option<String> {
    let theirs = module
        .version
        .as_deref()
        .filter(|_| module.version_differs(VERSION))?;
    Some(format!(
        "module {} version {theirs} differs from ssnatctl version {VERSION}",
        module.name
    ))
}

fn write_report(
    out: &mut dyn Write,
    json: bool,
    report: &impl Serialize,
    text: impl FnOnce() -> String,
) -> Result<(), Error> {
    if json {
        serde_json::to_writer(&mut *out, report)?;
        out.write_all(b"\n").map_err(Error::Output)?;
    } else {
        out.write_all(text().as_bytes()).map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Backend;
    use serde_json::{json, Value};

    fn live(version: &str, refcnt: u64) -> ModuleState {
        ModuleState {
            name: "xt_SSNAT",
            loaded: true,
            initstate: Some("live".into()),
            version: Some(version.into()),
            refcnt: Some(refcnt),
        }
    }

    fn rule(backend: Backend, family: Family, table: &str, line: &str) -> Rule {
        let chain = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        Rule {
            backend,
            family,
            table: table.into(),
            chain,
            rule: line.into(),
        }
    }

    fn json_of(report: &impl Serialize) -> Value {
        serde_json::to_value(report).expect("serializable")
    }

    #[test]
    fn version_not_loaded() {
        let v = Version::new(ModuleState::not_loaded(), "6.12.0".into());
        assert_eq!(
            v.text(),
            format!("ssnatctl {VERSION}\nabi 1 target SSNAT revision 0\nmodule not loaded\nkernel 6.12.0\n")
        );
        assert!(v.warnings.is_empty());
        assert_eq!(
            json_of(&v),
            json!({
                "schema": 1, "ssnatctl": VERSION, "abi": 1,
                "target": {"name": "SSNAT", "revision": 0},
                "module": {"name": "xt_SSNAT", "loaded": false, "initstate": null,
                           "version": null, "refcnt": null},
                "kernel": "6.12.0", "warnings": []
            })
        );
    }

    #[test]
    fn version_mismatch_warns() {
        let v = Version::new(live("9.9.9", 0), "6.12.0".into());
        assert!(v.text().contains("\nmodule 9.9.9\n"));
        assert_eq!(
            v.warnings,
            [format!(
                "module xt_SSNAT version 9.9.9 differs from ssnatctl version {VERSION}"
            )]
        );
        assert!(Version::new(live(VERSION, 0), "x".into())
            .warnings
            .is_empty());
        let mut no_version = live(VERSION, 0);
        no_version.version = None;
        let v = Version::new(no_version, "x".into());
        assert!(v.text().contains("\nmodule unknown\n") && v.warnings.is_empty());
    }

    fn listing(rules: Vec<Rule>, notes: &[&str], complete: bool) -> Listing {
        Listing {
            rules,
            notes: notes.iter().map(|n| n.to_string()).collect(),
            complete,
            failed: false,
        }
    }

    #[test]
    fn status_of_a_live_module_with_rules() {
        let rules = vec![
            rule(
                Backend::Legacy,
                Family::Ipv4,
                "raw",
                "-A PREROUTING -j SSNAT --to-source 192.0.2.1",
            ),
            rule(
                Backend::Nft,
                Family::Ipv6,
                "raw",
                "-A OUTPUT -j SSNAT --to-source 2001:db8::1",
            ),
        ];
        let target = TargetState {
            name: "SSNAT",
            ipv4: Some(true),
            ipv6: None,
        };
        let s = Status::new(live(VERSION, 2), target, listing(rules, &[], true));
        assert_eq!(
            s.text(),
            format!(
                "module xt_SSNAT live version {VERSION} refcnt 2\n\
                 target SSNAT ipv4 yes ipv6 unknown\n\
                 rules 2\n\
                 rule legacy ipv4 raw -A PREROUTING -j SSNAT --to-source 192.0.2.1\n\
                 rule nft ipv6 raw -A OUTPUT -j SSNAT --to-source 2001:db8::1\n"
            )
        );
        let j = json_of(&s);
        assert_eq!(j["schema"], 1);
        assert_eq!(
            j["target"],
            json!({"name": "SSNAT", "ipv4": true, "ipv6": null})
        );
        assert_eq!(
            j["rules"][1],
            json!({"backend": "nft", "family": "ipv6", "table": "raw", "chain": "OUTPUT",
                   "rule": "-A OUTPUT -j SSNAT --to-source 2001:db8::1"})
        );
        assert_eq!(j["notes"], json!([]));
        assert_eq!(j["warnings"], json!([]));
    }

    #[test]
    fn status_not_loaded() {
        let target = TargetState {
            name: "SSNAT",
            ipv4: Some(false),
            ipv6: Some(false),
        };
        let s = Status::new(
            ModuleState::not_loaded(),
            target,
            listing(vec![], &["ip6tables-nft-save: not found"], false),
        );
        assert_eq!(
            s.text(),
            "module xt_SSNAT not loaded\ntarget SSNAT ipv4 no ipv6 no\nrules 0\n\
             note ip6tables-nft-save: not found\n"
        );
        assert_eq!(json_of(&s)["module"]["loaded"], false);
    }

    #[test]
    fn status_notes_oddities() {
        // refcnt differs from the rules seen: noted only when the listing is complete.
        let t = || TargetState {
            name: "SSNAT",
            ipv4: Some(true),
            ipv6: Some(true),
        };
        let s = Status::new(live(VERSION, 3), t(), listing(vec![], &[], true));
        assert_eq!(
            s.notes,
            ["refcnt 3 but 0 rules listed (rules in other network namespaces?)"]
        );
        let s = Status::new(
            live(VERSION, 3),
            t(),
            listing(vec![], &["x: failed"], false),
        );
        assert_eq!(s.notes, ["x: failed"]);
        // Registered without a sysfs directory.
        let s = Status::new(ModuleState::not_loaded(), t(), listing(vec![], &[], true));
        assert_eq!(
            s.notes,
            ["SSNAT registered but no module xt_SSNAT in sysfs (built in?)"]
        );
        // A coming module without refcnt, other version.
        let mut m = live("0.0.1", 0);
        m.initstate = Some("coming".into());
        m.refcnt = None;
        let s = Status::new(m, t(), listing(vec![], &[], true));
        assert!(
            s.text()
                .starts_with("module xt_SSNAT coming version 0.0.1\n"),
            "{}",
            s.text()
        );
        assert_eq!(s.warnings.len(), 1);
        assert!(s.notes.is_empty());
    }

    #[test]
    fn writes_one_json_line_or_the_text() {
        let v = Version::new(ModuleState::not_loaded(), "6.12.0".into());
        let mut out = Vec::new();
        v.write(&mut out, true).expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with("}\n"));
        assert_eq!(
            serde_json::from_str::<Value>(&text).expect("json"),
            json_of(&v)
        );
        let mut out = Vec::new();
        v.write(&mut out, false).expect("write");
        assert_eq!(out, v.text().as_bytes());
    }

    #[test]
    fn write_errors_are_output_errors() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let v = Version::new(ModuleState::not_loaded(), "6.12.0".into());
        for json in [false, true] {
            let e = v.write(&mut Closed, json).expect_err("must fail");
            assert!(e.is_broken_pipe(), "{e:?}");
        }
    }
}
