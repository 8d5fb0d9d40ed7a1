// SPDX-License-Identifier: GPL-2.0
//! The UDP datagram inside an IPv4 or IPv6 packet, as NFLOG hands it over (starting at
//! the IP header).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a packet carries no UDP payload to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Shorter than its headers, or lengths that do not fit.
    Malformed,
    /// Not UDP (after the IPv6 extension headers this module skips).
    NotUdp,
    /// A fragment of a larger datagram (the first or a later one): SIP in it is incomplete.
    Fragment,
    /// An IPv6 extension header this module does not walk (e.g. AH, ESP), or too many.
    Extension,
}

/// A UDP datagram: its source and destination and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// The UDP payload (cut at the UDP length).
    pub payload: &'a [u8],
}

fn udp(src: IpAddr, dst: IpAddr, l4: &[u8]) -> Result<Datagram<'_>, Skip> {
    let h = l4.get(..8).ok_or(Skip::Malformed)?;
    let sport = u16::from_be_bytes([h[0], h[1]]);
    let dport = u16::from_be_bytes([h[2], h[3]]);
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    // UDP length 0 is a jumbogram's (RFC 2675); there, the IP layer bounds the payload.
    let end = if len == 0 { l4.len() } else { len };
    if end < 8 || end > l4.len() {
        return Err(Skip::Malformed);
    }
    Ok(Datagram { src: SocketAddr::new(src, sport), dst: SocketAddr::new(dst, dport), payload: &l4[8..end] })
}

/// The UDP datagram in `ip`, an IPv4 or IPv6 packet.
///
/// IPv4 options are skipped. Of IPv6's extension headers, Hop-by-Hop, Routing and
/// Destination Options are skipped (at most 8 headers), and a Fragment header of an atomic
/// fragment (offset 0, no more fragments); any other fragment, in either family, is
/// [`Skip::Fragment`]: the follower does not reassemble (with conntrack loaded the kernel
/// has reassembled before the FORWARD hook).
pub fn datagram(ip: &[u8]) -> Result<Datagram<'_>, Skip> {
    match ip.first().map(|b| b >> 4) {
        Some(4) => {
            let h = ip.get(..20).ok_or(Skip::Malformed)?;
            let ihl = usize::from(h[0] & 15) * 4;
            let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
            if ihl < 20 || total < ihl || total > ip.len() {
                return Err(Skip::Malformed);
            }
            let frag = u16::from_be_bytes([h[6], h[7]]);
            if frag & 0x3fff != 0 {
                return Err(Skip::Fragment);
            }
            if h[9] != 17 {
                return Err(Skip::NotUdp);
            }
            let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
            let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
            udp(src.into(), dst.into(), &ip[ihl..total])
        }
        Some(6) => {
            let h = ip.get(..40).ok_or(Skip::Malformed)?;
            let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let end = if plen == 0 { ip.len() } else { 40 + plen };
            if end > ip.len() {
                return Err(Skip::Malformed);
            }
            let mut src = [0u8; 16];
            src.copy_from_slice(&h[8..24]);
            let mut dst = [0u8; 16];
            dst.copy_from_slice(&h[24..40]);
            let mut next = h[6];
            let mut off = 40;
            for _ in 0..8 {
                match next {
                    17 => {
                        let l4 = ip.get(off..end).ok_or(Skip::Malformed)?;
                        return udp(Ipv6Addr::from(src).into(), Ipv6Addr::from(dst).into(), l4);
                    }
                    0 | 43 | 60 => {
                        let e = ip.get(off..off + 2).ok_or(Skip::Malformed)?;
                        next = e[0];
                        off += (usize::from(e[1]) + 1) * 8;
                    }
                    44 => {
                        let e = ip.get(off..off + 8).ok_or(Skip::Malformed)?;
                        let frag = u16::from_be_bytes([e[2], e[3]]);
                        if frag & 0xfff9 != 0 {
                            return Err(Skip::Fragment);
                        }
                        next = e[0];
                        off += 8;
                    }
                    6 | 58 | 59 => return Err(Skip::NotUdp),
                    _ => return Err(Skip::Extension),
                }
                if off > end {
                    return Err(Skip::Malformed);
                }
            }
            Err(Skip::Extension)
        }
        _ => Err(Skip::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(proto: u8, frag: u16, opts: usize, payload: &[u8]) -> Vec<u8> {
        let ihl = 20 + opts;
        let total = ihl + 8 + payload.len();
        let mut p = vec![0u8; total];
        p[0] = 0x40 | (ihl / 4) as u8;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p[9] = proto;
        p[12..16].copy_from_slice(&[192, 0, 2, 1]);
        p[16..20].copy_from_slice(&[198, 51, 100, 2]);
        p[ihl..ihl + 2].copy_from_slice(&5060u16.to_be_bytes());
        p[ihl + 2..ihl + 4].copy_from_slice(&5062u16.to_be_bytes());
        p[ihl + 4..ihl + 6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p[ihl + 8..].copy_from_slice(payload);
        p
    }

    #[test]
    fn ipv4_with_options() {
        let p = v4(17, 0x4000, 8, b"hello");
        let d = datagram(&p).unwrap();
        assert_eq!(d.src, "192.0.2.1:5060".parse().unwrap());
        assert_eq!(d.dst, "198.51.100.2:5062".parse().unwrap());
        assert_eq!(d.payload, b"hello");
        // Trailing bytes beyond the IP total length (Ethernet padding) are not payload.
        let mut padded = p.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(datagram(&padded).unwrap().payload, b"hello");
    }

    #[test]
    fn ipv4_refusals() {
        assert_eq!(datagram(&v4(6, 0, 0, b"x")), Err(Skip::NotUdp));
        assert_eq!(datagram(&v4(17, 0x2000, 0, b"x")), Err(Skip::Fragment));
        assert_eq!(datagram(&v4(17, 0x0010, 0, b"x")), Err(Skip::Fragment));
        let p = v4(17, 0, 0, b"hello");
        for n in 0..p.len() {
            assert!(datagram(&p[..n]).is_err(), "prefix of {n} bytes");
        }
        let mut bad_udp_len = p.clone();
        bad_udp_len[25] = 200;
        assert_eq!(datagram(&bad_udp_len), Err(Skip::Malformed));
        assert_eq!(datagram(&[]), Err(Skip::Malformed));
    }

    fn v6(ext: &[u8], first: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[6] = first;
        p[8..24].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p[24..40].copy_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(ext);
        p.extend_from_slice(&5060u16.to_be_bytes());
        p.extend_from_slice(&5060u16.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p
    }

    #[test]
    fn ipv6_with_extensions() {
        let p = v6(&[], 17, b"sip");
        let d = datagram(&p).unwrap();
        assert_eq!(d.src, "[2001:db8::1]:5060".parse().unwrap());
        assert_eq!(d.payload, b"sip");
        // Hop-by-hop (8 bytes) then destination options (16 bytes) then UDP.
        let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(datagram(&v6(&ext, 0, b"sip")).unwrap().payload, b"sip");
        // An atomic fragment passes; a real fragment does not.
        assert_eq!(datagram(&v6(&[17, 0, 0, 0, 0, 0, 0, 1], 44, b"sip")).unwrap().payload, b"sip");
        assert_eq!(datagram(&v6(&[17, 0, 0, 1, 0, 0, 0, 1], 44, b"sip")), Err(Skip::Fragment));
        assert_eq!(datagram(&v6(&[17, 0, 0, 8, 0, 0, 0, 1], 44, b"sip")), Err(Skip::Fragment));
        assert_eq!(datagram(&v6(&[], 6, b"sip")), Err(Skip::NotUdp));
        assert_eq!(datagram(&v6(&[17, 0, 0, 0, 0, 0, 0, 0], 51, b"sip")), Err(Skip::Extension));
        // An extension header whose length runs past the packet.
        assert_eq!(datagram(&v6(&[17, 200, 0, 0, 0, 0, 0, 0], 0, b"sip")), Err(Skip::Malformed));
        let p = v6(&ext, 0, b"sip");
        for n in 0..p.len() {
            assert!(datagram(&p[..n]).is_err(), "prefix of {n} bytes");
        }
    }
}
