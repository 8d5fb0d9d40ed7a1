// SPDX-License-Identifier: GPL-2.0
//! Stateless source rewriting of one packet held in a byte slice.
//!
//! The work is split in two so that the kernel only makes writable the bytes that
//! change: [`plan`] reads the headers from a (possibly copied) prefix of the packet
//! and says how many bytes from the network header on the rewrite touches;
//! [`apply`] then rewrites those bytes in place and fixes every checksum
//! incrementally. Neither function panics or indexes out of bounds, whatever the input.

use crate::abi::{self, SsnatInfo};
use crate::csum::Delta;

/// IP protocol numbers this module knows.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
}

/// Bytes from the network header that [`plan`] may need to see: a maximal IPv4
/// header (60) plus the largest L4 header prefix that is rewritten (TCP, 20).
pub const MAX_PLAN_LEN: usize = 80;

/// What a rule writes into the source of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// New source address (4 bytes used for IPv4), if the address changes.
    pub addr: Option<[u8; 16]>,
    /// New source port, if the port changes.
    pub port: Option<u16>,
}

impl Mapping {
    /// The mapping a validated [`SsnatInfo`] describes.
    pub fn from_info(info: &SsnatInfo) -> Mapping {
        Mapping {
            addr: (info.flags & abi::F_MAP_ADDR != 0).then_some(info.min_addr),
            port: (info.flags & abi::F_MAP_PORT != 0).then_some(info.min_port),
        }
    }
}

/// Why a packet passes unchanged. Each reason has its own counter in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Skip {
    /// Fewer bytes than the headers need.
    Truncated = 0,
    /// A header that contradicts itself: wrong version, IHL below 5, a total length
    /// shorter than the header or longer than the packet.
    Malformed = 1,
    /// Only the port was to change and the packet has no port (other protocol, or a
    /// fragment that is not the first).
    NoPort = 2,
    /// The address was to change and the protocol's checksum covers a pseudo-header
    /// this module does not know how to fix.
    UnknownProtocol = 3,
    /// Nothing would change: the packet already carries the mapped source.
    Unchanged = 4,
}

/// Number of [`Skip`] reasons.
pub const SKIP_REASONS: usize = 5;

impl Skip {
    /// Short name, as shown in counters.
    pub fn name(self) -> &'static str {
        match self {
            Skip::Truncated => "truncated",
            Skip::Malformed => "malformed",
            Skip::NoPort => "no-port",
            Skip::UnknownProtocol => "unknown-protocol",
            Skip::Unchanged => "unchanged",
        }
    }
}

/// How the L4 checksum field is to be treated (from `skb->ip_summed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Csum {
    /// The field holds the full checksum (`CHECKSUM_NONE`, `_UNNECESSARY`, `_COMPLETE`).
    Full,
    /// The field holds the pseudo-header sum, not complemented, for the device to
    /// finish (`CHECKSUM_PARTIAL`): only pseudo-header changes go into it.
    Partial,
}

/// Where the L4 checksum field is and what it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum L4 {
    /// No L4 header is rewritten: not a protocol with ports, or not the first fragment.
    None,
    /// UDP (zero checksum means "no checksum" on IPv4).
    Udp,
    /// TCP.
    Tcp,
}

/// What [`plan`] found: enough to rewrite without reading the headers again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Offset of the L4 header from the network header.
    l4_off: usize,
    /// The L4 header to fix.
    l4: L4,
    /// Whether the source address changes.
    addr: bool,
    /// Whether the source port changes.
    port: bool,
    /// Bytes from the network header on that [`apply`] reads and writes.
    pub write_len: usize,
}

/// What [`apply`] changed, for the caller to keep `CHECKSUM_COMPLETE` sums right.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// Sum of the changes inside the network header (zero for IPv4, whose header
    /// checksum absorbs them).
    pub l3_delta: Delta,
    /// Sum of the changes from the L4 header on (ports and checksum fields).
    pub l4_delta: Delta,
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]))
}

/// Reads the headers of an IPv4 packet. `head` holds the first bytes of the packet from
/// the network header on (at least `min(pkt_len, MAX_PLAN_LEN)` of them), `pkt_len` is
/// the number of bytes the packet really has from the network header on.
pub fn plan_ipv4(head: &[u8], pkt_len: usize, map: &Mapping) -> Result<Plan, Skip> {
    let b0 = *head.first().ok_or(Skip::Truncated)?;
    if pkt_len < 20 || head.len() < 20 {
        return Err(Skip::Truncated);
    }
    let ihl = usize::from(b0 & 0x0f) * 4;
    if b0 >> 4 != 4 || ihl < 20 {
        return Err(Skip::Malformed);
    }
    let tot_len = usize::from(be16(head, 2).ok_or(Skip::Truncated)?);
    if tot_len < ihl || tot_len > pkt_len {
        return Err(Skip::Malformed);
    }
    let frag = be16(head, 6).ok_or(Skip::Truncated)?;
    let first_fragment = frag & 0x1fff == 0;
    let protocol = *head.get(9).ok_or(Skip::Truncated)?;

    let (l4, l4_len) = match protocol {
        _ if !first_fragment => (L4::None, 0),
        proto::UDP => (L4::Udp, 8),
        proto::TCP => (L4::Tcp, 20),
        _ => (L4::None, 0),
    };
    if l4 != L4::None && tot_len < ihl + l4_len {
        // The first fragment (or whole datagram) must carry the L4 header in full.
        return Err(Skip::Truncated);
    }
    let port = map.port.is_some() && l4 != L4::None;
    let addr = map.addr.is_some();
    if !addr && !port {
        return Err(Skip::NoPort);
    }
    if addr && l4 == L4::None && first_fragment && protocol != proto::ICMP {
        // TCP and UDP are handled above; for any other protocol whose checksum may
        // cover a pseudo-header, changing the address without fixing it would corrupt it.
        return Err(Skip::UnknownProtocol);
    }
    let write_len = if l4 == L4::None { ihl } else { ihl + l4_len };
    if head.len() < write_len {
        return Err(Skip::Truncated);
    }
    Ok(Plan {
        l4_off: ihl,
        l4,
        addr,
        port,
        write_len,
    })
}

/// Rewrites an IPv4 packet as [`plan_ipv4`] planned. `pkt` must hold at least
/// `plan.write_len` writable bytes from the network header on.
pub fn apply_ipv4(pkt: &mut [u8], plan: &Plan, map: &Mapping, l4csum: L4Csum) -> Result<Rewritten, Skip> {
    let pkt = pkt.get_mut(..plan.write_len).ok_or(Skip::Truncated)?;
    let (ip, l4) = pkt.split_at_mut(plan.l4_off.min(plan.write_len));
    let mut done = Rewritten::default();

    // Pseudo-header change: the address.
    let mut pseudo = Delta::ZERO;
    if let (true, Some(new)) = (plan.addr, map.addr) {
        let saddr = ip.get_mut(12..16).ok_or(Skip::Truncated)?;
        let new = &new[..4];
        pseudo = Delta::of(saddr, new);
        saddr.copy_from_slice(new);
        let old_check = be16(ip, 10).ok_or(Skip::Truncated)?;
        let check = pseudo.update_check(old_check);
        ip.get_mut(10..12).ok_or(Skip::Truncated)?.copy_from_slice(&check.to_be_bytes());
        done.l3_delta = pseudo.plus(Delta::word(old_check, check));
    }

    let check_off = match plan.l4 {
        L4::None => return unchanged_if_zero(done, pseudo, Delta::ZERO),
        L4::Udp => 6,
        L4::Tcp => 16,
    };
    // Port change: inside the data the L4 checksum covers.
    let mut data = Delta::ZERO;
    if let (true, Some(new)) = (plan.port, map.port) {
        let old = be16(l4, 0).ok_or(Skip::Truncated)?;
        data = Delta::word(old, new);
        l4.get_mut(0..2).ok_or(Skip::Truncated)?.copy_from_slice(&new.to_be_bytes());
    }
    let old_check = be16(l4, check_off).ok_or(Skip::Truncated)?;
    let check = match l4csum {
        // UDP over IPv4 without a checksum stays without one.
        L4Csum::Full if plan.l4 == L4::Udp && old_check == 0 => 0,
        L4Csum::Full => {
            let c = pseudo.plus(data).update_check(old_check);
            // A computed zero is sent as all ones: zero means "no checksum" to UDP.
            if plan.l4 == L4::Udp && c == 0 {
                0xffff
            } else {
                c
            }
        }
        // The device sums the data (ports included); only the pseudo-header moves.
        L4Csum::Partial => pseudo.update_sum(old_check),
    };
    l4.get_mut(check_off..check_off + 2)
        .ok_or(Skip::Truncated)?
        .copy_from_slice(&check.to_be_bytes());
    done.l4_delta = data.plus(Delta::word(old_check, check));
    unchanged_if_zero(done, pseudo, data)
}

fn unchanged_if_zero(done: Rewritten, pseudo: Delta, data: Delta) -> Result<Rewritten, Skip> {
    // `Delta` of equal bytes folds to 0xffff or 0; either way nothing moved.
    let moved = |d: Delta| !matches!(d.folded(), 0 | 0xffff);
    if !moved(pseudo) && !moved(data) {
        Err(Skip::Unchanged)
    } else {
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csum;
    use std::vec::Vec;

    /// A UDP/IPv4 packet with correct checksums.
    pub(crate) fn udp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
        let ulen = 8 + payload.len();
        let tot = 20 + ulen;
        let mut p = Vec::new();
        p.extend_from_slice(&[0x45, 0, (tot >> 8) as u8, tot as u8, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        let c = csum::checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&(ulen as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        let c = udp4_check(&p);
        p[26..28].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
        p
    }

    /// The UDP checksum of `p` computed from scratch (with its check field as zero).
    pub(crate) fn udp4_check(p: &[u8]) -> u16 {
        let ulen = p.len() - 20;
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]);
        pseudo.extend_from_slice(&[0, 17]);
        pseudo.extend_from_slice(&(ulen as u16).to_be_bytes());
        let mut seg = p[20..].to_vec();
        seg[6] = 0;
        seg[7] = 0;
        csum::fold(csum::add(csum::sum(&pseudo), csum::sum(&seg))) ^ 0xffff
    }

    fn rewrite(p: &mut [u8], map: &Mapping, mode: L4Csum) -> Result<Rewritten, Skip> {
        let plan = plan_ipv4(p, p.len(), map)?;
        apply_ipv4(p, &plan, map, mode)
    }

    fn addr4(a: [u8; 4]) -> Option<[u8; 16]> {
        let mut x = [0; 16];
        x[..4].copy_from_slice(&a);
        Some(x)
    }

    #[test]
    fn udp_address_and_port() {
        let mut p = udp4([10, 0, 1, 2], 5004, [10, 0, 2, 2], 6000, b"hello rtp");
        let map = Mapping { addr: addr4([198, 51, 100, 7]), port: Some(4000) };
        rewrite(&mut p, &map, L4Csum::Full).unwrap();
        assert_eq!(&p[12..16], &[198, 51, 100, 7]);
        assert_eq!(u16::from_be_bytes([p[20], p[21]]), 4000);
        assert_eq!(csum::checksum(&p[..20]), 0);
        assert_eq!(u16::from_be_bytes([p[26], p[27]]), udp4_check(&p));
        assert_eq!(&p[28..], b"hello rtp");
    }

    #[test]
    fn udp_zero_checksum_stays_zero() {
        let mut p = udp4([10, 0, 1, 2], 5004, [10, 0, 2, 2], 6000, b"x");
        p[26] = 0;
        p[27] = 0;
        let map = Mapping { addr: addr4([198, 51, 100, 7]), port: Some(4000) };
        rewrite(&mut p, &map, L4Csum::Full).unwrap();
        assert_eq!(&p[26..28], &[0, 0]);
        assert_eq!(csum::checksum(&p[..20]), 0);
    }

    #[test]
    fn truncated_and_malformed_pass_unchanged() {
        let map = Mapping { addr: addr4([1, 2, 3, 4]), port: Some(1) };
        let p = udp4([10, 0, 1, 2], 5004, [10, 0, 2, 2], 6000, b"abc");
        for n in 0..28 {
            let mut q = p[..n].to_vec();
            let before = q.clone();
            assert!(rewrite(&mut q, &map, L4Csum::Full).is_err(), "len {n}");
            assert_eq!(q, before);
        }
        let mut q = p.clone();
        q[0] = 0x44; // IHL 4
        assert_eq!(rewrite(&mut q, &map, L4Csum::Full), Err(Skip::Malformed));
        let mut q = p.clone();
        q[3] = 200; // total length lies
        assert_eq!(rewrite(&mut q, &map, L4Csum::Full), Err(Skip::Malformed));
    }
}
