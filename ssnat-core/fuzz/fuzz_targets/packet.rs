//! Fuzz target: any bytes as a packet, any mapping. The packet path must never panic
//! (the kernel builds with overflow checks, where a panic is a BUG), must leave a
//! packet it refuses untouched, and must keep every one's-complement sum it does not
//! own: the IPv4 header still sums as before, and outside the bytes it may change
//! nothing moves. The one-pass `rewrite` (the kernel's path for linear packets, with
//! its straight-through common case) must write exactly what `plan` and `apply` write,
//! whole or given only a prefix of the packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssnat_core::csum;
use ssnat_core::packet::{self, AddrMap, Family, Mapping, PortMap};

fuzz_target!(|data: &[u8]| {
    if data.len() < 40 {
        return;
    }
    let (ctl, pkt) = data.split_at(40);
    let v6 = ctl[0] & 1 == 1;
    let family = if v6 { Family::V6 } else { Family::V4 };
    let mut min = [0u8; 16];
    let mut max = [0u8; 16];
    let n = if v6 { 16 } else { 4 };
    min[..n].copy_from_slice(&ctl[1..1 + n]);
    max[..n].copy_from_slice(&ctl[17..17 + n]);
    if v6 {
        max[..8].copy_from_slice(&min[..8]);
    }
    if min > max {
        core::mem::swap(&mut min, &mut max);
    }
    let addr = match ctl[33] % 4 {
        0 => AddrMap::Keep,
        1 => AddrMap::Range { min, max },
        2 => AddrMap::Fixed(min),
        _ => AddrMap::Prefix { base: min, len: 1 + ctl[34] % (n as u8 * 8) },
    };
    let lo = u16::from_be_bytes([ctl[35], ctl[36]]).max(1);
    let hi = lo.saturating_add(u16::from(ctl[37]));
    let ports = (ctl[38] & 1 == 1).then_some((lo, hi));
    let map = Mapping { family, addr, ports: PortMap::new(ports), seed: u32::from(ctl[39]) };
    let csum_start = (ctl[38] & 2 == 2).then_some(usize::from(ctl[38] >> 2));

    // The one-pass rewrite, on all of the packet or on a writable prefix of it.
    let mut one = pkt.to_vec();
    let give = if ctl[34] & 0x80 != 0 { usize::from(ctl[37]).min(one.len()) } else { one.len() };
    // As the kernel calls them: rewrite() with the headers there, rewrite_common() alone
    // with less.
    let outcome = if give >= pkt.len().min(packet::MAX_PLAN_LEN) {
        packet::rewrite(&mut one[..give], pkt.len(), &map, csum_start)
    } else {
        match packet::rewrite_common(&mut one[..give], pkt.len(), &map, csum_start) {
            Some(Ok(d)) => packet::Outcome::Done(d),
            Some(Err(why)) => packet::Outcome::Skipped(why),
            None => packet::Outcome::Skipped(packet::Skip::HeaderChain),
        }
    };
    let short = give < pkt.len().min(packet::MAX_PLAN_LEN);

    // The fast path (the kernel tries it first): what the common path does, for the
    // packets it takes; nothing written for the others.
    let mut fast = pkt.to_vec();
    let mut common = pkt.to_vec();
    let by_fast = packet::rewrite_fast(&mut fast[..give], pkt.len(), &map, csum_start);
    let by_common = packet::rewrite_common(&mut common[..give], pkt.len(), &map, csum_start);
    match (&by_fast, &by_common) {
        (Some(f), Some(c)) => {
            assert!(map.is_fixed(), "rewrite_fast took a mapping that hashes");
            assert_eq!(format!("{f:?}"), format!("{c:?}"), "rewrite_fast and rewrite_common differ");
            assert_eq!(fast, common, "rewrite_fast and rewrite_common wrote different bytes");
        }
        (Some(_), None) => panic!("rewrite_fast took what rewrite_common leaves"),
        (None, _) => assert_eq!(fast, pkt, "rewrite_fast gave up but wrote"),
    }

    let mut buf = pkt.to_vec();
    let head_len = buf.len().min(packet::MAX_PLAN_LEN);
    let plan = match packet::plan(&buf[..head_len], buf.len(), &map, csum_start) {
        Ok(p) => p,
        Err(why) => {
            // Refused by the planner: by the one-pass rewrite too, for the same
            // reason when it had the packet whole, and untouched.
            assert_eq!(one, pkt, "a packet the planner refuses changed in rewrite");
            if !short {
                assert_eq!(outcome, packet::Outcome::Skipped(why));
            }
            return;
        }
    };
    assert!(plan.write_len <= buf.len());
    let before = buf.clone();
    match packet::apply(&mut buf, &plan) {
        Err(_) => assert_eq!(buf, before, "a refused packet changed"),
        Ok(done) => {
            match outcome {
                packet::Outcome::Done(d) => {
                    assert_eq!(one, buf, "rewrite and plan + apply wrote different bytes");
                    let same = |a: csum::Delta, b: csum::Delta| a.plus(b.negate()).is_zero();
                    assert!(same(d.l3_delta(), done.l3_delta()) && same(d.l4_delta(), done.l4_delta()));
                }
                packet::Outcome::Later(p) => {
                    assert_eq!(one, pkt, "rewrite wrote before handing the plan back");
                    assert!(p.write_len > give);
                }
                packet::Outcome::Skipped(_) if short => assert_eq!(one, pkt, "rewrite_common gave up but wrote"),
                packet::Outcome::Skipped(why) => panic!("rewrite skipped ({why:?}) what plan rewrites"),
            }
            // Beyond the bytes made writable, nothing moved.
            assert_eq!(buf[plan.write_len..], before[plan.write_len..]);
            if !v6 {
                let ihl = usize::from(before[0] & 15) * 4;
                let a = csum::fold(csum::sum(&before[..ihl]));
                let b = csum::fold(csum::sum(&buf[..ihl]));
                let same = a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0);
                assert!(same, "IPv4 header sum moved: {a:#x} -> {b:#x}");
            }
        }
    }
});
