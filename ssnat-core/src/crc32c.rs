// SPDX-License-Identifier: GPL-2.0
//! CRC32c (Castagnoli), as SCTP uses it (RFC 9260, appendix A).

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0x82f6_3b78 } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = make_table();

/// Continues a CRC32c over `data` (`crc` is the running, not yet inverted, value).
pub fn update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
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
}
