// SPDX-License-Identifier: GPL-2.0
use super::*;

/// A netlink message as the kernel sends it: header, body, padding.
fn nlmsg(ty: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(body);
    m.resize(align4(m.len()), 0);
    m
}

/// The body of an NFULNL_MSG_PACKET: nfgenmsg, NFULA_PACKET_HDR, NFULA_PREFIX, NFULA_PAYLOAD.
fn packet_body(family: u8, group: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![family, 0];
    b.extend_from_slice(&group.to_be_bytes());
    put_attr(&mut b, NFULA_PACKET_HDR, &[0x08, 0x00, 3, 0]);
    put_attr(&mut b, 4, &7u32.to_be_bytes()); // NFULA_IFINDEX_INDEV
    put_attr(&mut b, NFULA_PREFIX, b"sip\0");
    put_attr(&mut b, NFULA_PAYLOAD | 0x4000, payload); // NLA_F_NET_BYTEORDER masked off
    b
}

const PACKET: u16 = (NFNL_SUBSYS_ULOG as u16) << 8;

#[test]
fn config_messages() {
    let b = config_bind(1, 5);
    // nlmsghdr: len 28, type 0x0401, flags REQUEST|ACK, seq 1, pid 0; nfgenmsg AF_UNSPEC
    // v0 res_id 5 (big endian); NFULA_CFG_CMD (len 5, padded) BIND.
    let mut want = Vec::new();
    want.extend_from_slice(&28u32.to_ne_bytes());
    want.extend_from_slice(&0x0401u16.to_ne_bytes());
    want.extend_from_slice(&5u16.to_ne_bytes());
    want.extend_from_slice(&1u32.to_ne_bytes());
    want.extend_from_slice(&0u32.to_ne_bytes());
    want.extend_from_slice(&[0, 0, 0, 5]);
    want.extend_from_slice(&5u16.to_ne_bytes());
    want.extend_from_slice(&1u16.to_ne_bytes());
    want.extend_from_slice(&[1, 0, 0, 0]);
    assert_eq!(b, want);

    let m = config_mode(2, 0x1234, NFULNL_COPY_PACKET, 0xffff);
    assert_eq!(m.len(), 32);
    assert_eq!(&m[..4], &32u32.to_ne_bytes());
    assert_eq!(&m[16..20], &[0, 0, 0x12, 0x34]);
    assert_eq!(&m[20..22], &10u16.to_ne_bytes());
    assert_eq!(&m[22..24], &2u16.to_ne_bytes());
    assert_eq!(&m[24..30], &[0, 0, 0xff, 0xff, 2, 0]);
    assert_eq!(config_unbind(3, 5)[24], NFULNL_CFG_CMD_UNBIND);
}

#[test]
fn several_messages() {
    let mut buf = nlmsg(PACKET, 0, &packet_body(2, 5, b"\x45abc"));
    buf.extend(nlmsg(PACKET, 0, &packet_body(10, 5, b"\x60defgh")));
    let mut err = (-16i32).to_ne_bytes().to_vec();
    err.extend_from_slice(&nlmsg(0x0401, 9, &[])[..16]);
    buf.extend(nlmsg(2, 9, &err));
    let mut ack = 0i32.to_ne_bytes().to_vec();
    ack.extend_from_slice(&nlmsg(0x0401, 10, &[])[..16]);
    buf.extend(nlmsg(2, 10, &ack));
    buf.extend(nlmsg(3, 0, &[0; 4])); // NLMSG_DONE
    let got: Vec<_> = messages(&buf).collect();
    assert_eq!(got.len(), 5);
    let Ok(Message::Packet(p)) = got[0] else { panic!("{:?}", got[0]) };
    assert_eq!((p.family, p.group, p.hook, p.hw_protocol), (2, 5, Some(3), Some(0x0800)));
    assert_eq!(p.prefix, Some(&b"sip"[..]));
    assert_eq!(p.payload, b"\x45abc");
    let Ok(Message::Packet(p)) = got[1] else { panic!() };
    assert_eq!((p.family, p.payload), (10, &b"\x60defgh"[..]));
    assert_eq!(got[2], Ok(Message::Error { seq: 9, errno: 16 }));
    assert_eq!(got[3], Ok(Message::Ack { seq: 10 }));
    assert_eq!(got[4], Ok(Message::Other { ty: 3 }));
}

#[test]
fn lying_lengths() {
    let good = nlmsg(PACKET, 0, &packet_body(2, 5, b"\x45abcdefg"));
    // Every prefix: the messages before the cut, then at most one error, never a panic.
    for n in 0..good.len() {
        let got: Vec<_> = messages(&good[..n]).collect();
        assert!(got.len() <= 1);
        if n > 0 {
            assert_eq!(got[0], Err(ParseError::Truncated), "prefix {n}");
        }
    }
    // nlmsg_len shorter than the header, and larger than the buffer.
    let mut m = good.clone();
    m[..4].copy_from_slice(&8u32.to_ne_bytes());
    assert_eq!(messages(&m).collect::<Vec<_>>(), [Err(ParseError::BadLength)]);
    m[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
    assert_eq!(messages(&m).collect::<Vec<_>>(), [Err(ParseError::Truncated)]);
    // An attribute length past the message: the attributes stop there, the packet stays.
    let mut m = good.clone();
    let at = 16 + 4; // first attribute
    m[at..at + 2].copy_from_slice(&200u16.to_ne_bytes());
    let Some(Ok(Message::Packet(p))) = messages(&m).next() else { panic!() };
    assert_eq!((p.hook, p.payload), (None, &b""[..]));
    // An attribute length under 4.
    m[at..at + 2].copy_from_slice(&2u16.to_ne_bytes());
    assert!(matches!(messages(&m).next(), Some(Ok(Message::Packet(_)))));
    // A short NFULA_PACKET_HDR is ignored.
    let mut b = vec![2, 0, 0, 5];
    put_attr(&mut b, NFULA_PACKET_HDR, &[8]);
    let m = nlmsg(PACKET, 0, &b);
    let Some(Ok(Message::Packet(p))) = messages(&m).next() else { panic!() };
    assert_eq!(p.hook, None);
    // A packet message without its nfgenmsg, an error message without its errno.
    assert_eq!(messages(&nlmsg(PACKET, 0, &[2])).next(), Some(Err(ParseError::Truncated)));
    assert_eq!(messages(&nlmsg(2, 0, &[0, 0])).next(), Some(Err(ParseError::Truncated)));
    // Every byte changed to every value in the length fields: no panic.
    for i in 0..good.len() {
        for v in [0u8, 1, 3, 4, 0x7f, 0xff] {
            let mut m = good.clone();
            m[i] = v;
            let _ = messages(&m).count();
        }
    }
}
