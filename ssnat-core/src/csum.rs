// SPDX-License-Identifier: GPL-2.0
//! Internet checksum arithmetic (RFC 1071) and incremental updates (RFC 1624).
//!
//! Values are 16-bit words in big-endian numeric form, the way they are read from
//! the wire with `u16::from_be_bytes`. Sums are kept unfolded in a `u32` and folded
//! with end-around carry by [`fold`].

/// Folds a 32-bit one's-complement accumulator to 16 bits (end-around carry).
///
/// As the kernel's `csum_fold`: the top half of `sum + ror(sum, 16)` is `hi + lo`
/// plus the carry out of the bottom half, which is that same sum's carry, and the
/// carry out of the top is dropped: `hi + lo` with its carry wrapped around, in one
/// step (the same value, 0 and 0xffff included, as folding twice).
#[inline]
pub const fn fold(sum: u32) -> u16 {
    (sum.wrapping_add(sum.rotate_right(16)) >> 16) as u16
}

/// `sum(new) - sum(old)` over 32-bit words read by `word`, unfolded (no bounds
/// checks: the words are taken apart as arrays).
#[inline(always)]
fn sum_words(old: &[u8], new: &[u8], word: fn([u8; 4]) -> u32) -> u32 {
    let (mut o, mut n) = (old, new);
    let mut acc = 0u32;
    while let (Some((ow, orest)), Some((nw, nrest))) = (o.split_first_chunk::<4>(), n.split_first_chunk::<4>()) {
        acc = add(add(acc, !word(*ow)), word(*nw));
        (o, n) = (orest, nrest);
    }
    acc
}

/// One's-complement addition of two accumulators.
#[inline]
pub const fn add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    // Cannot wrap: with a carry, `s` is at most 2^32 - 2.
    s.wrapping_add(carry as u32)
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
    /// compile time). The words are taken 32 bits at a time: 2^32 - 1 is a multiple of
    /// 2^16 - 1, so one's-complement arithmetic on 32-bit words (end-around carry, `!`
    /// for minus) gives the same 16-bit result once folded.
    #[inline(always)]
    pub fn of_addr<const N: usize>(old: &[u8; N], new: &[u8; N]) -> Delta {
        Delta(sum_words(old, new, u32::from_be_bytes))
    }

    /// [`Delta::of_addr`] with the words taken in memory order (`from_ne_bytes`): the
    /// one's-complement sum is the same bytes whatever the order its words are read in
    /// (RFC 1071, section 2(B)), so a checksum updated with such deltas, read and stored
    /// in memory order too, comes out the same, without byte swaps. Such deltas are
    /// turned into the numeric kind by [`Delta::from_memory_order`].
    #[inline(always)]
    pub fn of_addr_memory_order<const N: usize>(old: &[u8; N], new: &[u8; N]) -> Delta {
        Delta(sum_words(old, new, u32::from_ne_bytes))
    }

    /// The numeric (big-endian) delta of one computed in memory order, folded.
    #[inline(always)]
    pub fn from_memory_order(self) -> Delta {
        Delta(u32::from(u16::from_be_bytes(fold(self.0).to_ne_bytes())))
    }

    /// The memory-order delta of a numeric one, folded (the same byte swap).
    #[inline(always)]
    pub fn to_memory_order(self) -> Delta {
        self.from_memory_order()
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

    /// The opposite change.
    #[must_use]
    pub fn negate(self) -> Delta {
        Delta(!self.0)
    }

    /// Whether the difference is zero (either one's-complement zero).
    #[inline]
    pub fn is_zero(self) -> bool {
        matches!(fold(self.0), 0 | 0xffff)
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
    fn fold_is_two_end_around_folds() {
        let twice = |mut s: u32| {
            s = (s & 0xffff) + (s >> 16);
            s = (s & 0xffff) + (s >> 16);
            s as u16
        };
        let mut x = 0x9e37_79b9u32;
        let edges = [0, 1, 0xffff, 0x1_0000, 0xfffe_0001, 0xffff_0000, 0xffff_0001, 0xffff_fffe, 0xffff_ffff];
        for s in edges.into_iter().chain((0..1_000_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        })) {
            assert_eq!(fold(s), twice(s), "{s:#x}");
        }
        for hi in (0..=0xffffu32).step_by(7) {
            for lo in [0, 1, 0x7fff, 0xfffe, 0xffff] {
                let s = hi << 16 | lo;
                assert_eq!(fold(s), twice(s), "{s:#x}");
            }
        }
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
