// SPDX-License-Identifier: GPL-2.0
//! Host tests of the packet logic: every case against a from-scratch recomputation.

use super::*;
use crate::csum;
use std::vec;
use std::string::String;
use std::vec::Vec;

/// A tiny deterministic PRNG (xorshift64*), so failures reproduce.
pub(crate) struct Rng(u64);
impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn sum_fold(parts: &[&[u8]]) -> u16 {
    let mut acc = 0u32;
    for p in parts {
        acc = csum::add(acc, csum::sum(p));
    }
    csum::fold(acc)
}

fn pseudo(v6: bool, src: &[u8], dst: &[u8], proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(src);
    p.extend_from_slice(dst);
    if v6 {
        p.extend_from_slice(&(len as u32).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, proto]);
    } else {
        p.extend_from_slice(&[0, proto]);
        p.extend_from_slice(&(len as u16).to_be_bytes());
    }
    p
}

/// Where a built packet's fields are.
#[derive(Clone, Debug)]
pub(crate) struct Built {
    pub(crate) pkt: Vec<u8>,
    pub(crate) v6: bool,
    pub(crate) proto: u8,
    pub(crate) l4: usize,
}

/// Offset of the L4 checksum field, and whether it covers the pseudo-header.
fn l4_check(proto: u8, v6: bool) -> Option<(usize, bool)> {
    match proto {
        proto::TCP => Some((16, true)),
        proto::UDP | proto::UDPLITE | proto::DCCP => Some((6, true)),
        proto::ICMP => Some((2, false)),
        proto::ICMPV6 => Some((2, true)),
        proto::OSPF if v6 => Some((12, true)),
        _ => None,
    }
}

fn l4_header_len(proto: u8) -> usize {
    match proto {
        proto::TCP => 20,
        proto::DCCP => 12,
        proto::SCTP => 12,
        proto::OSPF => 16,
        _ => 8,
    }
}

/// Builds a packet with every checksum right, computed from scratch.
pub(crate) fn build(v6: bool, proto: u8, src: &[u8], dst: &[u8], sport: u16, dport: u16, payload: &[u8]) -> Built {
    let hl = l4_header_len(proto);
    let mut seg = vec![0u8; hl];
    seg[0..2].copy_from_slice(&sport.to_be_bytes());
    seg[2..4].copy_from_slice(&dport.to_be_bytes());
    match proto {
        proto::TCP => seg[12] = 5 << 4,
        proto::UDP => seg[4..6].copy_from_slice(&((hl + payload.len()) as u16).to_be_bytes()),
        proto::UDPLITE => seg[4..6].copy_from_slice(&0u16.to_be_bytes()),
        proto::DCCP => seg[4] = 3, // data offset 3 words, CsCov 0
        proto::ICMP | proto::ICMPV6 => {
            seg[0] = if proto == proto::ICMP { 8 } else { 128 };
            seg[1] = 0;
            seg[4..6].copy_from_slice(&sport.to_be_bytes()); // echo identifier
            seg[2] = 0;
            seg[3] = 0;
        }
        _ => {}
    }
    seg.extend_from_slice(payload);
    let mut pkt = Vec::new();
    if v6 {
        pkt.extend_from_slice(&[0x60, 0, 0, 0]);
        pkt.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        pkt.extend_from_slice(&[proto, 64]);
        pkt.extend_from_slice(src);
        pkt.extend_from_slice(dst);
    } else {
        let tot = 20 + seg.len();
        pkt.extend_from_slice(&[0x45, 0, (tot >> 8) as u8, tot as u8, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0]);
        pkt.extend_from_slice(src);
        pkt.extend_from_slice(dst);
        let c = csum::checksum(&pkt);
        pkt[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let l4 = pkt.len();
    pkt.extend_from_slice(&seg);
    let mut b = Built { pkt, v6, proto, l4 };
    fill_l4_checksum(&mut b);
    b
}

/// Recomputes the L4 checksum of `b` from scratch (SCTP: CRC32c).
pub(crate) fn fill_l4_checksum(b: &mut Built) {
    let l4 = b.l4;
    if b.proto == proto::SCTP {
        let c = crc32c::sctp_checksum(&b.pkt[l4..]);
        b.pkt[l4 + 8..l4 + 12].copy_from_slice(&c);
        return;
    }
    let Some((off, ps)) = l4_check(b.proto, b.v6) else { return };
    b.pkt[l4 + off] = 0;
    b.pkt[l4 + off + 1] = 0;
    let c = !l4_sum(b, ps);
    let c = if c == 0 && matches!(b.proto, proto::UDP | proto::UDPLITE) { 0xffff } else { c };
    b.pkt[l4 + off..l4 + off + 2].copy_from_slice(&c.to_be_bytes());
}

fn l4_sum(b: &Built, ps: bool) -> u16 {
    let (s, d) = if b.v6 { (&b.pkt[8..24], &b.pkt[24..40]) } else { (&b.pkt[12..16], &b.pkt[16..20]) };
    let seg = &b.pkt[b.l4..];
    if ps {
        sum_fold(&[&pseudo(b.v6, s, d, b.proto, seg.len()), seg])
    } else {
        sum_fold(&[seg])
    }
}

/// Whether every checksum of `b` is right, computed from scratch.
pub(crate) fn checksums_ok(b: &Built) -> Result<(), String> {
    if !b.v6 && csum::checksum(&b.pkt[..20]) != 0 {
        return Err("IPv4 header checksum".into());
    }
    if b.proto == proto::SCTP {
        let want = crc32c::sctp_checksum(&b.pkt[b.l4..]);
        return if b.pkt[b.l4 + 8..b.l4 + 12] == want { Ok(()) } else { Err("SCTP CRC32c".into()) };
    }
    let Some((off, ps)) = l4_check(b.proto, b.v6) else { return Ok(()) };
    let field = u16::from_be_bytes([b.pkt[b.l4 + off], b.pkt[b.l4 + off + 1]]);
    if b.proto == proto::UDP && !b.v6 && field == 0 {
        return Ok(());
    }
    if field == 0 && matches!(b.proto, proto::UDP | proto::UDPLITE) {
        return Err("UDP checksum written as zero".into());
    }
    if l4_sum(b, ps) != 0xffff {
        return Err(std::format!("L4 checksum of protocol {}", b.proto));
    }
    Ok(())
}

fn v4(a: [u8; 4]) -> [u8; 16] {
    let mut x = [0; 16];
    x[..4].copy_from_slice(&a);
    x
}

fn fixed(v6: bool, addr: Option<[u8; 16]>, port: Option<u16>) -> Mapping {
    Mapping {
        family: if v6 { Family::V6 } else { Family::V4 },
        addr: addr.map_or(AddrMap::Keep, AddrMap::Fixed),
        ports: PortMap::new(port.map(|p| (p, p))),
        seed: 0,
    }
}

fn rewrite(p: &mut [u8], map: &Mapping) -> Result<Rewritten, Skip> {
    let plan = plan(&p[..p.len().min(MAX_PLAN_LEN)], p.len(), map, None)?;
    apply(p, &plan)
}

const SRC4: [u8; 4] = [10, 0, 1, 2];
const DST4: [u8; 4] = [10, 0, 2, 2];
const NEW4: [u8; 4] = [198, 51, 100, 7];
const SRC6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const DST6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const NEW6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];

#[test]
fn udp4_address_and_port() {
    let mut b = build(false, proto::UDP, &SRC4, &DST4, 5004, 6000, b"hello rtp");
    rewrite(&mut b.pkt, &fixed(false, Some(v4(NEW4)), Some(4000))).unwrap();
    assert_eq!(&b.pkt[12..16], &NEW4);
    assert_eq!(u16::from_be_bytes([b.pkt[20], b.pkt[21]]), 4000);
    checksums_ok(&b).unwrap();
    assert_eq!(&b.pkt[28..], b"hello rtp");
}

#[test]
fn every_protocol_both_families() {
    for v6 in [false, true] {
        let protos: &[u8] = if v6 {
            &[proto::TCP, proto::UDP, proto::UDPLITE, proto::DCCP, proto::SCTP, proto::ICMPV6, proto::OSPF, 47]
        } else {
            &[proto::TCP, proto::UDP, proto::UDPLITE, proto::DCCP, proto::SCTP, proto::ICMP, 47]
        };
        for &pr in protos {
            let (s, d, new): (&[u8], &[u8], [u8; 16]) =
                if v6 { (&SRC6, &DST6, NEW6) } else { (&SRC4, &DST4, v4(NEW4)) };
            let mut b = build(v6, pr, s, d, 5004, 6000, b"some payload bytes.");
            let before = b.pkt.clone();
            rewrite(&mut b.pkt, &fixed(v6, Some(new), Some(4000))).unwrap();
            checksums_ok(&b).unwrap_or_else(|e| panic!("v6={v6} proto={pr}: {e}"));
            let n = if v6 { 16 } else { 4 };
            let so = if v6 { 8 } else { 12 };
            assert_eq!(&b.pkt[so..so + n], &new[..n], "v6={v6} proto={pr}");
            let has_port = pr != 47 && pr != proto::OSPF;
            let port_off = b.l4 + if matches!(pr, proto::ICMP | proto::ICMPV6) { 4 } else { 0 };
            let port = u16::from_be_bytes([b.pkt[port_off], b.pkt[port_off + 1]]);
            assert_eq!(port, if has_port { 4000 } else { u16::from_be_bytes([before[port_off], before[port_off + 1]]) });
            let tail = b.l4 + l4_header_len(pr);
            assert_eq!(&b.pkt[tail..], &before[tail..], "payload v6={v6} proto={pr}");
        }
    }
}

#[test]
fn udp4_zero_checksum_stays_zero_and_v6_never_zero() {
    let mut b = build(false, proto::UDP, &SRC4, &DST4, 5004, 6000, b"x");
    b.pkt[26] = 0;
    b.pkt[27] = 0;
    rewrite(&mut b.pkt, &fixed(false, Some(v4(NEW4)), Some(4000))).unwrap();
    assert_eq!(&b.pkt[26..28], &[0, 0]);
    // Find a payload for which the rewritten checksum computes to zero: it must be sent
    // as 0xffff.
    let map = fixed(false, Some(v4(NEW4)), Some(4000));
    let mut found = false;
    for x in 0..=0xffffu32 {
        let mut b = build(false, proto::UDP, &SRC4, &DST4, 5004, 6000, &(x as u16).to_be_bytes());
        rewrite(&mut b.pkt, &map).unwrap();
        let mut c = b.clone();
        fill_l4_checksum(&mut c);
        if c.pkt[26..28] == [0xff, 0xff] {
            assert_eq!(&b.pkt[26..28], &[0xff, 0xff]);
            checksums_ok(&b).unwrap();
            found = true;
            break;
        }
    }
    assert!(found);
}

#[test]
fn port_only_and_no_port() {
    let map = Mapping { family: Family::V4, addr: AddrMap::Keep, ports: PortMap::new(Some((4000, 4000))), seed: 0 };
    let mut b = build(false, proto::UDP, &SRC4, &DST4, 5004, 6000, b"x");
    rewrite(&mut b.pkt, &map).unwrap();
    checksums_ok(&b).unwrap();
    assert_eq!(&b.pkt[12..16], &SRC4);
    let mut g = build(false, 47, &SRC4, &DST4, 5004, 6000, b"x");
    assert_eq!(rewrite(&mut g.pkt, &map), Err(Skip::NoPort));
    let mut u = build(false, proto::UDP, &SRC4, &DST4, 4000, 6000, b"x");
    assert_eq!(rewrite(&mut u.pkt, &map), Err(Skip::Unchanged));
}

#[test]
fn truncated_and_malformed_pass_unchanged() {
    let map = fixed(false, Some(v4([1, 2, 3, 4])), Some(1));
    let p = build(false, proto::UDP, &SRC4, &DST4, 5004, 6000, b"abc");
    for n in 0..p.pkt.len() {
        let mut q = p.pkt[..n].to_vec();
        let before = q.clone();
        assert!(rewrite(&mut q, &map).is_err(), "len {n}");
        assert_eq!(q, before);
    }
    let mut q = p.pkt.clone();
    q[0] = 0x44; // IHL 4
    assert_eq!(rewrite(&mut q, &map), Err(Skip::Malformed));
    let mut q = p.pkt.clone();
    q[3] = 200; // total length lies
    assert_eq!(rewrite(&mut q, &map), Err(Skip::Malformed));
    let mut q = p.pkt.clone();
    q[25] = 200; // UDP length lies
    assert_eq!(rewrite(&mut q, &map), Err(Skip::Malformed));
    let mut t = build(false, proto::TCP, &SRC4, &DST4, 5004, 6000, b"abc").pkt;
    t[32] = 4 << 4; // data offset 4
    assert_eq!(rewrite(&mut t, &map), Err(Skip::Malformed));
}

#[test]
fn ipv4_fragments() {
    let map = fixed(false, Some(v4(NEW4)), Some(4000));
    // First fragment (MF set): address, port and the UDP checksum of the datagram.
    let mut first = build(false, proto::UDP, &SRC4, &DST4, 5004, 6000, &[7u8; 32]);
    let whole_len = first.pkt.len();
    first.pkt[6] = 0x20; // MF
    let before = first.pkt.clone();
    rewrite(&mut first.pkt, &map).unwrap();
    assert_eq!(&first.pkt[12..16], &NEW4);
    assert_eq!(&first.pkt[20..22], &4000u16.to_be_bytes());
    // The datagram's checksum is still right for the reassembled packet.
    let mut whole = first.clone();
    whole.pkt[6] = 0;
    whole.pkt[10] = 0;
    whole.pkt[11] = 0;
    let c = csum::checksum(&whole.pkt[..20]);
    whole.pkt[10..12].copy_from_slice(&c.to_be_bytes());
    assert_eq!(whole.pkt.len(), whole_len);
    checksums_ok(&whole).unwrap();
    assert_ne!(first.pkt, before);
    // A later fragment: address only, its bytes untouched past the IP header.
    let mut later = build(false, proto::UDP, &SRC4, &DST4, 5004, 6000, &[7u8; 32]);
    later.pkt[6] = 0x00;
    later.pkt[7] = 0x03; // offset 24 bytes
    let c = {
        later.pkt[10] = 0;
        later.pkt[11] = 0;
        csum::checksum(&later.pkt[..20])
    };
    later.pkt[10..12].copy_from_slice(&c.to_be_bytes());
    let before = later.pkt.clone();
    rewrite(&mut later.pkt, &map).unwrap();
    assert_eq!(&later.pkt[12..16], &NEW4);
    assert_eq!(csum::checksum(&later.pkt[..20]), 0);
    assert_eq!(&later.pkt[20..], &before[20..]);
}

#[test]
fn ipv6_extension_headers_and_fragments() {
    let map = fixed(true, Some(NEW6), Some(4000));
    let b = build(true, proto::UDP, &SRC6, &DST6, 5004, 6000, b"payload!");
    // Insert a destination options header (8 bytes) and a fragment header (first).
    let mut p = b.pkt[..40].to_vec();
    p[6] = proto::DSTOPTS;
    p.extend_from_slice(&[proto::FRAGMENT, 0, 1, 4, 0, 0, 0, 0]);
    p.extend_from_slice(&[proto::UDP, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]); // offset 0, MF
    let l4 = p.len();
    p.extend_from_slice(&b.pkt[40..]);
    let plen = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    rewrite(&mut p, &map).unwrap();
    assert_eq!(&p[8..24], &NEW6);
    assert_eq!(&p[l4..l4 + 2], &4000u16.to_be_bytes());
    let check = Built { pkt: [&p[..40], &p[l4..]].concat(), v6: true, proto: proto::UDP, l4: 40 };
    let mut check = check;
    check.pkt[6] = proto::UDP;
    checksums_ok(&check).unwrap();
    // A later fragment: address only.
    let mut q = b.pkt[..40].to_vec();
    q[6] = proto::FRAGMENT;
    q.extend_from_slice(&[proto::UDP, 0, 0, 16, 0xde, 0xad, 0xbe, 0xef]);
    q.extend_from_slice(&[1u8; 16]);
    let plen = (q.len() - 40) as u16;
    q[4..6].copy_from_slice(&plen.to_be_bytes());
    let before = q.clone();
    rewrite(&mut q, &map).unwrap();
    assert_eq!(&q[8..24], &NEW6);
    assert_eq!(&q[40..], &before[40..]);
    // A chain longer than what is read is left alone.
    let mut r = b.pkt[..40].to_vec();
    r[6] = proto::DSTOPTS;
    r.extend_from_slice(&[proto::UDP, 40]); // 41 * 8 = 328 bytes
    r.resize(40 + 328 + 16, 0);
    let plen = (r.len() - 40) as u16;
    r[4..6].copy_from_slice(&plen.to_be_bytes());
    assert_eq!(rewrite(&mut r, &map), Err(Skip::HeaderChain));
    // A chain that announces a header the packet does not hold (cut in the middle of
    // it, or before it) is malformed, as one whose length runs past the end.
    for (nh, keep) in [(proto::DSTOPTS, 0), (proto::DSTOPTS, 1), (proto::FRAGMENT, 3)] {
        let mut t = b.pkt[..40].to_vec();
        t[6] = nh;
        t.extend_from_slice(&[proto::UDP, 0, 0, 0][..keep]);
        let plen = (t.len() - 40) as u16;
        t[4..6].copy_from_slice(&plen.to_be_bytes());
        assert_eq!(rewrite(&mut t, &map), Err(Skip::Malformed), "next header {nh}, {keep} bytes of it");
        // The same with a zero payload length (the skb's length rules).
        t[4..6].copy_from_slice(&[0, 0]);
        assert_eq!(rewrite(&mut t, &map), Err(Skip::Malformed), "next header {nh}, {keep} bytes, plen 0");
    }
}

#[test]
fn ranges_are_stable_and_spread() {
    let map = Mapping {
        family: Family::V4,
        addr: AddrMap::Range { min: v4([198, 51, 100, 10]), max: v4([198, 51, 100, 19]) },
        ports: PortMap::new(Some((4000, 4099))),
        seed: 1,
    };
    let mut addrs = [0u32; 10];
    let mut ports = [0u32; 100];
    for flow in 0..10_000u32 {
        let src = [10, 0, (flow >> 8) as u8, flow as u8];
        let sport = 1024 + (flow % 5000) as u16;
        let mut seen = None;
        for _ in 0..2 {
            let mut b = build(false, proto::UDP, &src, &DST4, sport, 6000, b"x");
            rewrite(&mut b.pkt, &map).unwrap();
            checksums_ok(&b).unwrap();
            let got = (b.pkt[15], u16::from_be_bytes([b.pkt[20], b.pkt[21]]));
            assert!(seen.is_none() || seen == Some(got), "flow {flow} not stable");
            seen = Some(got);
        }
        let (a, p) = seen.unwrap();
        addrs[usize::from(a - 10)] += 1;
        ports[usize::from(p - 4000)] += 1;
    }
    assert!(addrs.iter().all(|&n| (800..1200).contains(&n)), "{addrs:?}");
    assert!(ports.iter().all(|&n| (50..150).contains(&n)), "{ports:?}");
}

#[test]
fn prefix_mapping_keeps_host_bits() {
    let map = Mapping {
        family: Family::V4,
        addr: AddrMap::Prefix { base: v4([192, 0, 2, 0]), len: 24 },
        ports: PortMap::new(None),
        seed: 0,
    };
    let mut b = build(false, proto::TCP, &[10, 9, 8, 77], &DST4, 5004, 80, b"x");
    rewrite(&mut b.pkt, &map).unwrap();
    assert_eq!(&b.pkt[12..16], &[192, 0, 2, 77]);
    checksums_ok(&b).unwrap();
    let map6 = Mapping {
        family: Family::V6,
        addr: AddrMap::Prefix { base: NEW6, len: 64 },
        ports: PortMap::new(None),
        seed: 0,
    };
    let mut b = build(true, proto::TCP, &SRC6, &DST6, 5004, 80, b"x");
    rewrite(&mut b.pkt, &map6).unwrap();
    assert_eq!(&b.pkt[8..16], &NEW6[..8]);
    assert_eq!(&b.pkt[16..24], &SRC6[8..]);
    checksums_ok(&b).unwrap();
}

/// The device's side of CHECKSUM_PARTIAL: sum from csum_start to the end, store.
fn finish_partial(b: &mut Built, off: usize) {
    let s = !sum_fold(&[&b.pkt[b.l4..]]);
    b.pkt[b.l4 + off..b.l4 + off + 2].copy_from_slice(&s.to_be_bytes());
}

#[test]
fn checksum_partial_moves_only_the_pseudo_header() {
    for v6 in [false, true] {
        for pr in [proto::TCP, proto::UDP] {
            let (s, d, new): (&[u8], &[u8], [u8; 16]) =
                if v6 { (&SRC6, &DST6, NEW6) } else { (&SRC4, &DST4, v4(NEW4)) };
            let mut b = build(v6, pr, s, d, 5004, 6000, b"offloaded payload");
            let (off, _) = l4_check(pr, v6).unwrap();
            // What the stack leaves for the device: the pseudo-header sum, folded.
            let len = b.pkt.len() - b.l4;
            let ps = sum_fold(&[&pseudo(v6, s, d, pr, len)]);
            b.pkt[b.l4 + off..b.l4 + off + 2].copy_from_slice(&ps.to_be_bytes());
            let map = fixed(v6, Some(new), Some(4000));
            let p = plan(&b.pkt, b.pkt.len(), &map, Some(b.l4)).unwrap();
            apply(&mut b.pkt, &p).unwrap();
            finish_partial(&mut b, off);
            checksums_ok(&b).unwrap_or_else(|e| panic!("v6={v6} proto={pr}: {e}"));
        }
    }
}

#[test]
fn checksum_complete_deltas_track_the_bytes() {
    let mut rng = Rng::new(3);
    for i in 0..2000 {
        let v6 = i % 2 == 1;
        let pr = [proto::TCP, proto::UDP, proto::SCTP, proto::ICMP][i % 4];
        let pr = if v6 && pr == proto::ICMP { proto::ICMPV6 } else { pr };
        let (s, d): (&[u8], &[u8]) = if v6 { (&SRC6, &DST6) } else { (&SRC4, &DST4) };
        let payload = { let k = rng.below(40) as usize; rng.bytes(k) };
        let mut b = build(v6, pr, s, d, 5004, 6000, &payload);
        let before_l3 = csum::sum(&b.pkt[..b.l4]);
        let before_l4 = csum::sum(&b.pkt[b.l4..]);
        let new = if v6 { NEW6 } else { v4(NEW4) };
        let done = rewrite(&mut b.pkt, &fixed(v6, Some(new), Some(4000))).unwrap();
        let after_l3 = csum::fold(csum::add(before_l3, u32::from(done.l3_delta().folded())));
        let after_l4 = csum::fold(csum::add(before_l4, u32::from(done.l4_delta().folded())));
        // One's-complement sums compare modulo 0xffff (+0 and -0 are the same).
        let eq = |a: u16, b: u16| a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0);
        assert!(eq(after_l3, csum::fold(csum::sum(&b.pkt[..b.l4]))), "l3 v6={v6} proto={pr}");
        // The L4 sum is taken over 16-bit words from the L4 header on: aligned.
        assert!(eq(after_l4, csum::fold(csum::sum(&b.pkt[b.l4..]))), "l4 v6={v6} proto={pr}");
    }
}

/// An ICMP port unreachable that host `us` sends about a UDP packet from `peer`.
fn icmp_error(v6: bool, us: &[u8], peer: &[u8], our_port: u16, peer_port: u16) -> Built {
    let quoted = build(v6, proto::UDP, peer, us, peer_port, our_port, b"what the peer sent");
    let mut msg = if v6 { vec![1u8, 4, 0, 0, 0, 0, 0, 0] } else { vec![3u8, 3, 0, 0, 0, 0, 0, 0] };
    msg.extend_from_slice(&quoted.pkt);
    let pr = if v6 { proto::ICMPV6 } else { proto::ICMP };
    let mut b = build(v6, pr, us, peer, 0, 0, &[]);
    b.pkt.truncate(b.l4);
    b.pkt.extend_from_slice(&msg);
    if v6 {
        let plen = (b.pkt.len() - 40) as u16;
        b.pkt[4..6].copy_from_slice(&plen.to_be_bytes());
    } else {
        let tot = b.pkt.len() as u16;
        b.pkt[2..4].copy_from_slice(&tot.to_be_bytes());
        b.pkt[10] = 0;
        b.pkt[11] = 0;
        let c = csum::checksum(&b.pkt[..20]);
        b.pkt[10..12].copy_from_slice(&c.to_be_bytes());
    }
    fill_l4_checksum(&mut b);
    b
}

#[test]
fn icmp_errors_translate_the_quoted_packet_like_the_flow() {
    for v6 in [false, true] {
        let (us, peer): (&[u8], &[u8]) = if v6 { (&SRC6, &DST6) } else { (&SRC4, &DST4) };
        let fam = if v6 { Family::V6 } else { Family::V4 };
        let (min, max) = if v6 {
            let mut m = NEW6;
            m[15] = 0xff;
            (NEW6, m)
        } else {
            (v4([198, 51, 100, 1]), v4([198, 51, 100, 200]))
        };
        let map = Mapping { family: fam, addr: AddrMap::Range { min, max }, ports: PortMap::new(Some((4000, 4999))), seed: 9 };
        // What the flow's own packets get.
        let mut flow = build(v6, proto::UDP, us, peer, 5004, 6000, b"x");
        rewrite(&mut flow.pkt, &map).unwrap();
        let n = if v6 { 16 } else { 4 };
        let so = if v6 { 8 } else { 12 };
        let new_addr = flow.pkt[so..so + n].to_vec();
        let new_port = flow.pkt[flow.l4..flow.l4 + 2].to_vec();
        // The error we send about the peer's packet to us.
        let mut e = icmp_error(v6, us, peer, 5004, 6000);
        rewrite(&mut e.pkt, &map).unwrap();
        checksums_ok(&e).unwrap_or_else(|x| panic!("outer v6={v6}: {x}"));
        assert_eq!(&e.pkt[so..so + n], &new_addr[..]);
        let ip = e.l4 + 8;
        let inner_l4 = ip + if v6 { 40 } else { 20 };
        let ido = ip + if v6 { 24 } else { 16 };
        assert_eq!(&e.pkt[ido..ido + n], &new_addr[..], "inner destination v6={v6}");
        assert_eq!(&e.pkt[inner_l4 + 2..inner_l4 + 4], &new_port[..], "inner port v6={v6}");
        let inner = Built { pkt: e.pkt[ip..].to_vec(), v6, proto: proto::UDP, l4: inner_l4 - ip };
        checksums_ok(&inner).unwrap_or_else(|x| panic!("inner v6={v6}: {x}"));
    }
}

/// A random mapping of every kind: keep, fixed, range, prefix; no, fixed or ranged ports.
fn random_map(rng: &mut Rng, v6: bool) -> Mapping {
    let n = if v6 { 16 } else { 4 };
    let mut a = [0u8; 16];
    a[..n].copy_from_slice(&rng.bytes(n));
    let mut z = a;
    let addr = match rng.below(5) {
        0 => AddrMap::Keep,
        1 => AddrMap::Fixed(a),
        4 => AddrMap::Range { min: a, max: a },
        2 => {
            // A range within one /64 (IPv6) or anywhere (IPv4).
            let k = n - 1;
            z[k] = z[k].saturating_add(rng.below(50) as u8);
            if v6 {
                z[14] = z[14].saturating_add(rng.below(3) as u8);
            }
            AddrMap::Range { min: a, max: z }
        }
        _ => {
            let len = 1 + rng.below(n as u64 * 8) as u8;
            for (j, byte) in a.iter_mut().enumerate().take(n) {
                *byte &= !abi::host_mask_byte(usize::from(len), j);
            }
            AddrMap::Prefix { base: a, len }
        }
    };
    let ports = match rng.below(3) {
        0 => None,
        1 => Some((1 + rng.below(65535) as u16, 0)).map(|(p, _)| (p, p)),
        _ => {
            let lo = 1 + rng.below(60000) as u16;
            Some((lo, lo + rng.below(5000) as u16))
        }
    };
    Mapping { family: if v6 { Family::V6 } else { Family::V4 }, addr, ports: PortMap::new(ports), seed: rng.next() as u32 }
}

/// A million random packets: valid checksums stay valid, the source lands in the
/// mapping, nothing else moves.
#[test]
fn property_million_random_packets() {
    let count: u64 = std::env::var("SSNAT_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let mut rng = Rng::new(42);
    let mut rewritten = 0u64;
    for i in 0..count {
        let v6 = rng.below(2) == 1;
        let protos: &[u8] = if v6 {
            &[proto::TCP, proto::UDP, proto::UDPLITE, proto::DCCP, proto::SCTP, proto::ICMPV6, 47]
        } else {
            &[proto::TCP, proto::UDP, proto::UDPLITE, proto::DCCP, proto::SCTP, proto::ICMP, 47]
        };
        let pr = protos[rng.below(protos.len() as u64) as usize];
        let n = if v6 { 16 } else { 4 };
        let src = rng.bytes(n);
        let dst = rng.bytes(n);
        let sport = rng.next() as u16 | 1;
        let payload = { let k = rng.below(64) as usize; rng.bytes(k) };
        let mut b = build(v6, pr, &src, &dst, sport, rng.next() as u16, &payload);
        if pr == proto::UDP && !v6 && rng.below(8) == 0 {
            b.pkt[b.l4 + 6] = 0;
            b.pkt[b.l4 + 7] = 0;
        }
        let map = random_map(&mut rng, v6);
        let before = b.clone();
        let res = rewrite(&mut b.pkt, &map);
        let so = if v6 { 8 } else { 12 };
        match res {
            Err(_) => assert_eq!(b.pkt, before.pkt, "case {i}: a skipped packet changed"),
            Ok(_) => {
                rewritten += 1;
                checksums_ok(&b).unwrap_or_else(|e| panic!("case {i}: {e}: {map:?}"));
                let got = &b.pkt[so..so + n];
                match map.addr {
                    AddrMap::Keep => assert_eq!(got, &src[..]),
                    AddrMap::Fixed(a) => assert_eq!(got, &a[..n], "case {i}"),
                    AddrMap::Range { min, max } => assert!(got >= &min[..n] && got <= &max[..n], "case {i}"),
                    AddrMap::Prefix { base, len } => {
                        for j in 0..n {
                            let h = abi::host_mask_byte(usize::from(len), j);
                            assert_eq!(got[j] & !h, base[j] & !h, "case {i}");
                            assert_eq!(got[j] & h, src[j] & h, "case {i}");
                        }
                    }
                }
                // Nothing but address, port/identifier and checksum fields moved.
                let mut expect = before.pkt.clone();
                expect[so..so + n].copy_from_slice(got);
                if !v6 {
                    expect[10..12].copy_from_slice(&b.pkt[10..12]);
                }
                let port_off = b.l4 + if matches!(pr, proto::ICMP | proto::ICMPV6) { 4 } else { 0 };
                if pr != 47 {
                    expect[port_off..port_off + 2].copy_from_slice(&b.pkt[port_off..port_off + 2]);
                    if let Some((lo, hi)) = map.ports.range() {
                        let p = u16::from_be_bytes([b.pkt[port_off], b.pkt[port_off + 1]]);
                        assert!((lo..=hi).contains(&p), "case {i}: port {p} outside {lo}-{hi}");
                    }
                }
                if pr == proto::SCTP {
                    expect[b.l4 + 8..b.l4 + 12].copy_from_slice(&b.pkt[b.l4 + 8..b.l4 + 12]);
                } else if let Some((off, _)) = l4_check(pr, v6) {
                    expect[b.l4 + off..b.l4 + off + 2].copy_from_slice(&b.pkt[b.l4 + off..b.l4 + off + 2]);
                }
                assert_eq!(b.pkt, expect, "case {i}: unexpected bytes changed");
            }
        }
    }
    // Most cases must really be rewritten (the rest: keep-address mappings on packets
    // that already have the port, or have none).
    std::eprintln!("{rewritten} of {count} random packets rewritten");
    assert!(rewritten * 10 > count * 7, "only {rewritten} of {count} rewritten");
}

/// Random garbage never panics and a refused packet is never changed.
#[test]
fn garbage_never_panics() {
    let mut rng = Rng::new(7);
    for _ in 0..200_000 {
        let len = rng.below(120) as usize;
        let mut p = rng.bytes(len);
        if len > 0 {
            p[0] = if rng.below(2) == 0 { 0x45 } else { 0x60 };
        }
        let v6 = p.first() == Some(&0x60);
        let map = fixed(v6, Some(if v6 { NEW6 } else { v4(NEW4) }), Some(4000));
        let before = p.clone();
        if rewrite(&mut p, &map).is_err() {
            assert_eq!(p, before);
        }
    }
}

/// The straight-through rewrite of common packets writes exactly what the general
/// planner and apply write, on valid packets and on mutated ones (flipped header bytes,
/// truncations, lying lengths, zero and 0xffff checksums, CHECKSUM_PARTIAL, a writable
/// prefix only), or leaves the packet untouched to it.
#[test]
fn common_path_equals_general_path() {
    let count: u64 = std::env::var("SSNAT_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400_000);
    let mut rng = Rng::new(1624);
    let mut common = 0u64;
    let mut fast_taken = 0u64;
    for _ in 0..count {
        let v6 = rng.below(2) == 1;
        let protos: &[u8] = if v6 {
            &[proto::TCP, proto::UDP, proto::SCTP, proto::ICMPV6, proto::ICMP, proto::UDPLITE]
        } else {
            &[proto::TCP, proto::UDP, proto::SCTP, proto::ICMP, proto::ICMPV6, proto::DCCP]
        };
        let pr = protos[rng.below(protos.len() as u64) as usize];
        let n = if v6 { 16 } else { 4 };
        let (src, dst) = (rng.bytes(n), rng.bytes(n));
        let payload = { let k = rng.below(48) as usize; rng.bytes(k) };
        let mut b = build(v6, pr, &src, &dst, rng.next() as u16, rng.next() as u16, &payload);
        if matches!(pr, proto::ICMP | proto::ICMPV6) && rng.below(3) > 0 {
            // Echo requests and replies, and other types.
            b.pkt[b.l4] = [0, 8, 128, 129, 3, 1][rng.below(6) as usize];
        }
        if let (Some((off, _)), 0) = (l4_check(pr, v6), rng.below(5)) {
            // Zero (no checksum, for UDP over IPv4) and 0xffff checksums.
            let v = if rng.below(2) == 0 { [0, 0] } else { [0xff, 0xff] };
            b.pkt[b.l4 + off..b.l4 + off + 2].copy_from_slice(&v);
        }
        for _ in 0..rng.below(3) {
            let at = rng.below(b.pkt.len().min(72) as u64) as usize;
            b.pkt[at] = if rng.below(2) == 0 { rng.next() as u8 } else { b.pkt[at] ^ (1 << rng.below(8)) };
        }
        let mut len = b.pkt.len();
        if rng.below(6) == 0 {
            len = rng.below(len as u64 + 1) as usize;
        }
        // Writable: the whole packet, or only a prefix of it (as an skb's linear part).
        let give = if rng.below(4) == 0 { rng.below(len as u64 + 1) as usize } else { len };
        let map = random_map(&mut rng, v6);
        let cs = (rng.below(4) == 0).then_some(b.l4);
        let mut fast = b.pkt[..len].to_vec();
        let before = fast.clone();
        // rewrite_fast: rewrite_common's result and bytes for the packets it takes (a
        // fixed mapping's TCP and UDP), nothing written for the others.
        let mut fixed = before.clone();
        let by_fast = rewrite_fast(&mut fixed[..give], len, &map, cs);
        let mut again = before.clone();
        let by_common = rewrite_common(&mut again[..give], len, &map, cs);
        let tcp_udp = matches!(if v6 { before.get(6) } else { before.get(9) }, Some(&6) | Some(&17));
        match (&by_fast, &by_common) {
            (Some(f), Some(c)) => {
                fast_taken += 1;
                assert!(map.is_fixed() && tcp_udp, "{map:?} {:02x?}", before);
                let same = match (f, c) {
                    (Ok(x), Ok(y)) => x == y,
                    (Err(x), Err(y)) => x == y,
                    _ => false,
                };
                assert!(same, "{f:?} {c:?} {map:?}");
                assert_eq!(fixed, again, "rewrite_fast and rewrite_common wrote different bytes");
            }
            (Some(f), None) => panic!("rewrite_fast took ({f:?}) what rewrite_common leaves: {map:?} {:02x?}", before),
            (None, c) => {
                assert_eq!(fixed, before, "rewrite_fast gave up but wrote");
                assert!(!(c.is_some() && map.is_fixed() && tcp_udp), "rewrite_fast left {map:?} {:02x?}", before);
            }
        }
        match rewrite_common(&mut fast[..give], len, &map, cs) {
            Some(Ok(done)) => {
                common += 1;
                let mut slow = before.clone();
                let p = plan(&slow, len, &map, cs).unwrap_or_else(|e| panic!("{e:?} {:02x?} {map:?} {cs:?}", before));
                let want = apply(&mut slow, &p).unwrap();
                // The sums compare folded, +0 and -0 alike.
                let same = |a: csum::Delta, b: csum::Delta| a.plus(b.negate()).is_zero();
                assert!(same(want.l3_delta(), done.l3_delta()) && same(want.l4_delta(), done.l4_delta()), "{want:?} {done:?}");
                assert_eq!(fast, slow, "{:02x?} {map:?} {cs:?}", before);
            }
            Some(Err(why)) => {
                assert_eq!(plan(&before, len, &map, cs), Err(why), "{:02x?} {map:?} {cs:?}", before);
                assert_eq!(fast, before, "the common path skipped but wrote");
            }
            None => assert_eq!(fast, before, "the common path gave up but wrote"),
        }
    }
    std::eprintln!("{common} of {count} packets rewritten by the common path, {fast_taken} taken by the fast path");
    assert!(fast_taken * 50 > count, "only {fast_taken} of {count} took the fast path");
    assert!(common * 4 > count, "only {common} of {count} took the common path");
}

#[test]
fn destination_is_the_entry_key() {
    for v6 in [false, true] {
        let (src, dst, fam) =
            if v6 { (&SRC6[..], &DST6[..], Family::V6) } else { (&SRC4[..], &DST4[..], Family::V4) };
        for p in [proto::TCP, proto::UDP, proto::UDPLITE, proto::DCCP, proto::SCTP, proto::ICMP, proto::ICMPV6] {
            let b = build(v6, p, src, dst, 5004, 31000, b"payload");
            let key = destination(&b.pkt, b.pkt.len(), fam).unwrap();
            let port = if DEST_PORT_PROTOCOLS.contains(&p) { 31000 } else { 0 };
            assert_eq!(key, Dest::new(dst, port, p).unwrap(), "v6 {v6} proto {p}");
            // Every truncation inside the headers is refused, as the planner refuses it.
            let hdr = b.l4 + if port != 0 { 4 } else { 0 };
            for cut in 0..hdr {
                assert!(destination(&b.pkt[..cut], cut, fam).is_err(), "v6 {v6} proto {p} cut {cut}");
            }
        }
    }
    // A fragment that is not the first has no port: its key has port 0.
    let mut later = build(false, proto::UDP, &SRC4, &DST4, 5004, 31000, &[7u8; 32]);
    later.pkt[7] = 0x03;
    assert_eq!(destination(&later.pkt, later.pkt.len(), Family::V4).unwrap(), Dest::new(&DST4, 0, proto::UDP).unwrap());
    // A lying total length is malformed, as for the planner.
    let mut bad = build(false, proto::UDP, &SRC4, &DST4, 5004, 31000, b"x");
    bad.pkt[3] = 0xff;
    assert_eq!(destination(&bad.pkt, bad.pkt.len(), Family::V4), Err(Skip::Malformed));
    assert_eq!(Dest::new(&[1, 2, 3], 1, proto::UDP), None);
}
