// SPDX-License-Identifier: GPL-2.0
//! The NFLOG reader against the kernel, in a network namespace of its own.
//!
//! Needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN), `ip` and `iptables` (either backend),
//! and a kernel with nfnetlink_log and the NFLOG target. Ignored by default; run it with
//!
//! ```text
//! CARGO_TARGET_DIR=/var/tmp/ct-follow cargo test -p ssnat-follow --test nflog_netns -- --ignored
//! ```
//!
//! It creates the namespace `ssnat-follow-<pid>` (`ip netns add`), brings up its loopback,
//! adds `iptables -A OUTPUT -p udp --dport 5060 -j NFLOG --nflog-group 7` there, enters it
//! from one thread with setns(2), binds the reader to group 7 and sends SIP over UDP to
//! 127.0.0.1:5060, then deletes the namespace (also when the test fails).

mod common;

use std::fs::File;
use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use common::*;
use nix::sched::{setns, CloneFlags};
use ssnat_follow::nflog::Reader;
use ssnat_follow::{packet, Config, Follower};

fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Deletes the namespace when dropped.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
#[ignore = "needs root, ip(8) and iptables(8); see the file's header"]
fn nflog_reader_in_a_namespace() {
    let ns = Netns(format!("ssnat-follow-{}", std::process::id()));
    run(&["ip", "netns", "add", &ns.0]);
    run(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);
    let rule = ["-p", "udp", "--dport", "5060", "-j", "NFLOG", "--nflog-group", "7"];
    run(&[&["ip", "netns", "exec", &ns.0, "iptables", "-A", "OUTPUT"][..], &rule[..]].concat());

    let path = format!("/run/netns/{}", ns.0);
    // A thread of its own enters the namespace, so the test harness's threads stay out.
    let worker = std::thread::spawn(move || {
        let f = File::open(&path).unwrap();
        setns(&f, CloneFlags::CLONE_NEWNET).unwrap();
        let mut reader = Reader::open(7).expect("bind to NFLOG group 7");
        assert_eq!(reader.group(), 7);
        reader.set_timeout(Some(Duration::from_secs(5))).unwrap();

        // A datagram to 127.0.0.1:5060, from the PBX's side (127.0.0.2).
        let pbx = UdpSocket::bind("127.0.0.2:5060").unwrap();
        let sbc = UdpSocket::bind("127.0.0.1:5060").unwrap();
        let invite = sip("out-invite.sip", &[]);
        pbx.send_to(&invite, "127.0.0.1:5060").unwrap();
        let got = reader.recv().expect("a packet from group 7");
        assert_eq!(got.len(), 1);
        let p = got[0];
        assert_eq!(p.family, 2, "AF_INET");
        let d = packet::datagram(p.payload).unwrap();
        assert_eq!(d.src, addr("127.0.0.2:5060"));
        assert_eq!(d.dst, addr("127.0.0.1:5060"));
        assert_eq!(d.payload, invite);
        let payload = p.payload.to_vec();

        // End to end: the follower on what the reader hands over.
        let mut f = Follower::new(Config { inside: vec![("127.0.0.2".parse().unwrap(), 32)], ..config() });
        assert_eq!(f.on_packet(Duration::from_secs(1), &payload), []);
        sbc.send_to(&sip("out-200.sip", &[]), "127.0.0.2:5060").unwrap();
        let got = reader.recv().expect("the 200");
        assert_eq!(got.len(), 1);
        let acts = f.on_packet(Duration::from_secs(2), got[0].payload);
        assert_eq!(acts, [add(CALL_OUT, "198.51.100.30:27000", "203.0.113.5:12000")]);

        // A datagram to another port is not logged: the read times out.
        pbx.send_to(b"x", "127.0.0.1:5070").unwrap();
        reader.set_timeout(Some(Duration::from_millis(300))).unwrap();
        let e = reader.recv().map(|v| v.len()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");

        // A second reader cannot take the group while the first holds it.
        let e = Reader::open(7).unwrap_err();
        // nfnetlink_log says EPERM to a socket that is not the group's.
        assert_eq!(e.raw_os_error(), Some(nix::libc::EPERM), "{e}");
        drop(reader);
        Reader::open(7).expect("the group is free again");
    });
    worker.join().expect("the test thread failed");
}
