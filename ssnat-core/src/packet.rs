// SPDX-License-Identifier: GPL-2.0
//! Stateless source rewriting of one packet held in a byte slice.
//!
//! The work is split in two so that the kernel makes writable only the bytes that
//! change: [`plan`] reads the headers from a (possibly copied) prefix of the packet,
//! picks the new source and says how many bytes from the network header on the rewrite
//! touches; [`apply`] then rewrites those bytes in place and fixes every checksum
//! incrementally (RFC 1624), or recomputes SCTP's CRC32c. Neither function panics or
//! reads or writes out of bounds, whatever the input: a packet they cannot handle is
//! left as it is, with the reason.
//!
//! What is rewritten:
//! - the source address (IPv4 header checksum fixed; the L4 checksum too wherever it
//!   covers a pseudo-header: TCP, UDP, UDP-Lite, DCCP, ICMPv6, and over IPv6 OSPFv3 and
//!   PIM); any other protocol gets the address alone;
//! - the source port of TCP, UDP, UDP-Lite, DCCP and SCTP, and the identifier of ICMP
//!   and ICMPv6 echo messages, when the mapping has ports;
//! - in ICMP errors that the translated host sends about a packet it received (the
//!   embedded packet's destination is the outer source), the embedded destination
//!   address and port, translated as the flow's own packets are, so that the peer sees
//!   an error about the packet it sent.
//!
//! Fragments: the first fragment gets address and port, later fragments the address
//! alone; the address is picked from addresses only, so all agree.

use crate::abi::{self, SsnatInfo};
use crate::csum::Delta;
use crate::{crc32c, hash};

/// IP protocol numbers and IPv6 extension headers this module knows.
pub mod proto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPTS: u8 = 0;
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// DCCP.
    pub const DCCP: u8 = 33;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 destination options.
    pub const DSTOPTS: u8 = 60;
    /// OSPF.
    pub const OSPF: u8 = 89;
    /// PIM.
    pub const PIM: u8 = 103;
    /// SCTP.
    pub const SCTP: u8 = 132;
    /// UDP-Lite.
    pub const UDPLITE: u8 = 136;
}

/// Bytes from the network header on that [`plan`] looks at, at most. Headers that
/// end further in (long IPv6 extension header chains) are not rewritten.
pub const MAX_PLAN_LEN: usize = 256;
/// Most IPv6 extension headers walked before giving up.
const MAX_EXT_HEADERS: usize = 8;

/// Address family of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
    fn saddr_off(self) -> usize {
        match self {
            Family::V4 => 12,
            Family::V6 => 8,
        }
    }
    fn daddr_off(self) -> usize {
        match self {
            Family::V4 => 16,
            Family::V6 => 24,
        }
    }
}

/// How the source address is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrMap {
    /// The address is kept.
    Keep,
    /// One address of `min..=max`, picked by a hash of the addresses (IPv6 ranges lie
    /// within one /64, which [`SsnatInfo::validate`] makes sure of).
    Range {
        /// First address.
        min: [u8; 16],
        /// Last address.
        max: [u8; 16],
    },
    /// The network bits of `base`, the host bits of the packet's address.
    Prefix {
        /// The prefix, host bits zero.
        base: [u8; 16],
        /// Prefix length in bits.
        len: u8,
    },
}

/// What a rule writes into the source of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Family of the addresses.
    pub family: Family,
    /// The address.
    pub addr: AddrMap,
    /// The port range, if the port changes.
    pub ports: Option<(u16, u16)>,
    /// Seed of the flow hash.
    pub seed: u32,
}

impl Mapping {
    /// The mapping a validated [`SsnatInfo`] describes.
    pub fn from_info(info: &SsnatInfo) -> Mapping {
        let family = if info.family == abi::NFPROTO_IPV6 { Family::V6 } else { Family::V4 };
        let addr = if info.flags & abi::F_MAP_ADDR == 0 {
            AddrMap::Keep
        } else if info.flags & abi::F_PREFIX != 0 {
            AddrMap::Prefix { base: info.min_addr, len: info.prefix_len }
        } else {
            AddrMap::Range { min: info.min_addr, max: info.max_addr }
        };
        let ports = (info.flags & abi::F_MAP_PORT != 0).then_some((info.min_port, info.max_port));
        Mapping { family, addr, ports, seed: info.seed }
    }

    /// The new source address of a packet from `saddr` to `daddr`, or `None` if the
    /// address does not change. Only the first `addr_len` bytes are meaningful.
    pub fn map_addr(&self, saddr: &[u8], daddr: &[u8]) -> Option<[u8; 16]> {
        let n = self.family.addr_len();
        let mut new = [0u8; 16];
        match self.addr {
            AddrMap::Keep => return None,
            AddrMap::Range { min, max } if min == max => new = min,
            AddrMap::Range { min, max } => {
                let h = hash::addr_hash(self.seed, saddr, daddr);
                new = min;
                // The low 64 bits vary (IPv4: the low 32 bits of an 8-byte window).
                let (lo, len) = if n == 4 { (0, 4) } else { (8, 8) };
                let mut a = [0u8; 8];
                let mut b = [0u8; 8];
                a[8 - len..].copy_from_slice(&min[lo..lo + len]);
                b[8 - len..].copy_from_slice(&max[lo..lo + len]);
                let (a, b) = (u64::from_be_bytes(a), u64::from_be_bytes(b));
                let x = a.wrapping_add(hash::pick(h, b.saturating_sub(a)));
                new[lo..lo + len].copy_from_slice(&x.to_be_bytes()[8 - len..]);
            }
            AddrMap::Prefix { base, len } => {
                for i in 0..n {
                    let host = abi::host_mask_byte(usize::from(len), i);
                    new[i] = (base[i] & !host) | (saddr.get(i).copied().unwrap_or(0) & host);
                }
            }
        }
        (new[..n] != *saddr.get(..n)?).then_some(new)
    }

    /// The new source port (or ICMP echo identifier) of a flow, or `None` if it does not
    /// change.
    pub fn map_port(&self, saddr: &[u8], daddr: &[u8], proto: u8, sport: u16, dport: u16) -> Option<u16> {
        let (min, max) = self.ports?;
        let new = if min == max {
            min
        } else {
            let h = hash::flow_hash(self.seed, saddr, daddr, proto, sport, dport);
            let off = hash::pick(u64::from(h) << 32, u64::from(max.saturating_sub(min)));
            min.wrapping_add(off as u16)
        };
        (new != sport).then_some(new)
    }
}

/// Why a packet passes unchanged. Each reason has its own counter in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Skip {
    /// Fewer bytes than the headers need.
    Truncated = 0,
    /// A header that contradicts itself: wrong version, IHL below 5, a length shorter
    /// than the header or longer than the packet, a TCP data offset below 5.
    Malformed = 1,
    /// IPv6 extension headers longer than [`MAX_PLAN_LEN`] bytes or more than 8 of them.
    HeaderChain = 2,
    /// Only the port was to change and the packet has none (another protocol, or a
    /// fragment that is not the first).
    NoPort = 3,
    /// The packet already carries the mapped source.
    Unchanged = 4,
    /// The kernel could not make the bytes writable (memory).
    NoMemory = 5,
}

/// Number of [`Skip`] reasons.
pub const SKIP_REASONS: usize = 6;

impl Skip {
    /// All reasons, in counter order.
    pub const ALL: [Skip; SKIP_REASONS] =
        [Skip::Truncated, Skip::Malformed, Skip::HeaderChain, Skip::NoPort, Skip::Unchanged, Skip::NoMemory];

    /// Short name, as shown with the counters.
    pub fn name(self) -> &'static str {
        match self {
            Skip::Truncated => "truncated",
            Skip::Malformed => "malformed",
            Skip::HeaderChain => "header-chain",
            Skip::NoPort => "no-port",
            Skip::Unchanged => "unchanged",
            Skip::NoMemory => "no-memory",
        }
    }
}

/// A 16-bit checksum field to keep right, and what it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Check {
    /// Offset from the network header.
    off: usize,
    /// Whether it covers the pseudo-header (source address).
    pseudo: bool,
    /// A computed zero is sent as 0xffff (UDP, UDP-Lite: zero means "none").
    mangle_zero: bool,
    /// A zero field means "no checksum" and stays zero (UDP over IPv4).
    zero_is_none: bool,
    /// The field holds the pseudo-header sum for the device to finish
    /// (`CHECKSUM_PARTIAL` with `csum_start` at this header).
    partial: bool,
}

/// The embedded packet of an ICMP error, to translate like the flow it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Inner {
    /// Offset of its destination address, and the new one.
    daddr: Option<(usize, [u8; 16])>,
    /// Offset of its IPv4 header checksum.
    ip_check: Option<usize>,
    /// Offset of its destination port (or echo identifier), and the new one.
    port: Option<(usize, u16)>,
    /// Its L4 checksum, if it lies within the quoted bytes.
    l4_check: Option<Check>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum L4Fix {
    /// Nothing in the L4 header moves.
    None,
    /// A port (or identifier) and a 16-bit checksum.
    Inet { port: Option<(usize, u16)>, check: Check },
    /// SCTP: a port, and the CRC32c over `l4_off..end` unless the device computes it.
    Sctp { l4_off: usize, end: usize, port: u16, crc: bool },
    /// An ICMP or ICMPv6 error: the embedded packet, then the ICMP checksum.
    IcmpError { inner: Inner, check: Check },
}

/// What [`plan`] found: enough to rewrite without reading the headers again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    family: Family,
    saddr: Option<[u8; 16]>,
    l4: L4Fix,
    /// Bytes from the network header on that [`apply`] reads and writes.
    pub write_len: usize,
}

/// What [`apply`] changed, for the caller to keep `CHECKSUM_COMPLETE` sums right.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// Sum of the changes inside the network header (zero for IPv4, whose header
    /// checksum absorbs them).
    pub l3_delta: Delta,
    /// Sum of the changes from the L4 header on.
    pub l4_delta: Delta,
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off.checked_add(1)?)?]))
}

fn byte(b: &[u8], off: usize) -> Result<u8, Skip> {
    b.get(off).copied().ok_or(Skip::Truncated)
}

fn word(b: &[u8], off: usize) -> Result<u16, Skip> {
    be16(b, off).ok_or(Skip::Truncated)
}

/// The network-layer facts [`plan`] works from.
struct L3 {
    family: Family,
    /// Offset of the L4 header (after IPv6 extension headers).
    l4_off: usize,
    /// End of the packet as its header says.
    end: usize,
    /// The upper-layer protocol.
    proto: u8,
    /// Not a fragment, or the first one.
    first: bool,
    /// Part of a fragmented datagram.
    fragmented: bool,
}

fn parse_l3(family: Family, head: &[u8], pkt_len: usize) -> Result<L3, Skip> {
    let b0 = byte(head, 0)?;
    match family {
        Family::V4 => {
            if pkt_len < 20 || head.len() < 20 {
                return Err(Skip::Truncated);
            }
            let ihl = usize::from(b0 & 0x0f) * 4;
            if b0 >> 4 != 4 || ihl < 20 {
                return Err(Skip::Malformed);
            }
            let tot = usize::from(word(head, 2)?);
            // A zero total length is how BIG TCP GSO packets say "the skb's length".
            let end = if tot == 0 { pkt_len } else { tot };
            if end < ihl || end > pkt_len {
                return Err(Skip::Malformed);
            }
            let frag = word(head, 6)?;
            Ok(L3 {
                family,
                l4_off: ihl,
                end,
                proto: byte(head, 9)?,
                first: frag & 0x1fff == 0,
                fragmented: frag & 0x3fff != 0,
            })
        }
        Family::V6 => {
            if pkt_len < 40 || head.len() < 40 {
                return Err(Skip::Truncated);
            }
            if b0 >> 4 != 6 {
                return Err(Skip::Malformed);
            }
            let plen = usize::from(word(head, 4)?);
            // Zero: a jumbogram or a BIG TCP packet; the skb's length rules.
            let end = if plen == 0 { pkt_len } else { 40 + plen };
            if end > pkt_len {
                return Err(Skip::Malformed);
            }
            let mut nh = byte(head, 6)?;
            let mut off = 40;
            let mut first = true;
            let mut fragmented = false;
            let mut n = 0;
            // Walk the extension headers up to the upper-layer header; a fragment
            // that is not the first has none.
            while first {
                let next = head.get(off).copied().ok_or(Skip::HeaderChain)?;
                let len = match nh {
                    proto::HOPOPTS if off != 40 => return Err(Skip::Malformed),
                    proto::HOPOPTS | proto::ROUTING | proto::DSTOPTS => {
                        (usize::from(head.get(off + 1).copied().ok_or(Skip::HeaderChain)?) + 1) * 8
                    }
                    proto::FRAGMENT => {
                        let frag = be16(head, off + 2).ok_or(Skip::HeaderChain)?;
                        fragmented = true;
                        first = frag & 0xfff8 == 0;
                        8
                    }
                    _ => break,
                };
                nh = next;
                off += len;
                n += 1;
                if off > end {
                    return Err(Skip::Malformed);
                }
                if n > MAX_EXT_HEADERS {
                    return Err(Skip::HeaderChain);
                }
            }
            Ok(L3 { family, l4_off: off, end, proto: nh, first, fragmented })
        }
    }
}

/// Whether the L4 header's first `need` bytes are inside both the packet and `head`
/// (which holds the whole packet or [`MAX_PLAN_LEN`] bytes of it).
fn have(l3: &L3, head: &[u8], need: usize) -> Result<(), Skip> {
    let want = l3.l4_off + need;
    if want > l3.end {
        Err(Skip::Truncated)
    } else if want > head.len() {
        Err(Skip::HeaderChain)
    } else {
        Ok(())
    }
}

fn inet_check(l3: &L3, off: usize, pseudo: bool, csum_start: Option<usize>) -> Check {
    Check { off: l3.l4_off + off, pseudo, mangle_zero: false, zero_is_none: false, partial: csum_start == Some(l3.l4_off) }
}

/// Reads the headers of a packet and plans its rewrite.
///
/// `head` holds the first bytes of the packet from the network header on (at least
/// `min(pkt_len, MAX_PLAN_LEN)` of them); `pkt_len` is the number of bytes the packet
/// really has from the network header on; `csum_start` is where a pending
/// `CHECKSUM_PARTIAL` checksum starts, relative to the network header.
pub fn plan(head: &[u8], pkt_len: usize, map: &Mapping, csum_start: Option<usize>) -> Result<Plan, Skip> {
    let family = map.family;
    let l3 = parse_l3(family, head, pkt_len)?;
    let n = family.addr_len();
    let saddr = head.get(family.saddr_off()..family.saddr_off() + n).ok_or(Skip::Truncated)?;
    let daddr = head.get(family.daddr_off()..family.daddr_off() + n).ok_or(Skip::Truncated)?;
    let new_saddr = map.map_addr(saddr, daddr);
    let l4_off = l3.l4_off;
    let port_at = |head: &[u8], off: usize, proto: u8, dport_off: Option<usize>| -> Result<Option<(usize, u16)>, Skip> {
        let sport = word(head, l4_off + off)?;
        let dport = match dport_off {
            Some(d) => word(head, l4_off + d)?,
            None => 0,
        };
        Ok(map.map_port(saddr, daddr, proto, sport, dport).map(|p| (l4_off + off, p)))
    };

    let mut write_len = l4_off;
    // Whether the packet has a port (or echo identifier) a mapping could change.
    let mut port_slot = false;
    let l4 = if !l3.first {
        L4Fix::None
    } else {
        match (l3.proto, family) {
            (proto::TCP, _) => {
                have(&l3, head, 20)?;
                if byte(head, l4_off + 12)? >> 4 < 5 {
                    return Err(Skip::Malformed);
                }
                write_len = l4_off + 18;
                port_slot = true;
                L4Fix::Inet { port: port_at(head, 0, l3.proto, Some(2))?, check: inet_check(&l3, 16, true, csum_start) }
            }
            (proto::UDP | proto::UDPLITE, _) => {
                have(&l3, head, 8)?;
                let len = usize::from(word(head, l4_off + 4)?);
                let room = l3.end - l4_off;
                let bad = if l3.proto == proto::UDP {
                    len < 8 || (!l3.fragmented && len > room)
                } else {
                    // UDP-Lite: checksum coverage, 0 for the whole datagram.
                    (len != 0 && len < 8) || (!l3.fragmented && len > room)
                };
                if bad {
                    return Err(Skip::Malformed);
                }
                write_len = l4_off + 8;
                port_slot = true;
                let mut check = inet_check(&l3, 6, true, csum_start);
                check.mangle_zero = true;
                check.zero_is_none = l3.proto == proto::UDP && family == Family::V4;
                L4Fix::Inet { port: port_at(head, 0, l3.proto, Some(2))?, check }
            }
            (proto::DCCP, _) => {
                have(&l3, head, 12)?;
                write_len = l4_off + 8;
                port_slot = true;
                L4Fix::Inet { port: port_at(head, 0, l3.proto, Some(2))?, check: inet_check(&l3, 6, true, csum_start) }
            }
            (proto::SCTP, _) => {
                have(&l3, head, 12)?;
                port_slot = !l3.fragmented;
                match port_at(head, 0, l3.proto, Some(2))? {
                    // A fragment does not carry the whole packet the CRC covers: the
                    // port is left alone (SCTP avoids fragmentation; see the README).
                    Some(_) if l3.fragmented => L4Fix::None,
                    Some((_, port)) => {
                        let crc = csum_start != Some(l4_off);
                        write_len = if crc { l3.end } else { l4_off + 2 };
                        L4Fix::Sctp { l4_off, end: l3.end, port, crc }
                    }
                    None => L4Fix::None,
                }
            }
            (proto::ICMP, Family::V4) | (proto::ICMPV6, Family::V6) => {
                have(&l3, head, 8)?;
                let v6 = family == Family::V6;
                let ty = byte(head, l4_off)?;
                let check = inet_check(&l3, 2, v6, csum_start);
                let echo = if v6 { ty == 128 || ty == 129 } else { ty == 0 || ty == 8 };
                let error = if v6 { (1..=4).contains(&ty) } else { matches!(ty, 3 | 4 | 5 | 11 | 12) };
                if echo {
                    write_len = l4_off + 8;
                    port_slot = true;
                    L4Fix::Inet { port: port_at(head, 4, l3.proto, None)?, check }
                } else if error {
                    let (inner, len) = plan_inner(head, &l3, map, saddr)?;
                    write_len = len.max(l4_off + 4);
                    L4Fix::IcmpError { inner, check }
                } else if v6 {
                    write_len = l4_off + 4;
                    L4Fix::Inet { port: None, check }
                } else {
                    L4Fix::None
                }
            }
            (proto::OSPF, Family::V6) => {
                have(&l3, head, 14)?;
                write_len = l4_off + 14;
                L4Fix::Inet { port: None, check: inet_check(&l3, 12, true, csum_start) }
            }
            (proto::PIM, Family::V6) => {
                have(&l3, head, 4)?;
                write_len = l4_off + 4;
                L4Fix::Inet { port: None, check: inet_check(&l3, 2, true, csum_start) }
            }
            _ => L4Fix::None,
        }
    };

    let moves = match &l4 {
        L4Fix::None => false,
        L4Fix::Inet { port, .. } => port.is_some(),
        L4Fix::Sctp { .. } => true,
        L4Fix::IcmpError { inner, .. } => inner.daddr.is_some() || inner.port.is_some(),
    };
    if new_saddr.is_none() && !moves {
        return Err(if map.addr == AddrMap::Keep && !port_slot { Skip::NoPort } else { Skip::Unchanged });
    }
    if write_len > head.len() && !matches!(l4, L4Fix::Sctp { .. }) {
        // Everything but SCTP's CRC (which needs the whole packet, made writable by the
        // caller) lies within the headers read.
        return Err(Skip::HeaderChain);
    }
    Ok(Plan { family, saddr: new_saddr, l4, write_len })
}

/// Plans the translation of the packet quoted in an ICMP error. Returns it and the
/// bytes it reaches.
fn plan_inner(head: &[u8], l3: &L3, map: &Mapping, outer_saddr: &[u8]) -> Result<(Inner, usize), Skip> {
    let none = Inner { daddr: None, ip_check: None, port: None, l4_check: None };
    let family = l3.family;
    let n = family.addr_len();
    let ip = l3.l4_off + 8;
    // Bytes of the quote that are really there.
    let avail = l3.end.min(head.len());
    let (ihl, iproto, ifirst) = match family {
        Family::V4 => {
            let b0 = match head.get(ip) {
                Some(&b) if ip + 20 <= avail => b,
                _ => return Ok((none, 0)),
            };
            let ihl = usize::from(b0 & 0x0f) * 4;
            if b0 >> 4 != 4 || ihl < 20 || ip + ihl > avail {
                return Ok((none, 0));
            }
            (ihl, byte(head, ip + 9)?, word(head, ip + 6)? & 0x1fff == 0)
        }
        Family::V6 => {
            if ip + 40 > avail || byte(head, ip)? >> 4 != 6 {
                return Ok((none, 0));
            }
            // Extension headers in the quote are not walked: address only then.
            (40, byte(head, ip + 6)?, true)
        }
    };
    let isaddr = head.get(ip + family.saddr_off()..ip + family.saddr_off() + n).ok_or(Skip::Truncated)?;
    let idaddr = head.get(ip + family.daddr_off()..ip + family.daddr_off() + n).ok_or(Skip::Truncated)?;
    // Only an error about a packet sent to the translated host itself is translated.
    if idaddr != outer_saddr {
        return Ok((none, 0));
    }
    let mut inner = none;
    let mut reach = ip + family.daddr_off() + n;
    // The quoted packet went from the peer to us: its flow, seen from our side, is
    // (our address, our port) -> (peer, peer's port).
    if let Some(new) = map.map_addr(idaddr, isaddr) {
        inner.daddr = Some((ip + family.daddr_off(), new));
        if family == Family::V4 {
            inner.ip_check = Some(ip + 10);
            reach = reach.max(ip + 12);
        }
    }
    let l4 = ip + ihl;
    if ifirst {
        // (source port, destination port) offsets; (checksum offset, covers the
        // pseudo-header, zero computed is sent as 0xffff).
        type Ports = Option<(usize, usize)>;
        type QuotedCheck = Option<(usize, bool, bool)>;
        let (ports, check): (Ports, QuotedCheck) = match iproto {
            proto::TCP => (Some((0, 2)), Some((16, true, false))),
            proto::UDP => (Some((0, 2)), Some((6, true, true))),
            proto::UDPLITE => (Some((0, 2)), Some((6, true, true))),
            proto::DCCP => (Some((0, 2)), Some((6, true, false))),
            proto::SCTP => (Some((0, 2)), None),
            _ => (None, None),
        };
        if let Some((sport_off, dport_off)) = ports {
            if l4 + 4 <= avail {
                let sport = word(head, l4 + sport_off)?;
                let dport = word(head, l4 + dport_off)?;
                if let Some(p) = map.map_port(idaddr, isaddr, iproto, dport, sport) {
                    inner.port = Some((l4 + dport_off, p));
                    reach = reach.max(l4 + dport_off + 2);
                }
            }
        }
        if let Some((off, pseudo, zero)) = check {
            if l4 + off + 2 <= avail && (inner.daddr.is_some() || inner.port.is_some()) {
                let zero_is_none = zero && family == Family::V4;
                inner.l4_check =
                    Some(Check { off: l4 + off, pseudo, mangle_zero: zero, zero_is_none, partial: false });
                reach = reach.max(l4 + off + 2);
            }
        }
    }
    Ok((inner, reach))
}

fn write16(pkt: &mut [u8], off: usize, v: u16) -> Result<(), Skip> {
    pkt.get_mut(off..off + 2).ok_or(Skip::Truncated)?.copy_from_slice(&v.to_be_bytes());
    Ok(())
}

/// Moves a port (or any 16-bit field) inside checksummed data; returns the change.
fn set16(pkt: &mut [u8], off: usize, new: u16) -> Result<Delta, Skip> {
    let old = word(pkt, off)?;
    write16(pkt, off, new)?;
    Ok(Delta::word(old, new))
}

/// Moves an address; returns the change.
fn set_addr(pkt: &mut [u8], off: usize, new: &[u8]) -> Result<Delta, Skip> {
    let field = pkt.get_mut(off..off + new.len()).ok_or(Skip::Truncated)?;
    let d = Delta::of(field, new);
    field.copy_from_slice(new);
    Ok(d)
}

/// Updates a checksum field for a change `pseudo` of the pseudo-header and `data` of
/// the bytes it covers; returns the change of the field itself.
fn fix_check(pkt: &mut [u8], c: &Check, pseudo: Delta, data: Delta) -> Result<Delta, Skip> {
    let old = word(pkt, c.off)?;
    let pseudo = if c.pseudo { pseudo } else { Delta::ZERO };
    let new = if c.partial {
        // The device sums the data (ports included): only the pseudo-header moves.
        pseudo.update_sum(old)
    } else if c.zero_is_none && old == 0 {
        0
    } else {
        let v = pseudo.plus(data).update_check(old);
        if c.mangle_zero && v == 0 {
            0xffff
        } else {
            v
        }
    };
    write16(pkt, c.off, new)?;
    Ok(Delta::word(old, new))
}

/// Rewrites a packet as [`plan`] planned. `pkt` must hold at least `plan.write_len`
/// writable bytes from the network header on.
pub fn apply(pkt: &mut [u8], plan: &Plan) -> Result<Rewritten, Skip> {
    let pkt = pkt.get_mut(..plan.write_len).ok_or(Skip::Truncated)?;
    let family = plan.family;
    let n = family.addr_len();
    let mut done = Rewritten::default();

    let mut pseudo = Delta::ZERO;
    if let Some(new) = &plan.saddr {
        pseudo = set_addr(pkt, family.saddr_off(), &new[..n])?;
        done.l3_delta = pseudo;
        if family == Family::V4 {
            let c = Check { off: 10, pseudo: true, mangle_zero: false, zero_is_none: false, partial: false };
            done.l3_delta = done.l3_delta.plus(fix_check(pkt, &c, pseudo, Delta::ZERO)?);
        }
    }

    match &plan.l4 {
        L4Fix::None => {}
        L4Fix::Inet { port, check } => {
            let data = match port {
                Some((off, p)) => set16(pkt, *off, *p)?,
                None => Delta::ZERO,
            };
            done.l4_delta = data.plus(fix_check(pkt, check, pseudo, data)?);
        }
        L4Fix::Sctp { l4_off, end, port, crc } => {
            let mut d = set16(pkt, *l4_off, *port)?;
            if *crc {
                let sctp = pkt.get_mut(*l4_off..*end).ok_or(Skip::Truncated)?;
                let new = crc32c::sctp_checksum(sctp);
                d = d.plus(set_addr(sctp, 8, &new)?);
            }
            done.l4_delta = d;
        }
        L4Fix::IcmpError { inner, check } => {
            let mut data = Delta::ZERO;
            let mut ipseudo = Delta::ZERO;
            if let Some((off, new)) = &inner.daddr {
                ipseudo = set_addr(pkt, *off, &new[..n])?;
                data = data.plus(ipseudo);
                if let Some(off) = inner.ip_check {
                    let c = Check { off, pseudo: true, mangle_zero: false, zero_is_none: false, partial: false };
                    data = data.plus(fix_check(pkt, &c, ipseudo, Delta::ZERO)?);
                }
            }
            let mut idata = Delta::ZERO;
            if let Some((off, p)) = inner.port {
                idata = set16(pkt, off, p)?;
                data = data.plus(idata);
            }
            if let Some(c) = &inner.l4_check {
                data = data.plus(fix_check(pkt, c, ipseudo, idata)?);
            }
            done.l4_delta = data.plus(fix_check(pkt, check, pseudo, data)?);
        }
    }
    Ok(done)
}

#[cfg(test)]
pub(crate) mod tests;
