// SPDX-License-Identifier: GPL-2.0
//! Runtime profiles on the user's side: a command line's mapping turned into an
//! [`SsnatInfo`] (with `ssnat-spec`, so it reads and fails as `-j SSNAT` does), a
//! kernel's [`Profile`] written as text and JSON, and the `save`/`restore` format.
//!
//! # JSON schema 1
//!
//! `PROFILE` (`profile show`, `monitor`) is the profile's name, its `MAPPING`'s
//! members, and what the kernel counts:
//! ```text
//! {"name": string, MAPPING..., "rules": int|null, "counters": COUNTERS|null,
//!  "entries": int|null}
//! ```
//! `MAPPING` (also an entry's `"to"`):
//! ```text
//! {"family": "ipv4"|"ipv6",
//!  "to_source": string|null, "to_ports": string|null,
//!  "address": {"first": string, "last": string, "prefix_len": int|null}|null,
//!  "ports": {"first": int, "last": int}|null,
//!  "seed": int}
//! ```
//! `to_source` is the `--to-source` text (null without an address), `to_ports` the
//! `--to-ports` text (null unless only the port is mapped); a profile with entries
//! only has all four null. `COUNTERS` is an object with one int member per name of
//! [`ssnat_core::genl::COUNTERS`], in that order. `ENTRY` (`profile entry list`):
//! ```text
//! {"proto": string, "dst": string, "dport": int, "to": MAPPING|null,
//!  "counters": {"packets": int, "bytes": int}|null}
//! ```
//! `proto` is the protocol's name ([`crate::netlink::PROTO_NAMES`]) or its number,
//! as a string; `dport` 0 for a protocol without ports.
//!
//! - `profile show --json`: `{"schema": 1, "profiles": [PROFILE]}`
//! - `profile list --json`: `{"schema": 1, "profiles": [string]}`
//! - `profile entry list --json`: `{"schema": 1, "profile": string, "entries": [ENTRY]}`
//! - `stats --json`: `{"schema": 1, "profiles": [{"name": string, "rules": int|null,
//!   "counters": COUNTERS|null}]}`
//! - `monitor --json`, per line: `{"schema": 1, "event": "new"|"set"|"del"|"lost",
//!   "profile": PROFILE|null}`; for entries `{"schema": 1, "event":
//!   "entry-new"|"entry-set"|"entry-del", "profile": null, "entry": {"profile":
//!   string, ENTRY...}}` (`to` and `counters` null for `entry-del`) and `{"schema": 1,
//!   "event": "entry-flush", "profile": null, "flush": {"profile": string, "entries":
//!   int}}`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use clap::{CommandFactory, FromArgMatches, Parser};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use ssnat_core::abi::{InfoError, SsnatInfo, F_MAP_ADDR, F_MAP_PORT, F_PREFIX, NFPROTO_IPV4};
use ssnat_core::genl::{self, COUNTERS, ENTRY_COUNTERS};
use ssnat_core::packet::proto;
use ssnat_spec::{
    addr_text, apply_option, parse_to_source, ports_text, print_text, save_text, seed_text, Family,
    Opt, ParseError,
};

use crate::cli::{EntryKeyArgs, EntrySpec, ProfileSpec};
use crate::error::Error;
use crate::netlink::{
    proto_name, Entry, EntryKey, Event, EventKind, Profile, N_COUNTERS, N_ENTRY_COUNTERS,
    PROTO_NAMES,
};
use crate::report::{SCHEMA, VERSION};

/// Checks a profile name as the kernel will (`valid_profile_name`).
pub fn check_name(name: &str) -> Result<(), Error> {
    if genl::valid_profile_name(name.as_bytes()) {
        Ok(())
    } else {
        Err(Error::Usage(InfoError::BadProfileName.message().to_owned()))
    }
}

/// The family of the profile `spec` describes: the address's, else IPv6 with `-6`, else
/// IPv4.
fn family_of_spec(spec: &ProfileSpec) -> Family {
    match (&spec.to_source, spec.ipv6) {
        (_, true) => Family::V6,
        // An IPv6 address given to the IPv4 parser: "is an IPv6 address".
        (Some(arg), false) => match parse_to_source(arg, Family::V4) {
            Err(ParseError::WrongFamily { .. }) => Family::V6,
            _ => Family::V4,
        },
        (None, false) => Family::V4,
    }
}

/// The name and mapping of `profile add`/`profile set` (and of a `restore` line),
/// checked as iptables checks `-j SSNAT` options, and as the kernel will check them
/// (`validate_mapping`). Errors are [`Error::Usage`], with the extension's messages.
/// Without `--to-source` and `--to-ports`: no mapping (flags 0), entries only.
pub fn mapping(spec: &ProfileSpec) -> Result<SsnatInfo, Error> {
    check_name(&spec.name)?;
    let family = family_of_spec(spec);
    if spec.to_source.is_none() && spec.to_ports.is_none() {
        if spec.random_seed.is_some() {
            return Err(Error::Usage(
                "--random-seed needs --to-source or --to-ports (a profile without them has \
                 entries only)"
                    .to_owned(),
            ));
        }
        let mut info = SsnatInfo::zeroed();
        info.family = family.nfproto();
        return Ok(info);
    }
    mapping_of(
        spec.to_source.as_deref(),
        spec.to_ports.as_deref(),
        spec.random_seed.as_deref(),
        family,
    )
}

/// The mapping of `--to-source`, `--to-ports` and `--random-seed` for `family` (one of
/// the first two required), checked as `-j SSNAT` options are.
fn mapping_of(
    to_source: Option<&str>,
    to_ports: Option<&str>,
    random_seed: Option<&str>,
    family: Family,
) -> Result<SsnatInfo, Error> {
    let mut info = SsnatInfo::zeroed();
    info.family = family.nfproto();
    let usage = |e: ParseError| Error::Usage(e.to_string());
    if let Some(arg) = to_source {
        apply_option(&mut info, Opt::ToSource, arg, family).map_err(usage)?;
    }
    if let Some(arg) = to_ports {
        apply_option(&mut info, Opt::ToPorts, arg, family).map_err(usage)?;
    }
    if let Some(arg) = random_seed {
        apply_option(&mut info, Opt::RandomSeed, arg, family).map_err(usage)?;
    }
    if to_source.is_none() && to_ports.is_none() {
        return Err(Error::Usage(
            "--to-source or --to-ports is required".to_owned(),
        ));
    }
    info.validate_mapping(family.nfproto())
        .map_err(|e| Error::Usage(e.message().to_owned()))?;
    Ok(info)
}

/// Parses `-p PROTO`: a name of [`PROTO_NAMES`] (or `ipv6-icmp`, as
/// `/etc/protocols` calls ICMPv6), or a number 0-255.
pub fn parse_proto(arg: &str) -> Result<u8, Error> {
    let lower = arg.to_ascii_lowercase();
    if let Some((n, _)) = PROTO_NAMES.iter().find(|(_, name)| *name == lower) {
        return Ok(*n);
    }
    if lower == "ipv6-icmp" {
        return Ok(proto::ICMPV6);
    }
    if !arg.is_empty() && arg.bytes().all(|c| c.is_ascii_digit()) {
        if let Ok(n) = arg.parse::<u8>() {
            return Ok(n);
        }
    }
    Err(Error::Usage(format!(
        "bad protocol \"{arg}\": udp, tcp, udplite, sctp, dccp, icmp, icmpv6 or a number 0-255"
    )))
}

/// Parses an entry's destination of protocol `proto`: `ADDR:PORT`, `[ADDR]:PORT` for
/// IPv6, `ADDR` (or `[ADDR]`) alone for a protocol without ports; checked as the
/// kernel checks a key ([`EntryKey::check`]).
pub fn parse_dest(arg: &str, proto: u8) -> Result<EntryKey, Error> {
    let usage = |m: String| Error::Usage(m);
    let bad_addr = |a: &str| usage(format!("bad destination address \"{a}\""));
    let (addr, port): (IpAddr, Option<&str>) = if let Some(rest) = arg.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or_else(|| {
            usage(format!(
                "bad destination \"{arg}\": IPv6 with a port is written [ADDR]:PORT"
            ))
        })?;
        let a: Ipv6Addr = inside.parse().map_err(|_| bad_addr(inside))?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| {
                usage(format!(
                    "bad destination \"{arg}\": IPv6 with a port is written [ADDR]:PORT"
                ))
            })?),
        };
        (IpAddr::V6(a), port)
    } else if arg.matches(':').count() > 1 {
        // An IPv6 address without brackets: no port.
        (IpAddr::V6(arg.parse().map_err(|_| bad_addr(arg))?), None)
    } else {
        let (a, port) = match arg.split_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (arg, None),
        };
        (IpAddr::V4(a.parse().map_err(|_| bad_addr(a))?), port)
    };
    let port = match port {
        None => 0,
        Some(p) => {
            if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(usage(format!("bad destination port \"{p}\"")));
            }
            match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(usage(format!(
                        "destination port \"{p}\" out of range 1-65535"
                    )))
                }
            }
        }
    };
    let key = EntryKey { proto, addr, port };
    key.check().map_err(usage)?;
    Ok(key)
}

/// The profile and key of `profile entry del` (and of `add`, `set`).
pub fn entry_key(args: &EntryKeyArgs) -> Result<EntryKey, Error> {
    check_name(&args.profile)?;
    let proto = match &args.proto {
        Some(p) => parse_proto(p)?,
        None => proto::UDP,
    };
    parse_dest(&args.dest, proto)
}

fn family_text(f: Family) -> &'static str {
    match f {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

/// The key and mapping of `profile entry add`/`set` (and of a `restore` line): the
/// mapping of the destination's family, checked as `profile add` checks it.
pub fn entry_mapping(spec: &EntrySpec) -> Result<(EntryKey, SsnatInfo), Error> {
    let key = entry_key(&spec.key)?;
    let family = if key.family() == NFPROTO_IPV4 {
        Family::V4
    } else {
        Family::V6
    };
    if let Some(arg) = &spec.to_source {
        if let Err(ParseError::WrongFamily { .. }) = parse_to_source(arg, family) {
            let other = if family == Family::V4 {
                Family::V6
            } else {
                Family::V4
            };
            return Err(Error::Usage(format!(
                "\"{arg}\" is an {} address, the destination {} is {}: an entry maps to \
                 addresses of its destination's family",
                family_text(other),
                key.dest_text(),
                family_text(family)
            )));
        }
    }
    let info = mapping_of(
        spec.to_source.as_deref(),
        spec.to_ports.as_deref(),
        spec.random_seed.as_deref(),
        family,
    )?;
    Ok((key, info))
}

/// The family of a mapping (the kernel's replies have only these two).
pub fn family_of(info: &SsnatInfo) -> Family {
    if info.family == NFPROTO_IPV4 {
        Family::V4
    } else {
        Family::V6
    }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}

/// Counters by name, in the order of [`COUNTERS`]; JSON: an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters(pub [u64; N_COUNTERS]);

impl Counters {
    /// `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        COUNTERS
            .iter()
            .map(|c| c.to_str().unwrap_or("?"))
            .zip(self.0.iter().copied())
    }
}

impl Serialize for Counters {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(N_COUNTERS))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

/// The addresses of a profile, JSON `"address"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddressView {
    pub first: String,
    pub last: String,
    pub prefix_len: Option<u8>,
}

/// The ports of a profile, JSON `"ports"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortsView {
    pub first: u16,
    pub last: u16,
}

/// A mapping as JSON has it (`MAPPING`): a profile's members, an entry's `"to"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MappingView {
    pub family: &'static str,
    pub to_source: Option<String>,
    pub to_ports: Option<String>,
    pub address: Option<AddressView>,
    pub ports: Option<PortsView>,
    pub seed: u32,
}

impl MappingView {
    /// The view of `i`.
    pub fn new(i: &SsnatInfo) -> MappingView {
        let family = family_of(i);
        let has_addr = i.flags & F_MAP_ADDR != 0;
        let has_port = i.flags & F_MAP_PORT != 0;
        MappingView {
            family: family_name(family),
            to_source: has_addr.then(|| ssnat_spec::format_to_source(i, family)),
            to_ports: (has_port && !has_addr).then(|| ports_text(i.min_port, i.max_port)),
            address: has_addr.then(|| AddressView {
                first: addr_text(&i.min_addr, family),
                last: addr_text(&i.max_addr, family),
                prefix_len: (i.flags & F_PREFIX != 0).then_some(i.prefix_len),
            }),
            ports: has_port.then_some(PortsView {
                first: i.min_port,
                last: i.max_port,
            }),
            seed: i.seed,
        }
    }
}

/// A profile as `profile show --json` prints it (`PROFILE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileView {
    pub name: String,
    #[serde(flatten)]
    pub mapping: MappingView,
    pub rules: Option<u32>,
    pub counters: Option<Counters>,
    pub entries: Option<u32>,
}

impl ProfileView {
    /// The view of `p`.
    pub fn new(p: &Profile) -> ProfileView {
        ProfileView {
            name: p.name.clone(),
            mapping: MappingView::new(&p.info),
            rules: p.rules,
            counters: p.counters.map(Counters),
            entries: p.entries,
        }
    }
}

/// An entry's counters by name ([`ENTRY_COUNTERS`]); JSON: an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryCounters(pub [u64; N_ENTRY_COUNTERS]);

impl Serialize for EntryCounters {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(N_ENTRY_COUNTERS))?;
        for (name, value) in ENTRY_COUNTERS.iter().zip(self.0) {
            map.serialize_entry(name.to_str().unwrap_or("?"), &value)?;
        }
        map.end()
    }
}

/// An entry as `profile entry list --json` prints it (`ENTRY`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntryView {
    pub proto: String,
    pub dst: String,
    pub dport: u16,
    pub to: Option<MappingView>,
    pub counters: Option<EntryCounters>,
}

impl EntryView {
    /// The view of key `key` with mapping `info` (none: deleted).
    pub fn new(
        key: &EntryKey,
        info: Option<&SsnatInfo>,
        counters: Option<[u64; N_ENTRY_COUNTERS]>,
    ) -> EntryView {
        EntryView {
            proto: proto_name(key.proto),
            dst: key.addr.to_string(),
            dport: key.port,
            to: info.map(MappingView::new),
            counters: counters.map(EntryCounters),
        }
    }

    /// The view of `e`.
    pub fn of(e: &Entry) -> EntryView {
        EntryView::new(&e.key, Some(&e.info), e.counters)
    }
}

/// `profile entry list --json`.
#[derive(Debug, Serialize)]
pub struct EntryListReport<'a> {
    pub schema: u32,
    pub profile: &'a str,
    pub entries: Vec<EntryView>,
}

impl EntryListReport<'_> {
    pub fn new<'a>(profile: &'a str, entries: &[Entry]) -> EntryListReport<'a> {
        EntryListReport {
            schema: SCHEMA,
            profile,
            entries: entries.iter().map(EntryView::of).collect(),
        }
    }
}

/// Sorts entries as `profile entry list` and `save` show them: by address, port,
/// protocol.
pub fn sort_entries(entries: &mut [Entry]) {
    entries.sort_unstable_by_key(|e| (e.key.addr, e.key.port, e.key.proto));
}

/// A mapping's text for `monitor` and `profile entry list`: the `--to-source` text
/// (`:PORT[-PORT]` for a port alone), `entries-only` for none.
pub fn mapping_text(info: &SsnatInfo) -> String {
    if info.flags & (F_MAP_ADDR | F_MAP_PORT) == 0 {
        "entries-only".to_owned()
    } else {
        ssnat_spec::format_to_source(info, family_of(info))
    }
}

/// The `profile entry list` table: a header and a row per entry (in the order given),
/// columns aligned; "-" for counters the kernel did not report.
pub fn entry_table(entries: &[Entry]) -> String {
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(entries.len() + 1);
    rows.push(
        ["PROTO", "DESTINATION", "TO", "SEED", "PACKETS", "BYTES"]
            .map(str::to_owned)
            .to_vec(),
    );
    for e in entries {
        let mut row = vec![
            proto_name(e.key.proto),
            e.key.dest_text(),
            mapping_text(&e.info),
            seed_text(e.info.seed),
        ];
        match e.counters {
            Some(c) => row.extend(c.iter().map(u64::to_string)),
            None => row.extend((0..N_ENTRY_COUNTERS).map(|_| "-".to_owned())),
        }
        rows.push(row);
    }
    table(&rows, 3)
}

/// Rows as aligned columns: the first `left` left-aligned, the others (numbers)
/// right-aligned, two spaces apart, no trailing blanks.
fn table(rows: &[Vec<String>], left: usize) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i < left {
                    format!("{cell:<w$}", w = widths[i])
                } else {
                    format!("{cell:>w$}", w = widths[i])
                }
            })
            .collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    out
}

/// `profile show` text of one profile: two lines (one without counters).
pub fn show_text(p: &Profile) -> String {
    let family = family_of(&p.info);
    let mapping = if p.entries_only() {
        // The seed is of no use without a mapping, but shown if set.
        format!(" entries-only{}", print_text(&p.info, family))
    } else {
        print_text(&p.info, family)
    };
    let mut s = format!("profile {} {}{mapping}", p.name, family_name(family));
    if let Some(n) = p.rules {
        s += &format!(" rules {n}");
    }
    if let Some(n) = p.entries {
        s += &format!(" entries {n}");
    }
    s.push('\n');
    if let Some(c) = p.counters {
        let fields: Vec<String> = Counters(c)
            .iter()
            .map(|(name, v)| format!("{name} {v}"))
            .collect();
        s += &format!("\t{}\n", fields.join(" "));
    }
    s
}

/// `profile show --json`.
#[derive(Debug, Serialize)]
pub struct ShowReport {
    pub schema: u32,
    pub profiles: Vec<ProfileView>,
}

impl ShowReport {
    pub fn new(profiles: &[Profile]) -> ShowReport {
        ShowReport {
            schema: SCHEMA,
            profiles: profiles.iter().map(ProfileView::new).collect(),
        }
    }
}

/// `profile list --json`.
#[derive(Debug, Serialize)]
pub struct ListReport {
    pub schema: u32,
    pub profiles: Vec<String>,
}

/// One row of `stats --json`.
#[derive(Debug, Serialize)]
pub struct StatsRow {
    pub name: String,
    pub rules: Option<u32>,
    pub counters: Option<Counters>,
}

/// `stats --json`.
#[derive(Debug, Serialize)]
pub struct StatsReport {
    pub schema: u32,
    pub profiles: Vec<StatsRow>,
}

impl StatsReport {
    pub fn new(profiles: &[Profile]) -> StatsReport {
        StatsReport {
            schema: SCHEMA,
            profiles: profiles
                .iter()
                .map(|p| StatsRow {
                    name: p.name.clone(),
                    rules: p.rules,
                    counters: p.counters.map(Counters),
                })
                .collect(),
        }
    }
}

/// The `stats` table: a header and a row per profile, columns aligned (names left,
/// numbers right); "-" for what the kernel did not report.
pub fn stats_table(profiles: &[Profile]) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["NAME".to_owned(), "RULES".to_owned()];
    header.extend(
        COUNTERS
            .iter()
            .map(|c| c.to_str().unwrap_or("?").to_uppercase()),
    );
    rows.push(header);
    for p in profiles {
        let mut row = vec![
            p.name.clone(),
            p.rules.map_or("-".to_owned(), |n| n.to_string()),
        ];
        match p.counters {
            Some(c) => row.extend(c.iter().map(u64::to_string)),
            None => row.extend((0..N_COUNTERS).map(|_| "-".to_owned())),
        }
        rows.push(row);
    }
    table(&rows, 1)
}

/// `monitor --json`, one line.
#[derive(Debug, Serialize)]
pub struct EventReport {
    pub schema: u32,
    pub event: &'static str,
    pub profile: Option<ProfileView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryEventView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flush: Option<FlushView>,
}

/// The `"entry"` of an entry event: the profile's name and the entry.
#[derive(Debug, Serialize)]
pub struct EntryEventView {
    pub profile: String,
    #[serde(flatten)]
    pub entry: EntryView,
}

/// The `"flush"` of an `entry-flush` event.
#[derive(Debug, Serialize)]
pub struct FlushView {
    pub profile: String,
    pub entries: u32,
}

fn entry_event_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::New => "entry-new",
        EventKind::Set => "entry-set",
        EventKind::Del => "entry-del",
    }
}

impl EventReport {
    pub fn new(event: &Event) -> EventReport {
        let mut r = EventReport {
            schema: SCHEMA,
            event: "lost",
            profile: None,
            entry: None,
            flush: None,
        };
        match event {
            Event::Change(kind, p) => {
                r.event = kind.name();
                r.profile = Some(ProfileView::new(p));
            }
            Event::EntryChange {
                kind,
                profile,
                entry,
            } => {
                r.event = entry_event_name(*kind);
                r.entry = Some(EntryEventView {
                    profile: profile.clone(),
                    entry: EntryView::of(entry),
                });
            }
            Event::EntryDel { profile, key } => {
                r.event = entry_event_name(EventKind::Del);
                r.entry = Some(EntryEventView {
                    profile: profile.clone(),
                    entry: EntryView::new(key, None, None),
                });
            }
            Event::EntryFlush { profile, deleted } => {
                r.event = "entry-flush";
                r.flush = Some(FlushView {
                    profile: profile.clone(),
                    entries: *deleted,
                });
            }
            Event::Lost => {}
        }
        r
    }
}

/// ` MAPPING[ random-seed N]`, as `monitor` writes a mapping.
fn event_mapping(info: &SsnatInfo) -> String {
    let mut s = format!(" {}", mapping_text(info));
    if info.seed != ssnat_core::abi::DEFAULT_SEED {
        s += " random-seed ";
        s += &seed_text(info.seed);
    }
    s
}

/// `monitor` text of one event (without newline): `new moh 198.51.100.7:4000`,
/// `entry new moh udp 203.0.113.5:31000 198.51.100.7:10002`.
pub fn event_text(event: &Event) -> String {
    match event {
        Event::Change(kind, p) => {
            let mut s = format!("{} {}", kind.name(), p.name);
            if *kind != EventKind::Del {
                s += &event_mapping(&p.info);
            }
            s
        }
        Event::EntryChange {
            kind,
            profile,
            entry,
        } => format!(
            "entry {} {profile} {}{}",
            kind.name(),
            entry.key,
            event_mapping(&entry.info)
        ),
        Event::EntryDel { profile, key } => format!("entry del {profile} {key}"),
        Event::EntryFlush { profile, deleted } => format!("entry flush {profile} {deleted}"),
        Event::Lost => "lost".to_owned(),
    }
}

/// The header of `save`'s output.
pub fn save_header() -> String {
    format!("# ssnatctl {VERSION} save: profiles and entries, for 'ssnatctl restore'\n")
}

/// `save` line of one profile: `profile add NAME [-6] OPTIONS`.
pub fn save_line(p: &Profile) -> String {
    let family = family_of(&p.info);
    // Entries only: no options (a seed would be of no use, and 'profile add' refuses it).
    let opts = if p.entries_only() {
        String::new()
    } else {
        save_text(&p.info, family)
    };
    let six = if family == Family::V6 && p.info.flags & F_MAP_ADDR == 0 {
        " -6"
    } else {
        ""
    };
    if p.name.starts_with('-') {
        // Not to be taken for an option: after "--".
        format!("profile add{six}{opts} -- {}", p.name)
    } else {
        format!("profile add {}{six}{opts}", p.name)
    }
}

/// `save` line of an entry of profile `profile`:
/// `profile entry add NAME DEST [-p PROTO] OPTIONS` (`-p` unless UDP).
pub fn entry_save_line(profile: &str, e: &Entry) -> String {
    let opts = save_text(&e.info, family_of(&e.info));
    let proto = if e.key.proto == proto::UDP {
        String::new()
    } else {
        format!(" -p {}", proto_name(e.key.proto))
    };
    let dest = e.key.dest_text();
    if profile.starts_with('-') {
        format!("profile entry add{proto}{opts} -- {profile} {dest}")
    } else {
        format!("profile entry add {profile} {dest}{proto}{opts}")
    }
}

/// The whole `save` output for `profiles` (sorted by name here), each with its
/// entries (sorted by [`sort_entries`] here).
pub fn save_text_of(profiles: &[(Profile, Vec<Entry>)]) -> String {
    let mut sorted: Vec<&(Profile, Vec<Entry>)> = profiles.iter().collect();
    sorted.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let mut out = save_header();
    for (p, entries) in sorted {
        out += &save_profile_text(p, entries.clone());
    }
    out
}

/// The `save` lines of profile `p` and its `entries` (sorted here).
pub fn save_profile_text(p: &Profile, mut entries: Vec<Entry>) -> String {
    let mut out = save_line(p);
    out.push('\n');
    sort_entries(&mut entries);
    for e in &entries {
        out += &entry_save_line(&p.name, e);
        out.push('\n');
    }
    out
}

/// One line of a `restore` input: `add` with the options of `profile add`.
#[derive(Debug, Parser)]
#[command(name = "add", disable_help_flag = true, disable_version_flag = true)]
struct AddLine {
    #[command(flatten)]
    spec: ProfileSpec,
}

/// One line of a `restore` input: `entry add` with the options of `profile entry add`.
#[derive(Debug, Parser)]
#[command(name = "add", disable_help_flag = true, disable_version_flag = true)]
struct EntryAddLine {
    #[command(flatten)]
    spec: EntrySpec,
}

/// A profile to restore, from line `line` (counted from 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreProfile {
    pub line: usize,
    pub name: String,
    pub info: SsnatInfo,
}

/// An entry to restore, from line `line`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreEntry {
    pub line: usize,
    pub profile: String,
    pub key: EntryKey,
    pub info: SsnatInfo,
}

/// A line of a `restore` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreItem {
    Profile(RestoreProfile),
    Entry(RestoreEntry),
}

/// Parses a `restore` input: every line checked, the first bad one reported as
/// `line N: MESSAGE` ([`Error::Line`] around an [`Error::Usage`]). Across lines: an
/// entry of a profile the input adds must be of its family, and an entry may not
/// come twice.
pub fn parse_restore(text: &str) -> Result<Vec<RestoreItem>, Error> {
    let mut items = Vec::new();
    // Family and line of the (last) add line of each profile; line of each entry.
    let mut families: BTreeMap<&str, (u8, usize)> = BTreeMap::new();
    let mut keys: BTreeMap<(String, EntryKey), usize> = BTreeMap::new();
    // Built once: a restore may have many lines (100,000 entries).
    let mut add_line = AddLine::command();
    let mut entry_add_line = EntryAddLine::command();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let at = |e: Error| Error::Line {
            line,
            source: Box::new(e),
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut words: Vec<&str> = trimmed.split_whitespace().collect();
        if words.first() == Some(&"profile") {
            words.remove(0);
        }
        let entry = words.first() == Some(&"entry");
        if entry {
            words.remove(0);
        }
        if words.first() != Some(&"add") {
            return Err(at(Error::Usage(format!(
                "expected 'profile add NAME OPTIONS...' or 'profile entry add NAME DEST \
                 OPTIONS...', not '{trimmed}'"
            ))));
        }
        if entry {
            let parsed = entry_add_line
                .try_get_matches_from_mut(&words)
                .and_then(|m| EntryAddLine::from_arg_matches(&m))
                .map_err(|e| at(Error::Usage(clap_message(&e))))?;
            let (key, info) = entry_mapping(&parsed.spec).map_err(at)?;
            let profile = parsed.spec.key.profile;
            if let Some(first) = keys.insert((profile.clone(), key), line) {
                return Err(at(Error::Usage(format!(
                    "entry {profile} {key} repeats line {first}"
                ))));
            }
            items.push(RestoreItem::Entry(RestoreEntry {
                line,
                profile,
                key,
                info,
            }));
        } else {
            let parsed = add_line
                .try_get_matches_from_mut(&words)
                .and_then(|m| AddLine::from_arg_matches(&m))
                .map_err(|e| at(Error::Usage(clap_message(&e))))?;
            let info = mapping(&parsed.spec).map_err(at)?;
            items.push(RestoreItem::Profile(RestoreProfile {
                line,
                name: parsed.spec.name,
                info,
            }));
        }
    }
    for item in &items {
        if let RestoreItem::Profile(p) = item {
            families.insert(&p.name, (p.info.family, p.line));
        }
    }
    for item in &items {
        if let RestoreItem::Entry(e) = item {
            if let Some(&(family, pline)) = families.get(e.profile.as_str()) {
                if family != e.key.family() {
                    let f = |n| if n == NFPROTO_IPV4 { "IPv4" } else { "IPv6" };
                    return Err(Error::Line {
                        line: e.line,
                        source: Box::new(Error::Usage(format!(
                            "the destination {} is {}, profile {} (line {pline}) is {}",
                            e.key.dest_text(),
                            f(e.key.family()),
                            e.profile,
                            f(family)
                        ))),
                    });
                }
            }
        }
    }
    Ok(items)
}

/// The first line of clap's message, without its "error: ".
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("bad line");
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::EventKind;
    use serde_json::{json, Value};
    use ssnat_core::abi::NFPROTO_IPV6;

    fn spec(
        name: &str,
        to_source: Option<&str>,
        to_ports: Option<&str>,
        seed: Option<&str>,
        ipv6: bool,
    ) -> ProfileSpec {
        ProfileSpec {
            name: name.into(),
            to_source: to_source.map(Into::into),
            to_ports: to_ports.map(Into::into),
            random_seed: seed.map(Into::into),
            ipv6,
        }
    }

    fn src(s: &str) -> ProfileSpec {
        spec("p", Some(s), None, None, false)
    }

    fn usage(r: Result<SsnatInfo, Error>) -> String {
        match r {
            Err(Error::Usage(m)) => m,
            other => panic!("not a usage error: {other:?}"),
        }
    }

    fn profile(name: &str, info: SsnatInfo) -> Profile {
        Profile {
            name: name.into(),
            info,
            rules: Some(2),
            counters: Some(core::array::from_fn(|i| i as u64 * 10)),
            entries: Some(0),
        }
    }

    /// The profile lines of a restore input.
    fn profiles_of(items: &[RestoreItem]) -> Vec<&RestoreProfile> {
        items
            .iter()
            .filter_map(|i| match i {
                RestoreItem::Profile(p) => Some(p),
                RestoreItem::Entry(_) => None,
            })
            .collect()
    }

    fn no_entries(profiles: &[Profile]) -> Vec<(Profile, Vec<Entry>)> {
        profiles.iter().map(|p| (p.clone(), Vec::new())).collect()
    }

    #[test]
    fn family_comes_from_the_address() {
        let v4 = mapping(&src("198.51.100.7:4000")).unwrap();
        assert_eq!(v4.family, NFPROTO_IPV4);
        assert_eq!(v4.flags, F_MAP_ADDR | F_MAP_PORT);
        assert_eq!(&v4.min_addr[..4], &[198, 51, 100, 7]);
        assert_eq!((v4.min_port, v4.max_port), (4000, 4000));
        for s in [
            "2001:db8::7",
            "[2001:db8::7]:53",
            "2001:db8::/64",
            "[2001:db8::]/64:1-2",
        ] {
            assert_eq!(mapping(&src(s)).unwrap().family, NFPROTO_IPV6, "{s}");
        }
        // -6 with an IPv6 address is fine; needed for a port alone.
        assert_eq!(
            mapping(&spec("p", Some("2001:db8::7"), None, None, true))
                .unwrap()
                .family,
            NFPROTO_IPV6
        );
        let ports6 = mapping(&spec("p", None, Some("53"), None, true)).unwrap();
        assert_eq!((ports6.family, ports6.flags), (NFPROTO_IPV6, F_MAP_PORT));
        let ports4 = mapping(&spec("p", None, Some("1-2"), Some("0x10"), false)).unwrap();
        assert_eq!(
            (ports4.family, ports4.min_port, ports4.max_port, ports4.seed),
            (NFPROTO_IPV4, 1, 2, 16)
        );
        let both = mapping(&spec("p", Some("10.1.0.0/16"), Some("53"), None, false)).unwrap();
        assert_eq!(both.flags, F_MAP_ADDR | F_MAP_PORT | F_PREFIX);
        assert_eq!(both.prefix_len, 16);
    }

    #[test]
    fn bad_mappings_get_the_extensions_messages() {
        assert_eq!(usage(mapping(&src("1.2.3"))), "bad address \"1.2.3\"");
        assert_eq!(
            usage(mapping(&src("10.0.0.9-10.0.0.1"))),
            "bad address range 10.0.0.9-10.0.0.1: the first address is above the last"
        );
        assert_eq!(
            usage(mapping(&src("10.1.2.0/16"))),
            "10.1.2.0/16 has host bits set; did you mean 10.1.0.0/16?"
        );
        assert_eq!(
            usage(mapping(&src("1.2.3.4:0"))),
            "port \"0\" out of range 1-65535"
        );
        assert_eq!(
            usage(mapping(&src("1.2.3.4:9-5"))),
            "bad port range 9-5: the first port is above the last"
        );
        assert!(usage(mapping(&src("2001:db8::1-2001:db8:0:1::1"))).contains("wider than a /64"));
        // Mixed families: an IPv4 address with -6.
        assert_eq!(
            usage(mapping(&spec("p", Some("10.0.0.1"), None, None, true))),
            "\"10.0.0.1\" is an IPv4 address, this is an IPv6 rule (use iptables)"
        );
        assert_eq!(
            usage(mapping(&spec(
                "p",
                Some("10.0.0.1:5"),
                Some("6"),
                None,
                false
            ))),
            "--to-ports and a port in --to-source are exclusive"
        );
        assert_eq!(
            usage(mapping(&spec(
                "p",
                Some("10.0.0.1"),
                None,
                Some("-1"),
                false
            ))),
            "bad --random-seed \"-1\": a number 0-4294967295, decimal or 0x hex"
        );
        assert_eq!(
            usage(mapping(&spec("p", None, None, Some("1"), false))),
            "--random-seed needs --to-source or --to-ports (a profile without them has \
             entries only)"
        );
        assert_eq!(
            usage(mapping(&spec("p", None, Some("http"), None, false))),
            "bad port \"http\""
        );
        let bad_name = "bad profile name: 1-31 letters, digits, '-', '_' or '.'";
        for name in ["", "a b", "x/y", "é", &"a".repeat(32)] {
            assert_eq!(
                usage(mapping(&spec(name, Some("1.2.3.4"), None, None, false))),
                bad_name,
                "{name:?}"
            );
            assert!(matches!(check_name(name), Err(Error::Usage(_))));
        }
        assert!(check_name(&"a".repeat(31)).is_ok());
    }

    #[test]
    fn show_text_is_iptables_text_plus_rules_and_counters() {
        let info = mapping(&spec(
            "moh",
            Some("198.51.100.7:4000"),
            None,
            Some("0x1234"),
            false,
        ))
        .unwrap();
        assert_eq!(
            show_text(&profile("moh", info)),
            "profile moh ipv4 to:198.51.100.7:4000 random-seed:4660 rules 2 entries 0\n\
             \tpackets 0 bytes 10 tracked 20 truncated 30 malformed 40 header-chain 50 \
             no-port 60 unchanged 70 no-memory 80 no-entry 90\n"
        );
        let ports = mapping(&spec("p6", None, Some("53-54"), None, true)).unwrap();
        let mut p = profile("p6", ports);
        p.rules = None;
        p.counters = None;
        p.entries = None;
        assert_eq!(show_text(&p), "profile p6 ipv6 ports:53-54\n");
        // Entries only.
        let mut p = profile(
            "moh",
            mapping(&spec("moh", None, None, None, false)).unwrap(),
        );
        p.entries = Some(2);
        p.counters = None;
        assert_eq!(
            show_text(&p),
            "profile moh ipv4 entries-only rules 2 entries 2\n"
        );
        let six = mapping(&spec("moh", None, None, None, true)).unwrap();
        assert_eq!((six.family, six.flags), (NFPROTO_IPV6, 0));
    }

    #[test]
    fn profile_json() {
        let info = mapping(&src("[2001:db8::]/64:4000-4100")).unwrap();
        let v = serde_json::to_value(ProfileView::new(&profile("v6", info))).unwrap();
        assert_eq!(
            v,
            json!({
                "name": "v6", "family": "ipv6",
                "to_source": "[2001:db8::]/64:4000-4100", "to_ports": null,
                "address": {"first": "2001:db8::", "last": "2001:db8::ffff:ffff:ffff:ffff",
                            "prefix_len": 64},
                "ports": {"first": 4000, "last": 4100},
                "seed": 0, "rules": 2,
                "counters": {"packets": 0, "bytes": 10, "tracked": 20, "truncated": 30,
                             "malformed": 40, "header-chain": 50, "no-port": 60,
                             "unchanged": 70, "no-memory": 80, "no-entry": 90},
                "entries": 0
            })
        );
        // Counters keep the kernel's order in the text too.
        let text = serde_json::to_string(&ProfileView::new(&profile("v6", info))).unwrap();
        assert!(
            text.contains("\"counters\":{\"packets\":0,\"bytes\":10,"),
            "{text}"
        );
        let ports = mapping(&spec("p", None, Some("53"), Some("9"), false)).unwrap();
        let v = serde_json::to_value(ProfileView::new(&profile("p", ports))).unwrap();
        assert_eq!(v["to_source"], Value::Null);
        assert_eq!(v["to_ports"], "53");
        assert_eq!(v["address"], Value::Null);
        assert_eq!(v["ports"], json!({"first": 53, "last": 53}));
        assert_eq!(v["seed"], 9);
        let range = mapping(&src("10.0.0.1-10.0.0.9")).unwrap();
        let v = serde_json::to_value(ProfileView::new(&profile("r", range))).unwrap();
        assert_eq!(
            v["address"],
            json!({"first": "10.0.0.1", "last": "10.0.0.9", "prefix_len": null})
        );
        assert_eq!(v["ports"], Value::Null);
        let show = serde_json::to_value(ShowReport::new(&[profile("r", range)])).unwrap();
        assert_eq!(show["schema"], 1);
        assert_eq!(show["profiles"][0]["name"], "r");
    }

    #[test]
    fn stats_table_and_json() {
        let a = profile("moh", mapping(&src("198.51.100.7")).unwrap());
        let mut b = profile("a-much-longer-name", mapping(&src("198.51.100.8")).unwrap());
        b.counters = Some([123_456_789; N_COUNTERS]);
        b.rules = None;
        let t = stats_table(&[a.clone(), b.clone()]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            header,
            [
                "NAME",
                "RULES",
                "PACKETS",
                "BYTES",
                "TRACKED",
                "TRUNCATED",
                "MALFORMED",
                "HEADER-CHAIN",
                "NO-PORT",
                "UNCHANGED",
                "NO-MEMORY",
                "NO-ENTRY"
            ]
        );
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            row,
            ["moh", "2", "0", "10", "20", "30", "40", "50", "60", "70", "80", "90"]
        );
        let row: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(row[..3], ["a-much-longer-name", "-", "123456789"]);
        // Aligned: every line as long as the widest (numbers right-aligned).
        assert!(lines.iter().all(|l| l.len() == lines[2].len()), "{t}");
        let j = serde_json::to_value(StatsReport::new(&[a, b])).unwrap();
        assert_eq!(j["schema"], 1);
        assert_eq!(j["profiles"][0]["name"], "moh");
        assert_eq!(j["profiles"][0]["rules"], 2);
        assert_eq!(j["profiles"][0]["counters"]["no-memory"], 80);
        assert_eq!(j["profiles"][1]["rules"], Value::Null);
        assert_eq!(stats_table(&[]).lines().count(), 1);
    }

    #[test]
    fn event_lines() {
        let p = profile("moh", mapping(&src("198.51.100.7:4000")).unwrap());
        assert_eq!(
            event_text(&Event::Change(EventKind::New, Box::new(p.clone()))),
            "new moh 198.51.100.7:4000"
        );
        assert_eq!(
            event_text(&Event::Change(EventKind::Del, Box::new(p.clone()))),
            "del moh"
        );
        let seeded = profile(
            "moh",
            mapping(&spec(
                "moh",
                Some("198.51.100.8:4001"),
                None,
                Some("255"),
                false,
            ))
            .unwrap(),
        );
        assert_eq!(
            event_text(&Event::Change(EventKind::Set, Box::new(seeded))),
            "set moh 198.51.100.8:4001 random-seed 255"
        );
        assert_eq!(event_text(&Event::Lost), "lost");
        let j = serde_json::to_value(EventReport::new(&Event::Change(
            EventKind::Set,
            Box::new(p),
        )))
        .unwrap();
        assert_eq!(j["schema"], 1);
        assert_eq!(j["event"], "set");
        assert_eq!(j["profile"]["to_source"], "198.51.100.7:4000");
        let j = serde_json::to_value(EventReport::new(&Event::Lost)).unwrap();
        assert_eq!(j, json!({"schema": 1, "event": "lost", "profile": null}));
    }

    fn all_forms() -> Vec<Profile> {
        [
            spec("moh", Some("198.51.100.7:4000"), None, None, false),
            spec(
                "range",
                Some("10.0.0.1-10.0.0.9:1000-2000"),
                None,
                Some("0xdeadbeef"),
                false,
            ),
            spec("net4", Some("10.1.0.0/16"), Some("53"), None, false),
            spec(
                "v6",
                Some("[2001:db8::1]-[2001:db8::ff]:4000-4100"),
                None,
                None,
                false,
            ),
            spec("v6net", Some("2001:db8::/64"), None, Some("7"), false),
            spec("ports4", None, Some("4000-4100"), None, false),
            spec("ports6", None, Some("53"), Some("1"), true),
            spec("-dash", Some("192.0.2.1"), None, None, false),
            spec("a.b_c-1", Some("::ffff:192.0.2.1"), None, None, false),
        ]
        .iter()
        .map(|s| profile(&s.name, mapping(s).unwrap()))
        .collect()
    }

    #[test]
    fn save_lines() {
        let forms = all_forms();
        let text = save_text_of(&no_entries(&forms));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("# ssnatctl "), "{text}");
        // Sorted by name; canonical iptables-save text.
        assert_eq!(
            lines[1..],
            [
                "profile add --to-source 192.0.2.1 -- -dash",
                "profile add a.b_c-1 --to-source ::ffff:192.0.2.1",
                "profile add moh --to-source 198.51.100.7:4000",
                "profile add net4 --to-source 10.1.0.0/16:53",
                "profile add ports4 --to-ports 4000-4100",
                "profile add ports6 -6 --to-ports 53 --random-seed 1",
                "profile add range --to-source 10.0.0.1-10.0.0.9:1000-2000 --random-seed 3735928559",
                "profile add v6 --to-source [2001:db8::1]-[2001:db8::ff]:4000-4100",
                "profile add v6net --to-source 2001:db8::/64 --random-seed 7",
            ]
        );
    }

    #[test]
    fn save_then_restore_round_trips() {
        let forms = all_forms();
        let text = save_text_of(&no_entries(&forms));
        let items = parse_restore(&text).unwrap();
        let entries = profiles_of(&items);
        assert_eq!(entries.len(), forms.len());
        let mut back: Vec<Profile> = entries.iter().map(|e| profile(&e.name, e.info)).collect();
        back.reverse();
        assert_eq!(save_text_of(&no_entries(&back)), text);
        for e in &entries {
            let orig = forms.iter().find(|p| p.name == e.name).unwrap();
            assert_eq!(e.info, orig.info, "{}", e.name);
        }
        // Line numbers count the header.
        assert_eq!(entries[0].line, 2);
    }

    #[test]
    fn restore_skips_comments_and_blank_lines_and_takes_short_forms() {
        let text = "# saved\n\n   \n  # indented comment\nadd a --to-source 1.2.3.4\n\
                    profile add b --to-ports 5 -6\n\tprofile   add c  --to-source 10.0.0.0/8 --random-seed 3\n";
        let items = parse_restore(text).unwrap();
        let e = profiles_of(&items);
        let names: Vec<(&str, usize)> = e.iter().map(|e| (e.name.as_str(), e.line)).collect();
        assert_eq!(names, [("a", 5), ("b", 6), ("c", 7)]);
        assert_eq!(e[1].info.family, NFPROTO_IPV6);
        assert_eq!(e[2].info.seed, 3);
        assert!(parse_restore("").unwrap().is_empty());
    }

    fn restore_error(text: &str) -> (usize, String, u8) {
        match parse_restore(text) {
            Err(e @ Error::Line { line, .. }) => {
                let code = e.exit_code();
                (line, e.to_string(), code)
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn restore_errors_name_the_line() {
        let ok = "# header\nprofile add a --to-source 1.2.3.4\n";
        for (bad, message) in [
            ("profile add b --to-source 1.2.3", "bad address \"1.2.3\""),
            (
                "profile add b --to-source 1.2.3.4:0",
                "port \"0\" out of range 1-65535",
            ),
            (
                "profile add b --random-seed 1",
                "--random-seed needs --to-source or --to-ports (a profile without them has \
                 entries only)",
            ),
            (
                "profile entry add b 10.0.0.1:5",
                "--to-source or --to-ports is required",
            ),
            (
                "profile entry add b 10.0.0.1 --to-ports 5",
                "a destination of protocol udp needs a port (1-65535): ADDR:PORT, [ADDR]:PORT for IPv6",
            ),
            (
                "entry add z [2001:db8::1]:5 --to-ports 5",
                "the destination [2001:db8::1]:5 is IPv6, profile z (line 5) is IPv4",
            ),
            (
                "profile entry del a 10.0.0.1:5",
                "expected 'profile add NAME OPTIONS...' or 'profile entry add NAME DEST \
                 OPTIONS...', not 'profile entry del a 10.0.0.1:5'",
            ),
            (
                "profile add 'b c' --to-ports 1",
                "unexpected argument 'c'' found",
            ),
            (
                "profile add b --frob 1",
                "unexpected argument '--frob' found",
            ),
            (
                "profile add b --to-source",
                "a value is required for '--to-source <SPEC>' but none was supplied",
            ),
            (
                "profile add b --to-ports 1 --to-ports 2",
                "the argument '--to-ports <PORT[-PORT]>' cannot be used multiple times",
            ),
            ("profile add b --help", "unexpected argument '--help' found"),
            (
                "profile del b",
                "expected 'profile add NAME OPTIONS...' or 'profile entry add NAME DEST \
                 OPTIONS...', not 'profile del b'",
            ),
            (
                "flush",
                "expected 'profile add NAME OPTIONS...' or 'profile entry add NAME DEST \
                 OPTIONS...', not 'flush'",
            ),
            (
                "profile",
                "expected 'profile add NAME OPTIONS...' or 'profile entry add NAME DEST \
                 OPTIONS...', not 'profile'",
            ),
            (
                "profile add b/c --to-ports 1",
                "bad profile name: 1-31 letters, digits, '-', '_' or '.'",
            ),
            (
                "profile add b -6 --to-source 10.0.0.1",
                "\"10.0.0.1\" is an IPv4 address, this is an IPv6 rule (use iptables)",
            ),
        ] {
            let text = format!("{ok}\n{bad}\nprofile add z --to-ports 9\n");
            let (line, msg, code) = restore_error(&text);
            assert_eq!(line, 4, "{bad}");
            assert_eq!(msg, format!("line 4: {message}"), "{bad}");
            assert_eq!(code, 2, "{bad}");
        }
        // The same entry twice: the second line (also with another protocol's key, it
        // would be another entry).
        let text = "entry add a 10.0.0.1:5 --to-ports 5\n\
                    entry add a 10.0.0.1:5 -p tcp --to-ports 5\n\
                    entry add a 10.0.0.1:5 -p 17 --to-ports 6\n";
        assert_eq!(
            restore_error(text),
            (
                3,
                "line 3: entry a udp 10.0.0.1:5 repeats line 1".to_owned(),
                2
            )
        );
    }

    fn dest(arg: &str, p: u8) -> Result<EntryKey, String> {
        parse_dest(arg, p).map_err(|e| e.to_string())
    }

    fn k(p: u8, addr: &str, port: u16) -> EntryKey {
        EntryKey {
            proto: p,
            addr: addr.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn destinations() {
        let udp = proto::UDP;
        for (arg, p, want) in [
            ("203.0.113.5:31000", udp, k(udp, "203.0.113.5", 31000)),
            (
                "[2001:db8::1]:5060",
                proto::TCP,
                k(proto::TCP, "2001:db8::1", 5060),
            ),
            ("[::ffff:192.0.2.1]:1", udp, k(udp, "::ffff:192.0.2.1", 1)),
            (
                "10.0.0.1:65535",
                proto::SCTP,
                k(proto::SCTP, "10.0.0.1", 65535),
            ),
            ("10.0.0.1", proto::ICMP, k(proto::ICMP, "10.0.0.1", 0)),
            (
                "2001:db8::1",
                proto::ICMPV6,
                k(proto::ICMPV6, "2001:db8::1", 0),
            ),
            ("[2001:db8::1]", 47, k(47, "2001:db8::1", 0)),
        ] {
            assert_eq!(dest(arg, p), Ok(want), "{arg}");
            // The text form reads back.
            assert_eq!(dest(&want.dest_text(), p), Ok(want), "{arg}");
        }
        for (arg, p, message) in [
            ("203.0.113.5", udp, "a destination of protocol udp needs a port (1-65535): ADDR:PORT, [ADDR]:PORT for IPv6"),
            ("2001:db8::1", proto::TCP, "a destination of protocol tcp needs a port (1-65535): ADDR:PORT, [ADDR]:PORT for IPv6"),
            ("203.0.113.5:0", udp, "destination port \"0\" out of range 1-65535"),
            ("203.0.113.5:65536", udp, "destination port \"65536\" out of range 1-65535"),
            ("203.0.113.5:http", udp, "bad destination port \"http\""),
            ("203.0.113.5:+5", udp, "bad destination port \"+5\""),
            ("203.0.113.5:", udp, "bad destination port \"\""),
            ("[2001:db8::1]:", udp, "bad destination port \"\""),
            ("203.0.113:5", udp, "bad destination address \"203.0.113\""),
            ("host.example:5", udp, "bad destination address \"host.example\""),
            ("[203.0.113.5]:5", udp, "bad destination address \"203.0.113.5\""),
            ("[2001:db8::1:5", udp, "bad destination \"[2001:db8::1:5\": IPv6 with a port is written [ADDR]:PORT"),
            ("[2001:db8::1]5", udp, "bad destination \"[2001:db8::1]5\": IPv6 with a port is written [ADDR]:PORT"),
            ("10.0.0.1:7", proto::ICMP, "protocol icmp has no ports: give the destination address alone"),
            ("[2001:db8::1]:7", 47, "protocol 47 has no ports: give the destination address alone"),
            ("", udp, "bad destination address \"\""),
        ] {
            assert_eq!(dest(arg, p), Err(message.to_owned()), "{arg}");
        }
    }

    #[test]
    fn protocols() {
        for (arg, want) in [
            ("udp", 17),
            ("UDP", 17),
            ("tcp", 6),
            ("udplite", 136),
            ("sctp", 132),
            ("dccp", 33),
            ("icmp", 1),
            ("icmpv6", 58),
            ("ipv6-icmp", 58),
            ("47", 47),
            ("0", 0),
            ("255", 255),
        ] {
            assert_eq!(parse_proto(arg).ok(), Some(want), "{arg}");
        }
        for arg in ["256", "-1", "", "gre", "0x11", " 17"] {
            assert!(matches!(parse_proto(arg), Err(Error::Usage(_))), "{arg}");
        }
    }

    fn espec(
        profile: &str,
        dst: &str,
        p: Option<&str>,
        to_source: Option<&str>,
        to_ports: Option<&str>,
        seed: Option<&str>,
    ) -> EntrySpec {
        EntrySpec {
            key: EntryKeyArgs {
                profile: profile.into(),
                dest: dst.into(),
                proto: p.map(Into::into),
            },
            to_source: to_source.map(Into::into),
            to_ports: to_ports.map(Into::into),
            random_seed: seed.map(Into::into),
        }
    }

    fn entry(p: u8, addr: &str, port: u16, to: &str, counters: Option<[u64; 2]>) -> Entry {
        let key = k(p, addr, port);
        let (_, info) = entry_mapping(&espec(
            "p",
            &key.dest_text(),
            Some(&p.to_string()),
            Some(to),
            None,
            None,
        ))
        .unwrap();
        Entry {
            key,
            info,
            counters,
        }
    }

    #[test]
    fn entry_mappings_reuse_the_profile_checks() {
        let (key, info) = entry_mapping(&espec(
            "moh",
            "203.0.113.5:31000",
            None,
            Some("198.51.100.7:10002"),
            None,
            None,
        ))
        .unwrap();
        assert_eq!(key, k(proto::UDP, "203.0.113.5", 31000));
        assert_eq!(info, mapping(&src("198.51.100.7:10002")).unwrap());
        // A port alone takes the destination's family.
        let (_, ports) = entry_mapping(&espec(
            "moh",
            "[2001:db8::1]:5",
            Some("tcp"),
            None,
            Some("4000-4100"),
            Some("3"),
        ))
        .unwrap();
        assert_eq!(
            (ports.family, ports.flags, ports.seed),
            (NFPROTO_IPV6, F_MAP_PORT, 3)
        );
        let usage = |s: EntrySpec| match entry_mapping(&s) {
            Err(Error::Usage(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            usage(espec(
                "moh",
                "203.0.113.5:1",
                None,
                Some("1.2.3.4:0"),
                None,
                None
            )),
            "port \"0\" out of range 1-65535"
        );
        assert_eq!(
            usage(espec(
                "moh",
                "203.0.113.5:1",
                None,
                Some("1.2.3.4:5"),
                Some("6"),
                None
            )),
            "--to-ports and a port in --to-source are exclusive"
        );
        assert_eq!(
            usage(espec("moh", "203.0.113.5:1", None, None, None, Some("5"))),
            "--to-source or --to-ports is required"
        );
        assert_eq!(
            usage(espec("moh", "[2001:db8::1]:1", None, Some("10.0.0.1"), None, None)),
            "\"10.0.0.1\" is an IPv4 address, the destination [2001:db8::1]:1 is IPv6: an entry maps to addresses of its destination's family"
        );
        assert_eq!(
            usage(espec(
                "a b",
                "203.0.113.5:1",
                None,
                Some("1.2.3.4"),
                None,
                None
            )),
            "bad profile name: 1-31 letters, digits, '-', '_' or '.'"
        );
        assert!(usage(espec(
            "moh",
            "203.0.113.5:1",
            Some("x"),
            Some("1.2.3.4"),
            None,
            None
        ))
        .starts_with("bad protocol \"x\""));
    }

    #[test]
    fn entry_table_and_json() {
        let mut entries = vec![
            entry(
                proto::UDP,
                "203.0.113.9",
                31000,
                "198.51.100.7:10004",
                Some([1, 172]),
            ),
            entry(proto::TCP, "203.0.113.5", 5060, "198.51.100.7", None),
            entry(
                proto::UDP,
                "203.0.113.5",
                31000,
                "198.51.100.7:10002",
                Some([123_456, 20_640_000]),
            ),
        ];
        entries[1].info.seed = 7;
        sort_entries(&mut entries);
        let t = entry_table(&entries);
        assert_eq!(
            t,
            "PROTO  DESTINATION        TO                  SEED  PACKETS     BYTES\n\
             tcp    203.0.113.5:5060   198.51.100.7           7        -         -\n\
             udp    203.0.113.5:31000  198.51.100.7:10002     0   123456  20640000\n\
             udp    203.0.113.9:31000  198.51.100.7:10004     0        1       172\n"
        );
        assert_eq!(
            entry_table(&[]),
            "PROTO  DESTINATION  TO  SEED  PACKETS  BYTES\n"
        );
        let j = serde_json::to_value(EntryListReport::new("moh", &entries)).unwrap();
        assert_eq!(j["schema"], 1);
        assert_eq!(j["profile"], "moh");
        assert_eq!(
            j["entries"][1],
            json!({
                "proto": "udp", "dst": "203.0.113.5", "dport": 31000,
                "to": {"family": "ipv4", "to_source": "198.51.100.7:10002", "to_ports": null,
                       "address": {"first": "198.51.100.7", "last": "198.51.100.7", "prefix_len": null},
                       "ports": {"first": 10002, "last": 10002}, "seed": 0},
                "counters": {"packets": 123456, "bytes": 20640000}
            })
        );
        assert_eq!(j["entries"][0]["counters"], Value::Null);
        assert_eq!(j["entries"][0]["to"]["seed"], 7);
        let icmp = entry(proto::ICMP, "2001:db8::1", 0, "2001:db8::/64", Some([0, 0]));
        let v = serde_json::to_value(EntryView::of(&icmp)).unwrap();
        assert_eq!(
            (v["proto"].clone(), v["dst"].clone(), v["dport"].clone()),
            (json!("icmp"), json!("2001:db8::1"), json!(0))
        );
        assert_eq!(v["to"]["to_source"], "2001:db8::/64");
        assert_eq!(
            entry_table(&[icmp])
                .lines()
                .nth(1)
                .unwrap()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>(),
            ["icmp", "2001:db8::1", "2001:db8::/64"]
        );
        // A profile with entries only: no mapping members, the number of entries.
        let mut p = profile(
            "moh",
            mapping(&spec("moh", None, None, None, false)).unwrap(),
        );
        p.entries = Some(3);
        let v = serde_json::to_value(ProfileView::new(&p)).unwrap();
        for m in ["to_source", "to_ports", "address", "ports"] {
            assert_eq!(v[m], Value::Null, "{m}");
        }
        assert_eq!(
            (v["family"].clone(), v["entries"].clone(), v["seed"].clone()),
            (json!("ipv4"), json!(3), json!(0))
        );
    }

    #[test]
    fn entry_event_lines() {
        let e = entry(
            proto::UDP,
            "203.0.113.5",
            31000,
            "198.51.100.7:10002",
            Some([5, 500]),
        );
        let change = |kind| Event::EntryChange {
            kind,
            profile: "moh".into(),
            entry: Box::new(e.clone()),
        };
        assert_eq!(
            event_text(&change(EventKind::New)),
            "entry new moh udp 203.0.113.5:31000 198.51.100.7:10002"
        );
        let mut seeded = e.clone();
        seeded.info.seed = 9;
        assert_eq!(
            event_text(&Event::EntryChange {
                kind: EventKind::Set,
                profile: "moh".into(),
                entry: Box::new(seeded)
            }),
            "entry set moh udp 203.0.113.5:31000 198.51.100.7:10002 random-seed 9"
        );
        let del = Event::EntryDel {
            profile: "moh".into(),
            key: k(proto::TCP, "2001:db8::1", 5),
        };
        assert_eq!(event_text(&del), "entry del moh tcp [2001:db8::1]:5");
        let flush = Event::EntryFlush {
            profile: "moh".into(),
            deleted: 3,
        };
        assert_eq!(event_text(&flush), "entry flush moh 3");
        let only = profile(
            "moh",
            mapping(&spec("moh", None, None, None, true)).unwrap(),
        );
        assert_eq!(
            event_text(&Event::Change(EventKind::New, Box::new(only))),
            "new moh entries-only"
        );
        let j = serde_json::to_value(EventReport::new(&change(EventKind::New))).unwrap();
        assert_eq!(
            j,
            json!({"schema": 1, "event": "entry-new", "profile": null,
                   "entry": {"profile": "moh", "proto": "udp", "dst": "203.0.113.5", "dport": 31000,
                             "to": serde_json::to_value(MappingView::new(&e.info)).unwrap(),
                             "counters": {"packets": 5, "bytes": 500}}})
        );
        let j = serde_json::to_value(EventReport::new(&del)).unwrap();
        assert_eq!(
            j,
            json!({"schema": 1, "event": "entry-del", "profile": null,
                   "entry": {"profile": "moh", "proto": "tcp", "dst": "2001:db8::1", "dport": 5,
                             "to": null, "counters": null}})
        );
        let j = serde_json::to_value(EventReport::new(&flush)).unwrap();
        assert_eq!(
            j,
            json!({"schema": 1, "event": "entry-flush", "profile": null, "flush": {"profile": "moh", "entries": 3}})
        );
        // Profile events keep their members (and get no new ones).
        let j = serde_json::to_value(EventReport::new(&Event::Lost)).unwrap();
        assert_eq!(j, json!({"schema": 1, "event": "lost", "profile": null}));
    }

    fn with_entries() -> Vec<(Profile, Vec<Entry>)> {
        let moh = profile(
            "moh",
            mapping(&spec("moh", None, None, None, false)).unwrap(),
        );
        let v6 = profile(
            "v6",
            mapping(&spec("v6", Some("2001:db8::7"), None, None, false)).unwrap(),
        );
        let dash = profile(
            "-dash",
            mapping(&spec("-dash", None, Some("53"), None, false)).unwrap(),
        );
        let mut seeded = entry(
            proto::TCP,
            "203.0.113.5",
            5060,
            "198.51.100.0/24:5060-5070",
            Some([1, 2]),
        );
        seeded.info.seed = 77;
        vec![
            (
                moh,
                vec![
                    entry(
                        proto::UDP,
                        "203.0.113.9",
                        31000,
                        "198.51.100.7:10004",
                        Some([1, 2]),
                    ),
                    seeded,
                    entry(proto::UDP, "203.0.113.5", 31000, "198.51.100.7:10002", None),
                    entry(proto::ICMP, "203.0.113.5", 0, "198.51.100.7", None),
                ],
            ),
            (
                v6,
                vec![
                    entry(
                        proto::UDP,
                        "2001:db8::5",
                        31000,
                        "[2001:db8::8]:10002",
                        None,
                    ),
                    entry(proto::ICMPV6, "2001:db8::5", 0, "2001:db8::9", None),
                ],
            ),
            (
                dash,
                vec![entry(proto::UDP, "192.0.2.1", 1, "192.0.2.2", None)],
            ),
        ]
    }

    #[test]
    fn save_lines_with_entries() {
        let text = save_text_of(&with_entries());
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "profile add --to-ports 53 -- -dash",
                "profile entry add --to-source 192.0.2.2 -- -dash 192.0.2.1:1",
                "profile add moh",
                "profile entry add moh 203.0.113.5 -p icmp --to-source 198.51.100.7",
                "profile entry add moh 203.0.113.5:5060 -p tcp --to-source 198.51.100.0/24:5060-5070 --random-seed 77",
                "profile entry add moh 203.0.113.5:31000 --to-source 198.51.100.7:10002",
                "profile entry add moh 203.0.113.9:31000 --to-source 198.51.100.7:10004",
                "profile add v6 --to-source 2001:db8::7",
                "profile entry add v6 2001:db8::5 -p icmpv6 --to-source 2001:db8::9",
                "profile entry add v6 [2001:db8::5]:31000 --to-source [2001:db8::8]:10002",
            ]
        );
        // Back: the same profiles and entries, in the same order.
        let items = parse_restore(&text).unwrap();
        let mut back: Vec<(Profile, Vec<Entry>)> = Vec::new();
        for item in items {
            match item {
                RestoreItem::Profile(p) => back.push((profile(&p.name, p.info), Vec::new())),
                RestoreItem::Entry(e) => {
                    let (p, entries) = back.last_mut().unwrap();
                    assert_eq!(p.name, e.profile);
                    entries.push(Entry {
                        key: e.key,
                        info: e.info,
                        counters: None,
                    });
                }
            }
        }
        assert_eq!(save_text_of(&back), text);
        // Every entry came back with its key and mapping.
        for (p, entries) in with_entries() {
            let (_, got) = back.iter().find(|(q, _)| q.name == p.name).unwrap();
            assert_eq!(got.len(), entries.len(), "{}", p.name);
            for e in entries {
                let g = got.iter().find(|g| g.key == e.key).unwrap();
                assert_eq!(g.info, e.info, "{}", e.key);
            }
        }
    }
}
