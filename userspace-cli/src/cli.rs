// SPDX-License-Identifier: GPL-2.0
//! The command line (clap derive; the doc comments are the help text).

use std::io::{self, Write};

use clap::{Args, CommandFactory, Parser, Subcommand};

const AFTER_HELP: &str = "\
Exit status:
  0  success (version and status also succeed when the module is not loaded)
  1  error (a system file could not be read or made no sense, a netlink failure,
     a mapping the kernel refused: its message is shown)
  2  usage error (also a bad --to-source, --to-ports, --random-seed or profile
     name, and a bad line given to restore; found before anything is sent)
  3  module xt_SSNAT not loaded (commands that need it: the SSNAT generic netlink
     family is not registered; load the module with 'modprobe xt_SSNAT')
  4  not permitted (EPERM): changes and reading need CAP_NET_ADMIN in the network
     namespace's user namespace; --netns needs CAP_SYS_ADMIN
  5  profile in use (EBUSY): delete the iptables rules that use it first
     (-j SSNAT --profile NAME)
  6  no such profile (ENOENT)
  7  profile exists (EEXIST): use 'ssnatctl profile set' to replace it

Environment:
  SSNAT_SYSFS      sysfs root (default /sys)
  SSNAT_PROC       proc root (default /proc)
  SSNAT_SAVE_PATH  directories searched for ip{,6}tables-*-save
                   (default $PATH, then /usr/local/sbin:/usr/sbin:/sbin)";

/// Inspect and control the xt_SSNAT stateless source NAT target.
///
/// SSNAT rewrites the source address and port of IPv4 and IPv6 packets in place, without
/// conntrack. The rules themselves are managed with iptables (-j SSNAT); ssnatctl reports
/// on the kernel module and the rules that use it, and manages the runtime profiles
/// (named mappings that rules use with -j SSNAT --profile NAME, changed without touching
/// the rules) through the module's SSNAT generic netlink family. Profiles belong to a
/// network namespace.
#[derive(Debug, Parser)]
#[command(name = "ssnatctl", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Run in network namespace NAME (/run/netns/NAME, as 'ip -n NAME' does); a NAME
    /// with a '/' is the path of a namespace file, e.g. /proc/PID/ns/net
    #[arg(short = 'n', long, global = true, value_name = "NAME")]
    pub netns: Option<String>,

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

    /// Add, replace, delete and show runtime profiles
    #[command(subcommand)]
    Profile(ProfileCommand),

    /// Show the profiles' counters as a table
    ///
    /// Text: a header line "NAME RULES PACKETS BYTES ..." (one column per counter, the
    /// counter names upper-cased) and one line per profile, sorted by name. With
    /// --watch[=SECS], the table again every SECS seconds (default 1; a blank line
    /// between), until interrupted. SECS goes after an '=' (--watch=2, -w=2): in
    /// 'stats --watch moh', moh is the profile.
    ///
    /// JSON (--json), one object (one per interval with --watch, one per line):
    ///   {"schema":1,
    ///    "profiles":[{"name":STR, "rules":INT|null, "counters":COUNTERS|null}]}
    /// with COUNTERS as in `ssnatctl profile show --help`.
    #[command(verbatim_doc_comment)]
    Stats(StatsArgs),

    /// Print the changes to profiles as they happen, until interrupted
    ///
    /// Text, one line per change, flushed at once:
    ///   new NAME MAPPING [random-seed N]
    ///   set NAME MAPPING [random-seed N]
    ///   del NAME
    /// MAPPING is the --to-source text (":PORT[-PORT]" for a port alone), e.g.
    /// "new moh 198.51.100.7:4000". A line "lost" when the kernel dropped changes
    /// (receive buffer full): 'ssnatctl profile show' tells the state.
    ///
    /// JSON (--json), one object per line:
    ///   {"schema":1, "event":"new"|"set"|"del", "profile":PROFILE}
    ///   {"schema":1, "event":"lost", "profile":null}
    /// with PROFILE as in `ssnatctl profile show --help` (for "del": as it was).
    #[command(verbatim_doc_comment)]
    Monitor(ReadOpts),

    /// Print all profiles as 'profile add' lines that 'ssnatctl restore' reads back
    ///
    /// A header comment, then one line per profile, sorted by name:
    ///   profile add NAME [-6] --to-source SPEC|--to-ports P[-P] [--random-seed N]
    /// (-6 only for an IPv6 profile without address; a NAME starting with '-' comes last,
    /// after '--'). `ssnatctl save > FILE; ssnatctl restore FILE` brings the same
    /// profiles back, and save then prints the same text.
    #[command(verbatim_doc_comment)]
    Save,

    /// Create or replace the profiles listed in FILE (as 'ssnatctl save' prints them)
    ///
    /// Reads FILE, or standard input when FILE is '-' or not given. Blank lines and
    /// lines starting with '#' are skipped; every other line is
    ///   [profile] add NAME --to-source SPEC [--to-ports P[-P]] [--random-seed N] [-6]
    /// with the options of 'ssnatctl profile add'. The whole input is checked first:
    /// on a bad line, "line N: MESSAGE" and exit 2, and nothing is changed. Then each
    /// profile is created, or replaced when it exists with another mapping (left alone
    /// when it is the same), so restoring twice changes nothing. A failure stops there
    /// with "line N: MESSAGE" (earlier lines stay applied). Profiles not in the input
    /// are left alone.
    #[command(verbatim_doc_comment)]
    Restore(RestoreArgs),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    ///
    /// E.g. `ssnatctl completions bash > /etc/bash_completion.d/ssnatctl`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff) to standard output
    ///
    /// E.g. `ssnatctl manpage > ssnatctl.8; man ./ssnatctl.8`.
    Manpage,
}

/// `ssnatctl profile ...`.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Create a profile (exit 7 if it exists)
    ///
    /// The mapping takes the options of -j SSNAT, with the same syntax and checks:
    /// --to-source ADDR[-ADDR][:PORT[-PORT]] or PREFIX/LEN[:PORT[-PORT]] (IPv6 with a
    /// port: [ADDR]:PORT, [ADDR]-[ADDR]:PORT, [PREFIX]/LEN:PORT), or --to-ports alone to
    /// rewrite the port only. The family comes from the address; -6 makes a port-only
    /// profile IPv6 (default IPv4).
    ///
    /// E.g. `ssnatctl profile add moh --to-source 198.51.100.7:4000`.
    #[command(verbatim_doc_comment)]
    Add(ProfileSpec),

    /// Replace a profile's mapping atomically (exit 6 if it does not exist)
    ///
    /// Same options as 'ssnatctl profile add'. Packets see the old mapping or the new
    /// one. The family cannot change while rules use the profile (exit 5).
    #[command(verbatim_doc_comment)]
    Set(ProfileSpec),

    /// Delete a profile (exit 5 while rules use it, 6 if it does not exist)
    #[command(visible_alias = "delete")]
    Del(NameArg),

    /// Show profiles: mapping, rules that use them, counters
    ///
    /// Text, two lines per profile (sorted by name):
    ///   profile NAME ipv4|ipv6 to:MAPPING [random-seed:N] rules N
    ///   <TAB>packets N bytes N tracked N ...    (every counter: name value)
    /// "to:MAPPING" is as 'iptables -L' prints the same -j SSNAT options
    /// ("ports:P[-P]" for a port alone); seeds are decimal, as everywhere.
    ///
    /// JSON (--json), one object:
    ///   {"schema":1, "profiles":[PROFILE, ...]}
    /// PROFILE:
    ///   {"name":STR, "family":"ipv4"|"ipv6",
    ///    "to_source":STR|null, "to_ports":STR|null,
    ///    "address":{"first":STR, "last":STR, "prefix_len":INT|null}|null,
    ///    "ports":{"first":INT, "last":INT}|null,
    ///    "seed":INT, "rules":INT|null, "counters":COUNTERS|null}
    /// "to_source" is the --to-source text ('ssnatctl save' writes), null without an
    /// address; "to_ports" is the port range, null unless only the port is mapped.
    /// COUNTERS: {"packets":INT, "bytes":INT, "tracked":INT, "truncated":INT,
    ///   "malformed":INT, "header-chain":INT, "no-port":INT, "unchanged":INT,
    ///   "no-memory":INT}, summed over the CPUs.
    #[command(verbatim_doc_comment)]
    Show(ShowArgs),

    /// List the profiles' names, one per line, sorted
    ///
    /// JSON (--json), one object: {"schema":1, "profiles":[STR, ...]}
    #[command(verbatim_doc_comment, visible_alias = "ls")]
    List(ReadOpts),
}

/// A profile's name and mapping, as `profile add` and `profile set` take them.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub struct ProfileSpec {
    /// Profile name: 1-31 letters, digits, '-', '_' or '.'.
    pub name: String,

    /// Addresses (and ports) to write: ADDR[-ADDR][:PORT[-PORT]], PREFIX/LEN[:PORT[-PORT]]
    #[arg(long, value_name = "SPEC")]
    pub to_source: Option<String>,

    /// Ports to write, PORT[-PORT] (with a --to-source without port, or alone)
    #[arg(long, value_name = "PORT[-PORT]")]
    pub to_ports: Option<String>,

    /// Seed of the flow hash that picks inside a range: decimal or 0x hex (default 0)
    #[arg(long, value_name = "N")]
    pub random_seed: Option<String>,

    /// IPv6, for a profile without --to-source (the address tells otherwise)
    #[arg(short = '6', long)]
    pub ipv6: bool,
}

/// A profile name.
#[derive(Debug, Args)]
pub struct NameArg {
    /// Profile name.
    pub name: String,
}

/// Options of `profile show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The profile to show (default: all).
    pub name: Option<String>,

    #[command(flatten)]
    pub read: ReadOpts,
}

/// Options of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The profile to show (default: all).
    pub name: Option<String>,

    /// Print again every SECS seconds (default 1), until interrupted; SECS only after
    /// an '=' (--watch=2), so that 'stats --watch NAME' watches profile NAME
    #[arg(
        short,
        long,
        value_name = "SECS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "1",
        value_parser = parse_interval
    )]
    pub watch: Option<f64>,

    #[command(flatten)]
    pub read: ReadOpts,
}

/// Options of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// File to read ('-' or none: standard input).
    pub file: Option<String>,
}

/// An interval for --watch: positive seconds, at most a day.
fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86400.0 => Ok(v),
        _ => Err("seconds: a number above 0, at most 86400".into()),
    }
}

/// The manual page `ssnatctl(8)`, roff, as `ssnatctl manpage` prints it: clap_mangen's
/// sections of the top command (name, synopsis, description, global options, exit
/// status and environment, version) and, instead of the list of `ssnatctl-COMMAND(8)`
/// pages that clap_mangen refers to (nobody installs them), a COMMANDS section with every
/// command's synopsis, description (its long help, line by line) and options, so that
/// the one page documents them all (`stats --watch[=SECS]`, ...).
pub fn manpage(out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone()).section("8");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    let mut commands = Vec::new();
    leaf_commands(&cmd, &mut commands);
    for sub in commands {
        // The global options (--netns) and -h once, at the top, not under every command.
        let sub = sub
            .mut_arg("netns", |a| a.hide(true))
            .mut_arg("help", |a| a.hide(true));
        let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_owned();
        let man = clap_mangen::Man::new(sub.clone());
        writeln!(out, ".SS \"{name}\"")?;
        write_section_body(out, &man, clap_mangen::Man::render_synopsis_section)?;
        // The help texts are laid out line by line (verbatim doc comments): keep them.
        writeln!(out, ".PP\n.nf")?;
        write_section_body(out, &man, clap_mangen::Man::render_description_section)?;
        writeln!(out, ".fi")?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            writeln!(out, ".PP\nOptions and arguments:")?;
            write_section_body(out, &man, clap_mangen::Man::render_options_section)?;
        }
    }
    man.render_extra_section(out)?;
    man.render_version_section(out)
}

/// The commands that run something (`stats`, `profile add`, ...), in help order: the
/// subcommands without subcommands of their own, depth first.
fn leaf_commands(cmd: &clap::Command, into: &mut Vec<clap::Command>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.has_subcommands() {
            leaf_commands(sub, into);
        } else {
            into.push(sub.clone());
        }
    }
}

/// One of clap_mangen's sections without its `.SH` heading line (and without the
/// definition of the `\*(Aq` string that every rendering repeats; the page's title
/// defined it).
fn write_section_body(
    out: &mut dyn Write,
    man: &clap_mangen::Man,
    render: fn(&clap_mangen::Man, &mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut roff = Vec::new();
    render(man, &mut roff)?;
    let text = String::from_utf8_lossy(&roff);
    let body = text.lines().filter(|l| {
        !l.starts_with(".SH ")
            && !l.starts_with(".ie \\n(.g .ds Aq")
            && !l.starts_with(".el .ds Aq")
    });
    for line in body {
        writeln!(out, "{line}")?;
    }
    Ok(())
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

    fn parse(args: &[&str]) -> Cli {
        let mut all = vec!["ssnatctl"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn refused(args: &[&str]) -> clap::Error {
        let mut all = vec!["ssnatctl"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all) {
            Ok(cli) => panic!("{args:?} parsed: {cli:?}"),
            Err(e) => e,
        }
    }

    /// The `--json` of every read command.
    fn json_of(cli: &Cli) -> Option<bool> {
        match &cli.command {
            Command::Version(o) | Command::Status(o) | Command::Monitor(o) => Some(o.json),
            Command::Profile(ProfileCommand::List(o)) => Some(o.json),
            Command::Profile(ProfileCommand::Show(s)) => Some(s.read.json),
            Command::Stats(s) => Some(s.read.json),
            _ => None,
        }
    }

    #[test]
    fn parses_json_flag_on_every_read_command() {
        for (args, want) in [
            (&["version"][..], false),
            (&["version", "--json"][..], true),
            (&["status", "-j"][..], true),
            (&["profile", "show"][..], false),
            (&["profile", "show", "moh", "--json"][..], true),
            (&["profile", "list", "-j"][..], true),
            (&["profile", "ls"][..], false),
            (&["stats", "--json"][..], true),
            (&["monitor", "--json"][..], true),
            (&["monitor"][..], false),
        ] {
            assert_eq!(json_of(&parse(args)), Some(want), "{args:?}");
        }
    }

    #[test]
    fn parses_profile_add_and_set() {
        let cli = parse(&[
            "profile",
            "add",
            "moh",
            "--to-source",
            "198.51.100.7:4000",
            "--random-seed",
            "0x10",
        ]);
        let Command::Profile(ProfileCommand::Add(spec)) = cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(
            spec,
            ProfileSpec {
                name: "moh".into(),
                to_source: Some("198.51.100.7:4000".into()),
                to_ports: None,
                random_seed: Some("0x10".into()),
                ipv6: false,
            }
        );
        let cli = parse(&["profile", "set", "p", "--to-ports", "53", "-6"]);
        let Command::Profile(ProfileCommand::Set(spec)) = cli.command else {
            panic!("{cli:?}")
        };
        assert!(spec.ipv6 && spec.to_ports.as_deref() == Some("53"));
        // IPv6 values with colons and brackets are plain values.
        let cli = parse(&["profile", "add", "v6", "--to-source", "[2001:db8::1]:53"]);
        let Command::Profile(ProfileCommand::Add(spec)) = cli.command else {
            panic!()
        };
        assert_eq!(spec.to_source.as_deref(), Some("[2001:db8::1]:53"));
        // A name starting with '-' after '--'.
        let cli = parse(&["profile", "add", "--to-ports", "5", "--", "-odd"]);
        let Command::Profile(ProfileCommand::Add(spec)) = cli.command else {
            panic!()
        };
        assert_eq!(spec.name, "-odd");
    }

    #[test]
    fn parses_del_show_list_stats_monitor_save_restore() {
        let cli = parse(&["profile", "del", "moh"]);
        assert!(
            matches!(cli.command, Command::Profile(ProfileCommand::Del(NameArg { ref name })) if name == "moh")
        );
        let cli = parse(&["profile", "delete", "moh"]);
        assert!(matches!(
            cli.command,
            Command::Profile(ProfileCommand::Del(_))
        ));
        let cli = parse(&["profile", "show"]);
        assert!(matches!(
            cli.command,
            Command::Profile(ProfileCommand::Show(ShowArgs { name: None, .. }))
        ));
        let cli = parse(&["stats"]);
        assert!(matches!(
            cli.command,
            Command::Stats(StatsArgs {
                name: None,
                watch: None,
                ..
            })
        ));
        // --watch takes its interval only after an '=': a word after it is the profile.
        for (args, watch, want) in [
            (&["stats", "moh", "--watch"][..], 1.0, Some("moh")),
            (&["stats", "--watch", "moh"], 1.0, Some("moh")),
            (&["stats", "-w", "moh"], 1.0, Some("moh")),
            (&["stats", "--watch"], 1.0, None),
            (&["stats", "--watch=2.5"], 2.5, None),
            (&["stats", "--watch=2.5", "moh"], 2.5, Some("moh")),
            (&["stats", "moh", "--watch=0.5"], 0.5, Some("moh")),
            (&["stats", "-w=3", "moh"], 3.0, Some("moh")),
            (&["stats", "-jw", "moh"], 1.0, Some("moh")),
            // A profile may be called "2": then it is the profile, not the interval.
            (&["stats", "--watch", "2"], 1.0, Some("2")),
        ] {
            let cli = parse(args);
            let Command::Stats(StatsArgs {
                watch: got, name, ..
            }) = cli.command
            else {
                panic!("{args:?}: {cli:?}")
            };
            assert_eq!(got, Some(watch), "{args:?}");
            assert_eq!(name.as_deref(), want, "{args:?}");
        }
        assert!(matches!(parse(&["save"]).command, Command::Save));
        let cli = parse(&["restore"]);
        assert!(matches!(
            cli.command,
            Command::Restore(RestoreArgs { file: None })
        ));
        let cli = parse(&["restore", "-"]);
        assert!(
            matches!(cli.command, Command::Restore(RestoreArgs { file: Some(ref f) }) if f == "-")
        );
        assert!(matches!(parse(&["manpage"]).command, Command::Manpage));
        assert!(matches!(
            parse(&["completions", "bash"]).command,
            Command::Completions {
                shell: clap_complete::Shell::Bash
            }
        ));
    }

    #[test]
    fn netns_is_global() {
        for args in [
            &["-n", "blue", "profile", "list"][..],
            &["--netns", "blue", "status"],
            &["profile", "list", "--netns", "blue"],
            &["monitor", "-n", "blue", "--json"],
        ] {
            assert_eq!(parse(args).netns.as_deref(), Some("blue"), "{args:?}");
        }
        assert_eq!(parse(&["status"]).netns, None);
    }

    #[test]
    fn refuses_bad_command_lines_with_exit_2() {
        for args in [
            &["profile"][..],
            &["profile", "add"],
            &["profile", "add", "a", "b"],
            &["profile", "add", "a", "--to-source"],
            &["profile", "add", "a", "--bogus", "1"],
            &["profile", "del"],
            &["profile", "del", "a", "b"],
            &["profile", "show", "a", "b"],
            &["profile", "list", "extra"],
            &["profile", "frob"],
            &["stats", "--watch=0"],
            &["stats", "--watch=-1"],
            &["stats", "--watch=moh"],
            &["stats", "--watch=nan"],
            &["stats", "--watch="],
            &["stats", "--watch=86401"],
            &["stats", "-w=0"],
            // The interval attached without '=' is not taken either.
            &["stats", "-w3"],
            // One profile name only: "--watch 2 moh" is two names.
            &["stats", "--watch", "2", "moh"],
            &["stats", "moh", "--watch", "2"],
            &["monitor", "extra"],
            &["save", "extra"],
            &["restore", "a", "b"],
            &["completions"],
            &["completions", "tcsh"],
            &["manpage", "x"],
            &["--netns"],
        ] {
            assert_eq!(refused(args).exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn manpage_documents_every_command() {
        let mut out = Vec::new();
        manpage(&mut out).unwrap();
        let man = String::from_utf8(out).unwrap();
        assert!(man.contains(".TH ssnatctl 8"), "{man}");
        let mut names = Vec::new();
        leaf_commands(&Cli::command(), &mut names);
        let names: Vec<&str> = names.iter().map(|c| c.get_name()).collect();
        assert_eq!(
            names,
            [
                "version",
                "status",
                "add",
                "set",
                "del",
                "show",
                "list",
                "stats",
                "monitor",
                "save",
                "restore",
                "completions",
                "manpage"
            ]
        );
        for name in [
            "version",
            "status",
            "profile add",
            "profile set",
            "profile del",
            "profile show",
            "profile list",
            "stats",
            "monitor",
            "save",
            "restore",
            "completions",
            "manpage",
        ] {
            let heading = format!(".SS \"ssnatctl {name}\"\n");
            assert_eq!(man.matches(&heading).count(), 1, "{name}: {man}");
        }
        // No pointers to per-command pages (none is installed).
        assert!(!man.contains("(8)"), "{man}");
        // The options of the commands are there, --watch with its attached interval.
        assert!(
            man.contains("\\fB\\-\\-watch\\fR[=\\fI<SECS>\\fR]"),
            "{man}"
        );
        assert!(man.contains("\\fB\\-\\-to\\-source\\fR"), "{man}");
        assert!(man.contains("\\-\\-watch[=SECS]"), "{man}");
        // Seeds are decimal everywhere now.
        assert!(!man.contains("0xN"), "{man}");
        // The top sections once, the global option once.
        for section in [
            ".SH NAME\n",
            ".SH SYNOPSIS\n",
            ".SH OPTIONS\n",
            ".SH COMMANDS\n",
            ".SH EXTRA\n",
            "Exit status:",
            "\\fB\\-\\-netns\\fR \\fI<NAME>\\fR\n",
        ] {
            assert_eq!(man.matches(section).count(), 1, "{section}: {man}");
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
