// SPDX-License-Identifier: GPL-2.0
//! CRC32c (Castagnoli), as SCTP uses it (RFC 9260, appendix A).

/// The CRC32c of every byte value (reflected polynomial 0x82f63b78), and the tables
/// that carry it 1 to 7 bytes further: slicing-by-8 (Intel's, as the kernel's generic
/// `crc32c` used to), eight table lookups per 8 bytes instead of one per byte.
const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0x82f6_3b78 } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut j = 1;
    while j < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        j += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// Continues a CRC32c over `data` (`crc` is the running, not yet inverted, value).
pub fn update(mut crc: u32, data: &[u8]) -> u32 {
    let t = &TABLES;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xff) as usize]
            ^ t[2][((hi >> 8) & 0xff) as usize]
            ^ t[1][((hi >> 16) & 0xff) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = t[0][usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    crc
}

/// The SCTP checksum of `packet` (the SCTP common header and chunks), computed with the
/// checksum field (bytes 8..12) taken as zero, in the byte order it is sent in.
pub fn sctp_checksum(packet: &[u8]) -> [u8; 4] {
    let mut crc = !0u32;
    crc = update(crc, packet.get(..8).unwrap_or(packet));
    if packet.len() >= 12 {
        crc = update(crc, &[0; 4]);
        crc = update(crc, packet.get(12..).unwrap_or(&[]));
    }
    // The result goes on the wire least significant byte first (RFC 9260, appendix A).
    (!crc).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // CRC-32C of "123456789" is 0xe3069283.
        assert_eq!(!update(!0, b"123456789"), 0xe306_9283);
    }

    /// Bytewise, the textbook way: the reference for the sliced version.
    fn bytewise(mut crc: u32, data: &[u8]) -> u32 {
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
            }
        }
        crc
    }

    #[test]
    fn sliced_equals_bytewise_at_every_length_and_alignment() {
        let data: [u8; 300] = core::array::from_fn(|i| (i * 7 + 3) as u8 ^ (i >> 3) as u8);
        for start in 0..9 {
            for end in start..data.len() {
                let d = &data[start..end];
                assert_eq!(update(!0, d), bytewise(!0, d), "{start}..{end}");
            }
        }
        // RFC 3720 (iSCSI), B.4: 32 bytes of zeros.
        assert_eq!(!update(!0, &[0; 32]), 0x8a91_36aa);
    }
}
