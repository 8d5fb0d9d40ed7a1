// SPDX-License-Identifier: GPL-2.0
//! The follower on whole calls, with the messages of tests/sip/.

mod common;

use std::time::Duration;

use common::*;
use ssnat_follow::{Action, CallState, Config, DelReason, Follower, SkipReason};

const K: &str = "198.51.100.30:27000";
const TO: &str = "203.0.113.5:12000";

/// Outbound call from the PBX: 100, 180, 200 (Add), ACK, hold re-INVITE with sendonly
/// keeping the port (nothing), a re-INVITE from the provider that moves its media
/// (Replaced, Add), BYE from the PBX (Del), retransmitted BYE (nothing).
#[test]
fn outbound_call() {
    let mut h = H::new(config());
    assert_eq!(h.pbx("out-invite.sip"), []);
    assert_eq!(h.f.calls().next().unwrap().state, CallState::Offered);
    assert_eq!(h.sbc("out-100.sip"), []);
    assert_eq!(h.sbc("out-180.sip"), []);
    assert_eq!(h.sbc("out-200.sip"), [add(CALL_OUT, K, TO)]);
    assert_eq!(h.pbx("out-ack.sip"), []);
    assert_eq!(h.sbc("out-200.sip"), [], "a retransmitted 200");
    let v = h.f.calls().next().unwrap();
    assert_eq!((v.call_id, v.state), (CALL_OUT, CallState::Confirmed));
    assert_eq!(v.entries, [(key(K), addr(TO))]);
    assert_eq!(v.inside.unwrap().media[0].port, 12000);
    assert_eq!(v.outside.unwrap().media[0].port, 27000);

    // Hold: the PBX sends sendonly, same port; the provider answers recvonly.
    assert_eq!(h.pbx("out-reinvite-hold.sip"), []);
    assert_eq!(h.sbc("out-200-hold.sip"), []);
    assert_eq!(h.pbx("out-ack.sip"), []);

    // The provider moves its media to another address and port.
    assert_eq!(h.sbc("out-reinvite-move.sip"), [], "an offer alone changes nothing");
    let k2 = "198.51.100.31:27010";
    assert_eq!(h.pbx("out-200-move.sip"), [del(CALL_OUT, K, DelReason::Replaced), add(CALL_OUT, k2, TO)]);

    assert_eq!(h.pbx("out-bye-in.sip"), [del(CALL_OUT, k2, DelReason::Bye)]);
    assert_eq!(h.pbx("out-bye-in.sip"), []);
    assert_eq!(h.sbc("out-200.sip"), [], "a late 200 of a call that ended");
    assert_eq!(h.f.calls().count(), 0);
    assert_eq!(h.f.entries().count(), 0);
}

#[test]
fn bye_from_the_provider() {
    let mut h = H::new(config());
    h.pbx("out-invite.sip");
    assert_eq!(h.sbc("out-200.sip"), [add(CALL_OUT, K, TO)]);
    assert_eq!(h.sbc("out-bye-out.sip"), [del(CALL_OUT, K, DelReason::Bye)]);
}

/// Without to_address, the translation is the inside SDP's address.
#[test]
fn translation_from_the_inside_sdp() {
    let mut h = H::new(Config { to_address: None, ..config() });
    h.pbx("out-invite.sip");
    assert_eq!(h.sbc("out-200.sip"), [add(CALL_OUT, K, "10.0.0.10:12000")]);
}

/// Inbound call in compact form, audio and video offered, the PBX answers early (183) with
/// video rejected: one entry at the 183; the provider cancels.
#[test]
fn inbound_early_media_then_cancel() {
    let mut h = H::new(config());
    assert_eq!(h.sbc("in-invite.sip"), []);
    let k = "198.51.100.30:31000";
    assert_eq!(h.pbx("in-183.sip"), [add(CALL_IN, k, "203.0.113.5:12004")]);
    assert_eq!(h.f.calls().next().unwrap().state, CallState::Early);
    assert_eq!(h.sbc("in-cancel.sip"), [del(CALL_IN, k, DelReason::Cancel)]);
    assert_eq!(h.f.calls().count(), 0);
}

#[test]
fn inbound_early_media_then_busy() {
    let mut h = H::new(config());
    h.sbc("in-invite.sip");
    let k = "198.51.100.30:31000";
    assert_eq!(h.pbx("in-183.sip"), [add(CALL_IN, k, "203.0.113.5:12004")]);
    assert_eq!(h.pbx("in-486.sip"), [del(CALL_IN, k, DelReason::Failed(486))]);
    assert_eq!(h.f.calls().count(), 0);
}

#[test]
fn busy_without_media_leaves_nothing() {
    let mut h = H::new(config());
    h.sbc("in-invite.sip");
    assert_eq!(h.pbx("in-486.sip"), []);
    assert_eq!(h.f.calls().count(), 0);
}

/// A 200 after the 183 with the same SDP adds nothing; a CANCEL that crossed the 200 is
/// ignored; BYE deletes.
#[test]
fn inbound_answered() {
    let mut h = H::new(config());
    h.sbc("in-invite.sip");
    let k = "198.51.100.30:31000";
    assert_eq!(h.pbx("in-183.sip"), [add(CALL_IN, k, "203.0.113.5:12004")]);
    assert_eq!(h.pbx("in-200.sip"), []);
    assert_eq!(h.f.calls().next().unwrap().state, CallState::Confirmed);
    assert_eq!(h.sbc("in-cancel.sip"), []);
    let bye = [("CANCEL", "BYE"), ("1 BYE", "2 BYE")];
    assert_eq!(h.send(SBC, PBX, "in-cancel.sip", &bye), [del(CALL_IN, k, DelReason::Bye)]);
}

/// RFC 4317 section 2.2 over IPv6: audio kept, video rejected by port 0.
#[test]
fn ipv6_call() {
    let alice = "[2001:db8:1::20]:5060";
    let bob = "[2001:db8:2::10]:5060";
    let mut h = H::new(Config { to_address: None, ..config() });
    assert_eq!(h.send(alice, bob, "v6-invite.sip", &[]), []);
    let call = "a84b4c76e66710@pc33.atlanta.example.com";
    assert_eq!(h.send(bob, alice, "v6-200.sip", &[]), [add(call, "[2001:db8:2::10]:49174", "[2001:db8:1::30]:49170")]);
}

/// An IPv6 key with an IPv4 translation is skipped, said once.
#[test]
fn family_mismatch_is_skipped_once() {
    let alice = "[2001:db8:1::20]:5060";
    let bob = "[2001:db8:2::10]:5060";
    let mut h = H::new(config());
    h.send(alice, bob, "v6-invite.sip", &[]);
    let call = "a84b4c76e66710@pc33.atlanta.example.com";
    let skip = Action::Skip {
        call_id: call.into(),
        key: key("[2001:db8:2::10]:49174"),
        to: addr("203.0.113.5:49170"),
        reason: SkipReason::FamilyMismatch,
    };
    assert_eq!(h.send(bob, alice, "v6-200.sip", &[]), [skip]);
    assert_eq!(h.send(bob, alice, "v6-200.sip", &[]), []);
    assert_eq!(h.f.stats().family_mismatch, 1);
    assert_eq!(h.f.entries().count(), 0);
}

#[test]
fn timeout() {
    let mut h = H::new(config());
    h.pbx("out-invite.sip");
    h.sbc("out-200.sip");
    let t0 = h.t;
    // Activity later on restarts the clock.
    h.t = t0 + Duration::from_secs(1800);
    h.pbx("out-ack.sip");
    let last = h.t - Duration::from_millis(100);
    assert_eq!(h.expire_at(last + Duration::from_secs(3599)), []);
    assert_eq!(h.expire_at(last + Duration::from_secs(3600)), [del(CALL_OUT, K, DelReason::Timeout)]);
    assert_eq!(h.f.calls().count(), 0);
    assert_eq!(h.f.stats().timed_out, 1);
    // A call that never got media times out silently.
    h.t = last + Duration::from_secs(4000);
    h.pbx("out-invite.sip");
    assert_eq!(h.expire_at(h.t + Duration::from_secs(7200)), []);
    assert_eq!(h.f.calls().count(), 0);
}

/// A time earlier than one already seen counts as that one.
#[test]
fn time_going_backwards() {
    let mut h = H::new(config());
    h.pbx("out-invite.sip");
    h.sbc("out-200.sip");
    let late = h.t + Duration::from_secs(100);
    assert_eq!(h.expire_at(late), []);
    h.t = Duration::ZERO;
    h.pbx("out-ack.sip");
    assert_eq!(h.f.calls().next().unwrap().last_active, late);
    assert_eq!(h.expire_at(late + Duration::from_secs(3600)).len(), 1);
}

/// The call with the given Call-ID, inside port and outside port.
fn call(h: &mut H, id: &str, inside: u16, outside: u16) -> Vec<Action> {
    let e = [
        (CALL_OUT, id),
        ("m=audio 12000", &format!("m=audio {inside}")),
        ("m=audio 27000", &format!("m=audio {outside}")),
    ];
    let mut a = h.send(PBX, SBC, "out-invite.sip", &e);
    a.extend(h.send(SBC, PBX, "out-200.sip", &e));
    a
}

#[test]
fn eviction_of_the_least_recently_active() {
    let mut h = H::new(Config { max_calls: 2, ..config() });
    assert_eq!(call(&mut h, "a", 12000, 27000), [add("a", K, TO)]);
    assert_eq!(call(&mut h, "b", 12002, 27002), [add("b", "198.51.100.30:27002", "203.0.113.5:12002")]);
    // "a" is active again; "b" is now the least recently active.
    h.send(PBX, SBC, "out-ack.sip", &[(CALL_OUT, "a")]);
    let got = call(&mut h, "c", 12004, 27004);
    assert_eq!(
        got,
        [del("b", "198.51.100.30:27002", DelReason::Evicted), add("c", "198.51.100.30:27004", "203.0.113.5:12004")]
    );
    assert_eq!(h.f.calls().count(), 2);
    assert_eq!(h.f.stats().evicted, 1);
    // Zero calls allowed: nothing is tracked.
    let mut h = H::new(Config { max_calls: 0, ..config() });
    assert_eq!(call(&mut h, "a", 12000, 27000), []);
}

/// A newer call takes a key an older call holds; the older's BYE leaves it alone.
#[test]
fn key_taken_by_a_newer_call() {
    let mut h = H::new(config());
    assert_eq!(call(&mut h, "old", 12000, 27000), [add("old", K, TO)]);
    assert_eq!(call(&mut h, "new", 12010, 27000), [add("new", K, "203.0.113.5:12010")]);
    assert_eq!(h.f.entries().collect::<Vec<_>>(), [(key(K), "new", addr("203.0.113.5:12010"))]);
    // The older call's retransmitted 200 does not take it back.
    let old = [(CALL_OUT, "old")];
    assert_eq!(h.send(SBC, PBX, "out-200.sip", &old), []);
    assert_eq!(h.f.calls().find(|c| c.call_id == "old").unwrap().entries, []);
    assert_eq!(h.send(PBX, SBC, "out-bye-in.sip", &[(CALL_OUT, "old")]), []);
    assert_eq!(h.send(PBX, SBC, "out-bye-in.sip", &[(CALL_OUT, "new")]), [del("new", K, DelReason::Bye)]);
}

/// Re-INVITE rejected (488): both sides roll back to the last commit, nothing changes.
#[test]
fn rejected_reinvite_rolls_back() {
    let mut h = H::new(config());
    h.pbx("out-invite.sip");
    h.sbc("out-200.sip");
    let moved = [("CSeq: 102", "CSeq: 104"), ("m=audio 12000", "m=audio 12020")];
    assert_eq!(h.send(PBX, SBC, "out-reinvite-hold.sip", &moved), []);
    let reject = [("100 Trying", "488 Not Acceptable Here"), ("CSeq: 101", "CSeq: 104")];
    assert_eq!(h.send(SBC, PBX, "out-100.sip", &reject), []);
    assert_eq!(h.f.calls().next().unwrap().inside.unwrap().media[0].port, 12000);
    // The next accepted re-INVITE is compared with what was installed.
    assert_eq!(h.pbx("out-reinvite-hold.sip"), []);
    assert_eq!(h.sbc("out-200-hold.sip"), []);
    // 481 to a re-INVITE ends the dialog.
    let gone = [("100 Trying", "481 Call/Transaction Does Not Exist"), ("CSeq: 101", "CSeq: 105")];
    assert_eq!(h.send(SBC, PBX, "out-100.sip", &gone), [del(CALL_OUT, K, DelReason::Failed(481))]);
}

/// A re-INVITE that changes the PBX's port: the translation changes, the key stays: one
/// Add (replace), no Del.
#[test]
fn reinvite_changing_the_inside_port() {
    let mut h = H::new(config());
    h.pbx("out-invite.sip");
    h.sbc("out-200.sip");
    assert_eq!(h.send(PBX, SBC, "out-reinvite-hold.sip", &[("m=audio 12000", "m=audio 12020")]), []);
    assert_eq!(h.sbc("out-200-hold.sip"), [add(CALL_OUT, K, "203.0.113.5:12020")]);
}

/// Late offer: INVITE without SDP, the offer in the 200, the answer in the ACK.
#[test]
fn late_offer() {
    let mut h = H::new(config());
    let no_sdp =
        std::str::from_utf8(&sip("out-invite.sip", &[])).unwrap().split("\r\n\r\n").next().unwrap().to_string();
    let no_sdp = no_sdp
        .replace("Content-Type: application/sdp\r\n", "")
        .replace(&no_sdp[no_sdp.find("Content-Length").unwrap()..], "Content-Length: 0");
    assert_eq!(h.raw(PBX, format!("{no_sdp}\r\n\r\n").as_bytes()), []);
    // The provider's offer in the 200...
    assert_eq!(h.sbc("out-200.sip"), []);
    // ...and the PBX's answer in the ACK.
    let ack = std::str::from_utf8(&sip("out-ack.sip", &[])).unwrap().replace("Content-Length: 0\r\n\r\n", "");
    let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.10\r\ns=-\r\nc=IN IP4 10.0.0.10\r\nt=0 0\r\nm=audio 12000 RTP/AVP 8\r\n";
    let ack = format!("{ack}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    assert_eq!(h.raw(PBX, ack.as_bytes()), [add(CALL_OUT, K, TO)]);
}

/// A switch to T.38: audio port 0 and an m=image udptl line: the audio entry goes.
#[test]
fn switch_to_t38() {
    let mut h = H::new(config());
    h.pbx("out-invite.sip");
    h.sbc("out-200.sip");
    let t38 = "m=audio 0 RTP/AVP 8\r\nm=image 27002 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\n";
    let body_at = "m=audio 27010 RTP/AVP 8 101";
    let offer = [
        (body_at, t38),
        ("a=rtpmap:8 PCMA/8000\n", ""),
        ("a=rtpmap:101 telephone-event/8000\n", ""),
        ("a=fmtp:101 0-16\n", ""),
        ("a=ptime:20\n", ""),
        ("a=sendrecv\n", ""),
        ("198.51.100.31", "198.51.100.30"),
    ];
    assert_eq!(h.send(SBC, PBX, "out-reinvite-move.sip", &offer), []);
    let answer = [("m=audio 12000 RTP/AVP 8 101", "m=audio 0 RTP/AVP 8\r\nm=image 12002 udptl t38")];
    assert_eq!(h.send(PBX, SBC, "out-200-move.sip", &answer), [del(CALL_OUT, K, DelReason::Replaced)]);
    assert_eq!(h.f.entries().count(), 0);
}

/// RFC 2543 hold (c=IN IP4 0.0.0.0) keeps the entry where it was.
#[test]
fn rfc2543_hold_keeps_the_entry() {
    let mut h = H::new(config());
    h.pbx("out-invite.sip");
    h.sbc("out-200.sip");
    let hold = [("c=IN IP4 198.51.100.31", "c=IN IP4 0.0.0.0"), ("m=audio 27010", "m=audio 27000")];
    assert_eq!(h.send(SBC, PBX, "out-reinvite-move.sip", &hold), []);
    assert_eq!(h.pbx("out-200-move.sip"), []);
    assert_eq!(h.f.entries().count(), 1);
}

/// More m= lines than kept: at most MAX_MEDIA entries.
#[test]
fn many_media_lines() {
    let mut h = H::new(config());
    let lines = |base: u16| (0..8).map(|i| format!("m=audio {} RTP/AVP 8\n", base + 2 * i)).collect::<String>();
    let (a, b) = (lines(12000), lines(27000));
    h.send(PBX, SBC, "out-invite.sip", &[("m=audio 12000 RTP/AVP 8 0 9 101\n", &a)]);
    let acts = h.send(SBC, PBX, "out-200.sip", &[("m=audio 27000 RTP/AVP 8 101\n", &b)]);
    assert_eq!(acts.len(), ssnat_follow::sdp::MAX_MEDIA);
    assert_eq!(acts[3], add(CALL_OUT, "198.51.100.30:27006", "203.0.113.5:12006"));
}

/// Two messages in one datagram (a 200 and a BYE).
#[test]
fn glued_messages() {
    let mut h = H::new(config());
    h.pbx("out-invite.sip");
    let mut two = sip("out-200.sip", &[]);
    two.extend(sip("out-bye-out.sip", &[]));
    assert_eq!(h.raw(SBC, &two), [add(CALL_OUT, K, TO), del(CALL_OUT, K, DelReason::Bye)]);
}

/// Messages of calls never seen, garbage, every prefix of the 200: no action, no panic.
#[test]
fn garbage_and_truncated() {
    let mut h = H::new(config());
    assert_eq!(h.sbc("out-200.sip"), [], "no INVITE seen");
    assert_eq!(h.sbc("out-bye-out.sip"), []);
    assert_eq!(h.f.calls().count(), 0);
    for g in [&b""[..], b"\r\n\r\n", b"\x00\x01\x02\x03", b"GET / HTTP/1.1\r\n\r\n", &[0xff; 2000]] {
        assert_eq!(h.raw(SBC, g), []);
    }
    h.pbx("out-invite.sip");
    let ok = sip("out-200.sip", &[]);
    for n in 0..ok.len() {
        assert_eq!(h.raw(SBC, &ok[..n]), [], "prefix {n}");
    }
    // A 200 whose SDP is broken changes nothing either.
    assert_eq!(h.send(SBC, PBX, "out-200.sip", &[("a=rtpmap:8 PCMA/8000", "a=rtpmap:8 PCMA")]), []);
    assert_eq!(h.f.stats().sdp_errors, 1);
    assert!(h.f.stats().sip_errors > 100);
    assert_eq!(h.sbc("out-200.sip"), [add(CALL_OUT, K, TO)]);
}

/// The same call through on_packet, as IPv4/UDP and IPv6/UDP packets.
#[test]
fn through_packets() {
    fn v4(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let total = 20 + 8 + payload.len();
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&5060u16.to_be_bytes());
        p.extend_from_slice(&5060u16.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }
    let mut f = Follower::new(config());
    let t = Duration::from_secs(1);
    assert_eq!(f.on_packet(t, &v4([10, 0, 0, 10], [198, 51, 100, 20], &sip("out-invite.sip", &[]))), []);
    let ok = v4([198, 51, 100, 20], [10, 0, 0, 10], &sip("out-200.sip", &[]));
    // A first fragment (MF set) is not looked at.
    let mut frag = ok.clone();
    frag[6] = 0x20;
    assert_eq!(f.on_packet(t, &frag), []);
    assert_eq!(f.on_packet(t, &ok[..ok.len() - 1]), []);
    assert_eq!(f.on_packet(t, &ok), [add(CALL_OUT, K, TO)]);
    assert_eq!(f.stats().packets, 4);
    assert_eq!(f.stats().not_udp, 2);
}

/// A Call-ID used again after its BYE (some UAs do): a call like a new one.
#[test]
fn call_id_reused_after_bye() {
    let mut h = H::new(config());
    h.pbx("out-invite.sip");
    assert_eq!(h.sbc("out-200.sip"), [add(CALL_OUT, K, TO)]);
    assert_eq!(h.pbx("out-bye-in.sip"), [del(CALL_OUT, K, DelReason::Bye)]);
    assert_eq!(h.pbx("out-invite.sip"), []);
    assert_eq!(h.sbc("out-200.sip"), [add(CALL_OUT, K, TO)]);
}
