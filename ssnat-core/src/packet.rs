// SPDX-License-Identifier: GPL-2.0
//! Stateless source rewriting of one packet held in a byte slice.
//!
//! The work is split in two so that the kernel makes writable only the bytes that
//! change: [`plan`] reads the headers from a (possibly copied) prefix of the packet,
//! picks the new source, and computes every new field value, checksums included
//! (incrementally, RFC 1624), into a short list of writes that says how many bytes from
//! the network header on it touches; [`apply`] then only stores those values, and
//! recomputes SCTP's CRC32c where the port moved. Neither function panics or reads or
//! writes out of bounds, whatever the input: a packet they cannot handle is left as it
//! is, with the reason.
//!
//! The packet path is written for the instruction count (see `make bench`): headers are
//! read as fixed-size arrays (one bounds check each), addresses are compared and summed
//! with their length known at compile time, a fixed mapping costs no hashing, and every
//! header field is read once.
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
    /// One address (a range of one, as [`Mapping::from_info`] gives it). First: the
    /// packet path tests for it first.
    Fixed([u8; 16]),
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

/// How the source port (or ICMP echo identifier) is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortMap {
    /// The port is kept.
    Keep,
    /// One port (a range of one, as [`PortMap::new`] makes it). The packet path tests
    /// for it first.
    Fixed(u16),
    /// One port of `min..=max`, picked by a hash of the flow.
    Range(u16, u16),
}

impl PortMap {
    /// The mapping of a port range `min..=max`, or of none.
    pub const fn new(range: Option<(u16, u16)>) -> PortMap {
        match range {
            None => PortMap::Keep,
            Some((min, max)) if min == max => PortMap::Fixed(min),
            Some((min, max)) => PortMap::Range(min, max),
        }
    }

    /// The range, if the port changes.
    pub const fn range(self) -> Option<(u16, u16)> {
        match self {
            PortMap::Keep => None,
            PortMap::Fixed(p) => Some((p, p)),
            PortMap::Range(min, max) => Some((min, max)),
        }
    }
}

/// What a rule writes into the source of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Family of the addresses.
    pub family: Family,
    /// The address.
    pub addr: AddrMap,
    /// The port.
    pub ports: PortMap,
    /// Seed of the flow hash.
    pub seed: u32,
}

/// The first `N` bytes of `b`, as an array (one bounds check for all of them).
#[inline(always)]
fn chunk<const N: usize>(b: &[u8], off: usize) -> Option<&[u8; N]> {
    b.get(off..)?.first_chunk::<N>()
}

/// `!0 << (64 - bits)` for `bits` in `0..=64`: the top `bits` bits set.
#[inline]
fn top_bits(bits: u32) -> u64 {
    match 64u32.checked_sub(bits) {
        Some(64) | None => 0,
        Some(shift) => !0u64 << shift,
    }
}

impl Mapping {
    /// The mapping a validated [`SsnatInfo`] describes.
    pub fn from_info(info: &SsnatInfo) -> Mapping {
        let family = if info.family == abi::NFPROTO_IPV6 { Family::V6 } else { Family::V4 };
        let addr = if info.flags & abi::F_MAP_ADDR == 0 {
            AddrMap::Keep
        } else if info.flags & abi::F_PREFIX != 0 {
            AddrMap::Prefix { base: info.min_addr, len: info.prefix_len }
        } else if info.min_addr == info.max_addr {
            AddrMap::Fixed(info.min_addr)
        } else {
            AddrMap::Range { min: info.min_addr, max: info.max_addr }
        };
        let ports = PortMap::new((info.flags & abi::F_MAP_PORT != 0).then_some((info.min_port, info.max_port)));
        Mapping { family, addr, ports, seed: info.seed }
    }

    /// Whether the mapping hashes nothing: one address or none, one port or none.
    #[inline(always)]
    pub fn is_fixed(&self) -> bool {
        matches!(self.addr, AddrMap::Fixed(_) | AddrMap::Keep) && matches!(self.ports, PortMap::Fixed(_) | PortMap::Keep)
    }

    /// The new source address of a packet from `saddr` to `daddr`, or `None` if the
    /// address does not change. Only the first `addr_len` bytes are meaningful.
    #[inline(always)]
    pub fn map_addr(&self, saddr: &[u8], daddr: &[u8]) -> Option<[u8; 16]> {
        let new = match &self.addr {
            // The one address of a fixed mapping needs no work: inline.
            AddrMap::Fixed(a) => *a,
            AddrMap::Keep => return None,
            _ => self.pick_addr(saddr, daddr)?,
        };
        (!addr_eq(self.family, &new, saddr)).then_some(new)
    }

    /// The address of a range or a prefix mapping (`None` for [`AddrMap::Keep`]).
    #[inline(never)]
    fn pick_addr(&self, saddr: &[u8], daddr: &[u8]) -> Option<[u8; 16]> {
        match &self.addr {
            AddrMap::Keep => None,
            AddrMap::Fixed(a) => Some(*a),
            AddrMap::Range { min, max } => {
                // (addresses of a length known at compile time: the hash unrolls)
                let h = match self.family {
                    Family::V4 => hash::addr_hash(self.seed, chunk::<4>(saddr, 0)?, chunk::<4>(daddr, 0)?),
                    Family::V6 => hash::addr_hash(self.seed, chunk::<16>(saddr, 0)?, chunk::<16>(daddr, 0)?),
                };
                let mut new = *min;
                // The low 64 bits vary (IPv4: the low 32 bits of an 8-byte window).
                let (lo, len) = if self.family == Family::V4 { (0, 4) } else { (8, 8) };
                let mut a = [0u8; 8];
                let mut b = [0u8; 8];
                a[8 - len..].copy_from_slice(&min[lo..lo + len]);
                b[8 - len..].copy_from_slice(&max[lo..lo + len]);
                let (a, b) = (u64::from_be_bytes(a), u64::from_be_bytes(b));
                let x = a.wrapping_add(hash::pick(h, b.saturating_sub(a)));
                new[lo..lo + len].copy_from_slice(&x.to_be_bytes()[8 - len..]);
                Some(new)
            }
            AddrMap::Prefix { base, len } => {
                // Network bits from `base`, host bits from the packet, 64 bits at a time.
                let len = u32::from(*len);
                let mut new = *base;
                match self.family {
                    Family::V4 => {
                        let mask = (top_bits(len.min(32)) >> 32) as u32;
                        let s = u32::from_be_bytes(*chunk::<4>(saddr, 0)?);
                        let b = u32::from_be_bytes(*chunk::<4>(base, 0)?);
                        new[..4].copy_from_slice(&((b & mask) | (s & !mask)).to_be_bytes());
                    }
                    Family::V6 => {
                        for (half, bits) in [(0usize, len.min(64)), (8, len.saturating_sub(64).min(64))] {
                            let mask = top_bits(bits);
                            let s = u64::from_be_bytes(*chunk::<8>(saddr, half)?);
                            let b = u64::from_be_bytes(*chunk::<8>(base, half)?);
                            new[half..half + 8].copy_from_slice(&((b & mask) | (s & !mask)).to_be_bytes());
                        }
                    }
                }
                Some(new)
            }
        }
    }

    /// The new source port (or ICMP echo identifier) of a flow, or `None` if it does not
    /// change. The destination port is read (`dport()`) only when a range needs it.
    #[inline(always)]
    pub fn map_port(
        &self,
        saddr: &[u8],
        daddr: &[u8],
        proto: u8,
        sport: u16,
        dport: impl FnOnce() -> u16,
    ) -> Option<u16> {
        let new = match self.ports {
            PortMap::Fixed(p) => p,
            PortMap::Keep => return None,
            PortMap::Range(min, max) => self.pick_port(saddr, daddr, proto, sport, dport(), min, max),
        };
        (new != sport).then_some(new)
    }

    /// The port of a range, by a hash of the flow.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn pick_port(&self, saddr: &[u8], daddr: &[u8], proto: u8, sport: u16, dport: u16, min: u16, max: u16) -> u16 {
        let h = match (self.family, chunk::<4>(saddr, 0), chunk::<4>(daddr, 0), chunk::<16>(saddr, 0), chunk::<16>(daddr, 0)) {
            (Family::V4, Some(s), Some(d), _, _) => hash::flow_hash(self.seed, s, d, proto, sport, dport),
            (Family::V6, _, _, Some(s), Some(d)) => hash::flow_hash(self.seed, s, d, proto, sport, dport),
            _ => hash::flow_hash(self.seed, saddr, daddr, proto, sport, dport),
        };
        let off = hash::pick(u64::from(h) << 32, u64::from(max.saturating_sub(min)));
        min.wrapping_add(off as u16)
    }
}

/// Whether the first `addr_len` bytes of `a` and `b` are the same address (the length
/// known at compile time: a word compare, no loop).
#[inline(always)]
fn addr_eq(family: Family, a: &[u8; 16], b: &[u8]) -> bool {
    match family {
        Family::V4 => chunk::<4>(a, 0) == chunk::<4>(b, 0),
        Family::V6 => Some(a) == chunk::<16>(b, 0),
    }
}

/// The change from address `old` to `new` (`addr_len` bytes).
#[inline(always)]
fn addr_delta(family: Family, old: &[u8], new: &[u8; 16]) -> Result<Delta, Skip> {
    match family {
        Family::V4 => {
            let (old, new) = (chunk::<4>(old, 0).ok_or(Skip::Truncated)?, chunk::<4>(new, 0).ok_or(Skip::Truncated)?);
            Ok(Delta::of_addr(old, new))
        }
        Family::V6 => Ok(Delta::of_addr(chunk::<16>(old, 0).ok_or(Skip::Truncated)?, new)),
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
    /// A `--profile` rule's packet whose destination has no entry in the profile,
    /// which has no mapping of its own (never returned by the planner: the kernel's
    /// entry lookup decides it).
    NoEntry = 6,
}

/// Number of [`Skip`] reasons.
pub const SKIP_REASONS: usize = 7;

impl Skip {
    /// All reasons, in counter order.
    pub const ALL: [Skip; SKIP_REASONS] =
        [Skip::Truncated, Skip::Malformed, Skip::HeaderChain, Skip::NoPort, Skip::Unchanged, Skip::NoMemory, Skip::NoEntry];

    /// Short name, as shown with the counters.
    pub fn name(self) -> &'static str {
        match self {
            Skip::Truncated => "truncated",
            Skip::Malformed => "malformed",
            Skip::HeaderChain => "header-chain",
            Skip::NoPort => "no-port",
            Skip::Unchanged => "unchanged",
            Skip::NoMemory => "no-memory",
            Skip::NoEntry => "no-entry",
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

impl Check {
    /// A plain Internet checksum over data that includes the changed bytes.
    const fn plain(off: usize, pseudo: bool) -> Check {
        Check { off, pseudo, mangle_zero: false, zero_is_none: false, partial: false }
    }

    /// The field's new value, for a change `pseudo` of the pseudo-header and `data` of
    /// the bytes it covers.
    #[inline(always)]
    fn update(&self, old: u16, pseudo: Delta, data: Delta) -> u16 {
        let pseudo = if self.pseudo { pseudo } else { Delta::ZERO };
        if self.partial {
            // The device sums the data (ports included): only the pseudo-header moves.
            pseudo.update_sum(old)
        } else if self.zero_is_none && old == 0 {
            0
        } else {
            let v = pseudo.plus(data).update_check(old);
            if self.mangle_zero && v == 0 {
                0xffff
            } else {
                v
            }
        }
    }
}

/// Most 16-bit fields one packet's rewrite stores: an ICMP error's IPv4 header
/// checksum, quoted header checksum, quoted port, quoted L4 checksum and its own
/// checksum.
const MAX_WORDS: usize = 5;

/// The 16-bit stores of a plan, and how far into the packet all of its stores reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Writes {
    words: [(u16, u16); MAX_WORDS],
    n: u8,
    /// End of the furthest byte written, from the network header.
    end: usize,
}

impl Writes {
    /// Stores `new` at `off` (read from `head` first: returns the change).
    #[inline]
    fn word(&mut self, head: &[u8], off: usize, new: u16) -> Result<Delta, Skip> {
        let old = word(head, off)?;
        self.put(off, new)?;
        Ok(Delta::word(old, new))
    }

    /// Recomputes checksum field `c` of `head` for the changes `pseudo` and `data`;
    /// returns the change of the field itself.
    #[inline]
    fn check(&mut self, head: &[u8], c: &Check, pseudo: Delta, data: Delta) -> Result<Delta, Skip> {
        let old = word(head, c.off)?;
        let new = c.update(old, pseudo, data);
        self.put(c.off, new)?;
        Ok(Delta::word(old, new))
    }

    #[inline]
    fn put(&mut self, off: usize, v: u16) -> Result<(), Skip> {
        // Offsets lie within MAX_PLAN_LEN bytes (the caller read the field there).
        let off16 = u16::try_from(off).map_err(|_| Skip::HeaderChain)?;
        let slot = self.words.get_mut(usize::from(self.n)).ok_or(Skip::Malformed)?;
        *slot = (off16, v);
        self.n += 1;
        self.reach(off + 2);
        Ok(())
    }

    #[inline]
    fn reach(&mut self, end: usize) {
        self.end = self.end.max(end);
    }
}

/// What [`plan`] found: the new field values, for [`apply`] to store.
///
/// # Invariants
///
/// Every store (the source address, the quoted destination address, each word, and
/// the SCTP CRC range) lies within the first `write_len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    family: Family,
    /// The new source address, if it changes.
    saddr: Option<[u8; 16]>,
    /// ICMP errors: the offset of the quoted packet's destination address, and its new
    /// value.
    inner_daddr: Option<(usize, [u8; 16])>,
    writes: Writes,
    /// SCTP: the CRC32c to compute over `l4_off..end` once the port is stored.
    crc: Option<(usize, usize)>,
    done: Sums,
    /// Bytes from the network header on that [`apply`] reads and writes.
    pub write_len: usize,
}

/// What a rewrite changed, for the caller to keep `CHECKSUM_COMPLETE` sums right.
///
/// The sums are kept as the rewrite made them (in memory order, unfolded) and turned
/// into numbers only when asked for: most packets have no `CHECKSUM_COMPLETE` sum, and
/// their path does no work for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rewritten {
    l3: Delta,
    l4: Delta,
    /// A checksum field's old and new value (memory order), whose change belongs to
    /// `l4` too: added only when asked for.
    check: (u16, u16),
}

impl Rewritten {
    /// From sums in numeric order.
    #[inline]
    fn numeric(s: Sums) -> Rewritten {
        Rewritten { l3: s.l3_delta.to_memory_order(), l4: s.l4_delta.to_memory_order(), check: (0, 0) }
    }

    /// Sum of the changes inside the network header (zero for IPv4, whose header
    /// checksum absorbs them), numeric and folded.
    #[inline]
    pub fn l3_delta(&self) -> Delta {
        self.l3.from_memory_order()
    }

    /// Sum of the changes from the L4 header on, numeric and folded.
    #[inline]
    pub fn l4_delta(&self) -> Delta {
        self.l4.plus(Delta::word(self.check.0, self.check.1)).from_memory_order()
    }
}

/// The sums of a [`Plan`], in numeric order (see [`Rewritten`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sums {
    l3_delta: Delta,
    l4_delta: Delta,
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    chunk::<2>(b, off).map(|w| u16::from_be_bytes(*w))
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

#[inline]
fn parse_l3(family: Family, head: &[u8], pkt_len: usize) -> Result<L3, Skip> {
    match family {
        Family::V4 => {
            let ip = match chunk::<20>(head, 0) {
                Some(ip) if pkt_len >= 20 => ip,
                _ => return Err(Skip::Truncated),
            };
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if ip[0] >> 4 != 4 || ihl < 20 {
                return Err(Skip::Malformed);
            }
            let tot = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            // A zero total length is how BIG TCP GSO packets say "the skb's length".
            let end = if tot == 0 { pkt_len } else { tot };
            if end < ihl || end > pkt_len {
                return Err(Skip::Malformed);
            }
            let frag = u16::from_be_bytes([ip[6], ip[7]]);
            Ok(L3 { family, l4_off: ihl, end, proto: ip[9], first: frag & 0x1fff == 0, fragmented: frag & 0x3fff != 0 })
        }
        Family::V6 => {
            let ip = match chunk::<40>(head, 0) {
                Some(ip) if pkt_len >= 40 => ip,
                _ => return Err(Skip::Truncated),
            };
            if ip[0] >> 4 != 6 {
                return Err(Skip::Malformed);
            }
            let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            // Zero: a jumbogram or a BIG TCP packet; the skb's length rules.
            let end = if plen == 0 { pkt_len } else { 40 + plen };
            if end > pkt_len {
                return Err(Skip::Malformed);
            }
            let mut nh = ip[6];
            let mut off = 40;
            let mut first = true;
            let mut fragmented = false;
            let mut n = 0;
            // Walk the extension headers up to the upper-layer header; a fragment
            // that is not the first has none.
            while first {
                let len = match nh {
                    proto::HOPOPTS if off != 40 => return Err(Skip::Malformed),
                    proto::HOPOPTS | proto::ROUTING | proto::DSTOPTS => {
                        (usize::from(*head.get(off + 1).ok_or_else(|| ext_missing(off + 2, end))?) + 1) * 8
                    }
                    proto::FRAGMENT => {
                        let frag = be16(head, off + 2).ok_or_else(|| ext_missing(off + 4, end))?;
                        fragmented = true;
                        first = frag & 0xfff8 == 0;
                        8
                    }
                    _ => break,
                };
                nh = *head.get(off).ok_or_else(|| ext_missing(off + 1, end))?;
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

/// Why an IPv6 extension header's bytes up to `want` cannot be read: they lie past
/// the packet's end (malformed: the chain announces a header that is not there, as
/// one whose length runs past the end), or past the bytes the plan sees
/// ([`MAX_PLAN_LEN`]).
#[inline]
fn ext_missing(want: usize, end: usize) -> Skip {
    if want > end {
        Skip::Malformed
    } else {
        Skip::HeaderChain
    }
}

/// Whether the L4 header's first `need` bytes are inside both the packet and `head`
/// (which holds the whole packet or [`MAX_PLAN_LEN`] bytes of it).
#[inline]
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
/// `min(pkt_len, MAX_PLAN_LEN)` of them; only the first [`MAX_PLAN_LEN`] are read);
/// `pkt_len` is the number of bytes the packet really has from the network header on;
/// `csum_start` is where a pending `CHECKSUM_PARTIAL` checksum starts, relative to the
/// network header.
pub fn plan(head: &[u8], pkt_len: usize, map: &Mapping, csum_start: Option<usize>) -> Result<Plan, Skip> {
    plan_any(head.get(..MAX_PLAN_LEN).unwrap_or(head), pkt_len, map, csum_start)
}

/// Where a packet goes, as a profile's entries are keyed: protocol, destination address
/// and destination port. The kernel's entry table hashes and compares these 20 bytes
/// as they are (its C side declares the same struct: `struct ssnat_entry_key`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dest {
    /// Destination address, network byte order; an IPv4 address fills the first 4
    /// bytes and the rest is zero.
    pub addr: [u8; 16],
    /// Destination port, network byte order; zero for a packet without ports (another
    /// protocol, a fragment that is not the first).
    pub port: [u8; 2],
    /// IP protocol of the transport header (after any IPv6 extension headers).
    pub proto: u8,
    /// `NFPROTO_IPV4` or `NFPROTO_IPV6`.
    pub family: u8,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<Dest>() == 20);
    assert!(offset_of!(Dest, port) == 16 && offset_of!(Dest, proto) == 18 && offset_of!(Dest, family) == 19);
};

/// Protocols whose packets have a destination port at bytes 2..4 of their header.
pub const DEST_PORT_PROTOCOLS: [u8; 5] = [proto::TCP, proto::UDP, proto::DCCP, proto::SCTP, proto::UDPLITE];

impl Dest {
    /// The key of `port` (host order) of protocol `proto` at `addr` (4 or 16 bytes,
    /// network order), or `None` for another length.
    pub fn new(addr: &[u8], port: u16, proto: u8) -> Option<Dest> {
        let family = match addr.len() {
            4 => abi::NFPROTO_IPV4,
            16 => abi::NFPROTO_IPV6,
            _ => return None,
        };
        let mut a = [0u8; 16];
        a[..addr.len()].copy_from_slice(addr);
        Some(Dest { addr: a, port: port.to_be_bytes(), proto, family })
    }
}

/// Reads where a packet of `family` goes: the key of the entry a profile would have for
/// it. `head` and `pkt_len` are as for [`plan`]. A packet whose headers cannot be read
/// gets the reason, as the planner would give it.
pub fn destination(head: &[u8], pkt_len: usize, family: Family) -> Result<Dest, Skip> {
    let head = head.get(..MAX_PLAN_LEN).unwrap_or(head);
    let l3 = parse_l3(family, head, pkt_len)?;
    let n = family.addr_len();
    let off = family.daddr_off();
    // parse_l3 read the whole fixed header, the destination address included.
    let src = head.get(off..off + n).ok_or(Skip::Truncated)?;
    let mut key = Dest {
        addr: [0; 16],
        port: [0; 2],
        proto: l3.proto,
        family: if family == Family::V6 { abi::NFPROTO_IPV6 } else { abi::NFPROTO_IPV4 },
    };
    key.addr[..n].copy_from_slice(src);
    if l3.first && DEST_PORT_PROTOCOLS.contains(&l3.proto) {
        have(&l3, head, 4)?;
        let p = l3.l4_off + 2;
        key.port = [head[p], head[p + 1]];
    }
    Ok(key)
}

/// What [`rewrite`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The packet is rewritten.
    Done(Rewritten),
    /// The packet is left as it is, for this reason.
    Skipped(Skip),
    /// The rewrite needs `plan.write_len` writable bytes, more than were given: make
    /// them writable and [`apply`] the plan. Nothing is written yet.
    Later(Plan),
}

/// Rewrites the packet whose first `pkt.len()` bytes from the network header on are
/// writable: the whole packet, or a prefix of it of at least
/// `min(pkt_len, MAX_PLAN_LEN)` bytes, as [`plan`] needs (with less, use
/// [`rewrite_common`] alone); `pkt_len` and `csum_start` as for [`plan`].
///
/// Common packets go straight through ([`rewrite_common`]); any other is planned and
/// applied, or handed back when its rewrite reaches past the bytes given. Either way
/// the bytes and sums come out as [`plan`] and [`apply`] make them.
#[inline(always)]
pub fn rewrite(pkt: &mut [u8], pkt_len: usize, map: &Mapping, csum_start: Option<usize>) -> Outcome {
    match rewrite_common(pkt, pkt_len, map, csum_start) {
        Some(Ok(done)) => Outcome::Done(done),
        Some(Err(why)) => Outcome::Skipped(why),
        None => rewrite_other(pkt, pkt_len, map, csum_start),
    }
}

/// [`rewrite`] of any packet the common path leaves ([`rewrite_common`] returned
/// `None`), with the same requirements; kept out of line, so that the common path
/// stays small.
#[inline(never)]
pub fn rewrite_other(pkt: &mut [u8], pkt_len: usize, map: &Mapping, csum_start: Option<usize>) -> Outcome {
    match plan(pkt, pkt_len, map, csum_start) {
        Err(why) => Outcome::Skipped(why),
        Ok(p) if p.write_len > pkt.len() => Outcome::Later(p),
        Ok(p) => match apply(pkt, &p) {
            Ok(done) => Outcome::Done(done),
            Err(why) => Outcome::Skipped(why),
        },
    }
}

/// The common case, straight through, in place: an IPv4 header without options or an
/// IPv6 header without extension headers, not a fragment, followed by a TCP, UDP or
/// SCTP header or an ICMP/ICMPv6 echo message that `pkt` holds whole (SCTP: the whole
/// packet). Writes exactly what [`plan`] and [`apply`] would (a host test and the fuzz
/// target hold the two to that) and returns the sums, or the reason `plan` gives when
/// nothing changes ([`Skip::Unchanged`]); for any other packet it returns `None`
/// having written nothing.
#[inline(always)]
pub fn rewrite_common(
    pkt: &mut [u8],
    pkt_len: usize,
    map: &Mapping,
    csum_start: Option<usize>,
) -> Option<Result<Rewritten, Skip>> {
    common_l3::<false>(pkt, pkt_len, map, csum_start)
}

/// [`rewrite_common`] of the most common packets only: a TCP or UDP packet rewritten
/// to one address (or none) and one port (or none), the mappings that hash nothing
/// ([`Mapping::is_fixed`]); `None`, having written nothing, for any other. It calls no
/// function, so that a caller that tries it first can stay a leaf.
/// (The mapping is looked at where the common path looks at it, once: a range's packet
/// has its headers checked before `None`.)
#[inline(always)]
pub fn rewrite_fast(
    pkt: &mut [u8],
    pkt_len: usize,
    map: &Mapping,
    csum_start: Option<usize>,
) -> Option<Result<Rewritten, Skip>> {
    common_l3::<true>(pkt, pkt_len, map, csum_start)
}

/// [`rewrite_common`], or with `FAST` [`rewrite_fast`]: checks the L3 header.
#[inline(always)]
fn common_l3<const FAST: bool>(
    pkt: &mut [u8],
    pkt_len: usize,
    map: &Mapping,
    csum_start: Option<usize>,
) -> Option<Result<Rewritten, Skip>> {
    match map.family {
        Family::V4 => {
            let ip = chunk::<20>(pkt, 0)?;
            let tot = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            // Version 4, no options, not a fragment, a total length that fits.
            if ip[0] != 0x45 || ip[6] & 0x3f != 0 || ip[7] != 0 || tot < 20 || tot > pkt_len {
                return None;
            }
            let proto = ip[9];
            common::<4, FAST>(pkt, 20, tot, proto, map, csum_start)
        }
        Family::V6 => {
            let ip = chunk::<40>(pkt, 0)?;
            let end = 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            // Version 6, a payload length that is not zero (jumbo) and fits.
            if ip[0] >> 4 != 6 || end == 40 || end > pkt_len {
                return None;
            }
            let proto = ip[6];
            common::<16, FAST>(pkt, 40, end, proto, map, csum_start)
        }
    }
}

/// [`rewrite_common`] for addresses of `N` bytes (4: IPv4, 16: IPv6), the L4 header at
/// `l4_off`, the packet ending at `end`: checks the L4 header, then hands each
/// protocol's constants to [`finish`], which is compiled once for each. `FAST`: TCP
/// and UDP only, `map` fixed ([`rewrite_fast`]).
#[inline(always)]
fn common<const N: usize, const FAST: bool>(
    pkt: &mut [u8],
    l4_off: usize,
    end: usize,
    proto: u8,
    map: &Mapping,
    csum_start: Option<usize>,
) -> Option<Result<Rewritten, Skip>> {
    let v4 = N == 4;
    let partial = csum_start == Some(l4_off);
    let room = end.checked_sub(l4_off)?;
    // The L4 header's first 8 bytes hold both ports (or the echo identifier) and, but
    // for TCP and SCTP, the checksum.
    let h = chunk::<8>(pkt, l4_off)?;
    let be = |w: &[u8]| match w.first_chunk::<2>() {
        Some(w) => u16::from_be_bytes(*w),
        None => 0,
    };
    let l4 = L4 { off: l4_off, end, proto, sport: be(&h[0..2]), dport_off: Some(l4_off + 2) };
    match proto {
        proto::TCP => {
            let t = chunk::<20>(pkt, l4_off)?;
            if room < 20 || t[12] >> 4 < 5 {
                return None;
            }
            let c = Check { off: l4_off + 16, pseudo: true, mangle_zero: false, zero_is_none: false, partial };
            finish::<N, FAST>(pkt, map, l4, 0, Some(c))
        }
        proto::UDP => {
            let len = usize::from(be(&h[4..6]));
            if len < 8 || len > room {
                return None;
            }
            let c = Check { off: l4_off + 6, pseudo: true, mangle_zero: true, zero_is_none: v4, partial };
            finish::<N, FAST>(pkt, map, l4, 0, Some(c))
        }
        _ if FAST => None,
        proto::SCTP => {
            if room < 12 || pkt.len() < l4_off + 12 {
                return None;
            }
            // No pseudo-header; the CRC32c covers the port unless the device computes it.
            finish::<N, FAST>(pkt, map, L4 { end: if partial { 0 } else { end }, ..l4 }, 0, None)
        }
        proto::ICMP | proto::ICMPV6 if (proto == proto::ICMP) == v4 => {
            let echo = if v4 { h[0] == 0 || h[0] == 8 } else { h[0] == 128 || h[0] == 129 };
            if !echo || room < 8 {
                return None;
            }
            // The identifier plays the source port, with no destination port.
            let c = Check { off: l4_off + 2, pseudo: !v4, mangle_zero: false, zero_is_none: false, partial };
            let id = be(&h[4..6]);
            finish::<N, FAST>(pkt, map, L4 { sport: id, dport_off: None, ..l4 }, 4, Some(c))
        }
        _ => None,
    }
}

/// The L4 facts [`finish`] works from.
#[derive(Clone, Copy)]
struct L4 {
    /// Offset of the L4 header.
    off: usize,
    /// End of the packet; SCTP: of the bytes its CRC32c covers, or 0 when the device
    /// computes it.
    end: usize,
    proto: u8,
    /// The flow's source port (or echo identifier), and where its destination port is
    /// (none for an echo: 0).
    sport: u16,
    dport_off: Option<usize>,
}

/// The rest of [`rewrite_common`]: maps the source, then stores address, port (at
/// `port_off` into the L4 header) and checksums, or SCTP's CRC32c when `check` is
/// `None`. `FAST`: `map` is fixed ([`Mapping::is_fixed`]) and `check` is not `None`.
#[inline(always)]
fn finish<const N: usize, const FAST: bool>(
    pkt: &mut [u8],
    map: &Mapping,
    l4: L4,
    port_off: usize,
    check: Option<Check>,
) -> Option<Result<Rewritten, Skip>> {
    let v4 = N == 4;
    let (saddr_off, daddr_off) = if v4 { (12, 16) } else { (8, 24) };
    // The old source is kept for its checksum delta.
    let saddr = *chunk::<N>(pkt, saddr_off)?;
    let (new_saddr, new_port) = match (&map.addr, map.ports) {
        // `--to-source ADDR:PORT`, the most common mapping, straight: nothing else
        // has to be kept at hand for it.
        (AddrMap::Fixed(a), PortMap::Fixed(p)) => {
            ((chunk::<N>(a, 0)? != &saddr).then_some(*a), (p != l4.sport).then_some(p))
        }
        // The other mappings that hash nothing ([`rewrite_fast`]'s), straight too.
        (addr, ports) if FAST => (
            match addr {
                AddrMap::Fixed(a) => (chunk::<N>(a, 0)? != &saddr).then_some(*a),
                AddrMap::Keep => None,
                _ => return None,
            },
            match ports {
                PortMap::Fixed(p) => (p != l4.sport).then_some(p),
                PortMap::Keep => None,
                PortMap::Range(..) => return None,
            },
        ),
        _ => {
            // The addresses are read in place (a hash of a range reads them there, not
            // from a copy).
            let (saddr_in, daddr_in) = (chunk::<N>(pkt, saddr_off)?, chunk::<N>(pkt, daddr_off)?);
            let dport = || l4.dport_off.and_then(|off| be16(pkt, off)).unwrap_or(0);
            (map.map_addr(saddr_in, daddr_in), map.map_port(saddr_in, daddr_in, l4.proto, l4.sport, dport))
        }
    };
    // SCTP's CRC covers the whole packet: it must all be here.
    let crc = check.is_none() && new_port.is_some() && l4.end != 0;
    if new_saddr.is_none() && new_port.is_none() {
        // The packet has a port (the protocols here all do): `plan` says the same.
        return Some(Err(Skip::Unchanged));
    }
    if crc && pkt.len() < l4.end {
        // More to do than the bytes given allow.
        return None;
    }
    // Checksums are read, updated and stored in memory order (no byte swaps: see
    // `Delta::of_addr_memory_order`); the sums returned are turned back at the end.
    let raw = |off: usize| chunk::<2>(pkt, off).map(|w| u16::from_ne_bytes(*w));
    let mem = |v: u16| u16::from_ne_bytes(v.to_be_bytes());
    let old_check = match &check {
        Some(c) => Some(raw(c.off)?),
        None => None,
    };
    let old_ipc = if v4 { raw(10)? } else { 0 };

    // Every offset below was read above: no store can fail.
    let mut l3 = Delta::ZERO;
    let mut pseudo = Delta::ZERO;
    if let Some(new) = &new_saddr {
        let new = chunk::<N>(new, 0)?;
        pseudo = Delta::of_addr_memory_order(&saddr, new);
        if v4 {
            // The header checksum absorbs the change (RFC 1624: ~HC' = ~HC - m + m'):
            // the header's sum stays as it was, modulo 0xffff, and `l3` stays zero.
            let ipc = pseudo.update_check(old_ipc);
            store(pkt, 10, &ipc.to_ne_bytes());
        } else {
            l3 = pseudo;
        }
        store(pkt, saddr_off, new);
    }
    let mut data = Delta::ZERO;
    if let Some(p) = new_port {
        data = Delta::word(mem(l4.sport), mem(p));
        store(pkt, l4.off + port_off, &p.to_be_bytes());
    }
    let mut done = Rewritten { l3, l4: data, check: (0, 0) };
    if let (Some(c), Some(old)) = (&check, old_check) {
        let new = c.update(old, pseudo, data);
        store(pkt, c.off, &new.to_ne_bytes());
        done.check = (old, new);
    }
    if crc {
        done.l4 = done.l4.plus(store_crc(pkt, l4.off, l4.end).to_memory_order());
    }
    Some(Ok(done))
}

/// Recomputes and stores the CRC32c of the SCTP packet at `start..end` of `pkt`;
/// returns the change of the field.
#[inline(never)]
fn store_crc(pkt: &mut [u8], start: usize, end: usize) -> Delta {
    let Some(sctp) = pkt.get_mut(start..end) else { return Delta::ZERO };
    let new = crc32c::sctp_checksum(sctp);
    match sctp.get_mut(8..12) {
        Some(field) => {
            let d = Delta::of(field, &new);
            field.copy_from_slice(&new);
            d
        }
        None => Delta::ZERO,
    }
}

/// Any packet: the general planner.
#[inline(never)]
fn plan_any(head: &[u8], pkt_len: usize, map: &Mapping, csum_start: Option<usize>) -> Result<Plan, Skip> {
    let family = map.family;
    let l3 = parse_l3(family, head, pkt_len)?;
    let n = family.addr_len();
    // parse_l3 checked that the whole fixed header is there.
    let saddr = head.get(family.saddr_off()..family.saddr_off() + n).ok_or(Skip::Truncated)?;
    let daddr = head.get(family.daddr_off()..family.daddr_off() + n).ok_or(Skip::Truncated)?;
    let new_saddr = map.map_addr(saddr, daddr);
    let mut w = Writes { words: [(0, 0); MAX_WORDS], n: 0, end: 0 };
    let mut done = Sums::default();

    // The source address, and the IPv4 header checksum, which absorbs its change.
    let mut pseudo = Delta::ZERO;
    if let Some(new) = &new_saddr {
        pseudo = addr_delta(family, saddr, new)?;
        w.reach(family.saddr_off() + n);
        done.l3_delta = pseudo;
        if family == Family::V4 {
            done.l3_delta = pseudo.plus(w.check(head, &Check::plain(10, true), pseudo, Delta::ZERO)?);
        }
    }

    let l4_off = l3.l4_off;
    let port_at = |off: usize, proto: u8, dport_off: Option<usize>| -> Result<Option<(usize, u16)>, Skip> {
        let sport = word(head, l4_off + off)?;
        let dport = match dport_off {
            Some(d) => word(head, l4_off + d)?,
            None => 0,
        };
        Ok(map.map_port(saddr, daddr, proto, sport, || dport).map(|p| (l4_off + off, p)))
    };
    // A port (or identifier) and the 16-bit checksum over it: the L4 change.
    let inet = |w: &mut Writes, port: Option<(usize, u16)>, check: &Check| -> Result<Delta, Skip> {
        let data = match port {
            Some((off, p)) => w.word(head, off, p)?,
            None => Delta::ZERO,
        };
        Ok(data.plus(w.check(head, check, pseudo, data)?))
    };

    // Whether the packet has a port (or echo identifier) a mapping could change, and
    // whether anything from the L4 header on changes.
    let mut port_slot = false;
    let mut moves = false;
    let mut inner_daddr = None;
    let mut crc = None;
    if l3.first {
        match (l3.proto, family) {
            (proto::TCP, _) => {
                have(&l3, head, 20)?;
                if byte(head, l4_off + 12)? >> 4 < 5 {
                    return Err(Skip::Malformed);
                }
                port_slot = true;
                let port = port_at(0, l3.proto, Some(2))?;
                moves = port.is_some();
                done.l4_delta = inet(&mut w, port, &inet_check(&l3, 16, true, csum_start))?;
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
                port_slot = true;
                let mut check = inet_check(&l3, 6, true, csum_start);
                check.mangle_zero = true;
                check.zero_is_none = l3.proto == proto::UDP && family == Family::V4;
                let port = port_at(0, l3.proto, Some(2))?;
                moves = port.is_some();
                done.l4_delta = inet(&mut w, port, &check)?;
            }
            (proto::DCCP, _) => {
                have(&l3, head, 12)?;
                port_slot = true;
                let port = port_at(0, l3.proto, Some(2))?;
                moves = port.is_some();
                done.l4_delta = inet(&mut w, port, &inet_check(&l3, 6, true, csum_start))?;
            }
            (proto::SCTP, _) => {
                have(&l3, head, 12)?;
                port_slot = !l3.fragmented;
                match port_at(0, l3.proto, Some(2))? {
                    // A fragment does not carry the whole packet the CRC covers: the
                    // port is left alone (SCTP avoids fragmentation; see the README).
                    Some(_) if l3.fragmented => {}
                    Some((off, port)) => {
                        moves = true;
                        done.l4_delta = w.word(head, off, port)?;
                        if csum_start != Some(l4_off) {
                            crc = Some((l4_off, l3.end));
                            w.reach(l3.end);
                        }
                    }
                    None => {}
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
                    port_slot = true;
                    let port = port_at(4, l3.proto, None)?;
                    moves = port.is_some();
                    done.l4_delta = inet(&mut w, port, &check)?;
                } else if error {
                    let (data, daddr) = plan_inner(head, &l3, map, saddr, &mut w)?;
                    moves = !data.1;
                    inner_daddr = daddr;
                    done.l4_delta = data.0.plus(w.check(head, &check, pseudo, data.0)?);
                } else if v6 {
                    done.l4_delta = inet(&mut w, None, &check)?;
                }
            }
            (proto::OSPF, Family::V6) => {
                have(&l3, head, 14)?;
                done.l4_delta = inet(&mut w, None, &inet_check(&l3, 12, true, csum_start))?;
            }
            (proto::PIM, Family::V6) => {
                have(&l3, head, 4)?;
                done.l4_delta = inet(&mut w, None, &inet_check(&l3, 2, true, csum_start))?;
            }
            _ => {}
        }
    }

    if new_saddr.is_none() && !moves {
        return Err(if map.addr == AddrMap::Keep && !port_slot { Skip::NoPort } else { Skip::Unchanged });
    }
    if w.end > head.len() && crc.is_none() {
        // Everything but SCTP's CRC (which needs the whole packet, made writable by the
        // caller) lies within the headers read.
        return Err(Skip::HeaderChain);
    }
    // INVARIANT: every store went through `w`, which reached past it.
    Ok(Plan { family, saddr: new_saddr, inner_daddr, writes: w, crc, done, write_len: w.end })
}

/// Plans the translation of the packet quoted in an ICMP error into `w`. Returns the
/// change of the quoted bytes (for the ICMP checksum) and whether nothing in them
/// moves, and the quoted destination address to store.
#[allow(clippy::type_complexity)]
fn plan_inner(
    head: &[u8],
    l3: &L3,
    map: &Mapping,
    outer_saddr: &[u8],
    w: &mut Writes,
) -> Result<((Delta, bool), Option<(usize, [u8; 16])>), Skip> {
    let none = Ok(((Delta::ZERO, true), None));
    let family = l3.family;
    let n = family.addr_len();
    let ip = l3.l4_off + 8;
    // Bytes of the quote that are really there.
    let avail = l3.end.min(head.len());
    let (ihl, iproto, ifirst) = match family {
        Family::V4 => {
            let b0 = match head.get(ip) {
                Some(&b) if ip + 20 <= avail => b,
                _ => return none,
            };
            let ihl = usize::from(b0 & 0x0f) * 4;
            if b0 >> 4 != 4 || ihl < 20 || ip + ihl > avail {
                return none;
            }
            (ihl, byte(head, ip + 9)?, word(head, ip + 6)? & 0x1fff == 0)
        }
        Family::V6 => {
            if ip + 40 > avail || byte(head, ip)? >> 4 != 6 {
                return none;
            }
            // Extension headers in the quote are not walked: address only then.
            (40, byte(head, ip + 6)?, true)
        }
    };
    let isaddr = head.get(ip + family.saddr_off()..ip + family.saddr_off() + n).ok_or(Skip::Truncated)?;
    let idaddr = head.get(ip + family.daddr_off()..ip + family.daddr_off() + n).ok_or(Skip::Truncated)?;
    // Only an error about a packet sent to the translated host itself is translated.
    if idaddr != outer_saddr {
        return none;
    }
    let mut data = Delta::ZERO;
    let mut ipseudo = Delta::ZERO;
    let mut daddr = None;
    // The quoted packet went from the peer to us: its flow, seen from our side, is
    // (our address, our port) -> (peer, peer's port).
    if let Some(new) = map.map_addr(idaddr, isaddr) {
        ipseudo = addr_delta(family, idaddr, &new)?;
        data = ipseudo;
        daddr = Some((ip + family.daddr_off(), new));
        w.reach(ip + family.daddr_off() + n);
        if family == Family::V4 {
            data = data.plus(w.check(head, &Check::plain(ip + 10, true), ipseudo, Delta::ZERO)?);
        }
    }
    let l4 = ip + ihl;
    let mut idata = Delta::ZERO;
    let mut port_moved = false;
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
                if let Some(p) = map.map_port(idaddr, isaddr, iproto, dport, || sport) {
                    idata = w.word(head, l4 + dport_off, p)?;
                    data = data.plus(idata);
                    port_moved = true;
                }
            }
        }
        if let Some((off, pseudo, zero)) = check {
            if l4 + off + 2 <= avail && (daddr.is_some() || port_moved) {
                let zero_is_none = zero && family == Family::V4;
                let c = Check { off: l4 + off, pseudo, mangle_zero: zero, zero_is_none, partial: false };
                data = data.plus(w.check(head, &c, ipseudo, idata)?);
            }
        }
    }
    let still = daddr.is_none() && !port_moved;
    Ok(((data, still), daddr))
}

/// Stores `new` at `off` of `pkt` (within `write_len`, by the plan's invariant).
#[inline(always)]
fn store(pkt: &mut [u8], off: usize, new: &[u8]) {
    if let Some(field) = pkt.get_mut(off..off + new.len()) {
        field.copy_from_slice(new);
    }
}

/// Stores the first `addr_len` bytes of `new` at `off` (a store of known length).
#[inline(always)]
fn store_addr(pkt: &mut [u8], family: Family, off: usize, new: &[u8; 16]) {
    match family {
        Family::V4 => store(pkt, off, &new[..4]),
        Family::V6 => store(pkt, off, new),
    }
}

/// Rewrites a packet as [`plan`] planned. `pkt` must hold at least `plan.write_len`
/// writable bytes from the network header on; when it does not, nothing is written.
#[inline(always)]
pub fn apply(pkt: &mut [u8], plan: &Plan) -> Result<Rewritten, Skip> {
    let pkt = pkt.get_mut(..plan.write_len).ok_or(Skip::Truncated)?;
    // No store below can fail: each lies within `write_len` (the plan's invariant).
    if let Some(new) = &plan.saddr {
        store_addr(pkt, plan.family, plan.family.saddr_off(), new);
    }
    if let Some((off, new)) = &plan.inner_daddr {
        store_addr(pkt, plan.family, *off, new);
    }
    for &(off, v) in plan.writes.words.iter().take(usize::from(plan.writes.n)) {
        store(pkt, usize::from(off), &v.to_be_bytes());
    }
    let mut done = plan.done;
    if let Some((start, end)) = plan.crc {
        done.l4_delta = done.l4_delta.plus(store_crc(pkt, start, end));
    }
    Ok(Rewritten::numeric(done))
}

#[cfg(test)]
pub(crate) mod tests;
