// SPDX-License-Identifier: GPL-2.0
//! Call tracking: from SIP messages to xt_SSNAT entries.
//!
//! # Model
//!
//! A message sent from an address in [`Config::inside`] is the PBX side's, any other the
//! outside (provider) side's. Only an INVITE creates a call (so a follower started in the
//! middle of a call picks it up at the next re-INVITE or session refresh); every message of
//! a known call counts as activity. Per call the follower keeps the last SDP of each side
//! (from INVITE, re-INVITE, UPDATE, PRACK, ACK and the 18x/2xx responses that carry one)
//! and, at each *commit point*, turns the pair into the call's entries:
//!
//! - a 2xx response to INVITE (the call is then confirmed), or an 18x with SDP (early
//!   media, the call is then early);
//! - once early or confirmed: an ACK with SDP (late offer), and a 2xx to UPDATE or PRACK.
//!
//! For each `m=` line index `i` (up to [`MAX_MEDIA`]) present in both SDPs, RTP over UDP in
//! both, with both ports non-zero and both addresses IP addresses, the entry is key
//! `Dest { proto: 17, addr: outside address of line i, port: outside port }` and translation
//! `(cfg.to_address or the inside address of line i, inside port)`. A line whose address is
//! unspecified (`c=IN IP4 0.0.0.0`, the RFC 2543 hold) keeps what it had. A line whose key
//! and translation are of different families is not installed: the follower emits
//! [`Action::Skip`] once per call and key, and counts it in [`Stats::family_mismatch`].
//!
//! A commit deletes (reason [`DelReason::Replaced`]) the call's keys that are no longer
//! wanted and adds the new or changed ones; a commit that changes nothing emits nothing
//! (a hold re-INVITE with `a=sendonly` keeps its ports, so it emits nothing). A non-2xx
//! final response to a re-INVITE or UPDATE rolls both sides back to the last commit,
//! except 408 and 481, which end the dialog (RFC 5057).
//!
//! A call ends at a BYE from either side ([`DelReason::Bye`]), a CANCEL before the call is
//! confirmed ([`DelReason::Cancel`]; a CANCEL that crossed the 2xx changes nothing), a
//! non-2xx final response to the INVITE of a call not yet confirmed
//! ([`DelReason::Failed`]), no message for [`Config::timeout`] ([`Follower::expire`],
//! [`DelReason::Timeout`]), or eviction when a new call would exceed
//! [`Config::max_calls`] (the least recently active goes, [`DelReason::Evicted`]).
//!
//! # Keys shared by calls
//!
//! A key belongs to one call at a time: the one whose offer/answer named it last. A newer
//! call that claims a key an older call holds emits an [`Action::Add`] for it (which the
//! consumer applies as *add or replace*), and the key leaves the older call, whose later
//! BYE then does not delete it, and whose commits that do not change its SDPs (a
//! retransmitted 2xx) do not take it back. Hence: every [`Action::Del`] names a key that the same call added
//! and that nobody has deleted or taken since; an [`Action::Add`] may replace the entry of
//! another call (or of the same call with another translation), never needs a Del first.
//!
//! # Time
//!
//! Time is passed in (any epoch, e.g. `CLOCK_MONOTONIC`); the follower reads no clock.
//! A time earlier than one seen before is taken as that one.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::packet;
use crate::sdp::{self, Sdp, MAX_MEDIA};
use crate::sip::{self, Message};

/// The follower's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The PBX side: prefixes (address, length) that inside senders' addresses are in.
    pub inside: Vec<(IpAddr, u8)>,
    /// The source address the translation writes; `None`: the inside SDP's address.
    pub to_address: Option<IpAddr>,
    /// A call with no SIP message for this long is deleted by [`Follower::expire`]. Make it
    /// longer than the session-timer refresh interval (RFC 4028) of the calls.
    pub timeout: Duration,
    /// At most this many calls are tracked at once.
    pub max_calls: usize,
}

/// The key of an xt_SSNAT entry: the protocol and destination of the packets to rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dest {
    /// IP protocol number: always 17 (UDP) here.
    pub proto: u8,
    /// Destination address: the outside side's media address.
    pub addr: IpAddr,
    /// Destination port: the outside side's media port.
    pub port: u16,
}

/// Why the follower deletes an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DelReason {
    /// A BYE, from either side.
    Bye,
    /// A CANCEL of a call not yet confirmed.
    Cancel,
    /// A final non-2xx response (the code) to the INVITE of a call not yet confirmed, or
    /// 408/481 to a re-INVITE.
    Failed(u16),
    /// An offer/answer moved the media elsewhere.
    Replaced,
    /// No SIP for the call during [`Config::timeout`].
    Timeout,
    /// The call was the least recently active when [`Config::max_calls`] was reached.
    Evicted,
}

/// Why the follower did not install an entry it otherwise would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// The key's address and the translation's address are of different families (an
    /// xt_SSNAT entry translates within one family).
    FamilyMismatch,
}

/// What the caller must do to xt_SSNAT's entries (or log).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Add the entry `key` -> `to`, replacing any entry with that key.
    Add {
        /// The call the entry is for.
        call_id: String,
        /// The entry's key.
        key: Dest,
        /// The translation: source address and port to write.
        to: SocketAddr,
    },
    /// Delete the entry with key `key`.
    Del {
        /// The call the entry was for.
        call_id: String,
        /// The entry's key.
        key: Dest,
        /// Why.
        reason: DelReason,
    },
    /// Nothing to do to the entries; for the log: an entry was not installed.
    Skip {
        /// The call.
        call_id: String,
        /// The entry's key.
        key: Dest,
        /// The translation it would have had.
        to: SocketAddr,
        /// Why not.
        reason: SkipReason,
    },
}

/// How far a call has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// An INVITE seen, no commit point yet.
    Offered,
    /// Committed on an 18x with SDP (early media), no 2xx yet.
    Early,
    /// A 2xx to INVITE seen.
    Confirmed,
}

/// A call as [`Follower::calls`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView<'a> {
    /// The Call-ID.
    pub call_id: &'a str,
    /// The state.
    pub state: CallState,
    /// The inside (PBX) side's last SDP.
    pub inside: Option<&'a Sdp>,
    /// The outside (provider) side's last SDP.
    pub outside: Option<&'a Sdp>,
    /// The entries the call holds now: key and translation.
    pub entries: Vec<(Dest, SocketAddr)>,
    /// When the call last had a message.
    pub last_active: Duration,
}

/// Counters, for status and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets given to [`Follower::on_packet`].
    pub packets: u64,
    /// Of those, not a whole UDP datagram ([`packet::Skip`]).
    pub not_udp: u64,
    /// SIP messages parsed.
    pub messages: u64,
    /// Payloads that were not a SIP message ([`sip::Error`]), keep-alives aside.
    pub sip_errors: u64,
    /// SDP bodies refused ([`sdp::Error`]); the side keeps its previous SDP.
    pub sdp_errors: u64,
    /// Entries not installed for [`SkipReason::FamilyMismatch`] (once per call and key).
    pub family_mismatch: u64,
    /// Calls deleted by [`DelReason::Timeout`].
    pub timed_out: u64,
    /// Calls deleted by [`DelReason::Evicted`].
    pub evicted: u64,
}

/// Messages taken from one payload at most (several glued back to back).
const MAX_GLUED: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Inside = 0,
    Outside = 1,
}

/// One entry of a call: (key, translation), per media line.
type Line = Option<(Dest, SocketAddr)>;

struct Call {
    /// The last SDP of each side, indexed by [`Side`].
    sdp: [Option<Sdp>; 2],
    /// The SDPs at the last commit, to roll back to.
    committed: [Option<Sdp>; 2],
    state: CallState,
    last: Duration,
    /// The key of this call in [`Follower::lru`].
    tick: u64,
    /// The entries the SDPs asked for at the last commit, by media line.
    wanted: [Line; MAX_MEDIA],
    /// The entries held, by media line: those of `wanted` no newer call has taken. Every
    /// one is owned by this call.
    lines: [Line; MAX_MEDIA],
    /// Keys already reported as skipped.
    skipped: Vec<Dest>,
}

/// Follows SIP calls and says which xt_SSNAT entries their media need. See the module
/// documentation for the model.
pub struct Follower {
    cfg: Config,
    calls: HashMap<String, Call>,
    /// Calls by last activity, oldest first.
    lru: BTreeMap<u64, String>,
    /// Every installed key, with the call that owns it and its translation.
    owners: HashMap<Dest, (String, SocketAddr)>,
    tick: u64,
    now: Duration,
    stats: Stats,
}

fn in_prefix(addr: IpAddr, (net, len): (IpAddr, u8)) -> bool {
    let (a, n, bits) = match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)) << 96, u128::from(u32::from(n)) << 96, 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    let len = u32::from(len).min(bits);
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    a & mask == n & mask
}

impl Follower {
    /// A follower with no calls.
    pub fn new(cfg: Config) -> Self {
        Follower {
            cfg,
            calls: HashMap::new(),
            lru: BTreeMap::new(),
            owners: HashMap::new(),
            tick: 0,
            now: Duration::ZERO,
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// One IPv4 or IPv6 packet as NFLOG delivers it (from the IP header on). A UDP datagram
    /// (any ports) goes to [`Follower::on_sip`]; anything else (see [`packet::datagram`]) is
    /// counted in [`Stats::not_udp`] and ignored.
    pub fn on_packet(&mut self, now: Duration, ip: &[u8]) -> Vec<Action> {
        self.stats.packets += 1;
        match packet::datagram(ip) {
            Ok(d) => self.on_sip(now, d.src, d.dst, d.payload),
            Err(_) => {
                self.stats.not_udp += 1;
                Vec::new()
            }
        }
    }

    /// A SIP message (a UDP payload) from `src` to `dst`. A payload that holds several
    /// messages back to back is taken as that many (at most 4); one that is no SIP message
    /// is counted in [`Stats::sip_errors`] and ignored. `dst` is not used yet: which side
    /// sent the message is told by `src` alone.
    pub fn on_sip(&mut self, now: Duration, src: SocketAddr, dst: SocketAddr, msg: &[u8]) -> Vec<Action> {
        let _ = dst;
        let now = self.clock(now);
        let side = if self.cfg.inside.iter().any(|&p| in_prefix(src.ip(), p)) { Side::Inside } else { Side::Outside };
        let mut out = Vec::new();
        let mut rest = msg;
        for _ in 0..MAX_GLUED {
            match sip::parse(rest) {
                Ok((m, used)) => {
                    self.stats.messages += 1;
                    self.message(now, side, &m, &mut out);
                    rest = rest.get(used..).unwrap_or_default();
                }
                Err(sip::Error::Empty) => break,
                Err(_) => {
                    self.stats.sip_errors += 1;
                    break;
                }
            }
        }
        out
    }

    /// Deletes the calls that had no message for [`Config::timeout`] by `now`.
    pub fn expire(&mut self, now: Duration) -> Vec<Action> {
        let now = self.clock(now);
        let mut out = Vec::new();
        while let Some((_, id)) = self.lru.first_key_value() {
            if self.calls.get(id).is_some_and(|c| now.saturating_sub(c.last) < self.cfg.timeout) {
                break;
            }
            let Some((_, id)) = self.lru.pop_first() else { break };
            self.stats.timed_out += 1;
            self.remove(&id, DelReason::Timeout, &mut out);
        }
        out
    }

    /// The calls tracked now, in no particular order.
    pub fn calls(&self) -> impl Iterator<Item = CallView<'_>> {
        self.calls.iter().map(|(id, c)| CallView {
            call_id: id,
            state: c.state,
            inside: c.sdp[Side::Inside as usize].as_ref(),
            outside: c.sdp[Side::Outside as usize].as_ref(),
            entries: c.lines.iter().flatten().copied().collect(),
            last_active: c.last,
        })
    }

    /// Every entry installed now: key, owning call and translation.
    pub fn entries(&self) -> impl Iterator<Item = (Dest, &str, SocketAddr)> {
        self.owners.iter().map(|(k, (id, to))| (*k, id.as_str(), *to))
    }

    /// Checks the internal bookkeeping: every entry of a call is in the ownership map under
    /// that call, and every owned key is an entry of its call. For tests and fuzzing.
    #[doc(hidden)]
    pub fn check(&self) -> Result<(), String> {
        let mut n = 0;
        for (id, c) in &self.calls {
            for (k, to) in c.lines.iter().flatten() {
                n += 1;
                match self.owners.get(k) {
                    Some((o, t)) if o == id && t == to => {}
                    other => return Err(format!("{id}: entry {k:?} owned by {other:?}")),
                }
            }
            if self.lru.get(&c.tick) != Some(id) {
                return Err(format!("{id}: not in the LRU list at {}", c.tick));
            }
        }
        if n != self.owners.len() {
            return Err(format!("{} owned keys, {n} call entries", self.owners.len()));
        }
        if self.lru.len() != self.calls.len() {
            return Err(format!("{} in LRU list, {} calls", self.lru.len(), self.calls.len()));
        }
        Ok(())
    }

    fn clock(&mut self, now: Duration) -> Duration {
        self.now = self.now.max(now);
        self.now
    }

    /// Marks call `id` as active now.
    fn touch(&mut self, id: &str, now: Duration) {
        if let Some(c) = self.calls.get_mut(id) {
            self.tick += 1;
            self.lru.remove(&c.tick);
            self.lru.insert(self.tick, id.to_string());
            c.tick = self.tick;
            c.last = now;
        }
    }

    /// The call `id`, created if `create` (evicting the least recently active if full).
    fn call(&mut self, id: &str, create: bool, now: Duration, out: &mut Vec<Action>) -> bool {
        if !self.calls.contains_key(id) {
            if !create || self.cfg.max_calls == 0 {
                return false;
            }
            while self.calls.len() >= self.cfg.max_calls {
                let Some((_, old)) = self.lru.pop_first() else { break };
                self.stats.evicted += 1;
                self.remove(&old, DelReason::Evicted, out);
            }
            let call = Call {
                sdp: [None, None],
                committed: [None, None],
                state: CallState::Offered,
                last: now,
                tick: 0,
                wanted: [None; MAX_MEDIA],
                lines: [None; MAX_MEDIA],
                skipped: Vec::new(),
            };
            self.calls.insert(id.to_string(), call);
        }
        self.touch(id, now);
        true
    }

    /// Deletes call `id` and its entries.
    fn remove(&mut self, id: &str, reason: DelReason, out: &mut Vec<Action>) {
        let Some(call) = self.calls.remove(id) else { return };
        self.lru.remove(&call.tick);
        for (key, _) in call.lines.iter().flatten() {
            self.owners.remove(key);
            out.push(Action::Del { call_id: id.to_string(), key: *key, reason });
        }
    }

    /// Stores the SDP of a message for `side`, if it has one that parses.
    fn store_sdp(&mut self, id: &str, side: Side, m: &Message<'_>) -> bool {
        if !m.has_sdp() {
            return false;
        }
        match sdp::parse(m.body) {
            Ok(s) => {
                if let Some(c) = self.calls.get_mut(id) {
                    c.sdp[side as usize] = Some(s);
                }
                true
            }
            Err(_) => {
                self.stats.sdp_errors += 1;
                false
            }
        }
    }

    fn message(&mut self, now: Duration, side: Side, m: &Message<'_>, out: &mut Vec<Action>) {
        let id = m.call_id.as_str();
        let is_invite = m.method() == Some("INVITE");
        if !self.call(id, is_invite, now, out) {
            return;
        }
        let state = self.calls.get(id).map_or(CallState::Offered, |c| c.state);
        if let Some(method) = m.method() {
            match method {
                "INVITE" | "UPDATE" | "PRACK" => {
                    self.store_sdp(id, side, m);
                }
                "ACK" => {
                    // An answer to an offer in the 2xx (late offer).
                    let answered = self.store_sdp(id, side, m);
                    if answered && state != CallState::Offered {
                        self.commit(id, out);
                    }
                }
                "BYE" => self.remove(id, DelReason::Bye, out),
                "CANCEL" if state != CallState::Confirmed => self.remove(id, DelReason::Cancel, out),
                _ => {}
            }
            return;
        }
        let Some(code) = m.status() else { return };
        match (m.cseq_method.as_str(), code) {
            ("INVITE", 101..=199) => {
                // Early media: commit on a provisional response with SDP only.
                let early = self.store_sdp(id, side, m);
                if early && state == CallState::Offered {
                    self.set_state(id, CallState::Early);
                }
                if early {
                    self.commit(id, out);
                }
            }
            ("INVITE", 200..=299) => {
                self.store_sdp(id, side, m);
                self.set_state(id, CallState::Confirmed);
                self.commit(id, out);
            }
            ("INVITE", 300..) if state != CallState::Confirmed || code == 408 || code == 481 => {
                self.remove(id, DelReason::Failed(code), out);
            }
            ("UPDATE" | "PRACK", 200..=299) => {
                self.store_sdp(id, side, m);
                if state != CallState::Offered {
                    self.commit(id, out);
                }
            }
            ("INVITE" | "UPDATE", 300..) => {
                if let Some(c) = self.calls.get_mut(id) {
                    c.sdp = c.committed.clone();
                }
            }
            _ => {}
        }
    }

    fn set_state(&mut self, id: &str, state: CallState) {
        if let Some(c) = self.calls.get_mut(id) {
            c.state = state;
        }
    }

    /// The entries call `id` wants now, by media line, and the ones to report as skipped.
    fn wanted(&self, call: &Call) -> ([Line; MAX_MEDIA], Vec<(Dest, SocketAddr)>) {
        let mut lines = [None; MAX_MEDIA];
        let mut skipped = Vec::new();
        let (Some(ins), Some(outs)) = (&call.sdp[Side::Inside as usize], &call.sdp[Side::Outside as usize]) else {
            return (call.wanted, skipped);
        };
        for (i, (n, o)) in ins.media.iter().zip(&outs.media).enumerate().take(MAX_MEDIA) {
            if !n.rtp || !o.rtp || n.port == 0 || o.port == 0 {
                continue;
            }
            let (Some(na), Some(oa)) = (n.addr, o.addr) else { continue };
            if oa.is_unspecified() || (self.cfg.to_address.is_none() && na.is_unspecified()) {
                // RFC 2543 hold: the media stays where it was.
                lines[i] = call.wanted[i];
                continue;
            }
            let key = Dest { proto: 17, addr: oa, port: o.port };
            let to = SocketAddr::new(self.cfg.to_address.unwrap_or(na), n.port);
            if key.addr.is_ipv4() != to.is_ipv4() {
                skipped.push((key, to));
                continue;
            }
            lines[i] = Some((key, to));
        }
        // Two lines of one call with the same key: the first keeps it.
        for i in 1..MAX_MEDIA {
            if let Some((k, _)) = lines[i] {
                if lines[..i].iter().flatten().any(|(k2, _)| *k2 == k) {
                    lines[i] = None;
                }
            }
        }
        (lines, skipped)
    }

    /// A commit point of call `id`: makes its entries what its SDPs say.
    ///
    /// A key is claimed when the call's SDPs name it anew: an entry another call has taken
    /// since is not taken back by a commit that changes nothing (a retransmitted 2xx).
    fn commit(&mut self, id: &str, out: &mut Vec<Action>) {
        let Some(call) = self.calls.get(id) else { return };
        let (new, skipped) = self.wanted(call);
        let (before, held) = (call.wanted, call.lines);
        let call = self.calls.get_mut(id).expect("looked up above");
        call.committed = call.sdp.clone();
        call.wanted = new;
        for (key, to) in skipped {
            if !call.skipped.contains(&key) && call.skipped.len() < MAX_MEDIA * 4 {
                call.skipped.push(key);
                self.stats.family_mismatch += 1;
                out.push(Action::Skip { call_id: id.to_string(), key, to, reason: SkipReason::FamilyMismatch });
            }
        }
        let mut lines = [None; MAX_MEDIA];
        for (i, line) in new.iter().enumerate() {
            let Some((key, to)) = *line else { continue };
            let owned = held.iter().flatten().any(|(k, _)| *k == key);
            let asked_before = before.iter().flatten().any(|&(k, t)| k == key && t == to);
            if owned || !asked_before {
                lines[i] = Some((key, to));
            }
        }
        call.lines = lines;
        for (key, _) in held.iter().flatten() {
            if !lines.iter().flatten().any(|(k, _)| k == key) {
                self.owners.remove(key);
                out.push(Action::Del { call_id: id.to_string(), key: *key, reason: DelReason::Replaced });
            }
        }
        for (key, to) in lines.iter().flatten() {
            match self.owners.get(key) {
                Some((owner, t)) if owner == id && t == to => continue,
                Some((owner, _)) if owner != id => {
                    // Taken from an older call: it no longer holds it.
                    if let Some(other) = self.calls.get_mut(owner) {
                        for l in &mut other.lines {
                            if l.is_some_and(|(k, _)| k == *key) {
                                *l = None;
                            }
                        }
                    }
                }
                _ => {}
            }
            self.owners.insert(*key, (id.to_string(), *to));
            out.push(Action::Add { call_id: id.to_string(), key: *key, to: *to });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let p = |s: &str, l| (s.parse::<IpAddr>().unwrap(), l);
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_prefix(a("10.1.2.3"), p("10.0.0.0", 8)));
        assert!(!in_prefix(a("11.1.2.3"), p("10.0.0.0", 8)));
        assert!(in_prefix(a("11.1.2.3"), p("10.0.0.0", 0)));
        assert!(in_prefix(a("10.0.0.10"), p("10.0.0.10", 32)));
        assert!(in_prefix(a("10.0.0.10"), p("10.0.0.10", 99)));
        assert!(!in_prefix(a("10.0.0.11"), p("10.0.0.10", 32)));
        assert!(!in_prefix(a("::ffff:10.0.0.10"), p("10.0.0.0", 8)));
        assert!(in_prefix(a("2001:db8::5"), p("2001:db8::", 32)));
        assert!(!in_prefix(a("2001:db9::5"), p("2001:db8::", 32)));
        assert!(!in_prefix(a("10.0.0.1"), p("::", 0)));
    }
}
