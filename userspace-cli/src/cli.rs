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
  6  no such profile or entry (ENOENT)
  7  profile or entry exists (EEXIST): use 'ssnatctl profile set' ('profile
     entry set') to replace it

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

    /// Print the changes to profiles and entries as they happen, until interrupted
    ///
    /// Text, one line per change, flushed at once:
    ///   new NAME MAPPING [random-seed N]
    ///   set NAME MAPPING [random-seed N]
    ///   del NAME
    ///   entry new NAME PROTO DEST MAPPING [random-seed N]
    ///   entry set NAME PROTO DEST MAPPING [random-seed N]
    ///   entry del NAME PROTO DEST
    ///   entry flush NAME N                   (N entries deleted)
    /// MAPPING is the --to-source text (":PORT[-PORT]" for a port alone;
    /// "entries-only" for a profile without a mapping), e.g.
    /// "new moh 198.51.100.7:4000", "entry new moh udp 203.0.113.5:31000
    /// 198.51.100.7:10002". A line "lost" when the kernel dropped changes (receive
    /// buffer full): 'ssnatctl profile show' tells the state.
    ///
    /// JSON (--json), one object per line:
    ///   {"schema":1, "event":"new"|"set"|"del", "profile":PROFILE}
    ///   {"schema":1, "event":"entry-new"|"entry-set"|"entry-del", "profile":null,
    ///    "entry":{"profile":STR, ENTRY...}}
    ///   {"schema":1, "event":"entry-flush", "profile":null,
    ///    "flush":{"profile":STR, "entries":INT}}
    ///   {"schema":1, "event":"lost", "profile":null}
    /// with PROFILE as in `ssnatctl profile show --help` (for "del": as it was), ENTRY's
    /// members as in `ssnatctl profile entry list --help` (for "entry-del": "to" and
    /// "counters" null).
    #[command(verbatim_doc_comment)]
    Monitor(ReadOpts),

    /// Print all profiles and entries as lines that 'ssnatctl restore' reads back
    ///
    /// A header comment, then one line per profile, sorted by name, each followed by
    /// its entries, sorted by destination:
    ///   profile add NAME [-6] [--to-source SPEC|--to-ports P[-P]] [--random-seed N]
    ///   profile entry add NAME DEST [-p PROTO] --to-source SPEC|--to-ports P[-P]
    ///       [--random-seed N]
    /// (-6 only for an IPv6 profile without address; no mapping for a profile with
    /// entries only; -p only for a protocol other than udp; a NAME starting with '-'
    /// comes last, after '--'). `ssnatctl save > FILE; ssnatctl restore FILE` brings the
    /// same profiles and entries back, and save then prints the same text.
    #[command(verbatim_doc_comment)]
    Save,

    /// Create or replace the profiles listed in FILE (as 'ssnatctl save' prints them)
    ///
    /// Reads FILE, or standard input when FILE is '-' or not given. Blank lines and
    /// lines starting with '#' are skipped; every other line is
    ///   [profile] add NAME [--to-source SPEC] [--to-ports P[-P]] [--random-seed N] [-6]
    ///   [profile] entry add NAME DEST [-p PROTO] --to-source SPEC ... (as below)
    /// with the options of 'ssnatctl profile add' and 'ssnatctl profile entry add'.
    /// The whole input is checked first: on a bad line, "line N: MESSAGE" and exit 2,
    /// and nothing is changed. Then each profile is created, or replaced when it exists
    /// with another mapping (left alone when it is the same), and its entries are made
    /// the ones the input lists for it: missing ones added, others replaced, deleted or
    /// left alone (when the same), so restoring twice changes nothing. Entries of a
    /// profile the input has no 'add' line for are created or replaced, its other
    /// entries left alone. A failure stops there with "line N: MESSAGE" (earlier lines
    /// stay applied). Profiles not in the input are left alone.
    #[command(verbatim_doc_comment)]
    Restore(RestoreArgs),

    /// Keep a profile's entries in step with the SIP calls the router forwards
    ///
    /// Reads the SIP signalling that a rule copies to NFLOG group N, e.g.
    ///   iptables -A FORWARD -p udp -m multiport --ports 5060 -j NFLOG --nflog-group 5
    /// and parses each call's SDP offer and answer. When a call's media is negotiated
    /// (a 2xx to INVITE, or an 18x with SDP), it adds an entry per media line to
    /// PROFILE: packets to the outside party's media address and port (the caller's,
    /// from the outside side's SDP) leave with the inside party's negotiated address and
    /// port (from the inside side's SDP, or --to-address). A re-INVITE that moves the
    /// media replaces them; BYE, CANCEL, a failed INVITE or --timeout without any SIP
    /// for the call deletes them. Messages from --inside addresses are the inside
    /// (PBX) side's; all others the outside's. Typical use, with the MOH rule
    ///   iptables -t mangle -A POSTROUTING -o wan0 -s PBX -p udp --sport 4000 -j SSNAT --profile moh
    /// and an entries-only profile ('ssnatctl profile add moh').
    ///
    /// The follower owns PROFILE's entries: it flushes them when it starts, and a call
    /// already up is picked up at its next re-INVITE (putting it on hold is one).
    /// Runs until killed; one line per decision on standard output:
    ///   call CALL-ID: entry add|set PROTO DEST -> ADDR:PORT
    ///   call CALL-ID: entry del PROTO DEST (REASON)
    /// ('ssnatctl monitor' shows the same changes as the kernel made them). It is not
    /// on the packet path: NFLOG hands it copies, which the kernel drops (not the
    /// packets) if it falls behind. PBXs that report hold themselves can instead run
    /// 'ssnatctl profile entry add/del' from their hold and resume hooks.
    #[command(verbatim_doc_comment)]
    Follow(FollowArgs),

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

/// `ssnatctl follow`.
#[derive(Debug, Args)]
pub struct FollowArgs {
    /// NFLOG group the router copies SIP to (iptables -j NFLOG --nflog-group N)
    #[arg(long, value_name = "N")]
    pub nflog_group: u16,
    /// Profile whose entries to keep (an entries-only profile, usually)
    #[arg(long, value_name = "NAME")]
    pub profile: String,
    /// The inside (PBX) side: SIP sent from ADDR[/LEN] (repeatable)
    #[arg(long, value_name = "ADDR[/LEN]", value_parser = parse_prefix, required = true)]
    pub inside: Vec<(std::net::IpAddr, u8)>,
    /// Source address the entries write, instead of the inside SDP's own (for a PBX
    /// that puts its private address into SDP)
    #[arg(long, value_name = "ADDR")]
    pub to_address: Option<std::net::IpAddr>,
    /// Seconds without SIP after which a call's entries are deleted
    #[arg(long, value_name = "SECS", default_value_t = 14_400)]
    pub timeout: u64,
    /// Calls followed at once, at most (the least recently active goes first)
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_calls: usize,
}

/// `ADDR[/LEN]`.
fn parse_prefix(s: &str) -> Result<(std::net::IpAddr, u8), String> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: std::net::IpAddr = a.parse().map_err(|_| format!("bad address \"{a}\""))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l {
        None => max,
        Some(l) => l.parse::<u8>().ok().filter(|&n| n <= max).ok_or_else(|| format!("bad prefix length \"{l}\" (0-{max})"))?,
    };
    Ok((addr, len))
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
    /// Without --to-source and --to-ports the profile has no mapping of its own, only
    /// entries ('ssnatctl profile entry add'): packets to a destination without an entry
    /// pass unchanged, counted as no-entry. (IPv4; -6 for IPv6.)
    ///
    /// E.g. `ssnatctl profile add moh --to-source 198.51.100.7:4000`,
    /// `ssnatctl profile add moh` (entries only).
    #[command(verbatim_doc_comment)]
    Add(ProfileSpec),

    /// Replace a profile's mapping atomically (exit 6 if it does not exist)
    ///
    /// Same options as 'ssnatctl profile add' (none: no mapping, entries only). Packets
    /// see the old mapping or the new one; the entries stay. The family cannot change
    /// while rules use the profile, or while it has entries (exit 5).
    #[command(verbatim_doc_comment)]
    Set(ProfileSpec),

    /// Delete a profile (exit 5 while rules use it, 6 if it does not exist)
    #[command(visible_alias = "delete")]
    Del(NameArg),

    /// Show profiles: mapping, rules that use them, counters
    ///
    /// Text, two lines per profile (sorted by name):
    ///   profile NAME ipv4|ipv6 to:MAPPING [random-seed:N] rules N entries N
    ///   <TAB>packets N bytes N tracked N ...    (every counter: name value)
    /// "to:MAPPING" is as 'iptables -L' prints the same -j SSNAT options
    /// ("ports:P[-P]" for a port alone; "entries-only" for a profile without a
    /// mapping); seeds are decimal, as everywhere.
    ///
    /// JSON (--json), one object:
    ///   {"schema":1, "profiles":[PROFILE, ...]}
    /// PROFILE:
    ///   {"name":STR, "family":"ipv4"|"ipv6",
    ///    "to_source":STR|null, "to_ports":STR|null,
    ///    "address":{"first":STR, "last":STR, "prefix_len":INT|null}|null,
    ///    "ports":{"first":INT, "last":INT}|null,
    ///    "seed":INT, "rules":INT|null, "counters":COUNTERS|null, "entries":INT|null}
    /// "to_source" is the --to-source text ('ssnatctl save' writes), null without an
    /// address; "to_ports" is the port range, null unless only the port is mapped (a
    /// profile with entries only: "to_source", "to_ports", "address", "ports" null).
    /// COUNTERS: {"packets":INT, "bytes":INT, "tracked":INT, "truncated":INT,
    ///   "malformed":INT, "header-chain":INT, "no-port":INT, "unchanged":INT,
    ///   "no-memory":INT, "no-entry":INT}, summed over the CPUs.
    #[command(verbatim_doc_comment)]
    Show(ShowArgs),

    /// List the profiles' names, one per line, sorted
    ///
    /// JSON (--json), one object: {"schema":1, "profiles":[STR, ...]}
    #[command(verbatim_doc_comment, visible_alias = "ls")]
    List(ReadOpts),

    /// Add, replace, delete and list a profile's entries (per-destination mappings)
    #[command(subcommand)]
    Entry(EntryCommand),
}

/// `ssnatctl profile entry ...`.
#[derive(Debug, Subcommand)]
pub enum EntryCommand {
    /// Add an entry: packets to DEST get this mapping (exit 7 if it exists)
    ///
    /// A packet of a -j SSNAT --profile PROFILE rule whose destination (protocol,
    /// address, port) has an entry gets the entry's mapping instead of the profile's.
    /// DEST is ADDR:PORT, [ADDR]:PORT for IPv6, or ADDR alone for a protocol without
    /// ports (-p icmp, ...); its family must be the profile's. The mapping takes the
    /// options of 'ssnatctl profile add' (one of --to-source, --to-ports is required)
    /// and must be of the same family. Fails with "No space left on device" past the
    /// module parameter max_entries.
    ///
    /// E.g. `ssnatctl profile entry add moh 203.0.113.5:31000 --to-source 198.51.100.7:10002`.
    #[command(verbatim_doc_comment)]
    Add(EntrySpec),

    /// Replace an entry's mapping atomically (exit 6 if it does not exist)
    ///
    /// Same arguments as 'ssnatctl profile entry add'. The entry's counters stay.
    #[command(verbatim_doc_comment)]
    Set(EntrySpec),

    /// Delete an entry (exit 6 if it does not exist)
    #[command(visible_alias = "delete")]
    Del(EntryKeyArgs),

    /// Delete all entries of a profile
    Flush(ProfileArg),

    /// Show a profile's entries: destination, mapping, counters
    ///
    /// Text: a header line "PROTO DESTINATION TO SEED PACKETS BYTES" and one line per
    /// entry, sorted by destination, e.g.
    ///   udp    203.0.113.5:31000  198.51.100.7:10002     0     12  2064
    /// TO is the --to-source text (":PORT[-PORT]" for a port alone); SEED decimal.
    ///
    /// JSON (--json), one object:
    ///   {"schema":1, "profile":STR, "entries":[ENTRY, ...]}
    /// ENTRY:
    ///   {"proto":STR, "dst":STR, "dport":INT, "to":MAPPING|null,
    ///    "counters":{"packets":INT, "bytes":INT}|null}
    /// "proto" is the protocol's name (udp, tcp, udplite, sctp, dccp, icmp, icmpv6) or
    /// its number as a string; "dport" is 0 for a protocol without ports. MAPPING:
    ///   {"family":"ipv4"|"ipv6", "to_source":STR|null, "to_ports":STR|null,
    ///    "address":..., "ports":..., "seed":INT}
    /// as in `ssnatctl profile show --help`.
    #[command(verbatim_doc_comment, visible_alias = "show")]
    List(EntryListArgs),
}

/// The protocol option of the entry commands.
const PROTO_HELP: &str =
    "Protocol of the destination: udp (default), tcp, udplite, sctp, dccp, icmp, icmpv6, or a number 0-255";

/// An entry's profile, destination and mapping, as `profile entry add` and `set` take them.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub struct EntrySpec {
    #[command(flatten)]
    pub key: EntryKeyArgs,

    /// Addresses (and ports) to write: ADDR[-ADDR][:PORT[-PORT]], PREFIX/LEN[:PORT[-PORT]]
    #[arg(long, value_name = "SPEC")]
    pub to_source: Option<String>,

    /// Ports to write, PORT[-PORT] (with a --to-source without port, or alone)
    #[arg(long, value_name = "PORT[-PORT]")]
    pub to_ports: Option<String>,

    /// Seed of the flow hash that picks inside a range: decimal or 0x hex (default 0)
    #[arg(long, value_name = "N")]
    pub random_seed: Option<String>,
}

/// An entry's profile and destination.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub struct EntryKeyArgs {
    /// Profile name.
    pub profile: String,

    /// Destination: ADDR:PORT, [ADDR]:PORT (IPv6), ADDR (protocols without ports)
    pub dest: String,

    #[arg(short = 'p', long, value_name = "PROTO", help = PROTO_HELP)]
    pub proto: Option<String>,
}

/// A profile name, for the entry commands.
#[derive(Debug, Args)]
pub struct ProfileArg {
    /// Profile name.
    pub profile: String,
}

/// Options of `profile entry list`.
#[derive(Debug, Args)]
pub struct EntryListArgs {
    /// Profile name.
    pub profile: String,

    #[command(flatten)]
    pub read: ReadOpts,
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
                "add",
                "set",
                "del",
                "flush",
                "list",
                "stats",
                "monitor",
                "save",
                "restore",
                "follow",
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
            "profile entry add",
            "profile entry set",
            "profile entry del",
            "profile entry flush",
            "profile entry list",
            "stats",
            "monitor",
            "save",
            "restore",
            "follow",
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
