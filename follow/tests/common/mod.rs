// SPDX-License-Identifier: GPL-2.0
//! Shared by the integration tests: the SIP messages of tests/sip/ and a follower harness.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use ssnat_follow::{Action, Config, DelReason, Dest, Follower};

pub const PBX: &str = "10.0.0.10:5060";
pub const SBC: &str = "198.51.100.20:5060";
pub const CALL_OUT: &str = "2b1c3d4e-5f60-4718-9a2b-3c4d5e6f7081";
pub const CALL_IN: &str = "YTk0ZWE3ZDM1OGM2ZTM1NmQ4YjA3YmZiNzY0MzU0ZTE.";

/// Message `name` of tests/sip/ with CRLF line ends, `Content-Length: auto` (or `l: auto`)
/// set to the body's length, and each `(from, to)` of `edits` replaced first.
pub fn sip(name: &str, edits: &[(&str, &str)]) -> Vec<u8> {
    let path = format!("{}/tests/sip/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (a, b) in edits {
        text = text.replace(a, b);
    }
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let (head, body) = text.split_once("\r\n\r\n").expect("no end of headers");
    let head = head.replace(": auto", &format!(": {}", body.len()));
    format!("{head}\r\n\r\n{body}").into_bytes()
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn key(s: &str) -> Dest {
    let a = addr(s);
    Dest { proto: 17, addr: a.ip(), port: a.port() }
}

pub fn add(call: &str, k: &str, to: &str) -> Action {
    Action::Add { call_id: call.into(), key: key(k), to: addr(to) }
}

pub fn del(call: &str, k: &str, reason: DelReason) -> Action {
    Action::Del { call_id: call.into(), key: key(k), reason }
}

pub fn config() -> Config {
    Config {
        inside: vec![("10.0.0.0".parse().unwrap(), 8), ("2001:db8:1::".parse().unwrap(), 48)],
        to_address: Some("203.0.113.5".parse().unwrap()),
        timeout: Duration::from_secs(3600),
        max_calls: 100,
    }
}

/// A follower and a clock, that checks the follower's bookkeeping after each step.
pub struct H {
    pub f: Follower,
    pub t: Duration,
}

impl H {
    pub fn new(cfg: Config) -> H {
        H { f: Follower::new(cfg), t: Duration::from_secs(1000) }
    }

    fn after(&mut self, a: Vec<Action>) -> Vec<Action> {
        self.f.check().unwrap();
        self.t += Duration::from_millis(100);
        a
    }

    /// Message `name` sent from `src` to `dst`.
    pub fn send(&mut self, src: &str, dst: &str, name: &str, edits: &[(&str, &str)]) -> Vec<Action> {
        let a = self.f.on_sip(self.t, addr(src), addr(dst), &sip(name, edits));
        self.after(a)
    }

    /// From the PBX to the provider.
    pub fn pbx(&mut self, name: &str) -> Vec<Action> {
        self.send(PBX, SBC, name, &[])
    }

    /// From the provider to the PBX.
    pub fn sbc(&mut self, name: &str) -> Vec<Action> {
        self.send(SBC, PBX, name, &[])
    }

    pub fn raw(&mut self, src: &str, msg: &[u8]) -> Vec<Action> {
        let a = self.f.on_sip(self.t, addr(src), addr(SBC), msg);
        self.after(a)
    }

    pub fn expire_at(&mut self, t: Duration) -> Vec<Action> {
        let a = self.f.expire(t);
        self.f.check().unwrap();
        a
    }
}
