// SPDX-License-Identifier: GPL-2.0
use super::*;

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

/// RFC 3665 section 3.1, message F1 (the INVITE, with its SDP).
const RFC3665_F1: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 INVITE
Contact: <sip:alice@client.atlanta.example.com;transport=tcp>
Content-Type: application/sdp
Content-Length: 151

v=0
o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com
s=-
c=IN IP4 192.0.2.101
t=0 0
m=audio 49172 RTP/AVP 0
a=rtpmap:0 PCMU/8000
";

#[test]
fn rfc3665_invite() {
    let buf = crlf(RFC3665_F1);
    let (m, used) = parse(&buf).unwrap();
    assert_eq!(m.method(), Some("INVITE"));
    assert_eq!(m.call_id, "3848276298220188511@atlanta.example.com");
    assert_eq!((m.cseq, m.cseq_method.as_str()), (1, "INVITE"));
    assert_eq!(m.from_tag.as_deref(), Some("9fxced76sl"));
    assert_eq!(m.to_tag, None);
    assert_eq!(m.vias, 1);
    assert!(m.has_sdp());
    assert_eq!(m.body.len(), 151);
    assert!(m.body.starts_with(b"v=0\r\n") && m.body.ends_with(b"PCMU/8000\r\n"));
    assert_eq!(used, buf.len());
}

/// Compact forms, odd case, blanks before the colon, folding, several Via, bare LF.
#[test]
fn compact_and_odd_forms() {
    let buf = b"SIP/2.0 200 OK\n\
v: SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb\n\
VIA : SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKc\n\
f: \"Bob; the > builder\" <sip:bob@example.com;x=y>;tag=a73kszlfl\n\
t:<sip:alice@example.com>  ;  TAG = 1928301774\n\
i:   a84b4c76e66710@pc33.example.com  \n\
cseq:\t314159\n\t INVITE\n\
c: Application/SDP ; charset=utf-8\n\
l: 5\n\
\n\
v=0\r\nXYZ";
    let (m, used) = parse(buf).unwrap();
    assert_eq!(m.status(), Some(200));
    assert_eq!(m.vias, 3);
    assert_eq!(m.from_tag.as_deref(), Some("a73kszlfl"));
    assert_eq!(m.to_tag.as_deref(), Some("1928301774"));
    assert_eq!(m.call_id, "a84b4c76e66710@pc33.example.com");
    assert_eq!((m.cseq, m.cseq_method.as_str()), (314159, "INVITE"));
    assert_eq!(m.content_type.as_deref(), Some("application/sdp"));
    assert_eq!(m.body, b"v=0\r\n");
    assert_eq!(used, buf.len() - 3);
}

/// Two messages back to back, with CRLF keep-alives before them.
#[test]
fn glued() {
    let one = "BYE sip:a@b SIP/2.0\ni: x1\nCSeq: 2 BYE\nl: 0\n\n";
    let two = "SIP/2.0 200 OK\ni: x1\nCSeq: 2 BYE\nContent-Length: 0\n\n";
    let buf = crlf(&format!("\n\n{one}{two}"));
    let (m, used) = parse(&buf).unwrap();
    assert_eq!(m.method(), Some("BYE"));
    let (m2, used2) = parse(&buf[used..]).unwrap();
    assert_eq!(m2.status(), Some(200));
    assert_eq!(used + used2, buf.len());
    assert_eq!(parse(b"\r\n\r\n"), Err(Error::Empty));
}

#[test]
fn no_content_length_takes_the_rest() {
    let (m, _) = parse(b"ACK sip:a@b SIP/2.0\r\nCall-ID: y\r\nCSeq: 1 ACK\r\n\r\nv=0\r\n").unwrap();
    assert_eq!(m.body, b"v=0\r\n");
    assert!(m.has_sdp(), "no Content-Type, starts with v=");
}

#[test]
fn not_sdp() {
    let (m, _) =
        parse(b"INFO sip:a@b SIP/2.0\r\ni: y\r\nCSeq: 3 INFO\r\nc: application/dtmf-relay\r\nl: 5\r\n\r\nv=0\r\n")
            .unwrap();
    assert!(!m.has_sdp());
    let (m, _) =
        parse(b"INVITE sip:a@b SIP/2.0\r\ni: y\r\nCSeq: 3 INVITE\r\nc: application/sdp\r\ne: gzip\r\nl: 1\r\n\r\nv")
            .unwrap();
    assert!(!m.has_sdp());
    let (m, _) =
        parse(b"INVITE sip:a@b SIP/2.0\r\ni: y\r\nCSeq: 3 INVITE\r\nc: application/sdp\r\nl: 2\r\n\r\n\r\n").unwrap();
    assert!(!m.has_sdp(), "blank body");
}

#[test]
fn refusals() {
    let ok = "INVITE sip:a@b SIP/2.0\ni: y\nCSeq: 1 INVITE\nl: 0\n\n";
    assert!(parse(&crlf(ok)).is_ok());
    let cases: &[(&str, Error)] = &[
        ("INVITE sip:a@b SIP/3.0\ni: y\nCSeq: 1 INVITE\n\n", Error::BadStartLine),
        ("INVITE sip:a@b\ni: y\nCSeq: 1 INVITE\n\n", Error::BadStartLine),
        ("INV<ITE sip:a@b SIP/2.0\ni: y\nCSeq: 1 INVITE\n\n", Error::BadStartLine),
        ("SIP/2.0 99 Odd\ni: y\nCSeq: 1 INVITE\n\n", Error::BadStartLine),
        ("SIP/2.0 2000 OK\ni: y\nCSeq: 1 INVITE\n\n", Error::BadStartLine),
        ("SIP/2.0\ni: y\nCSeq: 1 INVITE\n\n", Error::BadStartLine),
        ("INVITE sip:a@b SIP/2.0\nCSeq: 1 INVITE\n\n", Error::BadCallId),
        ("INVITE sip:a@b SIP/2.0\ni: \nCSeq: 1 INVITE\n\n", Error::BadCallId),
        ("INVITE sip:a@b SIP/2.0\ni: a b\nCSeq: 1 INVITE\n\n", Error::BadCallId),
        ("INVITE sip:a@b SIP/2.0\ni: y\n\n", Error::BadCSeq),
        ("INVITE sip:a@b SIP/2.0\ni: y\nCSeq: INVITE\n\n", Error::BadCSeq),
        ("INVITE sip:a@b SIP/2.0\ni: y\nCSeq: 99999999999 INVITE\n\n", Error::BadCSeq),
        ("INVITE sip:a@b SIP/2.0\ni: y\nCSeq: 1 INVITE\nl: -1\n\n", Error::BadContentLength),
        ("INVITE sip:a@b SIP/2.0\ni: y\nCSeq: 1 INVITE\nl: 1\nContent-Length: 2\n\nxx", Error::BadContentLength),
        ("INVITE sip:a@b SIP/2.0\ni: y\nCSeq: 1 INVITE\nl: 10\n\nshort", Error::Truncated),
        ("INVITE sip:a@b SIP/2.0\ni: y\nCall-ID: z\nCSeq: 1 INVITE\n\n", Error::Conflict),
        ("INVITE sip:a@b SIP/2.0\ni: y\nCSeq: 1 INVITE\nno colon here\n\n", Error::BadHeader),
        ("INVITE sip:a@b SIP/2.0\n continued\ni: y\nCSeq: 1 INVITE\n\n", Error::BadHeader),
        ("INVITE sip:a@b SIP/2.0\nBad Name: x\ni: y\nCSeq: 1 INVITE\n\n", Error::BadHeader),
        ("INVITE sip:a@b SIP/2.0\ni: y\nCSeq: 1 INVITE\n", Error::Unterminated),
        ("INVITE sip:a@b SIP/2.0", Error::Unterminated),
    ];
    for (text, want) in cases {
        assert_eq!(parse(&crlf(text)).map(|_| ()), Err(*want), "{text:?}");
    }
    // Repeated with the same value is fine.
    assert!(parse(&crlf("INVITE sip:a@b SIP/2.0\ni: y\nCall-ID: y\nCSeq: 1 INVITE\nl: 0\nl: 0\n\n")).is_ok());
}

#[test]
fn limits() {
    let mut many = String::from("OPTIONS sip:a@b SIP/2.0\r\ni: y\r\nCSeq: 1 OPTIONS\r\n");
    for i in 0..MAX_HEADERS {
        many += &format!("X-H{i}: v\r\n");
    }
    many += "\r\n";
    assert_eq!(parse(many.as_bytes()).map(|_| ()), Err(Error::TooManyHeaders));
    let mut big = crlf("INVITE sip:a@b SIP/2.0\ni: y\nCSeq: 1 INVITE\n\n");
    big.resize(MAX_MESSAGE + 1, b'x');
    assert_eq!(parse(&big).map(|_| ()), Err(Error::TooLong));
    let long_id = format!("INVITE sip:a@b SIP/2.0\r\ni: {}\r\nCSeq: 1 INVITE\r\n\r\n", "x".repeat(MAX_CALL_ID + 1));
    assert_eq!(parse(long_id.as_bytes()).map(|_| ()), Err(Error::BadCallId));
}

/// Every prefix of a valid message, and every single-byte change, parses or fails
/// without panicking; a prefix that cuts the body is Truncated.
#[test]
fn prefixes_and_mutations() {
    let buf = crlf(RFC3665_F1);
    let body_at = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    for n in 0..buf.len() {
        let r = parse(&buf[..n]);
        assert!(r.is_err(), "prefix {n} parsed");
        if n >= body_at {
            assert_eq!(r.map(|_| ()), Err(Error::Truncated));
        }
    }
    for i in 0..buf.len() {
        for b in [0u8, b'\n', b':', b' ', 0xff] {
            let mut m = buf.clone();
            m[i] = b;
            let _ = parse(&m);
        }
    }
}

#[test]
fn garbage() {
    for g in [
        &b""[..],
        b"\x00\x01\x02",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        &[0xff; 300],
        b"\r\n\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
    ] {
        assert!(parse(g).is_err());
    }
}
