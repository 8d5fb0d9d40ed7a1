// SPDX-License-Identifier: GPL-2.0
//! `ssnatctl follow`: keeps a profile's entries in step with the SIP calls the router
//! forwards. The router copies SIP to an NFLOG group; [`ssnat_follow::Follower`] turns
//! the messages into entries to add and delete; this module applies them over netlink
//! and logs one line per decision.
//!
//! The follower owns the profile's entries: it flushes them when it starts (entries of
//! calls it cannot know about would never be deleted) and then adds and deletes only the
//! ones its calls need. A call already up when it starts is picked up at its next
//! re-INVITE (a hold is one) or session refresh.
//!
//! Nothing here is on the packet path: NFLOG hands copies of the SIP packets to this
//! process, and if it falls behind the kernel drops copies (counted, logged), never the
//! packets themselves.

use std::io::{ErrorKind, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use ssnat_core::abi::{SsnatInfo, F_MAP_ADDR, F_MAP_PORT, NFPROTO_IPV4, NFPROTO_IPV6};
use ssnat_follow::follower::{Action, DelReason, Dest};
use ssnat_follow::nflog::Reader;
use ssnat_follow::{Config, Follower};

use crate::cli::FollowArgs;
use crate::error::Error;
use crate::netlink::{EntryKey, Profiles};

/// How often calls are checked for their timeout when no SIP arrives.
const TICK: Duration = Duration::from_secs(1);

/// The translation of an entry: source address and port, written as they are.
pub fn translation(to: SocketAddr) -> SsnatInfo {
    let mut info = SsnatInfo::zeroed();
    info.flags = F_MAP_ADDR | F_MAP_PORT;
    let bytes: Vec<u8> = match to.ip() {
        IpAddr::V4(a) => {
            info.family = NFPROTO_IPV4;
            a.octets().to_vec()
        }
        IpAddr::V6(a) => {
            info.family = NFPROTO_IPV6;
            a.octets().to_vec()
        }
    };
    info.min_addr[..bytes.len()].copy_from_slice(&bytes);
    info.max_addr = info.min_addr;
    info.min_port = to.port();
    info.max_port = to.port();
    info
}

fn key_of(d: &Dest) -> EntryKey {
    EntryKey { proto: d.proto, addr: d.addr, port: d.port }
}

fn reason(r: DelReason) -> String {
    match r {
        DelReason::Bye => "bye".into(),
        DelReason::Cancel => "cancel".into(),
        DelReason::Failed(code) => format!("failed {code}"),
        DelReason::Replaced => "media moved".into(),
        DelReason::Timeout => "timeout".into(),
        DelReason::Evicted => "evicted (max calls)".into(),
    }
}

/// Applies one action to the kernel and returns its log line. An entry the kernel
/// already has is replaced; one it no longer has is not an error (someone flushed it).
pub fn apply(k: &mut dyn Profiles, profile: &str, a: &Action) -> Result<String, Error> {
    match a {
        Action::Add { call_id, key, to } => {
            let ek = key_of(key);
            let info = translation(*to);
            let verb = match k.entry_add(profile, &ek, &info) {
                Ok(()) => "add",
                Err(Error::Kernel { errno: Errno::EEXIST, .. }) => {
                    k.entry_set(profile, &ek, &info)?;
                    "set"
                }
                Err(e) => return Err(e),
            };
            Ok(format!("call {call_id}: entry {verb} {ek} -> {to}"))
        }
        Action::Del { call_id, key, reason: why } => {
            let ek = key_of(key);
            let gone = match k.entry_del(profile, &ek) {
                Ok(()) => "",
                Err(Error::Kernel { errno: Errno::ENOENT, .. }) => " (it was gone)",
                Err(e) => return Err(e),
            };
            Ok(format!("call {call_id}: entry del {ek} ({}){gone}", reason(*why)))
        }
        Action::Skip { call_id, key, to, .. } => Ok(format!(
            "call {call_id}: no entry for {} -> {to}: the addresses are of different families",
            key_of(key)
        )),
    }
}

/// Applies `actions` and logs them; a failing action is logged and the others go on
/// (one bad request must not stop the calls that follow), but a lost module stops it.
fn apply_all(k: &mut dyn Profiles, profile: &str, actions: &[Action], out: &mut dyn Write) -> Result<(), Error> {
    for a in actions {
        let line = match apply(k, profile, a) {
            Ok(line) => line,
            Err(e @ (Error::FamilyMissing | Error::NotLoaded)) => return Err(e),
            Err(e) => format!("error: {e}"),
        };
        writeln!(out, "{line}").and_then(|()| out.flush()).map_err(Error::Output)?;
    }
    Ok(())
}

/// `ssnatctl follow`: runs until killed.
pub fn run(args: &FollowArgs, k: &mut dyn Profiles, out: &mut dyn Write) -> Result<(), Error> {
    let p = k.get(&args.profile)?;
    let family = p.info.family;
    let n = k.entry_dump(&args.profile)?.len();
    if n != 0 {
        k.entry_flush(&args.profile)?;
    }
    let mut reader = Reader::open(args.nflog_group).map_err(|e| nflog_error(args.nflog_group, e))?;
    reader.set_timeout(Some(TICK)).map_err(|e| nflog_error(args.nflog_group, e))?;
    let inside: Vec<String> = args.inside.iter().map(|(a, l)| format!("{a}/{l}")).collect();
    writeln!(
        out,
        "following SIP on NFLOG group {} for profile {} ({}; inside {}; {n} old entries flushed)",
        args.nflog_group,
        args.profile,
        if family == NFPROTO_IPV6 { "ipv6" } else { "ipv4" },
        if inside.is_empty() { "none".into() } else { inside.join(", ") },
    )
    .and_then(|()| out.flush())
    .map_err(Error::Output)?;
    let mut f = Follower::new(Config {
        inside: args.inside.clone(),
        to_address: args.to_address,
        timeout: Duration::from_secs(args.timeout),
        max_calls: args.max_calls,
    });
    let start = Instant::now();
    let mut last_tick = Duration::ZERO;
    loop {
        let batch = match reader.recv() {
            Ok(packets) => {
                let now = start.elapsed();
                packets.iter().flat_map(|p| f.on_packet(now, p.payload)).collect::<Vec<_>>()
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => Vec::new(),
            Err(e) if e.raw_os_error() == Some(Errno::ENOBUFS as i32) => {
                writeln!(out, "warning: the kernel dropped SIP copies (receive buffer full)").map_err(Error::Output)?;
                Vec::new()
            }
            Err(e) => return Err(nflog_error(args.nflog_group, e)),
        };
        apply_all(k, &args.profile, &batch, out)?;
        let now = start.elapsed();
        if now - last_tick >= TICK {
            last_tick = now;
            let expired = f.expire(now);
            apply_all(k, &args.profile, &expired, out)?;
        }
    }
}

fn nflog_error(group: u16, e: std::io::Error) -> Error {
    let hint = match e.raw_os_error() {
        Some(x) if x == Errno::EPERM as i32 => {
            " (CAP_NET_ADMIN needed, or another process is bound to the group)"
        }
        _ => "",
    };
    Error::Netlink(format!("NFLOG group {group}: {e}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_is_one_address_and_port() {
        let i = translation("198.51.100.7:10002".parse().unwrap());
        assert_eq!(i.family, NFPROTO_IPV4);
        assert_eq!(&i.min_addr[..4], &[198, 51, 100, 7]);
        assert_eq!(i.min_addr, i.max_addr);
        assert_eq!((i.min_port, i.max_port), (10002, 10002));
        assert!(i.validate_mapping(NFPROTO_IPV4).is_ok());
        let i6 = translation("[2001:db8::7]:4000".parse().unwrap());
        assert_eq!(i6.family, NFPROTO_IPV6);
        assert!(i6.validate_mapping(NFPROTO_IPV6).is_ok());
    }

    #[test]
    fn actions_become_entries_and_log_lines() {
        let mut fake = crate::commands::fake::Fake::default();
        let c: &mut dyn Profiles = &mut fake;
        c.add("moh2", &SsnatInfo { family: NFPROTO_IPV4, ..SsnatInfo::zeroed() }).unwrap();
        let key = Dest { proto: 17, addr: "203.0.113.5".parse().unwrap(), port: 31000 };
        let add = Action::Add { call_id: "c1".into(), key, to: "198.51.100.7:10002".parse().unwrap() };
        assert_eq!(
            apply(c, "moh2", &add).unwrap(),
            "call c1: entry add udp 203.0.113.5:31000 -> 198.51.100.7:10002"
        );
        // The same key again (a newer call took it): replaced.
        let again = Action::Add { call_id: "c2".into(), key, to: "198.51.100.7:10004".parse().unwrap() };
        assert!(apply(c, "moh2", &again).unwrap().contains("entry set"));
        let e = c.entry_dump("moh2").unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].info.min_port, 10004);
        let del = Action::Del { call_id: "c2".into(), key, reason: DelReason::Bye };
        assert_eq!(apply(c, "moh2", &del).unwrap(), "call c2: entry del udp 203.0.113.5:31000 (bye)");
        assert!(apply(c, "moh2", &del).unwrap().ends_with("(it was gone)"));
        assert!(c.entry_dump("moh2").unwrap().is_empty());
    }
}
