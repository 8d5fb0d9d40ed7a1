//! The `--to-source` syntax: parsing it into a [`SsnatInfo`] and writing it back.
//!
//! Pure Rust, no FFI: everything here is unit-tested on its own, and the callbacks in
//! [`crate::ext`] only move bytes between libxtables and these functions.
//!
//! Syntax (addresses numeric, ports decimal 1-65535):
//!
//! * IPv4: `ADDR[-ADDR][:PORT[-PORT]]`, e.g. `198.51.100.7:4000`, `10.0.0.1-10.0.0.9:1000-2000`.
//! * IPv6 with a port: the addresses in brackets, `[ADDR][-[ADDR]]:PORT[-PORT]`, e.g.
//!   `[2001:db8::7]:4000`; `[ADDR-ADDR]:PORT` (ip6tables' `SNAT` form) is accepted too.
//! * IPv6 without a port: bare `ADDR[-ADDR]` or bracketed `[ADDR][-[ADDR]]`.
//!
//! Ranges parse into distinct `min_*`/`max_*` fields; whether they are allowed is decided
//! by [`SsnatInfo::validate`], not here, so that supporting them later needs no parser
//! change.

use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ssnat_core::abi::{SsnatInfo, F_MAP_ADDR, F_MAP_PORT, NFPROTO_IPV4, NFPROTO_IPV6};

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

/// Why a `--to-source` argument could not be parsed. [`fmt::Display`] gives the message,
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
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::BadAddress(s) => write!(f, "bad address \"{s}\""),
            ParseError::BadPort(s) => write!(f, "bad port \"{s}\""),
            ParseError::PortOutOfRange(s) => write!(f, "port \"{s}\" out of range 1-65535"),
            ParseError::BadSyntax(s) => write!(
                f,
                "bad --to-source \"{s}\": an IPv6 address with a port is written \
                 [ADDR][-[ADDR]]:PORT[-PORT]"
            ),
            ParseError::WrongFamily { arg, rule } => write!(
                f,
                "\"{arg}\" is an {} address, this is an {} rule (use {})",
                rule.other().name(),
                rule.name(),
                rule.other().command()
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses a `--to-source` argument for a rule of `family` into a fresh [`SsnatInfo`].
///
/// Only the syntax is checked here (and that ports are 1-65535); the result still has to
/// pass [`SsnatInfo::validate`], which refuses reversed ranges and, in this revision, any
/// range at all.
pub fn parse_to_source(arg: &str, family: Family) -> Result<SsnatInfo, ParseError> {
    let parsed = match family {
        Family::V4 => parse_v4(arg),
        Family::V6 => parse_v6(arg),
    };
    parsed.map_err(|err| {
        // "1.2.3.4" given to ip6tables, or "[::1]:5" to iptables: say so rather than
        // calling the address bad.
        let for_other = match family.other() {
            Family::V4 => parse_v4(arg),
            Family::V6 => parse_v6(arg),
        };
        match for_other {
            Ok(_) => ParseError::WrongFamily {
                arg: arg.to_owned(),
                rule: family,
            },
            Err(_) => err,
        }
    })
}

/// Addresses (as the 16 bytes of the ABI) and ports parsed from an argument.
struct Parts {
    addrs: ([u8; 16], [u8; 16]),
    ports: Option<(u16, u16)>,
}

impl Parts {
    fn into_info(self, family: Family) -> SsnatInfo {
        let mut info = SsnatInfo::zeroed();
        info.family = family.nfproto();
        info.flags = F_MAP_ADDR;
        (info.min_addr, info.max_addr) = self.addrs;
        if let Some((min, max)) = self.ports {
            info.flags |= F_MAP_PORT;
            info.min_port = min;
            info.max_port = max;
        }
        info
    }
}

/// `ADDR[-ADDR][:PORT[-PORT]]`.
fn parse_v4(arg: &str) -> Result<SsnatInfo, ParseError> {
    let (addrs, ports) = match arg.split_once(':') {
        Some((addrs, ports)) => (addrs, Some(ports)),
        None => (arg, None),
    };
    let addrs = parse_range(addrs, parse_addr_v4)?;
    let ports = ports.map(|p| parse_range(p, parse_port)).transpose()?;
    Ok(Parts { addrs, ports }.into_info(Family::V4))
}

/// `[ADDR][-[ADDR]][:PORT[-PORT]]`, `[ADDR-ADDR][:PORT[-PORT]]` or bare `ADDR[-ADDR]`.
fn parse_v6(arg: &str) -> Result<SsnatInfo, ParseError> {
    let Some(inner) = arg.strip_prefix('[') else {
        // Bare: no port possible (its colon would be part of the address).
        if arg.contains([']', '[']) {
            return Err(ParseError::BadSyntax(arg.to_owned()));
        }
        let addrs = parse_range(arg, parse_addr_v6)?;
        return Ok(Parts { addrs, ports: None }.into_info(Family::V6));
    };
    let syntax = || ParseError::BadSyntax(arg.to_owned());
    let (first, rest) = inner.split_once(']').ok_or_else(syntax)?;
    let (addrs, rest) = if let Some(after_dash) = rest.strip_prefix('-') {
        // "[a]-[b]..."
        let second = after_dash.strip_prefix('[').ok_or_else(syntax)?;
        let (second, rest) = second.split_once(']').ok_or_else(syntax)?;
        if first.contains('-') {
            return Err(syntax());
        }
        ((parse_addr_v6(first)?, parse_addr_v6(second)?), rest)
    } else {
        // "[a]..." or "[a-b]..."
        (parse_range(first, parse_addr_v6)?, rest)
    };
    let ports = match rest {
        "" => None,
        _ => {
            let ports = rest.strip_prefix(':').ok_or_else(syntax)?;
            Some(parse_range(ports, parse_port)?)
        }
    };
    Ok(Parts { addrs, ports }.into_info(Family::V6))
}

/// `X` or `X-X`, each parsed with `one`; a single value gives `(x, x)`.
fn parse_range<T: Copy>(
    s: &str,
    one: fn(&str) -> Result<T, ParseError>,
) -> Result<(T, T), ParseError> {
    match s.split_once('-') {
        Some((min, max)) => Ok((one(min)?, one(max)?)),
        None => one(s).map(|x| (x, x)),
    }
}

fn parse_addr_v4(s: &str) -> Result<[u8; 16], ParseError> {
    let addr: Ipv4Addr = s
        .parse()
        .map_err(|_| ParseError::BadAddress(s.to_owned()))?;
    let mut bytes = [0; 16];
    bytes[..4].copy_from_slice(&addr.octets());
    Ok(bytes)
}

fn parse_addr_v6(s: &str) -> Result<[u8; 16], ParseError> {
    s.parse::<Ipv6Addr>()
        .map(|a| a.octets())
        .map_err(|_| ParseError::BadAddress(s.to_owned()))
}

/// A decimal port, 1-65535. Names from /etc/services are not taken: the rule has no
/// protocol to look them up for.
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

/// Writes `info` in the `--to-source` syntax for a rule of `family`: what `iptables-save`
/// shows after `--to-source` and `iptables -L` after `to:`. Everything
/// [`parse_to_source`] accepts comes back in a form it parses to the same info.
///
/// An info without an address (port only, which this parser does not produce) prints as
/// `:PORT[-PORT]`.
pub fn format_to_source(info: &SsnatInfo, family: Family) -> String {
    let with_port = info.flags & F_MAP_PORT != 0;
    let mut out = String::new();
    if info.flags & F_MAP_ADDR != 0 {
        let (min, max) = (&info.min_addr, &info.max_addr);
        match family {
            Family::V4 => {
                out.push_str(&v4_of(min).to_string());
                if min != max {
                    out.push('-');
                    out.push_str(&v4_of(max).to_string());
                }
            }
            // Brackets are needed only when a port follows.
            Family::V6 if with_port => {
                out.push_str(&format!("[{}]", Ipv6Addr::from(*min)));
                if min != max {
                    out.push_str(&format!("-[{}]", Ipv6Addr::from(*max)));
                }
            }
            Family::V6 => {
                out.push_str(&Ipv6Addr::from(*min).to_string());
                if min != max {
                    out.push('-');
                    out.push_str(&Ipv6Addr::from(*max).to_string());
                }
            }
        }
    }
    if with_port {
        out.push_str(&format!(":{}", info.min_port));
        if info.min_port != info.max_port {
            out.push_str(&format!("-{}", info.max_port));
        }
    }
    out
}

fn v4_of(bytes: &[u8; 16]) -> Ipv4Addr {
    Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
}

/// The final check of a rule: `--to-source` was given (bit `to_source_bit` of `xflags`,
/// the options libxtables saw) and the info passes the very [`SsnatInfo::validate`] the
/// kernel's checkentry runs. The error is the message, without the `SSNAT: ` prefix.
pub fn final_check(
    xflags: u32,
    to_source_bit: u32,
    info: &SsnatInfo,
    family: Family,
) -> Result<(), String> {
    if xflags & (1 << to_source_bit) == 0 {
        return Err("--to-source is required".to_owned());
    }
    info.validate(family.nfproto()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssnat_core::abi::InfoError;

    fn v4(arg: &str) -> Result<SsnatInfo, ParseError> {
        parse_to_source(arg, Family::V4)
    }

    fn v6(arg: &str) -> Result<SsnatInfo, ParseError> {
        parse_to_source(arg, Family::V6)
    }

    fn addr16(a: impl Into<std::net::IpAddr>) -> [u8; 16] {
        match a.into() {
            std::net::IpAddr::V4(a) => {
                let mut b = [0; 16];
                b[..4].copy_from_slice(&a.octets());
                b
            }
            std::net::IpAddr::V6(a) => a.octets(),
        }
    }

    /// Parses, validates, prints, parses the printed form again: must be the same info.
    fn round_trip(arg: &str, family: Family) -> String {
        let info = parse_to_source(arg, family).unwrap();
        let saved = format_to_source(&info, family);
        let again = parse_to_source(&saved, family)
            .unwrap_or_else(|e| panic!("saved form {saved:?} of {arg:?} refused: {e}"));
        assert_eq!(info, again, "{arg:?} -> {saved:?}");
        saved
    }

    #[test]
    fn v4_address_and_port() {
        let info = v4("198.51.100.7:4000").unwrap();
        assert_eq!(info.family, NFPROTO_IPV4);
        assert_eq!(info.flags, F_MAP_ADDR | F_MAP_PORT);
        assert_eq!(info.min_addr, addr16(Ipv4Addr::new(198, 51, 100, 7)));
        assert_eq!(info.max_addr, info.min_addr);
        assert_eq!((info.min_port, info.max_port), (4000, 4000));
        assert_eq!(info.validate(NFPROTO_IPV4), Ok(()));
        // Everything else zero, as validate() and the kernel want it.
        assert_eq!((info.prefix_len, info.seed, info.reserved), (0, 0, 0));
        assert_eq!(info.profile, [0; 32]);
        assert_eq!(info.kernel_private, 0);
    }

    #[test]
    fn v4_address_only() {
        let info = v4("192.0.2.1").unwrap();
        assert_eq!(info.flags, F_MAP_ADDR);
        assert_eq!((info.min_port, info.max_port), (0, 0));
        assert_eq!(info.validate(NFPROTO_IPV4), Ok(()));
    }

    #[test]
    fn v4_ranges_parse_into_min_and_max() {
        let info = v4("10.0.0.1-10.0.0.9:1000-2000").unwrap();
        assert_eq!(info.min_addr, addr16(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(info.max_addr, addr16(Ipv4Addr::new(10, 0, 0, 9)));
        assert_eq!((info.min_port, info.max_port), (1000, 2000));
        // ... and are refused by this revision's validate().
        assert_eq!(info.validate(NFPROTO_IPV4), Err(InfoError::Unsupported));
        let info = v4("10.0.0.9-10.0.0.1").unwrap();
        assert_eq!(info.validate(NFPROTO_IPV4), Err(InfoError::BadAddrRange));
        let info = v4("10.0.0.1:9-8").unwrap();
        assert_eq!(info.validate(NFPROTO_IPV4), Err(InfoError::BadPortRange));
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
    fn v6_forms() {
        let a = addr16("2001:db8::7".parse::<Ipv6Addr>().unwrap());
        let b = addr16("2001:db8::9".parse::<Ipv6Addr>().unwrap());
        let info = v6("[2001:db8::7]:4000").unwrap();
        assert_eq!(info.family, NFPROTO_IPV6);
        assert_eq!(info.flags, F_MAP_ADDR | F_MAP_PORT);
        assert_eq!((info.min_addr, info.max_addr), (a, a));
        assert_eq!((info.min_port, info.max_port), (4000, 4000));
        assert_eq!(info.validate(NFPROTO_IPV6), Ok(()));

        for bare in ["2001:db8::7", "[2001:db8::7]"] {
            let info = v6(bare).unwrap();
            assert_eq!(info.flags, F_MAP_ADDR, "{bare}");
            assert_eq!((info.min_addr, info.max_addr), (a, a), "{bare}");
            assert_eq!(info.validate(NFPROTO_IPV6), Ok(()));
        }
        for range in [
            "2001:db8::7-2001:db8::9",
            "[2001:db8::7]-[2001:db8::9]",
            "[2001:db8::7-2001:db8::9]",
        ] {
            let info = v6(range).unwrap();
            assert_eq!((info.min_addr, info.max_addr), (a, b), "{range}");
            assert_eq!(info.flags, F_MAP_ADDR, "{range}");
        }
        for range in [
            "[2001:db8::7]-[2001:db8::9]:1-2",
            "[2001:db8::7-2001:db8::9]:1-2",
        ] {
            let info = v6(range).unwrap();
            assert_eq!((info.min_addr, info.max_addr), (a, b), "{range}");
            assert_eq!((info.min_port, info.max_port), (1, 2), "{range}");
            assert_eq!(info.validate(NFPROTO_IPV6), Err(InfoError::Unsupported));
        }
        // A bare address's last group is never a port.
        let info = v6("2001:db8::7:4000").unwrap();
        assert_eq!(info.flags, F_MAP_ADDR);
        // IPv4-mapped addresses are IPv6 addresses.
        assert!(v6("::ffff:192.0.2.1").is_ok());
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
        assert_eq!(v6("[::1]:0"), Err(ParseError::PortOutOfRange("0".into())));
        assert_eq!(v6("[::1]:x"), Err(ParseError::BadPort("x".into())));
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
    }

    #[test]
    fn print_save_round_trip() {
        use Family::{V4, V6};
        assert_eq!(round_trip("198.51.100.7:4000", V4), "198.51.100.7:4000");
        assert_eq!(round_trip("198.51.100.7", V4), "198.51.100.7");
        assert_eq!(
            round_trip("10.0.0.1-10.0.0.9:1000-2000", V4),
            "10.0.0.1-10.0.0.9:1000-2000"
        );
        assert_eq!(round_trip("10.0.0.1-10.0.0.1:5-5", V4), "10.0.0.1:5");
        assert_eq!(round_trip("[2001:db8::7]:4000", V6), "[2001:db8::7]:4000");
        assert_eq!(round_trip("[2001:0db8:0::7]", V6), "2001:db8::7");
        assert_eq!(round_trip("2001:db8::7", V6), "2001:db8::7");
        assert_eq!(
            round_trip("2001:db8::7-2001:db8::9", V6),
            "2001:db8::7-2001:db8::9"
        );
        assert_eq!(
            round_trip("[2001:db8::7-2001:db8::9]:1-2", V6),
            "[2001:db8::7]-[2001:db8::9]:1-2"
        );
        assert_eq!(
            round_trip("[::ffff:192.0.2.1]:53", V6),
            "[::ffff:192.0.2.1]:53"
        );
        assert_eq!(round_trip("[::]:1", V6), "[::]:1");
        assert_eq!(round_trip("0.0.0.0:65535", V4), "0.0.0.0:65535");
    }

    #[test]
    fn port_only_info_prints() {
        let mut info = SsnatInfo::zeroed();
        info.family = NFPROTO_IPV4;
        info.flags = F_MAP_PORT;
        info.min_port = 7;
        info.max_port = 9;
        assert_eq!(format_to_source(&info, Family::V4), ":7-9");
        assert_eq!(format_to_source(&info, Family::V6), ":7-9");
    }

    #[test]
    fn final_check_runs_validate() {
        let ok = v4("1.2.3.4:5").unwrap();
        assert_eq!(final_check(1, 0, &ok, Family::V4), Ok(()));
        assert_eq!(
            final_check(0, 0, &SsnatInfo::zeroed(), Family::V4),
            Err("--to-source is required".to_owned())
        );
        assert_eq!(
            final_check(1, 0, &ok, Family::V6),
            Err(InfoError::BadFamily.to_string())
        );
        let range = v4("1.2.3.4-1.2.3.5").unwrap();
        assert_eq!(
            final_check(1, 0, &range, Family::V4),
            Err("address and port ranges are not supported yet".to_owned())
        );
    }
}
