// SPDX-License-Identifier: GPL-2.0
//! The stateless choice inside a range: a seeded hash of the flow.
//!
//! The address is picked from the addresses alone (so every fragment of a datagram,
//! with or without its L4 header, gets the same one); the port from the whole flow
//! (protocol, addresses and ports). No division and no 128-bit arithmetic: the kernel
//! has neither for Rust.

/// MurmurHash3's 32-bit block mix.
#[inline]
fn mix(h: u32, k: u32) -> u32 {
    let k = k.wrapping_mul(0xcc9e_2d51).rotate_left(15).wrapping_mul(0x1b87_3593);
    (h ^ k).rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
}

/// MurmurHash3's finaliser.
#[inline]
fn fmix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[inline(always)]
fn mix_bytes(mut h: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(4);
    for c in &mut chunks {
        h = mix(h, u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let mut tail = [0u8; 4];
    let rest = chunks.remainder();
    if !rest.is_empty() {
        tail[..rest.len()].copy_from_slice(rest);
        h = mix(h, u32::from_be_bytes(tail));
    }
    h
}

/// Hash of a source/destination address pair.
#[inline(always)]
pub fn addr_hash(seed: u32, saddr: &[u8], daddr: &[u8]) -> u64 {
    let h = mix_bytes(mix_bytes(seed ^ 0x5353_4e41, saddr), daddr);
    let lo = fmix(h);
    let hi = fmix(mix(h, 0x9e37_79b9));
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Hash of a whole flow.
#[inline(always)]
pub fn flow_hash(seed: u32, saddr: &[u8], daddr: &[u8], proto: u8, sport: u16, dport: u16) -> u32 {
    let h = mix_bytes(mix_bytes(seed, saddr), daddr);
    let h = mix(h, (u32::from(proto) << 16) ^ 0x0050_4f52);
    fmix(mix(h, (u32::from(sport) << 16) | u32::from(dport)))
}

/// `floor(a * b / 2^64)` without 128-bit arithmetic.
pub fn mulhi64(a: u64, b: u64) -> u64 {
    let (a_lo, a_hi) = (a & 0xffff_ffff, a >> 32);
    let (b_lo, b_hi) = (b & 0xffff_ffff, b >> 32);
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let cross = (lo_lo >> 32) + (hi_lo & 0xffff_ffff) + (lo_hi & 0xffff_ffff);
    hi_hi + (hi_lo >> 32) + (lo_hi >> 32) + (cross >> 32)
}

/// Picks `min + x` with `0 <= x <= span`, evenly for a uniform `h`.
pub fn pick(h: u64, span: u64) -> u64 {
    match span.checked_add(1) {
        Some(n) => mulhi64(h, n),
        None => h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulhi_matches_u128() {
        let vals = [0u64, 1, 2, 3, 0xffff_ffff, 0x1_0000_0000, u64::MAX, u64::MAX - 1, 0x8000_0000_0000_0000, 12345678901234567];
        for &a in &vals {
            for &b in &vals {
                assert_eq!(mulhi64(a, b), ((u128::from(a) * u128::from(b)) >> 64) as u64, "{a} {b}");
            }
        }
    }

    #[test]
    fn pick_stays_in_range_and_spreads() {
        let mut seen = [0u32; 10];
        for i in 0..10_000u32 {
            let h = addr_hash(7, &i.to_be_bytes(), &[10, 0, 0, 1]);
            let x = pick(h, 9);
            assert!(x <= 9);
            seen[x as usize] += 1;
        }
        for &n in &seen {
            assert!((800..1200).contains(&n), "{seen:?}");
        }
        assert_eq!(pick(5, 0), 0);
        assert_eq!(pick(123, u64::MAX), 123);
    }
}
