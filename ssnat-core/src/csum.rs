// SPDX-License-Identifier: GPL-2.0
//! Internet checksum arithmetic (RFC 1071) and incremental updates (RFC 1624).
//!
//! Values are 16-bit words in big-endian numeric form, the way they are read from
//! the wire with `u16::from_be_bytes`. Sums are kept unfolded in a `u32` and folded
//! with end-around carry by [`fold`].

/// Folds a 32-bit one's-complement accumulator to 16 bits (end-around carry).
#[inline]
pub const fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// Sum of `data` as big-endian 32-bit words (`N` a multiple of 4), unfolded.
#[inline]
fn sum32<const N: usize>(data: &[u8; N]) -> u64 {
    let mut acc = 0u64;
    for w in data.chunks_exact(4) {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    acc
}

/// Folds a 64-bit accumulator of 32-bit words to 16 bits (end-around carry).
#[inline]
const fn fold_wide(sum: u64) -> u16 {
    let s = (sum & 0xffff_ffff) + (sum >> 32);
    let s = (s & 0xffff_ffff) + (s >> 32);
    fold(s as u32)
}

/// One's-complement addition of two accumulators.
#[inline]
pub const fn add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    s + carry as u32
}

/// One's-complement sum of `data` as big-endian 16-bit words; an odd last byte is
/// padded with zero, as RFC 1071 says.
#[inline]
pub fn sum(data: &[u8]) -> u32 {
    let mut acc: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        acc = add(acc, u32::from(u16::from_be_bytes([w[0], w[1]])));
    }
    if let [last] = chunks.remainder() {
        acc = add(acc, u32::from(*last) << 8);
    }
    acc
}

/// The checksum of `data`: the complement of its folded sum.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// A running difference `new - old` in one's-complement arithmetic, for the bytes a
/// rewrite changes. Adding it to a checksum's complement (or to a `CHECKSUM_COMPLETE`
/// sum) moves that sum from the old bytes to the new ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delta(u32);

impl Delta {
    /// No change.
    pub const ZERO: Delta = Delta(0);

    /// The change from `old` to `new` (same length, 16-bit aligned within the header).
    #[inline]
    pub fn of(old: &[u8], new: &[u8]) -> Delta {
        Delta(add(u32::from(!fold(sum(old))), sum(new)))
    }

    /// The change from address `old` to `new` (4 or 16 bytes: the length is known at
    /// compile time, and the words are summed 32 bits at a time, which RFC 1071's
    /// end-around carry makes the same sum).
    #[inline(always)]
    pub fn of_addr<const N: usize>(old: &[u8; N], new: &[u8; N]) -> Delta {
        Delta(add(u32::from(!fold_wide(sum32(old))), u32::from(fold_wide(sum32(new)))))
    }

    /// The change of one 16-bit word.
    #[inline(always)]
    pub fn word(old: u16, new: u16) -> Delta {
        Delta(add(u32::from(!old), u32::from(new)))
    }

    /// Both changes.
    #[must_use]
    #[inline(always)]
    pub fn plus(self, other: Delta) -> Delta {
        Delta(add(self.0, other.0))
    }

    /// The folded 16-bit value of the difference.
    #[inline]
    pub fn folded(self) -> u16 {
        fold(self.0)
    }

    /// Applies the change to a checksum field as transmitted (the complement of the
    /// sum), RFC 1624 equation 3: `HC' = ~(~HC + ~m + m')`.
    #[inline(always)]
    pub fn update_check(self, check: u16) -> u16 {
        !fold(add(u32::from(!check), self.0))
    }

    /// Applies the change to a field that holds a sum that is not complemented: the
    /// pseudo-header sum that `CHECKSUM_PARTIAL` leaves in the L4 checksum field for the
    /// device (or `skb_checksum_help`) to finish.
    #[inline(always)]
    pub fn update_sum(self, partial: u16) -> u16 {
        fold(add(u32::from(partial), self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071, section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        assert_eq!(fold(sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])), 0xddf2);
    }

    #[test]
    fn odd_length_is_padded() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn incremental_equals_recomputed() {
        let mut data = [0x45u8, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 0x40, 0x11, 0, 0, 10, 0, 1, 2, 10, 0, 2, 2];
        let c = checksum(&data);
        data[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&data), 0);
        let old = [data[12], data[13], data[14], data[15]];
        let new = [198, 51, 100, 7];
        data[12..16].copy_from_slice(&new);
        let upd = Delta::of(&old, &new).update_check(c);
        data[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(upd, checksum(&data));
    }
}
