// SPDX-License-Identifier: GPL-2.0
//! `ssnatctl`: inspect (and later control) the `xt_SSNAT` stateless source NAT target.
//!
//! The binary (`src/main.rs`) only parses the command line and maps the outcome to an exit
//! code; everything else is here so it can be tested without a kernel:
//!
//! - [`env`](mod@env): where to look (sysfs and proc roots, directories of the iptables tools);
//! - [`module`]: what `/sys/module/xt_SSNAT` says about the loaded module;
//! - [`xtables`]: whether `SSNAT` is registered in `/proc/net/ip{,6}_tables_targets`;
//! - [`rules`]: which rules use `-j SSNAT`, from the `ip{,6}tables-*-save` commands;
//! - [`report`]: the `version` and `status` reports, as text and as JSON;
//! - [`cli`]: the command line; [`error`]: errors and exit codes.
//!
//! # Exit codes
//!
//! | code | meaning |
//! | ---- | ------- |
//! | 0 | success (`version` and `status` also succeed when the module is not loaded) |
//! | 1 | error: a system file could not be read or made no sense, output failed |
//! | 2 | usage error (unknown command or option, bad argument) |
//! | 3 | the module is not loaded, for commands that need it |
//!
//! Errors are printed once to stderr as `ssnatctl: <message>`; warnings as
//! `ssnatctl: warning: <message>` (they do not change the exit code).
//!
//! # Environment
//!
//! | variable | default | use |
//! | -------- | ------- | --- |
//! | `SSNAT_SYSFS` | `/sys` | sysfs root: the module is looked up in `$SSNAT_SYSFS/module/xt_SSNAT` |
//! | `SSNAT_PROC` | `/proc` | proc root: targets are read from `$SSNAT_PROC/net/ip{,6}_tables_targets` |
//! | `SSNAT_SAVE_PATH` | `$PATH` + sbin dirs | colon-separated directories searched for the save commands |
//!
//! # JSON
//!
//! `version --json` and `status --json` print one JSON object on one line. The schema is
//! versioned by its `"schema"` member (now `1`): within a schema version members are only
//! ever added, never removed, renamed or retyped. See [`report`] for the members.

pub mod cli;
pub mod env;
pub mod error;
pub mod module;
pub mod report;
pub mod rules;
pub mod xtables;

use std::io::Write;

pub use error::Error;

/// Runs one parsed command line: the report goes to `out`, warnings to `err`.
///
/// Warnings are written here, not returned, because they do not make the command fail;
/// a failure comes back as an [`Error`] for `main` to print and turn into an exit code.
pub fn run(
    cli: &cli::Cli,
    env: &env::Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    let (warnings, result) = match &cli.command {
        cli::Command::Version(opts) => {
            let v = report::Version::gather(env)?;
            (v.warnings.clone(), v.write(out, opts.json))
        }
        cli::Command::Status(opts) => {
            let s = report::Status::gather(env)?;
            (s.warnings.clone(), s.write(out, opts.json))
        }
    };
    for w in &warnings {
        // A warning that cannot be shown is no reason to fail the command.
        let _ = writeln!(err, "ssnatctl: warning: {w}");
    }
    result
}
