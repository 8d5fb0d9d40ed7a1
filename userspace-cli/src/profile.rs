// SPDX-License-Identifier: GPL-2.0
//! Runtime profiles on the user's side: a command line's mapping turned into an
//! [`SsnatInfo`] (with `ssnat-spec`, so it reads and fails as `-j SSNAT` does), a
//! kernel's [`Profile`] written as text and JSON, and the `save`/`restore` format.
//!
//! # JSON schema 1
//!
//! `PROFILE` (`profile show`, `monitor`):
//! ```text
//! {"name": string, "family": "ipv4"|"ipv6",
//!  "to_source": string|null, "to_ports": string|null,
//!  "address": {"first": string, "last": string, "prefix_len": int|null}|null,
//!  "ports": {"first": int, "last": int}|null,
//!  "seed": int, "rules": int|null, "counters": COUNTERS|null}
//! ```
//! `to_source` is the `--to-source` text (null without an address), `to_ports` the
//! `--to-ports` text (null unless only the port is mapped). `COUNTERS` is an object with
//! one int member per name of [`ssnat_core::genl::COUNTERS`], in that order.
//!
//! - `profile show --json`: `{"schema": 1, "profiles": [PROFILE]}`
//! - `profile list --json`: `{"schema": 1, "profiles": [string]}`
//! - `stats --json`: `{"schema": 1, "profiles": [{"name": string, "rules": int|null,
//!   "counters": COUNTERS|null}]}`
//! - `monitor --json`, per line: `{"schema": 1, "event": "new"|"set"|"del"|"lost",
//!   "profile": PROFILE|null}`

use clap::Parser;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use ssnat_core::abi::{InfoError, SsnatInfo, F_MAP_ADDR, F_MAP_PORT, F_PREFIX, NFPROTO_IPV4};
use ssnat_core::genl::{self, COUNTERS};
use ssnat_spec::{
    addr_text, apply_option, parse_to_source, ports_text, print_text, save_text, seed_text, Family,
    Opt, ParseError,
};

use crate::cli::ProfileSpec;
use crate::error::Error;
use crate::netlink::{Event, Profile, N_COUNTERS};
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
pub fn mapping(spec: &ProfileSpec) -> Result<SsnatInfo, Error> {
    check_name(&spec.name)?;
    let family = family_of_spec(spec);
    let mut info = SsnatInfo::zeroed();
    info.family = family.nfproto();
    let usage = |e: ParseError| Error::Usage(e.to_string());
    if let Some(arg) = &spec.to_source {
        apply_option(&mut info, Opt::ToSource, arg, family).map_err(usage)?;
    }
    if let Some(arg) = &spec.to_ports {
        apply_option(&mut info, Opt::ToPorts, arg, family).map_err(usage)?;
    }
    if let Some(arg) = &spec.random_seed {
        apply_option(&mut info, Opt::RandomSeed, arg, family).map_err(usage)?;
    }
    if spec.to_source.is_none() && spec.to_ports.is_none() {
        return Err(Error::Usage(
            "--to-source or --to-ports is required".to_owned(),
        ));
    }
    info.validate_mapping(family.nfproto())
        .map_err(|e| Error::Usage(e.message().to_owned()))?;
    Ok(info)
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

/// A profile as `profile show --json` prints it (`PROFILE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileView {
    pub name: String,
    pub family: &'static str,
    pub to_source: Option<String>,
    pub to_ports: Option<String>,
    pub address: Option<AddressView>,
    pub ports: Option<PortsView>,
    pub seed: u32,
    pub rules: Option<u32>,
    pub counters: Option<Counters>,
}

impl ProfileView {
    /// The view of `p`.
    pub fn new(p: &Profile) -> ProfileView {
        let i = &p.info;
        let family = family_of(i);
        let has_addr = i.flags & F_MAP_ADDR != 0;
        let has_port = i.flags & F_MAP_PORT != 0;
        ProfileView {
            name: p.name.clone(),
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
            rules: p.rules,
            counters: p.counters.map(Counters),
        }
    }
}

/// `profile show` text of one profile: two lines (one without counters).
pub fn show_text(p: &Profile) -> String {
    let family = family_of(&p.info);
    let mut s = format!(
        "profile {} {}{}",
        p.name,
        family_name(family),
        print_text(&p.info, family)
    );
    if let Some(n) = p.rules {
        s += &format!(" rules {n}");
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
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == 0 {
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

/// `monitor --json`, one line.
#[derive(Debug, Serialize)]
pub struct EventReport {
    pub schema: u32,
    pub event: &'static str,
    pub profile: Option<ProfileView>,
}

impl EventReport {
    pub fn new(event: &Event) -> EventReport {
        match event {
            Event::Change(kind, p) => EventReport {
                schema: SCHEMA,
                event: kind.name(),
                profile: Some(ProfileView::new(p)),
            },
            Event::Lost => EventReport {
                schema: SCHEMA,
                event: "lost",
                profile: None,
            },
        }
    }
}

/// `monitor` text of one event (without newline): `new moh 198.51.100.7:4000`.
pub fn event_text(event: &Event) -> String {
    match event {
        Event::Change(kind, p) => {
            let mut s = format!("{} {}", kind.name(), p.name);
            if *kind != crate::netlink::EventKind::Del {
                s.push(' ');
                s += &ssnat_spec::format_to_source(&p.info, family_of(&p.info));
                if p.info.seed != ssnat_core::abi::DEFAULT_SEED {
                    s += " random-seed ";
                    s += &seed_text(p.info.seed);
                }
            }
            s
        }
        Event::Lost => "lost".to_owned(),
    }
}

/// The header of `save`'s output.
pub fn save_header() -> String {
    format!("# ssnatctl {VERSION} save: profiles, for 'ssnatctl restore'\n")
}

/// `save` line of one profile: `profile add NAME [-6] OPTIONS`.
pub fn save_line(p: &Profile) -> String {
    let family = family_of(&p.info);
    let opts = save_text(&p.info, family);
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

/// The whole `save` output for `profiles` (sorted by name here).
pub fn save_text_of(profiles: &[Profile]) -> String {
    let mut sorted: Vec<&Profile> = profiles.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = save_header();
    for p in sorted {
        out += &save_line(p);
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

/// One profile to restore, from line `line` (counted from 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreEntry {
    pub line: usize,
    pub name: String,
    pub info: SsnatInfo,
}

/// Parses a `restore` input: every line checked, the first bad one reported as
/// `line N: MESSAGE` ([`Error::Line`] around an [`Error::Usage`]).
pub fn parse_restore(text: &str) -> Result<Vec<RestoreEntry>, Error> {
    let mut entries = Vec::new();
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
        if words.first() != Some(&"add") {
            return Err(at(Error::Usage(format!(
                "expected 'profile add NAME OPTIONS...', not '{trimmed}'"
            ))));
        }
        let parsed =
            AddLine::try_parse_from(&words).map_err(|e| at(Error::Usage(clap_message(&e))))?;
        let info = mapping(&parsed.spec).map_err(at)?;
        entries.push(RestoreEntry {
            line,
            name: parsed.spec.name,
            info,
        });
    }
    Ok(entries)
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
        }
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
            "--to-source or --to-ports is required"
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
            "profile moh ipv4 to:198.51.100.7:4000 random-seed:4660 rules 2\n\
             \tpackets 0 bytes 10 tracked 20 truncated 30 malformed 40 header-chain 50 \
             no-port 60 unchanged 70 no-memory 80\n"
        );
        let ports = mapping(&spec("p6", None, Some("53-54"), None, true)).unwrap();
        let mut p = profile("p6", ports);
        p.rules = None;
        p.counters = None;
        assert_eq!(show_text(&p), "profile p6 ipv6 ports:53-54\n");
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
                             "unchanged": 70, "no-memory": 80}
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
                "NO-MEMORY"
            ]
        );
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            row,
            ["moh", "2", "0", "10", "20", "30", "40", "50", "60", "70", "80"]
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
        let text = save_text_of(&forms);
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
        let text = save_text_of(&forms);
        let entries = parse_restore(&text).unwrap();
        assert_eq!(entries.len(), forms.len());
        let mut back: Vec<Profile> = entries.iter().map(|e| profile(&e.name, e.info)).collect();
        back.reverse();
        assert_eq!(save_text_of(&back), text);
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
        let e = parse_restore(text).unwrap();
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
            ("profile add b", "--to-source or --to-ports is required"),
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
                "expected 'profile add NAME OPTIONS...', not 'profile del b'",
            ),
            (
                "flush",
                "expected 'profile add NAME OPTIONS...', not 'flush'",
            ),
            (
                "profile",
                "expected 'profile add NAME OPTIONS...', not 'profile'",
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
    }
}
