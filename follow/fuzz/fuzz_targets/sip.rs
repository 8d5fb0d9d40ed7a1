// SPDX-License-Identifier: GPL-2.0
//! Fuzz target: one `Follower` fed a sequence of SIP messages, IP packets and expiries cut
//! from the input. The input is split at `~~~`; each piece's first byte says what to do
//! with the rest: bit 0 the side (PBX or provider), bits 1-2 the call (`on_sip` twice as
//! likely, `on_packet`, `expire`), bits 3-7 how many seconds pass first. Invariants:
//!
//! - nothing panics (overflow checks and debug assertions on);
//! - every `Del` names a key that an `Add` of the same call installed and that nobody
//!   deleted or took since (a shadow map of key -> call is kept from the actions alone);
//! - the follower's own books agree with themselves (`check`) and with the shadow map;
//! - there are never more keys than `max_calls` x `MAX_MEDIA`;
//! - an `expire` far in the future leaves no call and no key.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ssnat_follow::sdp::MAX_MEDIA;
use ssnat_follow::{Action, Config, Dest, Follower};

const MAX_CALLS: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(60);

fn apply(shadow: &mut HashMap<Dest, String>, actions: Vec<Action>) {
    for a in actions {
        match a {
            Action::Add { call_id, key, to } => {
                assert_eq!(key.proto, 17);
                assert_eq!(key.addr.is_ipv4(), to.is_ipv4(), "Add across families");
                shadow.insert(key, call_id);
            }
            Action::Del { call_id, key, reason } => match shadow.remove(&key) {
                Some(owner) => {
                    assert_eq!(owner, call_id, "Del ({reason:?}) of {key:?} by a call that does not hold it")
                }
                None => panic!("Del ({reason:?}) of {key:?} by {call_id}, not installed"),
            },
            Action::Skip { key, to, .. } => assert_ne!(key.addr.is_ipv4(), to.is_ipv4()),
        }
    }
}

fn agree(f: &Follower, shadow: &HashMap<Dest, String>) {
    // What the actions said first, then the follower's own books.
    let entries: HashMap<Dest, String> = f.entries().map(|(k, id, _)| (k, id.to_string())).collect();
    assert_eq!(&entries, shadow, "the follower's entries are not what its actions said");
    assert!(shadow.len() <= MAX_CALLS * MAX_MEDIA);
    assert!(f.calls().count() <= MAX_CALLS);
    f.check().unwrap();
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, data)) = data.split_first() else { return };
    let cfg = Config {
        inside: vec![("10.0.0.0".parse().unwrap(), 8), ("2001:db8:1::".parse().unwrap(), 48)],
        to_address: match first % 3 {
            0 => None,
            1 => Some("203.0.113.5".parse().unwrap()),
            _ => Some("2001:db8:ffff::5".parse().unwrap()),
        },
        timeout: TIMEOUT,
        max_calls: MAX_CALLS,
    };
    let mut f = Follower::new(cfg);
    let mut shadow = HashMap::new();
    let mut now = Duration::from_secs(1);
    let inside: [SocketAddr; 2] = ["10.0.0.10:5060".parse().unwrap(), "[2001:db8:1::20]:5060".parse().unwrap()];
    let outside: [SocketAddr; 2] = ["198.51.100.20:5060".parse().unwrap(), "[2001:db8:2::10]:5060".parse().unwrap()];
    let mut rest = data;
    for _ in 0..64 {
        if rest.is_empty() {
            break;
        }
        let (piece, next) = match rest.windows(3).position(|w| w == b"~~~") {
            Some(i) => (&rest[..i], &rest[i + 3..]),
            None => (rest, &[][..]),
        };
        rest = next;
        let Some((&ctl, msg)) = piece.split_first() else { continue };
        now += Duration::from_secs(u64::from(ctl >> 3));
        let v6 = usize::from(first & 8 != 0);
        let (src, dst) = if ctl & 1 == 0 { (inside[v6], outside[v6]) } else { (outside[v6], inside[v6]) };
        let actions = match (ctl >> 1) & 3 {
            0 | 1 => f.on_sip(now, src, dst, msg),
            2 => f.on_packet(now, msg),
            _ => f.expire(now),
        };
        apply(&mut shadow, actions);
        agree(&f, &shadow);
    }
    let far = now + TIMEOUT + Duration::from_secs(86_400);
    let actions = f.expire(far);
    apply(&mut shadow, actions);
    agree(&f, &shadow);
    assert!(shadow.is_empty(), "keys left after expire: {shadow:?}");
    assert_eq!(f.calls().count(), 0);
});
