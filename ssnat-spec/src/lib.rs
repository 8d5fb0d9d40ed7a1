//! The SSNAT mapping specification: the target's options (`--to-source`, `--to-ports`,
//! `--random-seed`, or `--profile`) parsed into a [`SsnatInfo`], and written back as text
//! for `-L` and `iptables-save`; and the final check of a rule.
//!
//! One implementation for every user of the syntax, so that a mapping reads and prints
//! the same wherever it is given:
//! * `libxt_SSNAT` (the iptables/ip6tables extension): its libxtables callbacks only
//!   move bytes between C and these functions ([`apply_option`] per option,
//!   [`final_check`], [`print_text`], [`save_text`]);
//! * `ssnatctl`, for the mappings it handles itself (runtime profiles), with the same
//!   syntax and messages as the rules.
//!
//! Pure safe `std` Rust, no FFI and no iptables types: the rule's protocol comes in as a
//! plain [`RuleProto`], and everything is unit-tested on its own. The info itself, its
//! ABI and its validation (the very [`SsnatInfo::validate`] the kernel runs) are
//! `ssnat-core`'s.
//!
//! # Syntax
//!
//! Addresses are numeric, ports decimal 1-65535, prefix lengths 1-32 (IPv4) or 1-128
//! (IPv6).
//!
//! `--to-source`, IPv4: `ADDR[-ADDR][:PORT[-PORT]]` or `PREFIX/LEN[:PORT[-PORT]]`, e.g.
//! `198.51.100.7:4000`, `10.0.0.1-10.0.0.9:1000-2000`, `10.1.0.0/16:4000`.
//!
//! `--to-source`, IPv6:
//! * without a port, bare: `ADDR[-ADDR]` or `PREFIX/LEN`, e.g. `2001:db8::/64`;
//! * with a port, the addresses in brackets: `[ADDR]:PORT[-PORT]`,
//!   `[ADDR]-[ADDR]:PORT[-PORT]`, `[PREFIX]/LEN:PORT[-PORT]`, e.g.
//!   `[2001:db8::]/64:4000`. Also accepted (never written): `[ADDR-ADDR]:PORT` (ip6tables'
//!   `SNAT` form) and `[PREFIX/LEN]:PORT`. The bracketed forms may go without a port too.
//!
//! A prefix must be the network address (host bits zero), as with `NETMAP`: the host
//! bits of each packet's address are kept. An IPv6 range must stay within one /64.
//!
//! `--to-ports PORT[-PORT]`: the port only; the address is kept. With a `--to-source`
//! that has no port, it gives that rule its port; with one that has, it is an error.
//!
//! `--random-seed N`: decimal or `0x` hex, 0-4294967295; [`DEFAULT_SEED`] when not given.
//! It is written back in decimal ([`seed_text`]), whichever way it was given.
//!
//! `--profile NAME`: the rule takes its mapping from the runtime profile `NAME`
//! (managed with `ssnatctl`; the kernel refuses the rule while no such profile exists).
//! 1-31 letters, digits, `-`, `_` or `.` ([`valid_profile_name`]). It stands alone: it
//! cannot be combined with `--to-source`, `--to-ports` or `--random-seed` (the profile
//! has its own seed), in either order. The info is then [`F_PROFILE`] and the name only,
//! as [`SsnatInfo::validate`] wants it.
//!
//! Port mapping needs the rule to match a protocol with ports (`-p udp`, ...), the check
//! [`SsnatInfo::validate`] makes in the kernel too; see [`final_check`].
//!
//! # Tables
//!
//! SSNAT runs in the `raw`, `mangle` and `filter` tables only ([`allowed_hooks`], the
//! kernel's own rule from the ABI file, and [`check_table`]): the kernel's checkentry
//! refuses the others (`nat`, `security`) with the message [`TableError`] shows, which
//! the extension gives before the rule is sent.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ssnat_core::abi::{
    host_mask_byte, InfoError, SsnatInfo, DEFAULT_SEED, F_MAP_ADDR, F_MAP_PORT, F_PREFIX,
    F_PROFILE, NFPROTO_IPV4, NFPROTO_IPV6, PROFILE_NAME_LEN,
};
use ssnat_core::genl::valid_profile_name;

/// The family of the rule (`iptables` or `ip6tables`) an extension instance serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `iptables`, `NFPROTO_IPV4`.
    V4,
    /// `ip6tables`, `NFPROTO_IPV6`.
    V6,
}

impl Family {
    /// The `NFPROTO_*` value of the family.
    pub const fn nfproto(self) -> u8 {
        match self {
            Family::V4 => NFPROTO_IPV4,
            Family::V6 => NFPROTO_IPV6,
        }
    }

    /// Bits in an address: the longest prefix.
    pub const fn addr_bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// The other family.
    const fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }

    /// Human name, as in messages.
    const fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    /// The command that makes rules of this family.
    const fn command(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }
}

/// The target's options. [`Opt::id`] is the option's id in the extension's option table,
/// hence its bit in libxtables' `xflags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    /// `--to-source`.
    ToSource = 0,
    /// `--to-ports`.
    ToPorts = 1,
    /// `--random-seed`.
    RandomSeed = 2,
    /// `--profile`: the mapping of a named runtime profile instead of the three above.
    Profile = 3,
}

impl Opt {
    /// Every option, in id order.
    pub const ALL: [Opt; 4] = [Opt::ToSource, Opt::ToPorts, Opt::RandomSeed, Opt::Profile];

    /// The options that give a rule its own mapping, which `--profile` replaces: none
    /// of them may be combined with it.
    pub const MAPPING: [Opt; 3] = [Opt::ToSource, Opt::ToPorts, Opt::RandomSeed];

    /// Id in the option table.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// The option with id `id`.
    pub fn from_id(id: u32) -> Option<Opt> {
        Opt::ALL.into_iter().find(|o| o.id() == id)
    }

    /// Bit in libxtables' `xflags` (the options seen).
    pub const fn bit(self) -> u32 {
        1 << self.id()
    }

    /// Name, without the leading `--`.
    pub const fn name(self) -> &'static str {
        match self {
            Opt::ToSource => "to-source",
            Opt::ToPorts => "to-ports",
            Opt::RandomSeed => "random-seed",
            Opt::Profile => "profile",
        }
    }

    /// The option with name `name` (without the leading `--`).
    pub fn from_name(name: &str) -> Option<Opt> {
        Opt::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// Why an option's argument could not be parsed. [`fmt::Display`] gives the message,
/// without the `SSNAT: ` prefix the extension puts in front of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a numeric address of the rule's family.
    BadAddress(String),
    /// Not a decimal port number.
    BadPort(String),
    /// A decimal number, but not in 1-65535.
    PortOutOfRange(String),
    /// Brackets that do not match the IPv6 syntax.
    BadSyntax(String),
    /// A valid argument for the other family's command.
    WrongFamily {
        /// The whole argument.
        arg: String,
        /// The family of the rule it was given to.
        rule: Family,
    },
    /// A prefix length that is not a number in 1-32 (IPv4) or 1-128 (IPv6).
    BadPrefixLen {
        /// The length as written.
        len: String,
        /// The family of the rule.
        family: Family,
    },
    /// A prefix with host bits set.
    HostBitsSet {
        /// The prefix as written, normalized: `10.1.2.0/16`.
        given: String,
        /// The network it lies in: `10.1.0.0/16`.
        network: String,
    },
    /// An address range whose first address is above its last.
    ReversedAddrRange(String),
    /// An IPv6 address range whose ends differ in the first 64 bits.
    WideRange(String),
    /// A port range whose first port is above its last.
    ReversedPortRange(String),
    /// `--to-ports` together with a `--to-source` that has a port.
    PortsExclusive,
    /// Not a number for `--random-seed`.
    BadSeed(String),
    /// A `--profile` name that is not 1-31 letters, digits, `-`, `_` or `.`.
    BadProfileName(String),
    /// `--profile` together with an option of [`Opt::MAPPING`] (this one), in either
    /// order.
    ProfileConflict(Opt),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::BadAddress(s) => write!(f, "bad address \"{s}\""),
            ParseError::BadPort(s) => write!(f, "bad port \"{s}\""),
            ParseError::PortOutOfRange(s) => write!(f, "port \"{s}\" out of range 1-65535"),
            ParseError::BadSyntax(s) => write!(
                f,
                "bad --to-source \"{s}\": with a port, IPv6 addresses are written \
                 [ADDR]:PORT, [ADDR]-[ADDR]:PORT or [PREFIX]/LEN:PORT"
            ),
            ParseError::WrongFamily { arg, rule } => write!(
                f,
                "\"{arg}\" is an {} address, this is an {} rule (use {})",
                rule.other().name(),
                rule.name(),
                rule.other().command()
            ),
            ParseError::BadPrefixLen { len, family } => write!(
                f,
                "bad prefix length \"{len}\": 1-{} for {}",
                family.addr_bits(),
                family.name()
            ),
            ParseError::HostBitsSet { given, network } => {
                write!(f, "{given} has host bits set; did you mean {network}?")
            }
            ParseError::ReversedAddrRange(s) => write!(
                f,
                "bad address range {s}: the first address is above the last"
            ),
            ParseError::WideRange(s) => write!(
                f,
                "IPv6 address range {s} is wider than a /64: both ends must share the \
                 first 64 bits"
            ),
            ParseError::ReversedPortRange(s) => {
                write!(f, "bad port range {s}: the first port is above the last")
            }
            ParseError::PortsExclusive => {
                f.write_str("--to-ports and a port in --to-source are exclusive")
            }
            ParseError::BadSeed(s) => write!(
                f,
                "bad --random-seed \"{s}\": a number 0-4294967295, decimal or 0x hex"
            ),
            ParseError::BadProfileName(s) => {
                // The kernel's message ("bad profile name: 1-31 ..."), with the name.
                let message = InfoError::BadProfileName.message();
                match message.strip_prefix("bad profile name") {
                    Some(rule) => write!(f, "bad profile name \"{s}\"{rule}"),
                    None => write!(f, "bad profile name \"{s}\": {message}"),
                }
            }
            ParseError::ProfileConflict(other) => {
                write!(f, "--profile cannot be combined with --{}", other.name())
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// The addresses of a `--to-source`, as the 16 bytes of the ABI (IPv4 in the first 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addrs {
    /// `min` to `max`, both included; one address has `min == max`.
    Range([u8; 16], [u8; 16]),
    /// A prefix: the address as written and the length (in range for the family).
    Prefix([u8; 16], u8),
}

/// A parsed `--to-source` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToSource {
    /// The addresses to write.
    pub addrs: Addrs,
    /// The port range to write, if any: `(min, max)`.
    pub ports: Option<(u16, u16)>,
}

impl ToSource {
    /// Writes the addresses (and ports, if any) into `info`.
    fn write_into(&self, info: &mut SsnatInfo, family: Family) {
        info.flags |= F_MAP_ADDR;
        match self.addrs {
            Addrs::Range(min, max) => {
                info.flags &= !F_PREFIX;
                info.prefix_len = 0;
                (info.min_addr, info.max_addr) = (min, max);
            }
            Addrs::Prefix(net, len) => {
                info.flags |= F_PREFIX;
                info.prefix_len = len;
                info.min_addr = net;
                info.max_addr = last_of_prefix(&net, len, family);
            }
        }
        if let Some((min, max)) = self.ports {
            info.flags |= F_MAP_PORT;
            (info.min_port, info.max_port) = (min, max);
        }
    }
}

/// Parses a `--to-source` argument for a rule of `family`, syntax and values (reversed
/// ranges, host bits, prefix lengths, IPv6 ranges within a /64).
pub fn parse_to_source(arg: &str, family: Family) -> Result<ToSource, ParseError> {
    let syntax = |family| match family {
        Family::V4 => syntax_v4(arg),
        Family::V6 => syntax_v6(arg),
    };
    let parsed = syntax(family).map_err(|err| {
        // "1.2.3.4" given to ip6tables, or "[::1]:5" to iptables: say so rather than
        // calling the address bad.
        match syntax(family.other()) {
            Ok(_) => ParseError::WrongFamily {
                arg: arg.to_owned(),
                rule: family,
            },
            Err(_) => err,
        }
    })?;
    check_values(&parsed, family)?;
    Ok(parsed)
}

/// Parses `--to-ports PORT[-PORT]`.
pub fn parse_to_ports(arg: &str) -> Result<(u16, u16), ParseError> {
    let ports = parse_range(arg, parse_port)?;
    check_ports(ports)?;
    Ok(ports)
}

/// Parses `--random-seed N`: decimal or `0x` hex, a u32.
pub fn parse_seed(arg: &str) -> Result<u32, ParseError> {
    let bad = || ParseError::BadSeed(arg.to_owned());
    let (digits, radix) = match arg.strip_prefix("0x").or_else(|| arg.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (arg, 10),
    };
    // from_str_radix() would take a sign; only digits are a number here.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(bad());
    }
    u32::from_str_radix(digits, radix).map_err(|_| bad())
}

/// A seed as `-L`, `iptables-save` and `ssnatctl` write it: decimal, what a user types
/// and what [`parse_seed`] reads back to the same value (`--random-seed 7` comes back as
/// `7`; `0x1234` as `4660`).
pub fn seed_text(seed: u32) -> String {
    seed.to_string()
}

/// Parses a `--profile NAME` argument: the name as [`SsnatInfo::profile`] holds it,
/// NUL-terminated and NUL-padded.
pub fn parse_profile(arg: &str) -> Result<[u8; PROFILE_NAME_LEN], ParseError> {
    let name = arg.as_bytes();
    if !valid_profile_name(name) {
        return Err(ParseError::BadProfileName(arg.to_owned()));
    }
    // valid_profile_name() keeps it shorter than the field: the NUL fits.
    let mut profile = [0; PROFILE_NAME_LEN];
    profile[..name.len()].copy_from_slice(name);
    Ok(profile)
}

/// The option of [`Opt::MAPPING`] that left its mark in `info`, if any: what
/// `--profile` conflicts with. A `--random-seed` of 0 leaves none ([`final_check`]
/// catches it from the options seen).
fn mapping_option_in(info: &SsnatInfo) -> Option<Opt> {
    if info.flags & F_MAP_ADDR != 0 {
        Some(Opt::ToSource)
    } else if info.flags & F_MAP_PORT != 0 {
        Some(Opt::ToPorts)
    } else if info.seed != DEFAULT_SEED {
        Some(Opt::RandomSeed)
    } else {
        None
    }
}

/// Applies one option of a rule for `family` to the rule's `info` (zeroed by iptables
/// before the first option): what `x6_parse` does with each option it is handed.
///
/// libxtables refuses a repeated option before this is called; `--to-ports` and a
/// `--to-source` with a port are refused here, in either order, and so is `--profile`
/// with any option of [`Opt::MAPPING`] (but a `--random-seed 0` before `--profile`
/// leaves no trace in `info`: [`final_check`] refuses that one).
pub fn apply_option(
    info: &mut SsnatInfo,
    opt: Opt,
    arg: &str,
    family: Family,
) -> Result<(), ParseError> {
    info.family = family.nfproto();
    // After --profile, no mapping option.
    if opt != Opt::Profile && info.flags & F_PROFILE != 0 {
        return Err(ParseError::ProfileConflict(opt));
    }
    match opt {
        Opt::ToSource => {
            let to = parse_to_source(arg, family)?;
            // A port already there came from --to-ports.
            if to.ports.is_some() && info.flags & F_MAP_PORT != 0 {
                return Err(ParseError::PortsExclusive);
            }
            to.write_into(info, family);
        }
        Opt::ToPorts => {
            // A port already there came from --to-source.
            if info.flags & F_MAP_PORT != 0 {
                return Err(ParseError::PortsExclusive);
            }
            let (min, max) = parse_to_ports(arg)?;
            info.flags |= F_MAP_PORT;
            (info.min_port, info.max_port) = (min, max);
        }
        Opt::RandomSeed => info.seed = parse_seed(arg)?,
        Opt::Profile => {
            let profile = parse_profile(arg)?;
            // Before --profile, no mapping option.
            if let Some(other) = mapping_option_in(info) {
                return Err(ParseError::ProfileConflict(other));
            }
            info.flags |= F_PROFILE;
            info.profile = profile;
        }
    }
    Ok(())
}

/// `ADDR[-ADDR][:PORT[-PORT]]` or `PREFIX/LEN[:PORT[-PORT]]`.
fn syntax_v4(arg: &str) -> Result<ToSource, ParseError> {
    let (addrs, ports) = match arg.split_once(':') {
        Some((addrs, ports)) => (addrs, Some(ports)),
        None => (arg, None),
    };
    Ok(ToSource {
        addrs: parse_addrs(addrs, Family::V4)?,
        ports: ports.map(|p| parse_range(p, parse_port)).transpose()?,
    })
}

/// Bare `ADDR[-ADDR]` or `PREFIX/LEN`; or bracketed `[ADDR]`, `[ADDR]-[ADDR]`,
/// `[ADDR-ADDR]`, `[PREFIX]/LEN` or `[PREFIX/LEN]`, each with an optional
/// `:PORT[-PORT]`.
fn syntax_v6(arg: &str) -> Result<ToSource, ParseError> {
    let syntax = || ParseError::BadSyntax(arg.to_owned());
    let Some(inner) = arg.strip_prefix('[') else {
        // Bare: no port possible (its colon would be part of the address).
        if arg.contains(['[', ']']) {
            return Err(syntax());
        }
        let addrs = parse_addrs(arg, Family::V6)?;
        return Ok(ToSource { addrs, ports: None });
    };
    let (first, rest) = inner.split_once(']').ok_or_else(syntax)?;
    let single = |s: &str| {
        if s.contains(['-', '/']) {
            Err(syntax())
        } else {
            parse_addr(s, Family::V6)
        }
    };
    let (addrs, rest) = if let Some(second) = rest.strip_prefix("-[") {
        // "[a]-[b]..."
        let (second, rest) = second.split_once(']').ok_or_else(syntax)?;
        (Addrs::Range(single(first)?, single(second)?), rest)
    } else if let Some(len_ports) = rest.strip_prefix('/') {
        // "[prefix]/len..."
        if len_ports.contains(['[', ']']) {
            return Err(syntax());
        }
        let (len, rest) = len_ports.split_at(len_ports.find(':').unwrap_or(len_ports.len()));
        (
            Addrs::Prefix(single(first)?, parse_prefix_len(len, Family::V6)?),
            rest,
        )
    } else {
        // "[a]...", "[a-b]..." or "[prefix/len]..."
        (parse_addrs(first, Family::V6)?, rest)
    };
    let ports = match rest {
        "" => None,
        _ => {
            let ports = rest.strip_prefix(':').ok_or_else(syntax)?;
            if ports.contains(['[', ']']) {
                return Err(syntax());
            }
            Some(parse_range(ports, parse_port)?)
        }
    };
    Ok(ToSource { addrs, ports })
}

/// `ADDR`, `ADDR-ADDR` or `PREFIX/LEN` of `family`, no brackets.
fn parse_addrs(s: &str, family: Family) -> Result<Addrs, ParseError> {
    match s.split_once('/') {
        Some((addr, len)) => Ok(Addrs::Prefix(
            parse_addr(addr, family)?,
            parse_prefix_len(len, family)?,
        )),
        None => {
            let (min, max) = parse_range(s, |a| parse_addr(a, family))?;
            Ok(Addrs::Range(min, max))
        }
    }
}

/// `X` or `X-X`, each parsed with `one`; a single value gives `(x, x)`.
fn parse_range<T: Copy>(
    s: &str,
    one: impl Fn(&str) -> Result<T, ParseError>,
) -> Result<(T, T), ParseError> {
    match s.split_once('-') {
        Some((min, max)) => Ok((one(min)?, one(max)?)),
        None => one(s).map(|x| (x, x)),
    }
}

fn parse_addr(s: &str, family: Family) -> Result<[u8; 16], ParseError> {
    let bad = || ParseError::BadAddress(s.to_owned());
    match family {
        Family::V4 => {
            let addr: Ipv4Addr = s.parse().map_err(|_| bad())?;
            let mut bytes = [0; 16];
            bytes[..4].copy_from_slice(&addr.octets());
            Ok(bytes)
        }
        Family::V6 => s.parse::<Ipv6Addr>().map(|a| a.octets()).map_err(|_| bad()),
    }
}

/// A decimal prefix length, 1 to the family's address bits.
fn parse_prefix_len(s: &str, family: Family) -> Result<u8, ParseError> {
    let bad = || ParseError::BadPrefixLen {
        len: s.to_owned(),
        family,
    };
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match s.parse::<u8>() {
        Ok(len) if (1..=family.addr_bits()).contains(&len) => Ok(len),
        _ => Err(bad()),
    }
}

/// A decimal port, 1-65535. Names from /etc/services are not taken: the rule's protocol
/// is not known when the option is parsed.
fn parse_port(s: &str) -> Result<u16, ParseError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadPort(s.to_owned()));
    }
    match s.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        // Zero, or too many digits for a u16 (the only other failure on all-digits).
        _ => Err(ParseError::PortOutOfRange(s.to_owned())),
    }
}

/// The checks on values that the syntax lets through; [`SsnatInfo::validate`] makes
/// them too, but these messages show what was wrong.
fn check_values(to: &ToSource, family: Family) -> Result<(), ParseError> {
    match to.addrs {
        Addrs::Range(min, max) => {
            let text = || format!("{}-{}", addr_text(&min, family), addr_text(&max, family));
            if min > max {
                return Err(ParseError::ReversedAddrRange(text()));
            }
            if family == Family::V6 && min[..8] != max[..8] {
                return Err(ParseError::WideRange(text()));
            }
        }
        Addrs::Prefix(addr, len) => {
            let network = network_of(&addr, len, family);
            if network != addr {
                return Err(ParseError::HostBitsSet {
                    given: format!("{}/{len}", addr_text(&addr, family)),
                    network: format!("{}/{len}", addr_text(&network, family)),
                });
            }
        }
    }
    to.ports.map_or(Ok(()), check_ports)
}

fn check_ports((min, max): (u16, u16)) -> Result<(), ParseError> {
    if min > max {
        return Err(ParseError::ReversedPortRange(format!("{min}-{max}")));
    }
    Ok(())
}

/// Bytes of an address of `family` (4 or 16).
const fn addr_len(family: Family) -> usize {
    family.addr_bits() as usize / 8
}

/// `addr` with the host bits of a `/len` cleared.
fn network_of(addr: &[u8; 16], len: u8, family: Family) -> [u8; 16] {
    let mut net = [0; 16];
    for i in 0..addr_len(family) {
        net[i] = addr[i] & !host_mask_byte(len.into(), i);
    }
    net
}

/// The last address of the prefix `net/len`: the host bits all set.
fn last_of_prefix(net: &[u8; 16], len: u8, family: Family) -> [u8; 16] {
    let mut last = [0; 16];
    for i in 0..addr_len(family) {
        last[i] = net[i] | host_mask_byte(len.into(), i);
    }
    last
}

/// An address of `family` in its usual text form.
pub fn addr_text(bytes: &[u8; 16], family: Family) -> String {
    match family {
        Family::V4 => Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        Family::V6 => Ipv6Addr::from(*bytes).to_string(),
    }
}

/// `MIN` or `MIN-MAX`.
pub fn ports_text(min: u16, max: u16) -> String {
    if min == max {
        min.to_string()
    } else {
        format!("{min}-{max}")
    }
}

/// Writes `info`'s addresses (and port, if any) in the `--to-source` syntax for a rule of
/// `family`. Everything [`parse_to_source`] accepts comes back in a form it parses to
/// the same info. An info without an address prints as `:PORT[-PORT]` (only used in
/// `-L` of an info no option made, which validate() refuses anyway).
pub fn format_to_source(info: &SsnatInfo, family: Family) -> String {
    let with_port = info.flags & F_MAP_PORT != 0;
    let mut out = String::new();
    if info.flags & F_MAP_ADDR != 0 {
        let (min, max) = (&info.min_addr, &info.max_addr);
        // IPv6 addresses go in brackets only when a port follows.
        let bracket = |a: &[u8; 16]| match family {
            Family::V6 if with_port => format!("[{}]", addr_text(a, family)),
            _ => addr_text(a, family),
        };
        if info.flags & F_PREFIX != 0 {
            out.push_str(&format!("{}/{}", bracket(min), info.prefix_len));
        } else {
            out.push_str(&bracket(min));
            if min != max {
                out.push('-');
                out.push_str(&bracket(max));
            }
        }
    }
    if with_port {
        out.push(':');
        out.push_str(&ports_text(info.min_port, info.max_port));
    }
    out
}

/// The profile name of an [`F_PROFILE`] info as text: the bytes before the first NUL
/// (all 32 if there is none), invalid UTF-8 replaced. For a valid info (which the
/// kernel's validate ensures) this is exactly the name `--profile` was given.
pub fn profile_text(info: &SsnatInfo) -> String {
    let len = info
        .profile
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(PROFILE_NAME_LEN);
    String::from_utf8_lossy(&info.profile[..len]).into_owned()
}

/// The target's part of an `iptables -L` line: ` profile:NAME` for a rule that takes
/// its mapping from a profile; else ` to:ADDR...` for an address, else
/// ` ports:PORT[-PORT]` for a port alone, then ` random-seed:N` (decimal,
/// [`seed_text`]) unless the seed is the default. (A valid profile info has no mapping and seed 0, so it prints its name
/// alone; anything else set in it is shown too.)
pub fn print_text(info: &SsnatInfo, family: Family) -> String {
    let mut out = String::new();
    if info.flags & F_PROFILE != 0 {
        out.push_str(" profile:");
        out.push_str(&profile_text(info));
    }
    if info.flags & F_MAP_ADDR != 0 {
        out.push_str(" to:");
        out.push_str(&format_to_source(info, family));
    } else if info.flags & F_MAP_PORT != 0 {
        out.push_str(" ports:");
        out.push_str(&ports_text(info.min_port, info.max_port));
    }
    if info.seed != DEFAULT_SEED {
        out.push_str(" random-seed:");
        out.push_str(&seed_text(info.seed));
    }
    out
}

/// The target's options as `iptables-save` writes them: what [`apply_option`] turns back
/// into the same info (the seed in decimal, [`seed_text`]). ` --profile NAME` for a rule that takes its mapping from a
/// profile. A port goes with the address in `--to-source` when there is one (whether it
/// was given there or by `--to-ports`), else in `--to-ports`.
pub fn save_text(info: &SsnatInfo, family: Family) -> String {
    let mut out = String::new();
    if info.flags & F_PROFILE != 0 {
        out.push_str(" --profile ");
        out.push_str(&profile_text(info));
    }
    if info.flags & F_MAP_ADDR != 0 {
        out.push_str(" --to-source ");
        out.push_str(&format_to_source(info, family));
    } else if info.flags & F_MAP_PORT != 0 {
        out.push_str(" --to-ports ");
        out.push_str(&ports_text(info.min_port, info.max_port));
    }
    if info.seed != DEFAULT_SEED {
        out.push_str(" --random-seed ");
        out.push_str(&seed_text(info.seed));
    }
    out
}

/// The protocol a rule matches (`-p`), as the extension saw it in the rule's entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleProto {
    /// The protocol number; 0 when no `-p` (or `-p all`) was given.
    pub proto: u8,
    /// `! -p PROTO`: every protocol but this one.
    pub inverted: bool,
}

impl RuleProto {
    /// What [`SsnatInfo::validate`] takes: the protocol, 0 for any or an inverted match
    /// (as the kernel's checkentry computes it from the same entry).
    pub const fn for_validate(self) -> u8 {
        if self.inverted {
            0
        } else {
            self.proto
        }
    }
}

/// The final check of a rule: `--to-source`, `--to-ports` or `--profile` was given
/// (`xflags`: the options libxtables saw, bit [`Opt::bit`] each), `--profile` alone (the
/// one conflict [`apply_option`] cannot see is a `--random-seed 0` before it), and the
/// info passes the very [`SsnatInfo::validate`] the kernel's checkentry runs, with the
/// rule's protocol. The error is the message, without the `SSNAT: ` prefix.
///
/// Whether the profile exists is not checked here: the kernel refuses a rule whose
/// profile it does not have.
pub fn final_check(
    xflags: u32,
    info: &SsnatInfo,
    family: Family,
    proto: RuleProto,
) -> Result<(), String> {
    if xflags & Opt::Profile.bit() != 0 {
        if let Some(other) = Opt::MAPPING.into_iter().find(|o| xflags & o.bit() != 0) {
            return Err(ParseError::ProfileConflict(other).to_string());
        }
    } else if xflags & (Opt::ToSource.bit() | Opt::ToPorts.bit()) == 0 {
        return Err("--to-source, --to-ports or --profile is required".to_owned());
    }
    info.validate(family.nfproto(), proto.for_validate())
        .map_err(|e| match e {
            InfoError::PortNeedsProtocol if proto.inverted => {
                format!("{e}, not an inverted ! -p")
            }
            // -p given after the SSNAT options is not known yet when they are parsed.
            InfoError::PortNeedsProtocol if proto.proto == 0 => {
                format!("{e} (given before -j SSNAT)")
            }
            InfoError::PortNeedsProtocol => format!("{e}, not protocol {}", proto.proto),
            _ => e.to_string(),
        })
}

pub use ssnat_core::abi::{allowed_hooks, hook, TABLES};

/// A rule in a table SSNAT does not run in. [`fmt::Display`] is the kernel's message,
/// without the `SSNAT: ` prefix: `only valid in the raw, mangle and filter tables, not
/// "nat"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableError {
    /// The table, as given (invalid UTF-8 replaced).
    pub table: String,
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} \"{}\"", ssnat_core::abi::TABLE_MESSAGE, self.table)
    }
}

impl std::error::Error for TableError {}

/// Whether SSNAT may run in `table` (the name iptables was given with `-t`, `filter`
/// without; for iptables-nft the nft table's name, which is the same): [`allowed_hooks`]
/// knows it. Only the table: the chain's hooks are the kernel's to check (every
/// built-in chain of an allowed table is allowed).
pub fn check_table(table: &[u8]) -> Result<(), TableError> {
    match allowed_hooks(table) {
        Some(_) => Ok(()),
        None => Err(TableError {
            table: String::from_utf8_lossy(table).into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssnat_core::abi::InfoError;

    const UDP: RuleProto = RuleProto {
        proto: 17,
        inverted: false,
    };
    const ANY: RuleProto = RuleProto {
        proto: 0,
        inverted: false,
    };

    /// One rule's options, as `(option, argument)`, applied to a zeroed info.
    fn rule(opts: &[(Opt, &str)], family: Family) -> Result<SsnatInfo, ParseError> {
        let mut info = SsnatInfo::zeroed();
        for &(opt, arg) in opts {
            apply_option(&mut info, opt, arg, family)?;
        }
        Ok(info)
    }

    fn seen(opts: &[(Opt, &str)]) -> u32 {
        opts.iter().fold(0, |x, (o, _)| x | o.bit())
    }

    /// A rule with `--to-source ARG` that passes the final check with -p udp.
    fn v4(arg: &str) -> Result<SsnatInfo, ParseError> {
        rule(&[(Opt::ToSource, arg)], Family::V4)
    }

    fn v6(arg: &str) -> Result<SsnatInfo, ParseError> {
        rule(&[(Opt::ToSource, arg)], Family::V6)
    }

    fn ip4(s: &str) -> [u8; 16] {
        let mut b = [0; 16];
        b[..4].copy_from_slice(&s.parse::<Ipv4Addr>().unwrap().octets());
        b
    }

    fn ip6(s: &str) -> [u8; 16] {
        s.parse::<Ipv6Addr>().unwrap().octets()
    }

    /// Command-line options (`--to-source X --random-seed Y`, as `save_text()` writes
    /// them), split into `(option, argument)`.
    fn options_of(words: &str) -> Vec<(Opt, &str)> {
        let words: Vec<&str> = words.split_whitespace().collect();
        words
            .chunks(2)
            .map(|pair| {
                let name = pair[0].strip_prefix("--").expect("an option");
                let opt = Opt::from_name(name).unwrap_or_else(|| panic!("option {name}"));
                (opt, *pair.get(1).expect("an argument"))
            })
            .collect()
    }

    /// The rows of a table written as text: one a line, columns separated by `|`.
    fn table(text: &str) -> impl Iterator<Item = Vec<&str>> {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| line.split('|').map(str::trim).collect())
    }

    fn family_of(column: &str) -> Family {
        match column {
            "4" => Family::V4,
            "6" => Family::V6,
            _ => panic!("family {column}"),
        }
    }

    /// Parses, checks (with -p udp), saves, parses the saved form again: the same info.
    /// Returns (print, save).
    fn round_trip(opts: &[(Opt, &str)], family: Family) -> (String, String) {
        let info = rule(opts, family).unwrap_or_else(|e| panic!("{opts:?}: {e}"));
        assert_eq!(
            final_check(seen(opts), &info, family, UDP),
            Ok(()),
            "{opts:?}"
        );
        let saved = save_text(&info, family);
        let again_info = rule(&options_of(&saved), family)
            .unwrap_or_else(|e| panic!("saved form {saved:?} of {opts:?} refused: {e}"));
        assert_eq!(info, again_info, "{opts:?} -> {saved:?}");
        assert_eq!(save_text(&again_info, family), saved);
        (print_text(&info, family), saved)
    }

    #[test]
    fn v4_address_and_port() {
        let info = v4("198.51.100.7:4000").unwrap();
        assert_eq!(info.family, NFPROTO_IPV4);
        assert_eq!(info.flags, F_MAP_ADDR | F_MAP_PORT);
        assert_eq!(info.min_addr, ip4("198.51.100.7"));
        assert_eq!(info.max_addr, info.min_addr);
        assert_eq!((info.min_port, info.max_port), (4000, 4000));
        assert_eq!(info.validate(NFPROTO_IPV4, 17), Ok(()));
        // Everything else zero, as validate() and the kernel want it.
        assert_eq!(
            (info.prefix_len, info.seed, info.reserved),
            (0, DEFAULT_SEED, 0)
        );
        assert_eq!(info.profile, [0; 32]);
        assert_eq!(info.kernel_private, 0);
    }

    #[test]
    fn v4_address_only() {
        let info = v4("192.0.2.1").unwrap();
        assert_eq!(info.flags, F_MAP_ADDR);
        assert_eq!((info.min_port, info.max_port), (0, 0));
        assert_eq!(info.validate(NFPROTO_IPV4, 0), Ok(()));
    }

    #[test]
    fn v4_ranges() {
        let info = v4("10.0.0.1-10.0.0.9:1000-2000").unwrap();
        assert_eq!(info.flags, F_MAP_ADDR | F_MAP_PORT);
        assert_eq!(info.min_addr, ip4("10.0.0.1"));
        assert_eq!(info.max_addr, ip4("10.0.0.9"));
        assert_eq!((info.min_port, info.max_port), (1000, 2000));
        assert_eq!(info.validate(NFPROTO_IPV4, 6), Ok(()));
        let info = v4("10.0.0.1-10.0.0.9").unwrap();
        assert_eq!(info.flags, F_MAP_ADDR);
        assert_eq!(info.validate(NFPROTO_IPV4, 0), Ok(()));
    }

    #[test]
    fn v4_prefixes() {
        let info = v4("10.1.0.0/16").unwrap();
        assert_eq!(info.flags, F_MAP_ADDR | F_PREFIX);
        assert_eq!(info.prefix_len, 16);
        assert_eq!(info.min_addr, ip4("10.1.0.0"));
        assert_eq!(info.max_addr, ip4("10.1.255.255"));
        assert_eq!(info.validate(NFPROTO_IPV4, 0), Ok(()));

        let info = v4("10.1.0.0/20:4000-4100").unwrap();
        assert_eq!(info.flags, F_MAP_ADDR | F_PREFIX | F_MAP_PORT);
        assert_eq!(info.max_addr, ip4("10.1.15.255"));
        assert_eq!((info.min_port, info.max_port), (4000, 4100));
        assert_eq!(info.validate(NFPROTO_IPV4, 17), Ok(()));

        for (arg, max) in [
            ("192.0.2.7/32", "192.0.2.7"),
            ("128.0.0.0/1", "255.255.255.255"),
        ] {
            let info = v4(arg).unwrap();
            assert_eq!(info.max_addr, ip4(max), "{arg}");
            assert_eq!(info.validate(NFPROTO_IPV4, 0), Ok(()), "{arg}");
        }
    }

    #[test]
    fn v6_forms() {
        let a = ip6("2001:db8::7");
        let b = ip6("2001:db8::9");
        let info = v6("[2001:db8::7]:4000").unwrap();
        assert_eq!(info.family, NFPROTO_IPV6);
        assert_eq!(info.flags, F_MAP_ADDR | F_MAP_PORT);
        assert_eq!((info.min_addr, info.max_addr), (a, a));
        assert_eq!((info.min_port, info.max_port), (4000, 4000));
        assert_eq!(info.validate(NFPROTO_IPV6, 17), Ok(()));

        for bare in ["2001:db8::7", "[2001:db8::7]"] {
            let info = v6(bare).unwrap();
            assert_eq!(info.flags, F_MAP_ADDR, "{bare}");
            assert_eq!((info.min_addr, info.max_addr), (a, a), "{bare}");
            assert_eq!(info.validate(NFPROTO_IPV6, 0), Ok(()));
        }
        for range in [
            "2001:db8::7-2001:db8::9",
            "[2001:db8::7]-[2001:db8::9]",
            "[2001:db8::7-2001:db8::9]",
        ] {
            let info = v6(range).unwrap();
            assert_eq!((info.min_addr, info.max_addr), (a, b), "{range}");
            assert_eq!(info.flags, F_MAP_ADDR, "{range}");
            assert_eq!(info.validate(NFPROTO_IPV6, 0), Ok(()));
        }
        for range in [
            "[2001:db8::7]-[2001:db8::9]:1-2",
            "[2001:db8::7-2001:db8::9]:1-2",
        ] {
            let info = v6(range).unwrap();
            assert_eq!((info.min_addr, info.max_addr), (a, b), "{range}");
            assert_eq!((info.min_port, info.max_port), (1, 2), "{range}");
            assert_eq!(info.validate(NFPROTO_IPV6, 17), Ok(()));
        }
        // A bare address's last group is never a port.
        let info = v6("2001:db8::7:4000").unwrap();
        assert_eq!(info.flags, F_MAP_ADDR);
        // IPv4-mapped addresses are IPv6 addresses.
        assert!(v6("::ffff:192.0.2.1").is_ok());
    }

    #[test]
    fn v6_prefixes() {
        let last = ip6("2001:db8::ffff:ffff:ffff:ffff");
        for arg in ["2001:db8::/64", "[2001:db8::]/64", "[2001:db8::/64]"] {
            let info = v6(arg).unwrap();
            assert_eq!(info.flags, F_MAP_ADDR | F_PREFIX, "{arg}");
            assert_eq!(info.prefix_len, 64, "{arg}");
            assert_eq!(info.min_addr, ip6("2001:db8::"), "{arg}");
            assert_eq!(info.max_addr, last, "{arg}");
            assert_eq!(info.validate(NFPROTO_IPV6, 0), Ok(()), "{arg}");
        }
        for arg in ["[2001:db8::]/64:4000", "[2001:db8::/64]:4000"] {
            let info = v6(arg).unwrap();
            assert_eq!(info.flags, F_MAP_ADDR | F_PREFIX | F_MAP_PORT, "{arg}");
            assert_eq!((info.min_addr, info.max_addr), (ip6("2001:db8::"), last));
            assert_eq!((info.min_port, info.max_port), (4000, 4000), "{arg}");
            assert_eq!(info.validate(NFPROTO_IPV6, 6), Ok(()), "{arg}");
        }
        let info = v6("[2001:db8::1:0]/112:4000-4100").unwrap();
        assert_eq!(info.max_addr, ip6("2001:db8::1:ffff"));
        assert_eq!((info.min_port, info.max_port), (4000, 4100));
        let info = v6("2001:db8::7/128").unwrap();
        assert_eq!(
            (info.min_addr, info.max_addr),
            (ip6("2001:db8::7"), ip6("2001:db8::7"))
        );
        // A prefix may be wider than a /64: it maps one-to-one.
        let info = v6("2001:db8::/32").unwrap();
        assert_eq!(info.max_addr, ip6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert_eq!(info.validate(NFPROTO_IPV6, 0), Ok(()));
    }

    #[test]
    fn to_ports_and_seed() {
        let opts = [(Opt::ToPorts, "4000-4100")];
        let info = rule(&opts, Family::V4).unwrap();
        assert_eq!(info.family, NFPROTO_IPV4);
        assert_eq!(info.flags, F_MAP_PORT);
        assert_eq!((info.min_port, info.max_port), (4000, 4100));
        assert_eq!((info.min_addr, info.max_addr), ([0; 16], [0; 16]));
        assert_eq!(final_check(seen(&opts), &info, Family::V4, UDP), Ok(()));
        let info = rule(&[(Opt::ToPorts, "53")], Family::V6).unwrap();
        assert_eq!(
            (info.family, info.min_port, info.max_port),
            (NFPROTO_IPV6, 53, 53)
        );

        // --to-source without a port takes the port of --to-ports, in either order.
        for opts in [
            [(Opt::ToSource, "192.0.2.1"), (Opt::ToPorts, "4000")],
            [(Opt::ToPorts, "4000"), (Opt::ToSource, "192.0.2.1")],
        ] {
            let info = rule(&opts, Family::V4).unwrap();
            assert_eq!(info, v4("192.0.2.1:4000").unwrap(), "{opts:?}");
        }

        for (arg, seed) in [
            ("0", 0),
            ("4660", 0x1234),
            ("0x1234", 0x1234),
            ("0XfFfFfFfF", u32::MAX),
        ] {
            let opts = [(Opt::ToSource, "192.0.2.1"), (Opt::RandomSeed, arg)];
            let info = rule(&opts, Family::V4).unwrap();
            assert_eq!(info.seed, seed, "{arg}");
            assert_eq!(final_check(seen(&opts), &info, Family::V4, ANY), Ok(()));
        }
        assert_eq!(v4("192.0.2.1").unwrap().seed, DEFAULT_SEED);
    }

    #[test]
    fn seeds_are_written_in_decimal_and_read_back() {
        for (seed, text) in [
            (0, "0"),
            (7, "7"),
            (0x1234, "4660"),
            (u32::MAX, "4294967295"),
        ] {
            assert_eq!(seed_text(seed), text);
            assert_eq!(parse_seed(text), Ok(seed), "{text}");
        }
        // Whatever form was given, the decimal text parses to the same seed.
        for arg in ["7", "0x7", "0X7", "007", "0x0000007"] {
            let seed = parse_seed(arg).unwrap();
            assert_eq!(seed_text(seed), "7", "{arg}");
            assert_eq!(parse_seed(&seed_text(seed)), Ok(seed), "{arg}");
        }
    }

    #[test]
    fn tables_as_the_kernel_allows_them() {
        use hook::*;
        let all = PRE_ROUTING | LOCAL_IN | FORWARD | LOCAL_OUT | POST_ROUTING;
        assert_eq!(allowed_hooks(b"raw"), Some(PRE_ROUTING | LOCAL_OUT));
        assert_eq!(allowed_hooks(b"mangle"), Some(all));
        assert_eq!(
            allowed_hooks(b"filter"),
            Some(LOCAL_IN | FORWARD | LOCAL_OUT)
        );
        // NF_INET_PRE_ROUTING = 0 ... NF_INET_POST_ROUTING = 4, as the kernel's bits.
        assert_eq!(
            [PRE_ROUTING, LOCAL_IN, FORWARD, LOCAL_OUT, POST_ROUTING],
            [1, 2, 4, 8, 16]
        );
        for table in TABLES {
            assert!(allowed_hooks(table.as_bytes()).is_some(), "{table}");
            assert_eq!(check_table(table.as_bytes()), Ok(()), "{table}");
        }
        for table in ["nat", "security", "broute", "RAW", "raw ", "", "filte"] {
            assert_eq!(allowed_hooks(table.as_bytes()), None, "{table:?}");
            let err = check_table(table.as_bytes()).unwrap_err();
            assert_eq!(err.table, table);
            assert_eq!(
                err.to_string(),
                format!("only valid in the raw, mangle and filter tables, not \"{table}\"")
            );
        }
        // The kernel's message (abi::TABLE_MESSAGE), after its "SSNAT: ".
        assert_eq!(
            check_table(b"nat").unwrap_err().to_string(),
            r#"only valid in the raw, mangle and filter tables, not "nat""#
        );
        assert_eq!(
            check_table(b"n\xffat").unwrap_err().to_string(),
            "only valid in the raw, mangle and filter tables, not \"n\u{fffd}at\""
        );
    }

    /// Family | options | message.
    const REFUSED: &str = r#"
        4 | --to-source 10.0.0.9-10.0.0.1 | bad address range 10.0.0.9-10.0.0.1: the first address is above the last
        4 | --to-source 10.0.0.1:4000-3000 | bad port range 4000-3000: the first port is above the last
        4 | --to-ports 4000-3000 | bad port range 4000-3000: the first port is above the last
        4 | --to-source 10.1.0.0/33 | bad prefix length "33": 1-32 for IPv4
        4 | --to-source 10.1.0.0/0 | bad prefix length "0": 1-32 for IPv4
        4 | --to-source 10.1.0.0/ | bad prefix length "": 1-32 for IPv4
        4 | --to-source 10.1.0.0/255.255.0.0 | bad prefix length "255.255.0.0": 1-32 for IPv4
        4 | --to-source 10.1.2.0/16 | 10.1.2.0/16 has host bits set; did you mean 10.1.0.0/16?
        4 | --to-source 10.1.2.3/24:53 | 10.1.2.3/24 has host bits set; did you mean 10.1.2.0/24?
        4 | --to-source 10.0.0.0-10.0.0.5/24 | bad address "10.0.0.0-10.0.0.5"
        6 | --to-source 2001:db8::/129 | bad prefix length "129": 1-128 for IPv6
        6 | --to-source [2001:db8::]/129:5 | bad prefix length "129": 1-128 for IPv6
        6 | --to-source 2001:db8::1/64 | 2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?
        6 | --to-source [2001:db8::1]/64:4000 | 2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?
        6 | --to-source 2001:db8::1-2001:db8:0:1::1 | IPv6 address range 2001:db8::1-2001:db8:0:1::1 is wider than a /64: both ends must share the first 64 bits
        6 | --to-source [2001:db8::ff]-[2001:db8::1]:5 | bad address range 2001:db8::ff-2001:db8::1: the first address is above the last
        6 | --to-source 10.1.0.0 | "10.1.0.0" is an IPv4 address, this is an IPv6 rule (use iptables)
        6 | --to-source 10.1.0.0/16:53 | "10.1.0.0/16:53" is an IPv4 address, this is an IPv6 rule (use iptables)
        4 | --to-source 2001:db8::/64 | "2001:db8::/64" is an IPv6 address, this is an IPv4 rule (use ip6tables)
        4 | --to-source 10.0.0.1:4000 --to-ports 5000 | --to-ports and a port in --to-source are exclusive
        4 | --to-ports 5000 --to-source 10.0.0.1:4000 | --to-ports and a port in --to-source are exclusive
        6 | --to-source [2001:db8::1]:4000 --to-ports 5000 | --to-ports and a port in --to-source are exclusive
        4 | --random-seed -1 | bad --random-seed "-1": a number 0-4294967295, decimal or 0x hex
        4 | --random-seed 4294967296 | bad --random-seed "4294967296": a number 0-4294967295, decimal or 0x hex
        4 | --random-seed 0x | bad --random-seed "0x": a number 0-4294967295, decimal or 0x hex
        4 | --random-seed +5 | bad --random-seed "+5": a number 0-4294967295, decimal or 0x hex
        4 | --random-seed 0x1g | bad --random-seed "0x1g": a number 0-4294967295, decimal or 0x hex
        4 | --to-ports 0 | port "0" out of range 1-65535
        4 | --to-ports http | bad port "http"
        4 | --to-ports 1-2-3 | bad port "2-3"
        4 | --profile moh --to-source 192.0.2.1 | --profile cannot be combined with --to-source
        4 | --to-source 192.0.2.1 --profile moh | --profile cannot be combined with --to-source
        4 | --to-source 192.0.2.1:53 --profile moh | --profile cannot be combined with --to-source
        4 | --to-ports 53 --to-source 192.0.2.1 --profile moh | --profile cannot be combined with --to-source
        4 | --profile moh --to-ports 53 | --profile cannot be combined with --to-ports
        4 | --to-ports 53 --profile moh | --profile cannot be combined with --to-ports
        4 | --profile moh --random-seed 7 | --profile cannot be combined with --random-seed
        4 | --profile moh --random-seed 0 | --profile cannot be combined with --random-seed
        4 | --random-seed 7 --profile moh | --profile cannot be combined with --random-seed
        6 | --profile moh --to-source [2001:db8::1]:53 | --profile cannot be combined with --to-source
        6 | --to-source 2001:db8::/64 --profile moh | --profile cannot be combined with --to-source
        6 | --to-ports 53 --profile moh | --profile cannot be combined with --to-ports
        6 | --random-seed 0xffffffff --profile moh | --profile cannot be combined with --random-seed
        4 | --profile a/b | bad profile name "a/b": 1-31 letters, digits, '-', '_' or '.'
        4 | --profile café | bad profile name "café": 1-31 letters, digits, '-', '_' or '.'
        4 | --profile moh! | bad profile name "moh!": 1-31 letters, digits, '-', '_' or '.'
        6 | --profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | bad profile name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": 1-31 letters, digits, '-', '_' or '.'
        4 | --to-source 192.0.2.1 --profile a:b | bad profile name "a:b": 1-31 letters, digits, '-', '_' or '.'
    "#;

    #[test]
    fn refused_with_clear_messages() {
        for row in table(REFUSED) {
            let [family, opts, message] = row[..] else {
                panic!("row {row:?}")
            };
            let (family, opts) = (family_of(family), options_of(opts));
            match rule(&opts, family) {
                Err(e) => assert_eq!(e.to_string(), message, "{family:?} {opts:?}"),
                Ok(info) => panic!("{family:?} {opts:?} accepted: {info:?}"),
            }
        }
        assert_eq!(
            rule(&[(Opt::ToPorts, "")], Family::V4),
            Err(ParseError::BadPort("".into()))
        );
    }

    #[test]
    fn v4_bad_input() {
        let bad_addr = |s: &str| ParseError::BadAddress(s.to_owned());
        assert_eq!(v4("1.2.3"), Err(bad_addr("1.2.3")));
        assert_eq!(v4("1.2.3.256"), Err(bad_addr("1.2.3.256")));
        assert_eq!(v4("host.example"), Err(bad_addr("host.example")));
        assert_eq!(v4(""), Err(bad_addr("")));
        assert_eq!(v4(":4000"), Err(bad_addr("")));
        assert_eq!(v4("1.2.3.4-"), Err(bad_addr("")));
        assert_eq!(
            v4("1.2.3.4-1.2.3.5-1.2.3.6"),
            Err(bad_addr("1.2.3.5-1.2.3.6"))
        );
        assert_eq!(v4(" 1.2.3.4"), Err(bad_addr(" 1.2.3.4")));
        assert_eq!(v4("1.2.3.4:0"), Err(ParseError::PortOutOfRange("0".into())));
        assert_eq!(
            v4("1.2.3.4:65536"),
            Err(ParseError::PortOutOfRange("65536".into()))
        );
        assert_eq!(
            v4("1.2.3.4:99999999999999999999"),
            Err(ParseError::PortOutOfRange("99999999999999999999".into()))
        );
        assert_eq!(v4("1.2.3.4:"), Err(ParseError::BadPort("".into())));
        assert_eq!(v4("1.2.3.4:http"), Err(ParseError::BadPort("http".into())));
        assert_eq!(v4("1.2.3.4:+80"), Err(ParseError::BadPort("+80".into())));
        assert_eq!(
            v4("1.2.3.4:80:81"),
            Err(ParseError::BadPort("80:81".into()))
        );
        assert_eq!(v4("1.2.3.4:1-"), Err(ParseError::BadPort("".into())));
        assert_eq!(
            v4("1.2.3.4:0-5"),
            Err(ParseError::PortOutOfRange("0".into()))
        );
    }

    #[test]
    fn v6_bad_input() {
        let bad_addr = |s: &str| ParseError::BadAddress(s.to_owned());
        let syntax = |s: &str| ParseError::BadSyntax(s.to_owned());
        assert_eq!(v6("2001:db8::g"), Err(bad_addr("2001:db8::g")));
        assert_eq!(v6("[2001:db8::g]:1"), Err(bad_addr("2001:db8::g")));
        assert_eq!(v6("[]:1"), Err(bad_addr("")));
        assert_eq!(v6(""), Err(bad_addr("")));
        assert_eq!(v6("[2001:db8::7"), Err(syntax("[2001:db8::7")));
        assert_eq!(v6("2001:db8::7]:80"), Err(syntax("2001:db8::7]:80")));
        assert_eq!(v6("[2001:db8::7]80"), Err(syntax("[2001:db8::7]80")));
        assert_eq!(
            v6("[2001:db8::7]-2001:db8::9"),
            Err(syntax("[2001:db8::7]-2001:db8::9"))
        );
        assert_eq!(v6("[::1-::2]-[::3]"), Err(syntax("[::1-::2]-[::3]")));
        assert_eq!(v6("[::1]-[::2]-[::3]"), Err(syntax("[::1]-[::2]-[::3]")));
        assert_eq!(v6("[::1]-[::2/64]"), Err(syntax("[::1]-[::2/64]")));
        assert_eq!(v6("[::/64]/64"), Err(syntax("[::/64]/64")));
        assert_eq!(v6("[::]/64]:1"), Err(syntax("[::]/64]:1")));
        assert_eq!(v6("[::]:1-[2]"), Err(syntax("[::]:1-[2]")));
        assert_eq!(v6("[::1]:0"), Err(ParseError::PortOutOfRange("0".into())));
        assert_eq!(v6("[::1]:x"), Err(ParseError::BadPort("x".into())));
        assert_eq!(
            v6("[2001:db8::]/x:1"),
            Err(ParseError::BadPrefixLen {
                len: "x".into(),
                family: Family::V6
            })
        );
    }

    #[test]
    fn wrong_family_is_named() {
        assert_eq!(
            v6("198.51.100.7:4000"),
            Err(ParseError::WrongFamily {
                arg: "198.51.100.7:4000".into(),
                rule: Family::V6
            })
        );
        assert_eq!(
            v4("[2001:db8::7]:4000"),
            Err(ParseError::WrongFamily {
                arg: "[2001:db8::7]:4000".into(),
                rule: Family::V4
            })
        );
        assert_eq!(
            v4("2001:db8::7").unwrap_err().to_string(),
            "\"2001:db8::7\" is an IPv6 address, this is an IPv4 rule (use ip6tables)"
        );
    }

    #[test]
    fn messages() {
        assert_eq!(
            v4("1.2.3").unwrap_err().to_string(),
            "bad address \"1.2.3\""
        );
        assert_eq!(
            v4("1.2.3.4:0").unwrap_err().to_string(),
            "port \"0\" out of range 1-65535"
        );
        assert_eq!(v4("1.2.3.4:ab").unwrap_err().to_string(), "bad port \"ab\"");
        assert_eq!(
            v6("[::1").unwrap_err().to_string(),
            "bad --to-source \"[::1\": with a port, IPv6 addresses are written \
             [ADDR]:PORT, [ADDR]-[ADDR]:PORT or [PREFIX]/LEN:PORT"
        );
    }

    /// Family | options | -L (print, after its leading space) | iptables-save.
    const FORMS: &str = r#"
        4 | --to-source 198.51.100.7 | to:198.51.100.7 | --to-source 198.51.100.7
        4 | --to-source 198.51.100.7:4000 | to:198.51.100.7:4000 | --to-source 198.51.100.7:4000
        4 | --to-source 198.51.100.7:4000-4100 | to:198.51.100.7:4000-4100 | --to-source 198.51.100.7:4000-4100
        4 | --to-source 10.0.0.1-10.0.0.9 | to:10.0.0.1-10.0.0.9 | --to-source 10.0.0.1-10.0.0.9
        4 | --to-source 10.0.0.1-10.0.0.9:1000-2000 | to:10.0.0.1-10.0.0.9:1000-2000 | --to-source 10.0.0.1-10.0.0.9:1000-2000
        4 | --to-source 10.0.0.1-10.0.0.1:5-5 | to:10.0.0.1:5 | --to-source 10.0.0.1:5
        4 | --to-source 10.1.0.0/16 | to:10.1.0.0/16 | --to-source 10.1.0.0/16
        4 | --to-source 10.1.0.0/16:4000 | to:10.1.0.0/16:4000 | --to-source 10.1.0.0/16:4000
        4 | --to-source 10.1.0.0/16:4000-4100 | to:10.1.0.0/16:4000-4100 | --to-source 10.1.0.0/16:4000-4100
        4 | --to-source 192.0.2.7/32 | to:192.0.2.7/32 | --to-source 192.0.2.7/32
        4 | --to-ports 4000 | ports:4000 | --to-ports 4000
        4 | --to-ports 4000-4100 | ports:4000-4100 | --to-ports 4000-4100
        4 | --to-source 192.0.2.1 --to-ports 4000-4100 | to:192.0.2.1:4000-4100 | --to-source 192.0.2.1:4000-4100
        4 | --to-ports 53 --to-source 10.1.0.0/16 | to:10.1.0.0/16:53 | --to-source 10.1.0.0/16:53
        4 | --to-source 192.0.2.1 --random-seed 0x1234 | to:192.0.2.1 random-seed:4660 | --to-source 192.0.2.1 --random-seed 4660
        4 | --random-seed 4660 --to-ports 9 | ports:9 random-seed:4660 | --to-ports 9 --random-seed 4660
        4 | --to-source 192.0.2.1 --random-seed 7 | to:192.0.2.1 random-seed:7 | --to-source 192.0.2.1 --random-seed 7
        4 | --to-source 192.0.2.1 --random-seed 0X0A | to:192.0.2.1 random-seed:10 | --to-source 192.0.2.1 --random-seed 10
        4 | --to-source 192.0.2.1 --random-seed 0 | to:192.0.2.1 | --to-source 192.0.2.1
        4 | --to-source 0.0.0.0:65535 | to:0.0.0.0:65535 | --to-source 0.0.0.0:65535
        6 | --to-source [2001:db8::7]:4000 | to:[2001:db8::7]:4000 | --to-source [2001:db8::7]:4000
        6 | --to-source [2001:0db8:0::7] | to:2001:db8::7 | --to-source 2001:db8::7
        6 | --to-source 2001:db8::7 | to:2001:db8::7 | --to-source 2001:db8::7
        6 | --to-source 2001:db8::1-2001:db8::ff | to:2001:db8::1-2001:db8::ff | --to-source 2001:db8::1-2001:db8::ff
        6 | --to-source [2001:db8::1]-[2001:db8::ff]:4000-4100 | to:[2001:db8::1]-[2001:db8::ff]:4000-4100 | --to-source [2001:db8::1]-[2001:db8::ff]:4000-4100
        6 | --to-source [2001:db8::7-2001:db8::9]:1-2 | to:[2001:db8::7]-[2001:db8::9]:1-2 | --to-source [2001:db8::7]-[2001:db8::9]:1-2
        6 | --to-source 2001:db8::/64 | to:2001:db8::/64 | --to-source 2001:db8::/64
        6 | --to-source [2001:db8::/64] | to:2001:db8::/64 | --to-source 2001:db8::/64
        6 | --to-source [2001:db8::]/64:4000 | to:[2001:db8::]/64:4000 | --to-source [2001:db8::]/64:4000
        6 | --to-source [2001:db8::/64]:4000-4100 | to:[2001:db8::]/64:4000-4100 | --to-source [2001:db8::]/64:4000-4100
        6 | --to-source 2001:db8::/64 --to-ports 4000 | to:[2001:db8::]/64:4000 | --to-source [2001:db8::]/64:4000
        6 | --to-ports 53 | ports:53 | --to-ports 53
        6 | --to-source [::ffff:192.0.2.1]:53 | to:[::ffff:192.0.2.1]:53 | --to-source [::ffff:192.0.2.1]:53
        6 | --to-source [::]:1 --random-seed 0xffffffff | to:[::]:1 random-seed:4294967295 | --to-source [::]:1 --random-seed 4294967295
        6 | --to-ports 53 --random-seed 1 | ports:53 random-seed:1 | --to-ports 53 --random-seed 1
        4 | --profile moh | profile:moh | --profile moh
        4 | --profile call-42_a.b | profile:call-42_a.b | --profile call-42_a.b
        4 | --profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | profile:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | --profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
        6 | --profile moh | profile:moh | --profile moh
        6 | --profile ...-_ | profile:...-_ | --profile ...-_
        6 | --profile 0 | profile:0 | --profile 0
    "#;

    #[test]
    fn print_save_round_trip() {
        for row in table(FORMS) {
            let [family, opts, print, save] = row[..] else {
                panic!("row {row:?}")
            };
            let (family, opts) = (family_of(family), options_of(opts));
            let (got_print, got_save) = round_trip(&opts, family);
            assert_eq!(got_print, format!(" {print}"), "{family:?} {opts:?}");
            assert_eq!(got_save, format!(" {save}"), "{family:?} {opts:?}");
        }
    }

    #[test]
    fn port_only_info_prints() {
        let mut info = SsnatInfo::zeroed();
        info.family = NFPROTO_IPV4;
        info.flags = F_MAP_PORT;
        info.min_port = 7;
        info.max_port = 9;
        assert_eq!(format_to_source(&info, Family::V4), ":7-9");
        assert_eq!(print_text(&info, Family::V4), " ports:7-9");
        assert_eq!(save_text(&info, Family::V6), " --to-ports 7-9");
        assert_eq!(print_text(&SsnatInfo::zeroed(), Family::V4), "");
    }

    #[test]
    fn final_check_runs_validate_with_the_protocol() {
        let ok = v4("1.2.3.4:5").unwrap();
        let to = Opt::ToSource.bit();
        assert_eq!(final_check(to, &ok, Family::V4, UDP), Ok(()));
        for proto in [1, 6, 17, 33, 58, 132, 136] {
            let p = RuleProto {
                proto,
                inverted: false,
            };
            assert_eq!(final_check(to, &ok, Family::V4, p), Ok(()), "{proto}");
        }
        let needs = InfoError::PortNeedsProtocol.message();
        assert_eq!(
            needs,
            "a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp"
        );
        assert_eq!(
            final_check(to, &ok, Family::V4, ANY),
            Err(format!("{needs} (given before -j SSNAT)"))
        );
        let gre = RuleProto {
            proto: 47,
            inverted: false,
        };
        assert_eq!(
            final_check(to, &ok, Family::V4, gre),
            Err(format!("{needs}, not protocol 47"))
        );
        let not_udp = RuleProto {
            proto: 17,
            inverted: true,
        };
        assert_eq!(
            final_check(to, &ok, Family::V4, not_udp),
            Err(format!("{needs}, not an inverted ! -p"))
        );
        assert_eq!(not_udp.for_validate(), 0);
        // No port: any protocol, inverted or not.
        let addr = v4("1.2.3.4").unwrap();
        for p in [ANY, gre, not_udp] {
            assert_eq!(final_check(to, &addr, Family::V4, p), Ok(()));
        }
        let ports = rule(&[(Opt::ToPorts, "53")], Family::V6).unwrap();
        assert_eq!(
            final_check(Opt::ToPorts.bit(), &ports, Family::V6, ANY),
            Err(format!("{needs} (given before -j SSNAT)"))
        );
        assert_eq!(
            final_check(0, &SsnatInfo::zeroed(), Family::V4, UDP),
            Err("--to-source, --to-ports or --profile is required".to_owned())
        );
        let seed_only = rule(&[(Opt::RandomSeed, "1")], Family::V4).unwrap();
        assert_eq!(
            final_check(Opt::RandomSeed.bit(), &seed_only, Family::V4, UDP),
            Err("--to-source, --to-ports or --profile is required".to_owned())
        );
        assert_eq!(
            final_check(to, &ok, Family::V6, UDP),
            Err(InfoError::BadFamily.to_string())
        );
    }

    #[test]
    fn parsed_infos_pass_validate() {
        // Whatever the parser accepts, the kernel's validate() accepts (with -p udp).
        for arg in [
            "1.2.3.4",
            "1.2.3.4-1.2.3.4",
            "1.2.3.4-255.255.255.255:1-65535",
            "0.0.0.0/1",
            "255.255.255.255/32:65535",
            "10.0.0.0/8",
        ] {
            let info = v4(arg).unwrap();
            assert_eq!(info.validate(NFPROTO_IPV4, 17), Ok(()), "{arg}");
        }
        for arg in [
            "::",
            "[::]:1",
            "::1-::ffff:ffff:ffff:ffff",
            "::/1",
            "ffff::/16",
            "[2001:db8::ff00]/120:1-2",
            "2001:db8::7/128",
        ] {
            let info = v6(arg).unwrap();
            assert_eq!(info.validate(NFPROTO_IPV6, 17), Ok(()), "{arg}");
        }
    }

    #[test]
    fn options() {
        for opt in Opt::ALL {
            assert_eq!(Opt::from_id(opt.id()), Some(opt));
            assert_eq!(Opt::from_name(opt.name()), Some(opt));
        }
        assert_eq!(Opt::from_id(4), None);
        assert_eq!(Opt::ToPorts.bit(), 2);
        assert_eq!(Opt::from_name("profile"), Some(Opt::Profile));
        assert_eq!(Opt::Profile.bit(), 8);
        assert!(!Opt::MAPPING.contains(&Opt::Profile));
        assert_eq!(Opt::MAPPING.len() + 1, Opt::ALL.len());
    }

    /// A rule with `--profile NAME` for `family`.
    fn profile(name: &str, family: Family) -> Result<SsnatInfo, ParseError> {
        rule(&[(Opt::Profile, name)], family)
    }

    #[test]
    fn profile_info_is_the_name_alone() {
        for (family, nfproto, other) in [
            (Family::V4, NFPROTO_IPV4, NFPROTO_IPV6),
            (Family::V6, NFPROTO_IPV6, NFPROTO_IPV4),
        ] {
            let info = profile("moh", family).unwrap();
            let mut expect = SsnatInfo::zeroed();
            expect.flags = F_PROFILE;
            expect.family = nfproto;
            expect.profile[..3].copy_from_slice(b"moh");
            // Flags, family, the NUL-padded name; every mapping field zero.
            assert_eq!(info, expect, "{family:?}");
            assert_eq!(info.profile_name(), Some(&b"moh"[..]));
            assert_eq!(info.validate(nfproto, 0), Ok(()));
            assert_eq!(info.validate(other, 0), Err(InfoError::BadFamily));
            assert_eq!(profile_text(&info), "moh");
        }
        let longest = "a".repeat(31);
        let info = profile(&longest, Family::V4).unwrap();
        assert_eq!(&info.profile[..31], longest.as_bytes());
        assert_eq!(info.profile[31], 0);
        assert_eq!(info.validate(NFPROTO_IPV4, 17), Ok(()));
        assert_eq!(parse_profile("x.y-z_0").unwrap()[..8], *b"x.y-z_0\0");
    }

    #[test]
    fn profile_needs_no_protocol() {
        let info = profile("moh", Family::V4).unwrap();
        let p = Opt::Profile.bit();
        let gre = RuleProto {
            proto: 47,
            inverted: false,
        };
        let not_udp = RuleProto {
            proto: 17,
            inverted: true,
        };
        for proto in [ANY, UDP, gre, not_udp] {
            assert_eq!(
                final_check(p, &info, Family::V4, proto),
                Ok(()),
                "{proto:?}"
            );
        }
        // The family of the rule must be the family of the info.
        assert_eq!(
            final_check(p, &info, Family::V6, UDP),
            Err(InfoError::BadFamily.to_string())
        );
    }

    #[test]
    fn bad_profile_names() {
        let rule_text = InfoError::BadProfileName.message();
        assert_eq!(
            rule_text,
            "bad profile name: 1-31 letters, digits, '-', '_' or '.'"
        );
        for name in [
            "x y",
            "",
            "a/b",
            " moh",
            "moh\n",
            "a\0b",
            &"b".repeat(32),
            "ünï",
        ] {
            let err = profile(name, Family::V4).unwrap_err();
            assert_eq!(err, ParseError::BadProfileName(name.to_owned()));
            assert_eq!(err, parse_profile(name).unwrap_err());
        }
        assert_eq!(
            profile("x y", Family::V6).unwrap_err().to_string(),
            "bad profile name \"x y\": 1-31 letters, digits, '-', '_' or '.'"
        );
        assert_eq!(
            parse_profile("").unwrap_err().to_string(),
            "bad profile name \"\": 1-31 letters, digits, '-', '_' or '.'"
        );
        // A bad name after a mapping: the name is what is wrong first.
        assert_eq!(
            rule(&[(Opt::ToPorts, "1"), (Opt::Profile, "x y")], Family::V4),
            Err(ParseError::BadProfileName("x y".into()))
        );
    }

    #[test]
    fn profile_conflicts_in_either_order() {
        let p = (Opt::Profile, "moh");
        for (other, arg) in [
            (Opt::ToSource, "192.0.2.1"),
            (Opt::ToPorts, "53"),
            (Opt::RandomSeed, "9"),
        ] {
            for opts in [[p, (other, arg)], [(other, arg), p]] {
                let conflict = ParseError::ProfileConflict(other);
                assert_eq!(rule(&opts, Family::V4), Err(conflict.clone()), "{opts:?}");
                assert_eq!(
                    conflict.to_string(),
                    format!("--profile cannot be combined with --{}", other.name())
                );
            }
        }
        // A seed of 0 before --profile changes nothing in the info: the final check,
        // which knows the options seen, refuses it.
        let opts = [(Opt::RandomSeed, "0"), p];
        let info = rule(&opts, Family::V4).unwrap();
        assert_eq!(info, profile("moh", Family::V4).unwrap());
        assert_eq!(
            final_check(seen(&opts), &info, Family::V4, UDP),
            Err("--profile cannot be combined with --random-seed".to_owned())
        );
        // Whatever the options seen, the first mapping option is named.
        let all = seen(&[
            p,
            (Opt::ToSource, ""),
            (Opt::ToPorts, ""),
            (Opt::RandomSeed, ""),
        ]);
        assert_eq!(
            final_check(all, &info, Family::V4, UDP),
            Err("--profile cannot be combined with --to-source".to_owned())
        );
        assert_eq!(
            final_check(
                Opt::Profile.bit() | Opt::ToPorts.bit(),
                &info,
                Family::V4,
                UDP
            ),
            Err("--profile cannot be combined with --to-ports".to_owned())
        );
        // The kernel's own check, for an info mixed by other means.
        let mut mixed = info;
        mixed.flags |= F_MAP_ADDR;
        assert_eq!(
            final_check(Opt::Profile.bit(), &mixed, Family::V4, UDP),
            Err(InfoError::ProfileAndMapping.to_string())
        );
    }

    #[test]
    fn profile_print_of_odd_infos() {
        // What -L shows of infos the kernel would not hold: everything set is shown.
        let mut info = profile("moh", Family::V4).unwrap();
        info.seed = 5;
        assert_eq!(print_text(&info, Family::V4), " profile:moh random-seed:5");
        let mut info = SsnatInfo::zeroed();
        info.flags = F_PROFILE;
        info.profile = [b'z'; PROFILE_NAME_LEN];
        assert_eq!(profile_text(&info), "z".repeat(32));
        info.profile[1] = 0xff;
        info.profile[2] = 0;
        assert_eq!(print_text(&info, Family::V6), " profile:z\u{fffd}");
        // Without F_PROFILE a name is not shown.
        let mut info = v4("192.0.2.1").unwrap();
        info.profile[0] = b'x';
        assert_eq!(print_text(&info, Family::V4), " to:192.0.2.1");
        assert_eq!(save_text(&info, Family::V4), " --to-source 192.0.2.1");
    }
}
