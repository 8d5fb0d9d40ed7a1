// SPDX-License-Identifier: GPL-2.0
use super::*;

fn sdp(text: &str) -> Result<Sdp, Error> {
    parse(text.replace('\n', "\r\n").as_bytes())
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// Asterisk's offer: session-level c=, a=fmtp for telephone-event, a=ptime, a=maxptime.
#[test]
fn asterisk_offer() {
    let s = sdp("v=0
o=- 1712345678 1712345678 IN IP4 10.0.0.10
s=Asterisk
c=IN IP4 10.0.0.10
t=0 0
m=audio 12000 RTP/AVP 0 8 3 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:3 GSM/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=sendonly
")
    .unwrap();
    assert_eq!(
        s.media,
        [Media { kind: "audio".into(), port: 12000, rtp: true, addr: ip("10.0.0.10"), direction: Direction::SendOnly }]
    );
}

/// FreeSWITCH's answer: unknown attributes (a=silenceSupp) are dropped as warnings.
#[test]
fn freeswitch_unknown_attributes() {
    let s = sdp("v=0
o=FreeSWITCH 1712340000 1712340001 IN IP4 198.51.100.30
s=FreeSWITCH
c=IN IP4 198.51.100.30
t=0 0
m=audio 27000 RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=silenceSupp:off - - - -
a=ptime:20
a=rtcp:27001 IN IP4 198.51.100.30
a=X-nat:0
")
    .unwrap();
    assert_eq!(s.media.len(), 1);
    assert_eq!((s.media[0].port, s.media[0].addr), (27000, ip("198.51.100.30")));
    assert_eq!(s.media[0].direction, Direction::SendRecv);
}

/// RFC 4317 section 2.2: audio and video offered, video rejected with port 0; c= by name.
#[test]
fn rfc4317_video_rejected_fqdn() {
    let s = sdp("v=0
o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com
s= 
c=IN IP4 host.biloxi.example.com
t=0 0
m=audio 49174 RTP/AVP 0
a=rtpmap:0 PCMU/8000
m=video 0 RTP/AVP 32
a=rtpmap:32 MPV/90000
")
    .unwrap();
    assert_eq!(s.media.len(), 2);
    assert_eq!((s.media[0].port, s.media[0].addr), (49174, None));
    assert_eq!((s.media[1].kind.as_str(), s.media[1].port), ("video", 0));
}

/// Media-level c=IN IP6 only, a second m= line with its own c=; session-level direction.
#[test]
fn ipv6_media_level() {
    let s = sdp("v=0
o=- 20518 0 IN IP6 2001:db8::10
s=-
t=0 0
a=recvonly
m=audio 40000 RTP/AVP 9 0 101
c=IN IP6 2001:db8::10
a=rtpmap:9 G722/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
m=video 40002 RTP/AVP 96
c=IN IP6 2001:db8::11
a=rtpmap:96 H264/90000
a=fmtp:96 profile-level-id=42801F
a=inactive
")
    .unwrap();
    assert_eq!(s.media[0].addr, ip("2001:db8::10"));
    assert_eq!(s.media[0].direction, Direction::RecvOnly);
    assert_eq!(s.media[1].addr, ip("2001:db8::11"));
    assert_eq!(s.media[1].direction, Direction::Inactive);
}

/// Media-level c= overrides the session's.
#[test]
fn media_level_overrides_session() {
    let s = sdp("v=0
o=- 1 1 IN IP4 10.0.0.10
s=-
c=IN IP4 10.0.0.10
t=0 0
m=audio 12000 RTP/AVP 0
c=IN IP4 10.0.0.11
m=audio 12002 RTP/AVP 0
")
    .unwrap();
    assert_eq!(s.media[0].addr, ip("10.0.0.11"));
    assert_eq!(s.media[1].addr, ip("10.0.0.10"));
}

/// T.38 (m=image udptl), MSRP and other transports webrtc-sdp does not know: put back in
/// their place as non-RTP lines so that positions still match.
#[test]
fn unknown_transports_keep_positions() {
    let s = sdp("v=0
o=- 1 2 IN IP4 198.51.100.30
s=-
c=IN IP4 198.51.100.30
t=0 0
m=audio 0 RTP/AVP 8
m=image 27002 udptl t38
a=T38FaxVersion:0
a=T38MaxBitRate:14400
m=message 7394 TCP/MSRP *
a=accept-types:text/plain
m=text 27004 RTP/AVP 98
a=rtpmap:98 t140/1000
")
    .unwrap();
    let got: Vec<_> = s.media.iter().map(|m| (m.kind.as_str(), m.port, m.rtp)).collect();
    assert_eq!(got, [("audio", 0, true), ("image", 27002, false), ("message", 7394, false), ("text", 27004, true)]);
}

/// SRTP (RTP/SAVP with a=crypto) is RTP; TCP/DTLS/RTP is not UDP; u=, e=, p=, r=, z=, k=
/// are dropped before parsing (webrtc-sdp refuses the body for each of them).
#[test]
fn savp_and_dropped_lines() {
    let s = sdp("v=0
o=root 2140 2141 IN IP4 10.0.0.10
s=call
i=A call
u=http://example.com/
e=pbx@example.com
p=+1 617 555 1234
c=IN IP4 10.0.0.10
b=CT:384
t=0 0
r=7d 1h 0 25h
z=2882844526 -1h 2898848070 0
k=clear:secret
m=audio 12000 RTP/SAVP 18 101
b=AS:64
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4
m=audio 12002 TCP/DTLS/RTP/SAVP 0
")
    .unwrap();
    assert!(s.media[0].rtp);
    assert!(!s.media[1].rtp);
}

/// More than MAX_MEDIA m= lines: the first MAX_MEDIA are kept.
#[test]
fn many_media_lines() {
    let mut t = String::from("v=0\no=- 1 1 IN IP4 10.0.0.10\ns=-\nc=IN IP4 10.0.0.10\nt=0 0\n");
    for i in 0..10 {
        t += &format!("m=audio {} RTP/AVP 0\n", 10000 + 2 * i);
    }
    let s = sdp(&t).unwrap();
    assert_eq!(s.media.len(), MAX_MEDIA);
    assert_eq!(s.media[3].port, 10006);
}

/// What webrtc-sdp refuses even with fail_on_warning = false.
#[test]
fn refused() {
    let head = "v=0\no=- 1 1 IN IP4 10.0.0.10\ns=-\nc=IN IP4 10.0.0.10\nt=0 0\n";
    // A malformed attribute it knows.
    assert!(matches!(sdp(&format!("{head}m=audio 12000 RTP/AVP 0\na=rtpmap:0 PCMU\n")), Err(Error::Parse(_))));
    // No t=.
    assert!(sdp("v=0\no=- 1 1 IN IP4 10.0.0.10\ns=-\nc=IN IP4 10.0.0.10\nm=audio 12000 RTP/AVP 0\n").is_err());
    // A media section without any c=.
    assert!(sdp("v=0\no=- 1 1 IN IP4 10.0.0.10\ns=-\nt=0 0\nm=audio 12000 RTP/AVP 0\n").is_err());
    // A port over 65535, not a number, garbage, empty, too long.
    assert!(sdp(&format!("{head}m=audio 70000 RTP/AVP 0\n")).is_err());
    assert!(sdp(&format!("{head}m=audio x RTP/AVP 0\n")).is_err());
    assert!(sdp("hello").is_err());
    assert!(parse(b"").is_err());
    assert!(parse(&[0xff; 100]).is_err());
    assert_eq!(parse(&vec![b'a'; MAX_SDP + 1]), Err(Error::TooLong));
}

/// Every prefix of a valid body parses or fails, without panicking.
#[test]
fn prefixes_do_not_panic() {
    let t = "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\nm=audio 12000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\nm=video 0 RTP/AVP 96\r\n";
    for n in 0..t.len() {
        let _ = parse(&t.as_bytes()[..n]);
    }
}
