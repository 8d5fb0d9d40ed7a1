// SPDX-License-Identifier: GPL-2.0
//! `ssnatctl`: inspect and control the `xt_SSNAT` stateless source NAT target.
//!
//! The binary (`src/main.rs`) only parses the command line and maps the outcome to an exit
//! code; everything else is here so it can be tested without a kernel:
//!
//! - [`env`](mod@env): where to look (sysfs and proc roots, directories of the iptables tools);
//! - [`module`]: what `/sys/module/xt_SSNAT` says about the loaded module;
//! - [`xtables`]: whether `SSNAT` is registered in `/proc/net/ip{,6}_tables_targets`;
//! - [`rules`]: which rules use `-j SSNAT`, from the `ip{,6}tables-*-save` commands;
//! - [`report`]: the `version` and `status` reports, as text and as JSON;
//! - [`netlink`]: the module's `SSNAT` generic netlink family (runtime profiles and
//!   their entries), with `neli`: requests, replies, events; its [`netlink::Profiles`]
//!   and [`netlink::Entries`] traits are the API for other programs;
//! - [`profile`]: profiles and entries on the user's side: mappings and destinations
//!   from the command line, text and JSON, the `save`/`restore` format; [`commands`]:
//!   the profile and entry commands;
//! - [`netns`]: the `--netns` option;
//! - [`cli`]: the command line; [`error`]: errors and exit codes.
//!
//! # Exit codes
//!
//! | code | meaning |
//! | ---- | ------- |
//! | 0 | success (`version` and `status` also succeed when the module is not loaded) |
//! | 1 | error: a system file could not be read or made no sense, output failed, netlink failed, the kernel refused a mapping (its extended ack message shown) |
//! | 2 | usage error (unknown command or option, bad argument, bad `restore` line) |
//! | 3 | the module is not loaded, for commands that need it (no `SSNAT` genl family) |
//! | 4 | not permitted (`EPERM`): changes and reading need `CAP_NET_ADMIN` over the network namespace |
//! | 5 | profile in use by rules (`EBUSY`) |
//! | 6 | no such profile or entry (`ENOENT`) |
//! | 7 | profile or entry exists (`EEXIST`) |
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
//! `version --json`, `status --json`, `profile show --json`, `profile list --json`,
//! `profile entry list --json` and `stats --json` print one JSON object on one line
//! (`stats --watch` and `monitor`: one per line). The schema is versioned by its `"schema"` member (now `1`): within a
//! schema version members are only ever added, never removed, renamed or retyped. See
//! [`report`] and [`profile`] for the members.

pub mod cli;
pub mod commands;
pub mod env;
pub mod error;
pub mod follow;
pub mod module;
pub mod netlink;
pub mod netns;
pub mod profile;
pub mod report;
pub mod rules;
pub mod xtables;

use std::io::{Read, Write};

use clap::CommandFactory;

pub use error::Error;

/// Runs one parsed command line: the report goes to `out`, warnings to `err`; `restore`
/// reads standard input. Profile commands talk to the kernel (in `--netns`).
///
/// Warnings are written here, not returned, because they do not make the command fail;
/// a failure comes back as an [`Error`] for `main` to print and turn into an exit code.
pub fn run(
    cli: &cli::Cli,
    env: &env::Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    let mut connect = || -> Result<Box<dyn netlink::Profiles>, Error> {
        if let Some(ns) = &cli.netns {
            netns::enter(ns)?;
        }
        Ok(Box::new(netlink::Client::connect()?))
    };
    run_with(
        cli,
        env,
        &mut connect,
        &mut std::io::stdin().lock(),
        out,
        err,
    )
}

/// [`run`] with the kernel's profiles and standard input given: `connect` is called
/// (once) after the arguments are checked, and enters `--netns` itself.
pub fn run_with(
    cli: &cli::Cli,
    env: &env::Env,
    connect: commands::Connect,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    use cli::Command;
    match &cli.command {
        Command::Profile(cmd) => commands::profile(cmd, connect, out),
        Command::Stats(args) => commands::stats(args, connect, out, None),
        Command::Monitor(opts) => commands::monitor(opts.json, connect, out),
        Command::Save => commands::save(connect, out),
        Command::Restore(args) => commands::restore(args, connect, stdin),
        Command::Follow(args) => follow::run(args, connect()?.as_mut(), out),
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut cli::Cli::command(), "ssnatctl", out);
            out.flush().map_err(Error::Output)
        }
        Command::Manpage => {
            cli::manpage(out).map_err(Error::Output)?;
            out.flush().map_err(Error::Output)
        }
        Command::Version(opts) => {
            enter_netns(cli)?;
            let v = report::Version::gather(env)?;
            let result = v.write(out, opts.json);
            write_warnings(err, &v.warnings);
            result
        }
        Command::Status(opts) => {
            enter_netns(cli)?;
            let s = report::Status::gather(env)?;
            let result = s.write(out, opts.json);
            write_warnings(err, &s.warnings);
            result
        }
    }
}

/// For `version` and `status`: the namespace's `/proc/net` and rules (the save commands
/// run in it).
fn enter_netns(cli: &cli::Cli) -> Result<(), Error> {
    match &cli.netns {
        Some(ns) => netns::enter(ns),
        None => Ok(()),
    }
}

/// Warnings go to stderr after the report.
fn write_warnings(err: &mut dyn Write, warnings: &[String]) {
    for w in warnings {
        // A warning that cannot be shown is no reason to fail the command.
        let _ = writeln!(err, "ssnatctl: warning: {w}");
    }
}
