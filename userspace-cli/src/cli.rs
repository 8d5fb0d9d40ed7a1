// SPDX-License-Identifier: GPL-2.0
//! The command line (clap derive; the doc comments are the help text).

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Exit status:
  0  success (version and status also succeed when the module is not loaded)
  1  error (a system file could not be read or made no sense)
  2  usage error
  3  module xt_SSNAT not loaded (commands that need it)

Environment:
  SSNAT_SYSFS      sysfs root (default /sys)
  SSNAT_PROC       proc root (default /proc)
  SSNAT_SAVE_PATH  directories searched for ip{,6}tables-*-save
                   (default $PATH, then /usr/local/sbin:/usr/sbin:/sbin)";

/// Inspect the xt_SSNAT stateless source NAT target.
///
/// SSNAT rewrites the source address and port of IPv4 and IPv6 packets in place, without
/// conntrack. The rules themselves are managed with iptables (-j SSNAT); ssnatctl reports
/// on the kernel module and the rules that use it.
#[derive(Debug, Parser)]
#[command(name = "ssnatctl", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the versions of ssnatctl, the ABI and the loaded module
    ///
    /// Warns when the module's version differs from ssnatctl's.
    ///
    /// Text: lines "ssnatctl VERSION", "abi N target SSNAT revision N",
    /// "module VERSION" (or "module not loaded", or "module unknown" when the module has
    /// no version file) and "kernel RELEASE".
    ///
    /// JSON (--json), one object:
    ///   {"schema":1, "ssnatctl":STR, "abi":INT,
    ///    "target":{"name":"SSNAT","revision":INT},
    ///    "module":MODULE, "kernel":STR, "warnings":[STR, ...]}
    /// with MODULE as in `ssnatctl status --help`.
    #[command(verbatim_doc_comment)]
    Version(ReadOpts),

    /// Show the module's state, the target's registration and the rules that use it
    ///
    /// Text, one fact per line:
    ///   module xt_SSNAT STATE [version V] [refcnt N]  (or "module xt_SSNAT not loaded")
    ///   target SSNAT ipv4 yes|no|unknown ipv6 yes|no|unknown
    ///   rules N
    ///   rule BACKEND FAMILY TABLE RULE...              (one per rule)
    ///   note TEXT                                      (a save command missing or failing)
    ///
    /// "unknown": the kernel has no ip{,6}_tables_targets file (legacy tables not loaded).
    /// Rules come from iptables-legacy-save, ip6tables-legacy-save, iptables-nft-save and
    /// ip6tables-nft-save (iptables-save, ip6tables-save where those are missing); a
    /// command that is missing or fails gives a note, not an error. Warns (on stderr)
    /// when the module's version differs from ssnatctl's.
    ///
    /// JSON (--json), one object:
    ///   {"schema":1,
    ///    "module":{"name":"xt_SSNAT", "loaded":BOOL, "initstate":STR|null,
    ///              "version":STR|null, "refcnt":INT|null},
    ///    "target":{"name":"SSNAT", "ipv4":BOOL|null, "ipv6":BOOL|null},
    ///    "rules":[{"backend":"legacy"|"nft", "family":"ipv4"|"ipv6", "table":STR,
    ///              "chain":STR, "rule":STR}],
    ///    "notes":[STR, ...], "warnings":[STR, ...]}
    #[command(verbatim_doc_comment)]
    Status(ReadOpts),
}

/// Options of the read-only commands.
#[derive(Debug, Args)]
pub struct ReadOpts {
    /// Print one JSON object instead of text (schema in this command's --help).
    #[arg(short, long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_json_flag_on_both_read_commands() {
        for (args, want) in [
            (&["ssnatctl", "version"][..], false),
            (&["ssnatctl", "version", "--json"][..], true),
            (&["ssnatctl", "status", "-j"][..], true),
        ] {
            let cli = Cli::try_parse_from(args).expect("valid command line");
            let json = match cli.command {
                Command::Version(o) | Command::Status(o) => o.json,
            };
            assert_eq!(json, want, "{args:?}");
        }
    }

    #[test]
    fn rejects_unknown_and_missing_commands_as_usage_errors() {
        for args in [
            &["ssnatctl", "bogus"][..],
            &["ssnatctl"][..],
            &["ssnatctl", "status", "-x"][..],
        ] {
            let e = Cli::try_parse_from(args).expect_err("must not parse");
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }
}
