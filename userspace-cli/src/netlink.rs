// SPDX-License-Identifier: GPL-2.0
//! The kernel's control plane: the `SSNAT` generic netlink family of
//! [`ssnat_core::genl`], spoken with `neli`.
//!
//! Everything netlink is in this module, behind a small API: [`Client::connect`], then
//! the [`Profiles`] methods (`add`, `set`, `del`, `get`, `dump`, `subscribe`) and the
//! [`Entries`] methods (`entry_add`, `entry_set`, `entry_del`, `entry_get`,
//! `entry_flush`, `entry_dump`). The rest of `ssnatctl` only sees [`Profile`]s,
//! [`Entry`]s and [`Event`]s, so it is tested with a fake. The encoding of requests
//! ([`profile_attrs`], [`entry_attrs`], [`request_bytes`]) and the decoding of replies
//! ([`decode_profile`], [`decode_entry`], [`decode_event`]) are plain functions, tested
//! on bytes.
//!
//! # Protocol (family [`genl::FAMILY_NAME`], version [`genl::FAMILY_VERSION`])
//!
//! - `NEW`/`SET`: `NAME`, `FAMILY`, `FLAGS`, `MIN_ADDR` and `MAX_ADDR` (4 or 16 bytes)
//!   with `F_MAP_ADDR`, `PREFIX_LEN` with `F_PREFIX`, `MIN_PORT` and `MAX_PORT` with
//!   `F_MAP_PORT`, and always `SEED` (so that `SET` replaces a seed with the default);
//!   sent with `NLM_F_ACK`.
//! - `DEL`: `NAME`, with `NLM_F_ACK`.
//! - `GET`: `NAME` with `NLM_F_ACK`, one reply; or `NLM_F_DUMP` without attributes, one
//!   reply per profile. A reply carries the mapping attributes, `RULES`, `ENTRIES` and
//!   the nested `STATS` (`u64` attribute `i + 1` = `COUNTERS[i]`; `PAD` ignored). A
//!   profile without a mapping (entries only) has `FLAGS` 0.
//! - `ENTRY_NEW`/`ENTRY_SET`: `NAME` (the profile), the key (`PROTO`, `DST_ADDR` of 4 or
//!   16 bytes, `DST_PORT`, always sent, 0 for a protocol without ports), then the
//!   mapping as for `NEW`; with `NLM_F_ACK`.
//! - `ENTRY_DEL`, `ENTRY_GET` (one entry): `NAME` and the key, with `NLM_F_ACK`;
//!   `ENTRY_FLUSH`: `NAME`, with `NLM_F_ACK`; `ENTRY_GET` with `NLM_F_DUMP` and `NAME`:
//!   every entry of the profile, one message each. An entry message carries `NAME`, the
//!   key, the mapping and `STATS` (`u64` attribute `i + 1` = `ENTRY_COUNTERS[i]`).
//! - Events: the multicast group [`genl::MCGRP_EVENTS`], commands `NEW`, `SET` and
//!   `DEL`, with the profile's attributes as a `GET` reply has them; `ENTRY_NEW` and
//!   `ENTRY_SET` with the entry as an `ENTRY_GET` reply has it, `ENTRY_DEL` with `NAME`
//!   and the key only, `ENTRY_FLUSH` with `NAME` and `ENTRIES` (the number deleted).
//!
//! Errors come back as `NLMSG_ERROR`; the socket has `NETLINK_EXT_ACK` on, and the
//! extended ack's message (and the attribute its offset points at) go into
//! [`Error::Kernel`].

use std::collections::VecDeque;
use std::fmt;
use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neli::consts::genl::{CtrlAttr, CtrlAttrMcastGrp, CtrlCmd};
use neli::consts::nl::{GenlId, NlmF, Nlmsg, NlmsgerrAttr};
use neli::consts::socket::NlFamily;
use neli::err::SocketError;
use neli::genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder, NoUserHeader};
use neli::nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder};
use neli::socket::synchronous::NlSocketHandle;
use neli::types::{Buffer, GenlBuffer};
use neli::utils::Groups;
use neli::{FromBytesWithInput, ToBytes};
use nix::errno::Errno;
use ssnat_core::abi::{SsnatInfo, F_MAP_ADDR, F_MAP_PORT, F_PREFIX, NFPROTO_IPV4, NFPROTO_IPV6};
use ssnat_core::genl::{self, attr, cmd, COUNTERS, ENTRY_COUNTERS};
use ssnat_core::packet::{proto, Dest, DEST_PORT_PROTOCOLS};

use crate::error::{Error, Op};

/// A generic netlink message of the family: command and attributes.
pub type GenlMsg = Genlmsghdr<u8, u16>;
/// A list of attributes.
pub type Attrs = GenlBuffer<u16, Buffer>;

/// Number of counters in a profile's `STATS`.
pub const N_COUNTERS: usize = COUNTERS.len();

/// A profile as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The name.
    pub name: String,
    /// The mapping: `flags`, `family`, addresses, ports, seed (the rest zero).
    pub info: SsnatInfo,
    /// Number of rules that use it (`RULES`), if the message had it.
    pub rules: Option<u32>,
    /// The counters (`STATS`) in the order of [`COUNTERS`], if the message had them.
    pub counters: Option<[u64; N_COUNTERS]>,
    /// Number of entries (`ENTRIES`), if the message had it.
    pub entries: Option<u32>,
}

impl Profile {
    /// Whether the profile has no mapping of its own (`FLAGS` 0): entries only.
    pub fn entries_only(&self) -> bool {
        self.info.flags & (F_MAP_ADDR | F_MAP_PORT) == 0
    }
}

/// Number of counters in an entry's `STATS`.
pub const N_ENTRY_COUNTERS: usize = ENTRY_COUNTERS.len();

/// The key of an entry: where a packet goes (protocol, destination address and port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryKey {
    /// IP protocol (`ssnat_core::packet::proto`).
    pub proto: u8,
    /// Destination address; its family is the profile's.
    pub addr: IpAddr,
    /// Destination port: 1-65535 for the protocols of [`DEST_PORT_PROTOCOLS`], 0 for
    /// the others.
    pub port: u16,
}

impl EntryKey {
    /// `NFPROTO_IPV4` or `NFPROTO_IPV6`, as the address is.
    pub fn family(&self) -> u8 {
        match self.addr {
            IpAddr::V4(_) => NFPROTO_IPV4,
            IpAddr::V6(_) => NFPROTO_IPV6,
        }
    }

    /// The address's bytes, network order (4 or 16).
    pub fn addr_bytes(&self) -> Vec<u8> {
        match self.addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        }
    }

    /// Whether the protocol has ports (then the key needs one).
    pub fn has_port(&self) -> bool {
        DEST_PORT_PROTOCOLS.contains(&self.proto)
    }

    /// Checks the key as the kernel does: a port (1-65535) for a protocol with ports,
    /// none (0) for the others. The error is a message for the user.
    pub fn check(&self) -> Result<(), String> {
        match (self.has_port(), self.port) {
            (true, 0) => Err(format!(
                "a destination of protocol {} needs a port (1-65535): ADDR:PORT, [ADDR]:PORT for IPv6",
                proto_name(self.proto)
            )),
            (false, p) if p != 0 => Err(format!(
                "protocol {} has no ports: give the destination address alone",
                proto_name(self.proto)
            )),
            _ => Ok(()),
        }
    }

    /// The kernel's form of the key (`ssnat_core::packet::Dest`).
    pub fn to_dest(&self) -> Dest {
        let mut addr = [0u8; 16];
        let b = self.addr_bytes();
        addr[..b.len()].copy_from_slice(&b);
        Dest {
            addr,
            port: self.port.to_be_bytes(),
            proto: self.proto,
            family: self.family(),
        }
    }

    /// The key of a `Dest` (`None` for an unknown family).
    pub fn from_dest(d: &Dest) -> Option<EntryKey> {
        let addr = match d.family {
            NFPROTO_IPV4 => IpAddr::V4(Ipv4Addr::new(d.addr[0], d.addr[1], d.addr[2], d.addr[3])),
            NFPROTO_IPV6 => IpAddr::V6(Ipv6Addr::from(d.addr)),
            _ => return None,
        };
        Some(EntryKey {
            proto: d.proto,
            addr,
            port: u16::from_be_bytes(d.port),
        })
    }

    /// The destination as the command line takes it: `ADDR:PORT`, `[ADDR]:PORT` for
    /// IPv6, `ADDR` without a port.
    pub fn dest_text(&self) -> String {
        match (self.addr, self.port) {
            (a, 0) => a.to_string(),
            (IpAddr::V4(a), p) => format!("{a}:{p}"),
            (IpAddr::V6(a), p) => format!("[{a}]:{p}"),
        }
    }
}

/// `udp 203.0.113.5:31000`: protocol and destination.
impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", proto_name(self.proto), self.dest_text())
    }
}

/// The protocols known by name: `(number, name)`; other protocols go by number.
pub const PROTO_NAMES: [(u8, &str); 7] = [
    (proto::UDP, "udp"),
    (proto::TCP, "tcp"),
    (proto::UDPLITE, "udplite"),
    (proto::SCTP, "sctp"),
    (proto::DCCP, "dccp"),
    (proto::ICMP, "icmp"),
    (proto::ICMPV6, "icmpv6"),
];

/// The name of protocol `p` (`udp`), or its number.
pub fn proto_name(p: u8) -> String {
    PROTO_NAMES
        .iter()
        .find(|(n, _)| *n == p)
        .map_or_else(|| p.to_string(), |(_, name)| (*name).to_owned())
}

/// An entry of a profile as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Where the packets go that it maps.
    pub key: EntryKey,
    /// The mapping (of the profile's family).
    pub info: SsnatInfo,
    /// `packets` and `bytes` that found it ([`ENTRY_COUNTERS`]), if the message had them.
    pub counters: Option<[u64; N_ENTRY_COUNTERS]>,
}

/// What happened to a profile, as announced on the `events` group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Created (`NEW`).
    New,
    /// Replaced (`SET`).
    Set,
    /// Deleted (`DEL`).
    Del,
}

impl EventKind {
    /// The kind of a message with command `cmd`.
    pub fn from_cmd(c: u8) -> Option<EventKind> {
        match c {
            cmd::NEW => Some(EventKind::New),
            cmd::SET => Some(EventKind::Set),
            cmd::DEL => Some(EventKind::Del),
            _ => None,
        }
    }

    /// `new`, `set` or `del`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::New => "new",
            EventKind::Set => "set",
            EventKind::Del => "del",
        }
    }
}

/// One thing read from the `events` group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A change, with the profile after it (before it, for a deletion).
    Change(EventKind, Box<Profile>),
    /// An entry of `profile` created ([`EventKind::New`]) or replaced
    /// ([`EventKind::Set`]), as it is now.
    EntryChange {
        kind: EventKind,
        profile: String,
        entry: Box<Entry>,
    },
    /// The entry `key` of `profile` deleted.
    EntryDel { profile: String, key: EntryKey },
    /// Every entry of `profile` deleted: `deleted` of them.
    EntryFlush { profile: String, deleted: u32 },
    /// The socket's receive buffer overflowed: changes were lost.
    Lost,
}

/// The entries of the kernel's profiles (of the current network namespace). Errors as
/// for [`Profiles`]: `ENOENT` for no such profile (the extended ack's attribute is
/// `NAME`) or no such entry (`DST_ADDR`).
pub trait Entries {
    /// Adds entry `key` to `profile` (`EEXIST` if it exists, `ENOSPC` past the module's
    /// `max_entries`). `info` must be of the profile's family.
    fn entry_add(&mut self, profile: &str, key: &EntryKey, info: &SsnatInfo) -> Result<(), Error>;
    /// Replaces entry `key`'s mapping (`ENOENT` if it does not exist); its counters stay.
    fn entry_set(&mut self, profile: &str, key: &EntryKey, info: &SsnatInfo) -> Result<(), Error>;
    /// Deletes entry `key`.
    fn entry_del(&mut self, profile: &str, key: &EntryKey) -> Result<(), Error>;
    /// One entry.
    fn entry_get(&mut self, profile: &str, key: &EntryKey) -> Result<Entry, Error>;
    /// Deletes every entry of `profile`.
    fn entry_flush(&mut self, profile: &str) -> Result<(), Error>;
    /// Every entry of `profile`, in the kernel's order.
    fn entry_dump(&mut self, profile: &str) -> Result<Vec<Entry>, Error>;
}

/// The kernel's profiles of the current network namespace (and their [`Entries`]).
pub trait Profiles: Entries {
    /// Creates a profile (`EEXIST` if it exists).
    fn add(&mut self, name: &str, info: &SsnatInfo) -> Result<(), Error>;
    /// Replaces a profile's mapping (`ENOENT` if it does not exist).
    fn set(&mut self, name: &str, info: &SsnatInfo) -> Result<(), Error>;
    /// Deletes a profile (`EBUSY` while rules use it).
    fn del(&mut self, name: &str) -> Result<(), Error>;
    /// One profile.
    fn get(&mut self, name: &str) -> Result<Profile, Error>;
    /// All profiles, in the kernel's order.
    fn dump(&mut self) -> Result<Vec<Profile>, Error>;
    /// Joins the `events` group: the changes from now on, blocking for each.
    fn subscribe(&mut self) -> Result<Box<dyn Iterator<Item = Result<Event, Error>>>, Error>;
}

/// The name of attribute `n`, if it is one of the family's.
pub fn attr_name(n: u16) -> Option<&'static str> {
    attr::NAMES.get(usize::from(n)).copied()
}

fn nlattr(ty: u16, payload: Vec<u8>) -> Result<neli::genl::Nlattr<u16, Buffer>, Error> {
    let ty = AttrTypeBuilder::default()
        .nla_type(ty)
        .build()
        .map_err(|e| Error::Netlink(e.to_string()))?;
    NlattrBuilder::default()
        .nla_type(ty)
        .nla_payload(payload)
        .build()
        .map_err(|e| Error::Netlink(e.to_string()))
}

fn name_payload(name: &str) -> Vec<u8> {
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

/// The attributes of a `NEW` or `SET` request for profile `name` with the mapping of
/// `info` (flags 0: a profile without a mapping, entries only).
pub fn profile_attrs(name: &str, info: &SsnatInfo) -> Result<Attrs, Error> {
    let mut attrs = GenlBuffer::new();
    attrs.push(nlattr(attr::NAME, name_payload(name))?);
    push_mapping(&mut attrs, info)?;
    Ok(attrs)
}

/// Appends the mapping attributes of `info` (`FAMILY` to `SEED`).
fn push_mapping(attrs: &mut Attrs, info: &SsnatInfo) -> Result<(), Error> {
    attrs.push(nlattr(attr::FAMILY, vec![info.family])?);
    attrs.push(nlattr(attr::FLAGS, info.flags.to_ne_bytes().to_vec())?);
    if info.flags & F_MAP_ADDR != 0 {
        let n = info.addr_len();
        attrs.push(nlattr(attr::MIN_ADDR, info.min_addr[..n].to_vec())?);
        attrs.push(nlattr(attr::MAX_ADDR, info.max_addr[..n].to_vec())?);
        if info.flags & F_PREFIX != 0 {
            attrs.push(nlattr(attr::PREFIX_LEN, vec![info.prefix_len])?);
        }
    }
    if info.flags & F_MAP_PORT != 0 {
        attrs.push(nlattr(
            attr::MIN_PORT,
            info.min_port.to_ne_bytes().to_vec(),
        )?);
        attrs.push(nlattr(
            attr::MAX_PORT,
            info.max_port.to_ne_bytes().to_vec(),
        )?);
    }
    attrs.push(nlattr(attr::SEED, info.seed.to_ne_bytes().to_vec())?);
    Ok(())
}

/// The attributes of an entry request for `key` of `profile`: `NAME`, `PROTO`,
/// `DST_ADDR`, `DST_PORT`, then (`ENTRY_NEW`, `ENTRY_SET`) the mapping of `info`.
pub fn entry_attrs(
    profile: &str,
    key: &EntryKey,
    info: Option<&SsnatInfo>,
) -> Result<Attrs, Error> {
    let mut attrs = GenlBuffer::new();
    attrs.push(nlattr(attr::NAME, name_payload(profile))?);
    attrs.push(nlattr(attr::PROTO, vec![key.proto])?);
    attrs.push(nlattr(attr::DST_ADDR, key.addr_bytes())?);
    attrs.push(nlattr(attr::DST_PORT, key.port.to_ne_bytes().to_vec())?);
    if let Some(info) = info {
        push_mapping(&mut attrs, info)?;
    }
    Ok(attrs)
}

/// The attributes of a `DEL` or `GET` request for profile `name` (and of `ENTRY_FLUSH`,
/// and of the `ENTRY_GET` dump).
pub fn name_attrs(name: &str) -> Result<Attrs, Error> {
    let mut attrs = GenlBuffer::new();
    attrs.push(nlattr(attr::NAME, name_payload(name))?);
    Ok(attrs)
}

/// The generic netlink message of command `c` with `attrs`.
pub fn request(c: u8, attrs: Attrs) -> Result<GenlMsg, Error> {
    GenlmsghdrBuilder::<u8, u16, NoUserHeader>::default()
        .cmd(c)
        .version(genl::FAMILY_VERSION)
        .attrs(attrs)
        .build()
        .map_err(|e| Error::Netlink(e.to_string()))
}

/// The bytes of a generic netlink message (genl header and attributes), as they follow
/// the `nlmsghdr` on the wire.
pub fn request_bytes(msg: &GenlMsg) -> Result<Vec<u8>, Error> {
    let mut buf = Cursor::new(Vec::new());
    msg.to_bytes(&mut buf)
        .map_err(|e| Error::Netlink(e.to_string()))?;
    Ok(buf.into_inner())
}

/// Parses the payload of a family message (what follows its `nlmsghdr`).
pub fn parse_genl(bytes: &[u8]) -> Result<GenlMsg, Error> {
    GenlMsg::from_bytes_with_input(&mut Cursor::new(bytes), bytes.len())
        .map_err(|e| Error::Netlink(format!("bad message from the kernel: {e}")))
}

/// The attribute found at `offset` bytes into `payload` (a genl message as
/// [`request_bytes`] makes it): where an extended ack points.
pub fn attr_at(payload: &[u8], offset: usize) -> Option<u16> {
    let mut pos = 4; // genlmsghdr
    while pos + 4 <= payload.len() {
        let len = usize::from(u16::from_ne_bytes([payload[pos], payload[pos + 1]]));
        let ty = u16::from_ne_bytes([payload[pos + 2], payload[pos + 3]]) & 0x3fff;
        if len < 4 {
            return None;
        }
        if (pos..pos + len).contains(&offset) {
            return Some(ty);
        }
        pos += (len + 3) & !3;
    }
    None
}

/// An error about a reply of the kind `what` (`profile`, `entry`, `event`).
fn bad(what: &str, why: impl fmt::Display) -> Error {
    Error::Netlink(format!("bad {what} message from the kernel: {why}"))
}

fn fixed<const N: usize>(what: &str, ty: u16, payload: &[u8]) -> Result<[u8; N], Error> {
    payload.try_into().map_err(|_| {
        bad(
            what,
            format_args!(
                "attribute {} has {} bytes, not {N}",
                attr_name(ty).unwrap_or("?"),
                payload.len()
            ),
        )
    })
}

/// The attributes of a reply, each checked for its size; unknown ones skipped (a
/// newer module may add some).
#[derive(Default)]
struct Fields {
    name: Option<String>,
    family: Option<u8>,
    flags: Option<u16>,
    min_addr: Option<Vec<u8>>,
    max_addr: Option<Vec<u8>>,
    prefix_len: u8,
    min_port: u16,
    max_port: u16,
    seed: u32,
    rules: Option<u32>,
    entries: Option<u32>,
    /// `STATS`: (attribute, value) of every counter.
    stats: Option<Vec<(u16, u64)>>,
    proto: Option<u8>,
    dst_addr: Option<Vec<u8>>,
    dst_port: Option<u16>,
}

impl Fields {
    fn of(msg: &GenlMsg, what: &str) -> Result<Fields, Error> {
        let mut f = Fields::default();
        for a in msg.attrs().iter() {
            let ty = *a.nla_type().nla_type();
            let p = a.nla_payload().as_ref();
            match ty {
                attr::NAME => {
                    let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
                    f.name = Some(String::from_utf8_lossy(&p[..end]).into_owned());
                }
                attr::FAMILY => f.family = Some(fixed::<1>(what, ty, p)?[0]),
                attr::FLAGS => f.flags = Some(u16::from_ne_bytes(fixed(what, ty, p)?)),
                attr::MIN_ADDR => f.min_addr = Some(p.to_vec()),
                attr::MAX_ADDR => f.max_addr = Some(p.to_vec()),
                attr::PREFIX_LEN => f.prefix_len = fixed::<1>(what, ty, p)?[0],
                attr::MIN_PORT => f.min_port = u16::from_ne_bytes(fixed(what, ty, p)?),
                attr::MAX_PORT => f.max_port = u16::from_ne_bytes(fixed(what, ty, p)?),
                attr::SEED => f.seed = u32::from_ne_bytes(fixed(what, ty, p)?),
                attr::RULES => f.rules = Some(u32::from_ne_bytes(fixed(what, ty, p)?)),
                attr::ENTRIES => f.entries = Some(u32::from_ne_bytes(fixed(what, ty, p)?)),
                attr::STATS => f.stats = Some(decode_stats(what, a)?),
                attr::PROTO => f.proto = Some(fixed::<1>(what, ty, p)?[0]),
                attr::DST_ADDR => f.dst_addr = Some(p.to_vec()),
                attr::DST_PORT => f.dst_port = Some(u16::from_ne_bytes(fixed(what, ty, p)?)),
                _ => {}
            }
        }
        Ok(f)
    }

    fn name(&mut self, what: &str) -> Result<String, Error> {
        self.name.take().ok_or_else(|| bad(what, "no NAME"))
    }

    /// The mapping: `FAMILY` and `FLAGS` required, the rest zero by default.
    fn mapping(&mut self, what: &str) -> Result<SsnatInfo, Error> {
        let mut info = SsnatInfo::zeroed();
        info.family = self.family.ok_or_else(|| bad(what, "no FAMILY"))?;
        info.flags = self.flags.ok_or_else(|| bad(what, "no FLAGS"))?;
        let len = match info.family {
            NFPROTO_IPV4 => 4,
            NFPROTO_IPV6 => 16,
            f => return Err(bad(what, format_args!("unknown family {f}"))),
        };
        for (value, field) in [
            (self.min_addr.take(), &mut info.min_addr),
            (self.max_addr.take(), &mut info.max_addr),
        ] {
            if let Some(v) = value {
                // Zero bytes: a profile that maps no address may send empty addresses.
                if !v.is_empty() && v.len() != len {
                    return Err(bad(what, format_args!("address of {} bytes", v.len())));
                }
                field[..v.len()].copy_from_slice(&v);
            }
        }
        info.prefix_len = self.prefix_len;
        info.min_port = self.min_port;
        info.max_port = self.max_port;
        info.seed = self.seed;
        Ok(info)
    }

    /// The entry key: `PROTO` and `DST_ADDR` required, `DST_PORT` 0 by default.
    fn key(&mut self, what: &str) -> Result<EntryKey, Error> {
        let proto = self.proto.ok_or_else(|| bad(what, "no PROTO"))?;
        let raw = self
            .dst_addr
            .take()
            .ok_or_else(|| bad(what, "no DST_ADDR"))?;
        let addr = match raw.len() {
            4 => IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3])),
            16 => IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(&raw[..]).unwrap_or([0; 16]),
            )),
            n => return Err(bad(what, format_args!("DST_ADDR of {n} bytes"))),
        };
        Ok(EntryKey {
            proto,
            addr,
            port: self.dst_port.unwrap_or(0),
        })
    }

    /// The counters of `STATS` as `N` values (attribute `i + 1` is value `i`; others
    /// skipped), if there was `STATS`.
    fn counters<const N: usize>(&self) -> Option<[u64; N]> {
        self.stats.as_ref().map(|stats| {
            let mut counters = [0; N];
            for &(ty, v) in stats {
                if let Some(slot) = usize::from(ty)
                    .checked_sub(1)
                    .and_then(|i| counters.get_mut(i))
                {
                    *slot = v;
                }
            }
            counters
        })
    }
}

/// Decodes a profile message (a `GET` reply, a dump entry or an event). Unknown
/// attributes are skipped (a newer module may add some); `NAME`, `FAMILY` and `FLAGS`
/// are required, the other mapping attributes default to zero.
pub fn decode_profile(msg: &GenlMsg) -> Result<Profile, Error> {
    let what = "profile";
    let mut f = Fields::of(msg, what)?;
    let name = f.name(what)?;
    let info = f.mapping(what)?;
    Ok(Profile {
        name,
        info,
        rules: f.rules,
        counters: f.counters(),
        entries: f.entries,
    })
}

/// Decodes an entry message (an `ENTRY_GET` reply, a dump's message, an `ENTRY_NEW` or
/// `ENTRY_SET` event): the profile's name and the entry. `NAME`, `PROTO`, `DST_ADDR`,
/// `FAMILY` and `FLAGS` are required; the mapping's family must be the address's.
pub fn decode_entry(msg: &GenlMsg) -> Result<(String, Entry), Error> {
    let what = "entry";
    let mut f = Fields::of(msg, what)?;
    let name = f.name(what)?;
    let key = f.key(what)?;
    let info = f.mapping(what)?;
    if info.family != key.family() {
        return Err(bad(what, "the mapping's family is not the destination's"));
    }
    Ok((
        name,
        Entry {
            key,
            info,
            counters: f.counters(),
        },
    ))
}

/// Decodes an event (a message of the `events` group): `None` for a command this
/// `ssnatctl` does not know.
pub fn decode_event(msg: &GenlMsg) -> Result<Option<Event>, Error> {
    let c = *msg.cmd();
    if let Some(kind) = EventKind::from_cmd(c) {
        return Ok(Some(Event::Change(kind, Box::new(decode_profile(msg)?))));
    }
    let what = "event";
    Ok(Some(match c {
        cmd::ENTRY_NEW | cmd::ENTRY_SET => {
            let (profile, entry) = decode_entry(msg)?;
            let kind = if c == cmd::ENTRY_NEW {
                EventKind::New
            } else {
                EventKind::Set
            };
            Event::EntryChange {
                kind,
                profile,
                entry: Box::new(entry),
            }
        }
        cmd::ENTRY_DEL => {
            let mut f = Fields::of(msg, what)?;
            Event::EntryDel {
                profile: f.name(what)?,
                key: f.key(what)?,
            }
        }
        cmd::ENTRY_FLUSH => {
            let mut f = Fields::of(msg, what)?;
            Event::EntryFlush {
                profile: f.name(what)?,
                deleted: f.entries.ok_or_else(|| bad(what, "no ENTRIES"))?,
            }
        }
        _ => return Ok(None),
    }))
}

fn decode_stats(what: &str, a: &neli::genl::Nlattr<u16, Buffer>) -> Result<Vec<(u16, u64)>, Error> {
    let nested = a
        .get_attr_handle::<u16>()
        .map_err(|e| bad(what, format_args!("STATS: {e}")))?;
    let mut counters = Vec::new();
    for c in nested.iter() {
        let ty = *c.nla_type().nla_type();
        if ty == attr::PAD || ty == 0 {
            continue;
        }
        let p = c.nla_payload().as_ref();
        let v = u64::from_ne_bytes(
            p.try_into()
                .map_err(|_| bad(what, format_args!("counter {ty} has {} bytes", p.len())))?,
        );
        // Counters this ssnatctl does not know are skipped (later).
        counters.push((ty, v));
    }
    Ok(counters)
}

/// The message and the attribute of an extended ack, given the request's genl bytes.
fn extack_of(
    ext_ack: &GenlBuffer<NlmsgerrAttr, Buffer>,
    sent: &[u8],
) -> (Option<String>, Option<&'static str>) {
    let mut msg = None;
    let mut at = None;
    for a in ext_ack.iter() {
        let p = a.nla_payload().as_ref();
        match a.nla_type().nla_type() {
            NlmsgerrAttr::Msg => {
                let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
                let text = String::from_utf8_lossy(&p[..end]).trim().to_owned();
                if !text.is_empty() {
                    msg = Some(text);
                }
            }
            NlmsgerrAttr::Offset => {
                if let Ok(b) = <[u8; 4]>::try_from(p) {
                    // The offset counts from the nlmsghdr (16 bytes).
                    let off = u32::from_ne_bytes(b) as usize;
                    at = off
                        .checked_sub(16)
                        .and_then(|o| attr_at(sent, o))
                        .and_then(attr_name);
                }
            }
            _ => {}
        }
    }
    (msg, at)
}

/// The error of an `NLMSG_ERROR` reply (or of a dump's `NLMSG_DONE`) to a request of
/// `op` on `name`.
fn kernel_error(
    op: Op,
    name: Option<&str>,
    errno: i32,
    ext_ack: &GenlBuffer<NlmsgerrAttr, Buffer>,
    sent: &[u8],
) -> Error {
    let (extack, attr) = extack_of(ext_ack, sent);
    Error::Kernel {
        op,
        name: name.map(str::to_owned),
        errno: Errno::from_raw(-errno),
        extack,
        attr,
    }
}

/// Why a request failed: the kernel's error (errno, extended ack) or the socket's.
enum Failure {
    Kernel {
        errno: i32,
        ext_ack: GenlBuffer<NlmsgerrAttr, Buffer>,
    },
    Socket(Error),
}

impl Failure {
    fn into_error(self, op: Op, name: Option<&str>, sent: &[u8]) -> Error {
        match self {
            Failure::Kernel { errno, ext_ack } => kernel_error(op, name, errno, &ext_ack, sent),
            Failure::Socket(e) => e,
        }
    }
}

/// What a request expects back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// Replies (maybe none), then the ack (`NLM_F_ACK`).
    Acked,
    /// A dump: replies, then `NLMSG_DONE` (`NLM_F_DUMP`).
    Dump,
}

/// A connection to the kernel's `SSNAT` family in the current network namespace: a
/// blocking generic netlink socket with extended acks, one request at a time.
///
/// (`neli`'s `NlRouter` is not used: it drops the extended ack of an error when it
/// retypes the message.)
pub struct Client {
    socket: NlSocketHandle,
    family: u16,
    seq: u32,
    /// The last dump had a message flagged `NLM_F_DUMP_INTR`: the profiles changed
    /// while it ran, so it may have missed or repeated one.
    interrupted: bool,
}

/// The family's id and multicast groups, from the generic netlink controller.
struct FamilyInfo {
    id: u16,
    groups: Vec<(String, u32)>,
}

impl Client {
    /// Opens a generic netlink socket (with extended acks) and resolves the family:
    /// [`Error::FamilyMissing`] when it is not registered (module not loaded).
    pub fn connect() -> Result<Client, Error> {
        let socket = open_socket()?;
        let mut client = Client {
            socket,
            family: 0,
            seq: 0,
            interrupted: false,
        };
        client.family = client.resolve(genl::FAMILY_NAME)?.id;
        Ok(client)
    }

    /// Asks the controller (`CTRL_CMD_GETFAMILY`) about family `name`:
    /// [`Error::FamilyMissing`] when it is not registered.
    fn resolve(&mut self, name: &str) -> Result<FamilyInfo, Error> {
        let mut attrs = GenlBuffer::new();
        attrs.push(nlattr(u16::from(CtrlAttr::FamilyName), name_payload(name))?);
        let msg = GenlmsghdrBuilder::<u8, u16, NoUserHeader>::default()
            .cmd(u8::from(CtrlCmd::Getfamily))
            .version(2)
            .attrs(attrs)
            .build()
            .map_err(|e| Error::Netlink(e.to_string()))?;
        let mut replies = Vec::new();
        match self.transact(u16::from(GenlId::Ctrl), Reply::Acked, msg, &mut |m| {
            replies.push(m);
            Ok(())
        }) {
            Ok(()) => {}
            Err(Failure::Kernel { errno, .. }) if -errno == Errno::ENOENT as i32 => {
                return Err(Error::FamilyMissing)
            }
            Err(Failure::Kernel { errno, .. }) => {
                return Err(Error::Netlink(format!(
                    "resolving the {name} family: {}",
                    Errno::from_raw(-errno).desc()
                )))
            }
            Err(Failure::Socket(e)) => return Err(e),
        };
        let reply = replies
            .first()
            .ok_or_else(|| Error::Netlink("no reply from the generic netlink controller".into()))?;
        decode_family(reply)
    }

    /// Sends `msg` to `nl_type` and hands the replies to it to `sink` as they come (a
    /// dump may be long: nothing is kept here). An error of `sink` ends the reading.
    fn transact(
        &mut self,
        nl_type: u16,
        reply: Reply,
        msg: GenlMsg,
        sink: &mut dyn FnMut(GenlMsg) -> Result<(), Error>,
    ) -> Result<(), Failure> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let flags = NlmF::REQUEST
            | match reply {
                Reply::Acked => NlmF::ACK,
                Reply::Dump => NlmF::DUMP,
            };
        let nl = NlmsghdrBuilder::default()
            .nl_type(nl_type)
            .nl_flags(flags)
            .nl_seq(seq)
            .nl_pid(self.socket.pid())
            .nl_payload(NlPayload::Payload(msg))
            .build()
            .map_err(|e| Failure::Socket(Error::Netlink(e.to_string())))?;
        self.socket
            .send(&nl)
            .map_err(|e| Failure::Socket(socket_error(e)))?;
        self.interrupted = false;
        loop {
            let (msgs, _) = self
                .socket
                .recv::<u16, Buffer>()
                .map_err(|e| Failure::Socket(socket_error(e)))?;
            for m in msgs {
                let m = m.map_err(|e| Failure::Socket(socket_error(e)))?;
                if *m.nl_seq() != seq {
                    continue; // A late answer to something else.
                }
                if m.nl_flags().contains(NlmF::DUMP_INTR) {
                    self.interrupted = true;
                }
                match m.nl_payload() {
                    NlPayload::Err(e) => {
                        return Err(Failure::Kernel {
                            errno: *e.error(),
                            ext_ack: e.ext_ack().clone(),
                        })
                    }
                    NlPayload::Ack(_) => return Ok(()),
                    NlPayload::DumpExtAck(e) if *e.error() != 0 => {
                        return Err(Failure::Kernel {
                            errno: *e.error(),
                            ext_ack: e.ext_ack().clone(),
                        })
                    }
                    NlPayload::DumpExtAck(_) | NlPayload::Empty => {
                        if reply == Reply::Dump {
                            return Ok(());
                        }
                    }
                    NlPayload::Payload(buf) => {
                        if *m.nl_type() == u16::from(Nlmsg::Done) {
                            return Ok(());
                        }
                        if *m.nl_type() == nl_type {
                            let g = parse_genl(buf.as_ref()).map_err(Failure::Socket)?;
                            sink(g).map_err(Failure::Socket)?;
                        }
                    }
                }
            }
        }
    }

    /// A request of `op` (on profile `name`) with command `c` and `attrs`: the replies.
    fn request(
        &mut self,
        op: Op,
        name: Option<&str>,
        c: u8,
        reply: Reply,
        attrs: Attrs,
    ) -> Result<Vec<GenlMsg>, Error> {
        let mut replies = Vec::new();
        self.request_each(op, name, c, reply, attrs, &mut |m| {
            replies.push(m);
            Ok(())
        })?;
        Ok(replies)
    }

    /// [`Client::request`] with each reply handed to `sink` as it comes.
    fn request_each(
        &mut self,
        op: Op,
        name: Option<&str>,
        c: u8,
        reply: Reply,
        attrs: Attrs,
        sink: &mut dyn FnMut(GenlMsg) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let msg = request(c, attrs)?;
        let sent = request_bytes(&msg)?;
        self.transact(self.family, reply, msg, sink)
            .map_err(|f| f.into_error(op, name, &sent))
    }

    fn change(&mut self, op: Op, c: u8, name: &str, attrs: Attrs) -> Result<(), Error> {
        self.request(op, Some(name), c, Reply::Acked, attrs)
            .map(drop)
    }
}

fn open_socket() -> Result<NlSocketHandle, Error> {
    let socket = NlSocketHandle::connect(NlFamily::Generic, None, Groups::empty())
        .map_err(|e| Error::Netlink(format!("generic netlink socket: {e}")))?;
    // Kernels before 4.12 have no extended acks: errors then come without a message.
    let _ = socket.enable_ext_ack(true);
    Ok(socket)
}

/// The family id and multicast groups in a controller's reply.
fn decode_family(msg: &GenlMsg) -> Result<FamilyInfo, Error> {
    let bad = |what: &str| {
        Error::Netlink(format!(
            "bad reply from the generic netlink controller: {what}"
        ))
    };
    let mut id = None;
    let mut groups = Vec::new();
    for a in msg.attrs().iter() {
        let ty = *a.nla_type().nla_type();
        if ty == u16::from(CtrlAttr::FamilyId) {
            let b: [u8; 2] = a
                .nla_payload()
                .as_ref()
                .try_into()
                .map_err(|_| bad("family id"))?;
            id = Some(u16::from_ne_bytes(b));
        } else if ty == u16::from(CtrlAttr::McastGroups) {
            let list = a.get_attr_handle::<u16>().map_err(|_| bad("groups"))?;
            for entry in list.iter() {
                let fields = entry.get_attr_handle::<u16>().map_err(|_| bad("group"))?;
                let mut name = None;
                let mut gid = None;
                for f in fields.iter() {
                    let p = f.nla_payload().as_ref();
                    let fty = *f.nla_type().nla_type();
                    if fty == u16::from(CtrlAttrMcastGrp::Name) {
                        let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
                        name = Some(String::from_utf8_lossy(&p[..end]).into_owned());
                    } else if fty == u16::from(CtrlAttrMcastGrp::Id) {
                        let b: [u8; 4] = p.try_into().map_err(|_| bad("group id"))?;
                        gid = Some(u32::from_ne_bytes(b));
                    }
                }
                if let (Some(n), Some(g)) = (name, gid) {
                    groups.push((n, g));
                }
            }
        }
    }
    Ok(FamilyInfo {
        id: id.ok_or_else(|| bad("no family id"))?,
        groups,
    })
}

impl Profiles for Client {
    fn add(&mut self, name: &str, info: &SsnatInfo) -> Result<(), Error> {
        self.change(Op::Add, cmd::NEW, name, profile_attrs(name, info)?)
    }

    fn set(&mut self, name: &str, info: &SsnatInfo) -> Result<(), Error> {
        self.change(Op::Set, cmd::SET, name, profile_attrs(name, info)?)
    }

    fn del(&mut self, name: &str) -> Result<(), Error> {
        self.change(Op::Del, cmd::DEL, name, name_attrs(name)?)
    }

    fn get(&mut self, name: &str) -> Result<Profile, Error> {
        let replies = self.request(
            Op::Get,
            Some(name),
            cmd::GET,
            Reply::Acked,
            name_attrs(name)?,
        )?;
        let first = replies
            .first()
            .ok_or_else(|| Error::Netlink(format!("no reply for profile {name}")))?;
        decode_profile(first)
    }

    fn dump(&mut self) -> Result<Vec<Profile>, Error> {
        // A dump the kernel flags as interrupted (profiles added or deleted between its
        // rounds) is taken again, a few times at most.
        let mut tries = 0;
        loop {
            let msgs = self.request(Op::Dump, None, cmd::GET, Reply::Dump, GenlBuffer::new())?;
            tries += 1;
            if !self.interrupted || tries == 5 {
                return msgs.iter().map(decode_profile).collect();
            }
        }
    }

    fn subscribe(&mut self) -> Result<Box<dyn Iterator<Item = Result<Event, Error>>>, Error> {
        let family = self.resolve(genl::FAMILY_NAME)?;
        let group = family
            .groups
            .iter()
            .find(|(n, _)| n == genl::MCGRP_EVENTS)
            .map(|(_, g)| *g)
            .ok_or_else(|| {
                Error::Netlink(format!(
                    "the {} family has no multicast group '{}' (module older than ssnatctl?)",
                    genl::FAMILY_NAME,
                    genl::MCGRP_EVENTS
                ))
            })?;
        // A socket of its own: events do not mix with the replies to requests.
        let socket = open_socket()?;
        socket
            .add_mcast_membership(Groups::new_groups(&[group]))
            .map_err(socket_error)?;
        Ok(Box::new(Events {
            socket,
            family: family.id,
            pending: VecDeque::new(),
        }))
    }
}

/// The name in the messages of an entry request: `moh udp 203.0.113.5:31000`.
fn entry_name(profile: &str, key: &EntryKey) -> String {
    format!("{profile} {key}")
}

impl Entries for Client {
    fn entry_add(&mut self, profile: &str, key: &EntryKey, info: &SsnatInfo) -> Result<(), Error> {
        let attrs = entry_attrs(profile, key, Some(info))?;
        self.change(
            Op::EntryAdd,
            cmd::ENTRY_NEW,
            &entry_name(profile, key),
            attrs,
        )
    }

    fn entry_set(&mut self, profile: &str, key: &EntryKey, info: &SsnatInfo) -> Result<(), Error> {
        let attrs = entry_attrs(profile, key, Some(info))?;
        self.change(
            Op::EntrySet,
            cmd::ENTRY_SET,
            &entry_name(profile, key),
            attrs,
        )
    }

    fn entry_del(&mut self, profile: &str, key: &EntryKey) -> Result<(), Error> {
        let attrs = entry_attrs(profile, key, None)?;
        self.change(
            Op::EntryDel,
            cmd::ENTRY_DEL,
            &entry_name(profile, key),
            attrs,
        )
    }

    fn entry_get(&mut self, profile: &str, key: &EntryKey) -> Result<Entry, Error> {
        let name = entry_name(profile, key);
        let attrs = entry_attrs(profile, key, None)?;
        let replies = self.request(
            Op::EntryGet,
            Some(&name),
            cmd::ENTRY_GET,
            Reply::Acked,
            attrs,
        )?;
        let first = replies
            .first()
            .ok_or_else(|| Error::Netlink(format!("no reply for entry {name}")))?;
        let (got, entry) = decode_entry(first)?;
        if got != profile || entry.key != *key {
            return Err(bad(
                "entry",
                format_args!("asked for {name}, got {}", entry_name(&got, &entry.key)),
            ));
        }
        Ok(entry)
    }

    fn entry_flush(&mut self, profile: &str) -> Result<(), Error> {
        self.change(
            Op::EntryFlush,
            cmd::ENTRY_FLUSH,
            profile,
            name_attrs(profile)?,
        )
    }

    fn entry_dump(&mut self, profile: &str) -> Result<Vec<Entry>, Error> {
        // As dump(): an interrupted dump (entries changed between its rounds) is taken
        // again, a few times at most. Each message is decoded as it comes.
        let mut tries = 0;
        loop {
            let mut entries = Vec::new();
            self.request_each(
                Op::EntryDump,
                Some(profile),
                cmd::ENTRY_GET,
                Reply::Dump,
                name_attrs(profile)?,
                &mut |m| {
                    let (got, entry) = decode_entry(&m)?;
                    if got != profile {
                        return Err(bad(
                            "entry",
                            format_args!("dump of {profile} has an entry of {got}"),
                        ));
                    }
                    entries.push(entry);
                    Ok(())
                },
            )?;
            tries += 1;
            if !self.interrupted || tries == 5 {
                return Ok(entries);
            }
        }
    }
}

fn socket_error(e: SocketError) -> Error {
    match &e {
        SocketError::Io(io) => Error::Netlink(crate::error::io_desc(io)),
        _ => Error::Netlink(e.to_string()),
    }
}

/// The changes announced on the `events` group.
struct Events {
    socket: NlSocketHandle,
    family: u16,
    pending: VecDeque<Result<Event, Error>>,
}

impl Events {
    /// Reads one datagram (blocking) into `pending`.
    fn read(&mut self) -> Result<(), Error> {
        let (msgs, _groups) = match self.socket.recv::<u16, Buffer>() {
            Ok(r) => r,
            Err(SocketError::Io(io)) if io.raw_os_error() == Some(Errno::ENOBUFS as i32) => {
                self.pending.push_back(Ok(Event::Lost));
                return Ok(());
            }
            Err(SocketError::Io(io)) if io.kind() == std::io::ErrorKind::Interrupted => {
                return Ok(())
            }
            Err(e) => return Err(socket_error(e)),
        };
        for m in msgs {
            let m: Nlmsghdr<u16, Buffer> = m.map_err(socket_error)?;
            if *m.nl_type() != self.family {
                continue;
            }
            if let NlPayload::Payload(buf) = m.nl_payload() {
                match parse_genl(buf.as_ref()).and_then(|g| decode_event(&g)) {
                    Ok(Some(event)) => self.pending.push_back(Ok(event)),
                    Ok(None) => {}
                    Err(e) => self.pending.push_back(Err(e)),
                }
            }
        }
        Ok(())
    }
}

impl Iterator for Events {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            if let Err(e) = self.read() {
                return Some(Err(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neli::{FromBytes, Size};
    use ssnat_spec::{apply_option, Family, Opt};

    /// A whole netlink message (header and payload) of type `family`, as bytes.
    fn message_bytes(family: u16, flags: NlmF, msg: GenlMsg) -> Result<Vec<u8>, Error> {
        let nl = NlmsghdrBuilder::default()
            .nl_type(family)
            .nl_flags(flags)
            .nl_payload(NlPayload::Payload(msg))
            .build()
            .map_err(|e| Error::Netlink(e.to_string()))?;
        let mut buf = Cursor::new(vec![0; nl.padded_size()]);
        nl.to_bytes(&mut buf)
            .map_err(|e| Error::Netlink(e.to_string()))?;
        Ok(buf.into_inner())
    }

    fn info(opts: &[(Opt, &str)], family: Family) -> SsnatInfo {
        let mut info = SsnatInfo::zeroed();
        for (opt, arg) in opts {
            apply_option(&mut info, *opt, arg, family).expect("valid option");
        }
        info
    }

    /// An attribute as the kernel lays it out: len, type, payload, padding to 4.
    fn a(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(4 + payload.len() as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    fn genl(c: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![c, genl::FAMILY_VERSION, 0, 0];
        for x in attrs {
            v.extend_from_slice(x);
        }
        v
    }

    #[test]
    fn add_request_bytes_for_an_address_and_port() {
        let i = info(
            &[
                (Opt::ToSource, "198.51.100.7:4000"),
                (Opt::RandomSeed, "0x1234"),
            ],
            Family::V4,
        );
        let msg = request(cmd::NEW, profile_attrs("moh", &i).unwrap()).unwrap();
        let flags = F_MAP_ADDR | F_MAP_PORT;
        let want = genl(
            cmd::NEW,
            &[
                a(attr::NAME, b"moh\0"),
                a(attr::FAMILY, &[NFPROTO_IPV4]),
                a(attr::FLAGS, &flags.to_ne_bytes()),
                a(attr::MIN_ADDR, &[198, 51, 100, 7]),
                a(attr::MAX_ADDR, &[198, 51, 100, 7]),
                a(attr::MIN_PORT, &4000u16.to_ne_bytes()),
                a(attr::MAX_PORT, &4000u16.to_ne_bytes()),
                a(attr::SEED, &0x1234u32.to_ne_bytes()),
            ],
        );
        assert_eq!(request_bytes(&msg).unwrap(), want);
    }

    #[test]
    fn set_request_for_a_v6_prefix_without_port() {
        let i = info(&[(Opt::ToSource, "2001:db8::/64")], Family::V6);
        let msg = request(cmd::SET, profile_attrs("v6.net", &i).unwrap()).unwrap();
        let mut last = [0u8; 16];
        last[..8].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0]);
        last[8..].fill(0xff);
        let mut first = [0u8; 16];
        first[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        let want = genl(
            cmd::SET,
            &[
                a(attr::NAME, b"v6.net\0"),
                a(attr::FAMILY, &[NFPROTO_IPV6]),
                a(attr::FLAGS, &(F_MAP_ADDR | F_PREFIX).to_ne_bytes()),
                a(attr::MIN_ADDR, &first),
                a(attr::MAX_ADDR, &last),
                a(attr::PREFIX_LEN, &[64]),
                a(attr::SEED, &0u32.to_ne_bytes()),
            ],
        );
        assert_eq!(request_bytes(&msg).unwrap(), want);
    }

    #[test]
    fn port_only_request_has_no_addresses() {
        let i = info(&[(Opt::ToPorts, "1000-2000")], Family::V6);
        let bytes =
            request_bytes(&request(cmd::NEW, profile_attrs("p", &i).unwrap()).unwrap()).unwrap();
        let want = genl(
            cmd::NEW,
            &[
                a(attr::NAME, b"p\0"),
                a(attr::FAMILY, &[NFPROTO_IPV6]),
                a(attr::FLAGS, &F_MAP_PORT.to_ne_bytes()),
                a(attr::MIN_PORT, &1000u16.to_ne_bytes()),
                a(attr::MAX_PORT, &2000u16.to_ne_bytes()),
                a(attr::SEED, &0u32.to_ne_bytes()),
            ],
        );
        assert_eq!(bytes, want);
    }

    #[test]
    fn del_and_get_send_the_name_only() {
        for c in [cmd::DEL, cmd::GET] {
            let msg = request(c, name_attrs("moh").unwrap()).unwrap();
            assert_eq!(
                request_bytes(&msg).unwrap(),
                genl(c, &[a(attr::NAME, b"moh\0")])
            );
        }
        let dump = request(cmd::GET, GenlBuffer::new()).unwrap();
        assert_eq!(request_bytes(&dump).unwrap(), genl(cmd::GET, &[]));
    }

    /// A reply as the kernel sends it: every mapping attribute, RULES, and STATS with
    /// PAD attributes before the u64s, plus an attribute this ssnatctl does not know.
    fn reply_bytes(c: u8) -> Vec<u8> {
        let mut stats = Vec::new();
        for i in 0..N_COUNTERS as u16 {
            stats.extend(a(attr::PAD, &[]));
            stats.extend(a(i + 1, &(1000 + u64::from(i)).to_ne_bytes()));
        }
        stats.extend(a(99, &7u64.to_ne_bytes()));
        // With the nested flag, as nla_nest_start() sets it.
        let stats_attr = a(attr::STATS | 0x8000, &stats);
        genl(
            c,
            &[
                a(attr::NAME, b"moh\0"),
                a(attr::FAMILY, &[NFPROTO_IPV4]),
                a(
                    attr::FLAGS,
                    &(F_MAP_ADDR | F_MAP_PORT | F_PREFIX).to_ne_bytes(),
                ),
                a(attr::MIN_ADDR, &[10, 1, 0, 0]),
                a(attr::MAX_ADDR, &[10, 1, 255, 255]),
                a(attr::PREFIX_LEN, &[16]),
                a(attr::MIN_PORT, &4000u16.to_ne_bytes()),
                a(attr::MAX_PORT, &4100u16.to_ne_bytes()),
                a(attr::SEED, &0xdeadbeefu32.to_ne_bytes()),
                a(attr::RULES, &3u32.to_ne_bytes()),
                stats_attr,
                a(200, b"future"),
            ],
        )
    }

    #[test]
    fn decodes_a_reply_built_by_hand() {
        let msg = parse_genl(&reply_bytes(cmd::GET)).unwrap();
        assert_eq!(*msg.cmd(), cmd::GET);
        let p = decode_profile(&msg).unwrap();
        let want = info(
            &[
                (Opt::ToSource, "10.1.0.0/16:4000-4100"),
                (Opt::RandomSeed, "0xdeadbeef"),
            ],
            Family::V4,
        );
        assert_eq!(p.name, "moh");
        assert_eq!(p.info, want);
        assert_eq!(p.rules, Some(3));
        let counters = p.counters.unwrap();
        assert_eq!(counters[0], 1000);
        assert_eq!(counters[N_COUNTERS - 1], 1000 + N_COUNTERS as u64 - 1);
    }

    #[test]
    fn decodes_a_whole_netlink_message() {
        // nlmsghdr + genl: as the router hands it over.
        let mut bytes = Vec::new();
        let payload = reply_bytes(cmd::NEW);
        bytes.extend_from_slice(&(16 + payload.len() as u32).to_ne_bytes());
        bytes.extend_from_slice(&0x22u16.to_ne_bytes());
        bytes.extend_from_slice(&0u16.to_ne_bytes());
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&payload);
        let nl =
            Nlmsghdr::<u16, Buffer>::from_bytes(&mut Cursor::new(&bytes[..])).expect("nlmsghdr");
        let NlPayload::Payload(buf) = nl.nl_payload() else {
            panic!("no payload")
        };
        let g = parse_genl(buf.as_ref()).unwrap();
        assert_eq!(EventKind::from_cmd(*g.cmd()), Some(EventKind::New));
        assert_eq!(decode_profile(&g).unwrap().name, "moh");
    }

    #[test]
    fn encode_then_decode_is_identity_on_the_mapping() {
        for (opts, fam) in [
            (vec![(Opt::ToSource, "198.51.100.7")], Family::V4),
            (
                vec![(Opt::ToSource, "10.0.0.1-10.0.0.9:1000-2000")],
                Family::V4,
            ),
            (
                vec![(Opt::ToSource, "[2001:db8::1]-[2001:db8::ff]:53")],
                Family::V6,
            ),
            (
                vec![(Opt::ToPorts, "53"), (Opt::RandomSeed, "7")],
                Family::V4,
            ),
        ] {
            let i = info(&opts, fam);
            let msg = request(cmd::NEW, profile_attrs("x", &i).unwrap()).unwrap();
            let back = parse_genl(&request_bytes(&msg).unwrap()).unwrap();
            let p = decode_profile(&back).unwrap();
            assert_eq!((p.name.as_str(), p.info), ("x", i), "{opts:?}");
            assert_eq!((p.rules, p.counters), (None, None));
        }
    }

    #[test]
    fn bad_replies_are_errors_not_panics() {
        let missing_family = genl(cmd::GET, &[a(attr::NAME, b"x\0"), a(attr::FLAGS, &[1, 0])]);
        let e = decode_profile(&parse_genl(&missing_family).unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "netlink: bad profile message from the kernel: no FAMILY"
        );
        let short_seed = genl(
            cmd::GET,
            &[
                a(attr::NAME, b"x\0"),
                a(attr::FAMILY, &[2]),
                a(attr::FLAGS, &[1, 0]),
                a(attr::SEED, &[1, 2]),
            ],
        );
        let e = decode_profile(&parse_genl(&short_seed).unwrap()).unwrap_err();
        assert!(e.to_string().contains("SEED has 2 bytes, not 4"), "{e}");
        let bad_family = genl(
            cmd::GET,
            &[
                a(attr::NAME, b"x\0"),
                a(attr::FAMILY, &[7]),
                a(attr::FLAGS, &[1, 0]),
            ],
        );
        assert!(decode_profile(&parse_genl(&bad_family).unwrap()).is_err());
        let v6_len_addr = genl(
            cmd::GET,
            &[
                a(attr::NAME, b"x\0"),
                a(attr::FAMILY, &[10]),
                a(attr::FLAGS, &[1, 0]),
                a(attr::MIN_ADDR, &[1, 2, 3, 4]),
            ],
        );
        assert!(decode_profile(&parse_genl(&v6_len_addr).unwrap()).is_err());
        // Truncated attribute: parse error, no panic.
        let mut truncated = genl(cmd::GET, &[a(attr::NAME, b"abcdefg\0")]);
        truncated.truncate(9);
        assert!(parse_genl(&truncated).is_err());
    }

    #[test]
    fn extack_offset_names_the_attribute() {
        let i = info(&[(Opt::ToSource, "198.51.100.7:4000")], Family::V4);
        let sent =
            request_bytes(&request(cmd::NEW, profile_attrs("moh", &i).unwrap()).unwrap()).unwrap();
        // genl 4, NAME 8, FAMILY 8, FLAGS 8, MIN_ADDR 8, MAX_ADDR 8: MIN_PORT at 44.
        assert_eq!(attr_at(&sent, 44), Some(attr::MIN_PORT));
        assert_eq!(attr_at(&sent, 46), Some(attr::MIN_PORT));
        assert_eq!(attr_at(&sent, 4), Some(attr::NAME));
        assert_eq!(attr_at(&sent, 0), None);
        assert_eq!(attr_at(&sent, 1000), None);
        assert_eq!(attr_name(attr::MIN_PORT), Some("MIN_PORT"));
        assert_eq!(attr_name(attr::STATS), Some("STATS"));
        assert_eq!(attr_name(99), None);
        // An error reply: the extack message and offset (16 + 44) come out.
        let mut ext = GenlBuffer::new();
        ext.push(
            NlattrBuilder::default()
                .nla_type(
                    AttrTypeBuilder::default()
                        .nla_type(NlmsgerrAttr::Msg)
                        .build()
                        .unwrap(),
                )
                .nla_payload(b"bad port range\0".to_vec())
                .build()
                .unwrap(),
        );
        ext.push(
            NlattrBuilder::default()
                .nla_type(
                    AttrTypeBuilder::default()
                        .nla_type(NlmsgerrAttr::Offset)
                        .build()
                        .unwrap(),
                )
                .nla_payload(60u32.to_ne_bytes().to_vec())
                .build()
                .unwrap(),
        );
        assert_eq!(
            extack_of(&ext, &sent),
            (Some("bad port range".to_owned()), Some("MIN_PORT"))
        );
        assert_eq!(extack_of(&GenlBuffer::new(), &sent), (None, None));
    }

    #[test]
    fn attribute_names_match_the_abi() {
        for (n, name) in attr::NAMES.iter().enumerate() {
            let n = n as u16;
            let want = match n {
                attr::NAME => "NAME",
                attr::FAMILY => "FAMILY",
                attr::FLAGS => "FLAGS",
                attr::MIN_ADDR => "MIN_ADDR",
                attr::MAX_ADDR => "MAX_ADDR",
                attr::PREFIX_LEN => "PREFIX_LEN",
                attr::MIN_PORT => "MIN_PORT",
                attr::MAX_PORT => "MAX_PORT",
                attr::SEED => "SEED",
                attr::RULES => "RULES",
                attr::STATS => "STATS",
                attr::PAD => "PAD",
                attr::ENTRIES => "ENTRIES",
                attr::DST_ADDR => "DST_ADDR",
                attr::DST_PORT => "DST_PORT",
                attr::PROTO => "PROTO",
                _ => "UNSPEC",
            };
            assert_eq!(*name, want);
        }
    }

    #[test]
    fn message_bytes_round_trip() {
        let msg = parse_genl(&reply_bytes(cmd::SET)).unwrap();
        let bytes = message_bytes(0x22, NlmF::MULTI, msg).unwrap();
        let nl = Nlmsghdr::<u16, Buffer>::from_bytes(&mut Cursor::new(&bytes[..])).unwrap();
        assert_eq!(*nl.nl_type(), 0x22);
        let NlPayload::Payload(buf) = nl.nl_payload() else {
            panic!("no payload")
        };
        assert_eq!(buf.as_ref(), &reply_bytes(cmd::SET)[..]);
    }

    fn key(proto: u8, addr: &str, port: u16) -> EntryKey {
        EntryKey {
            proto,
            addr: addr.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn entry_request_bytes() {
        // The example: moh 203.0.113.5:31000 --to-source 198.51.100.7:10002.
        let i = info(&[(Opt::ToSource, "198.51.100.7:10002")], Family::V4);
        let k = key(proto::UDP, "203.0.113.5", 31000);
        for c in [cmd::ENTRY_NEW, cmd::ENTRY_SET] {
            let msg = request(c, entry_attrs("moh", &k, Some(&i)).unwrap()).unwrap();
            let want = genl(
                c,
                &[
                    a(attr::NAME, b"moh\0"),
                    a(attr::PROTO, &[17]),
                    a(attr::DST_ADDR, &[203, 0, 113, 5]),
                    a(attr::DST_PORT, &31000u16.to_ne_bytes()),
                    a(attr::FAMILY, &[NFPROTO_IPV4]),
                    a(attr::FLAGS, &(F_MAP_ADDR | F_MAP_PORT).to_ne_bytes()),
                    a(attr::MIN_ADDR, &[198, 51, 100, 7]),
                    a(attr::MAX_ADDR, &[198, 51, 100, 7]),
                    a(attr::MIN_PORT, &10002u16.to_ne_bytes()),
                    a(attr::MAX_PORT, &10002u16.to_ne_bytes()),
                    a(attr::SEED, &0u32.to_ne_bytes()),
                ],
            );
            assert_eq!(request_bytes(&msg).unwrap(), want);
        }
        // DEL and GET of one entry: the key only; IPv6, TCP.
        let k6 = key(proto::TCP, "2001:db8::5", 5060);
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6[15] = 5;
        for c in [cmd::ENTRY_DEL, cmd::ENTRY_GET] {
            let msg = request(c, entry_attrs("p6", &k6, None).unwrap()).unwrap();
            let want = genl(
                c,
                &[
                    a(attr::NAME, b"p6\0"),
                    a(attr::PROTO, &[6]),
                    a(attr::DST_ADDR, &v6),
                    a(attr::DST_PORT, &5060u16.to_ne_bytes()),
                ],
            );
            assert_eq!(request_bytes(&msg).unwrap(), want);
        }
        // ICMP: port 0, sent as such.
        let msg = request(
            cmd::ENTRY_DEL,
            entry_attrs("m", &key(proto::ICMP, "10.0.0.1", 0), None).unwrap(),
        )
        .unwrap();
        assert_eq!(
            request_bytes(&msg).unwrap(),
            genl(
                cmd::ENTRY_DEL,
                &[
                    a(attr::NAME, b"m\0"),
                    a(attr::PROTO, &[1]),
                    a(attr::DST_ADDR, &[10, 0, 0, 1]),
                    a(attr::DST_PORT, &[0, 0]),
                ],
            )
        );
        // FLUSH and the dump: the profile's name only (the dump must carry it).
        for c in [cmd::ENTRY_FLUSH, cmd::ENTRY_GET] {
            let msg = request(c, name_attrs("moh").unwrap()).unwrap();
            assert_eq!(
                request_bytes(&msg).unwrap(),
                genl(c, &[a(attr::NAME, b"moh\0")])
            );
        }
        // A profile with entries only: FLAGS 0, no address or port.
        let mut none = SsnatInfo::zeroed();
        none.family = NFPROTO_IPV6;
        let msg = request(cmd::NEW, profile_attrs("moh", &none).unwrap()).unwrap();
        assert_eq!(
            request_bytes(&msg).unwrap(),
            genl(
                cmd::NEW,
                &[
                    a(attr::NAME, b"moh\0"),
                    a(attr::FAMILY, &[NFPROTO_IPV6]),
                    a(attr::FLAGS, &[0, 0]),
                    a(attr::SEED, &0u32.to_ne_bytes()),
                ],
            )
        );
    }

    /// An entry message as the kernel sends it (put_entry): key, the whole mapping,
    /// STATS with PAD, and an attribute of a newer module.
    fn entry_reply_bytes(c: u8) -> Vec<u8> {
        let mut stats = Vec::new();
        for (i, v) in [(1u16, 12u64), (2, 2064)] {
            stats.extend(a(attr::PAD, &[]));
            stats.extend(a(i, &v.to_ne_bytes()));
        }
        stats.extend(a(3, &9u64.to_ne_bytes()));
        genl(
            c,
            &[
                a(attr::NAME, b"moh\0"),
                a(attr::PROTO, &[17]),
                a(attr::DST_ADDR, &[203, 0, 113, 5]),
                a(attr::DST_PORT, &31000u16.to_ne_bytes()),
                a(attr::FAMILY, &[NFPROTO_IPV4]),
                a(attr::FLAGS, &(F_MAP_ADDR | F_MAP_PORT).to_ne_bytes()),
                a(attr::MIN_ADDR, &[198, 51, 100, 7]),
                a(attr::MAX_ADDR, &[198, 51, 100, 7]),
                a(attr::PREFIX_LEN, &[0]),
                a(attr::MIN_PORT, &10002u16.to_ne_bytes()),
                a(attr::MAX_PORT, &10002u16.to_ne_bytes()),
                a(attr::SEED, &7u32.to_ne_bytes()),
                a(attr::STATS | 0x8000, &stats),
                a(200, b"future"),
            ],
        )
    }

    #[test]
    fn decodes_entry_replies_and_events() {
        let want_info = info(
            &[
                (Opt::ToSource, "198.51.100.7:10002"),
                (Opt::RandomSeed, "7"),
            ],
            Family::V4,
        );
        let want = Entry {
            key: key(proto::UDP, "203.0.113.5", 31000),
            info: want_info,
            counters: Some([12, 2064]),
        };
        let msg = parse_genl(&entry_reply_bytes(cmd::ENTRY_GET)).unwrap();
        assert_eq!(
            decode_entry(&msg).unwrap(),
            ("moh".to_owned(), want.clone())
        );
        // Events of every entry command.
        let ev = |bytes: &[u8]| decode_event(&parse_genl(bytes).unwrap()).unwrap();
        for (c, kind) in [
            (cmd::ENTRY_NEW, EventKind::New),
            (cmd::ENTRY_SET, EventKind::Set),
        ] {
            assert_eq!(
                ev(&entry_reply_bytes(c)),
                Some(Event::EntryChange {
                    kind,
                    profile: "moh".into(),
                    entry: Box::new(want.clone()),
                })
            );
        }
        // DEL: the key only.
        let del = genl(
            cmd::ENTRY_DEL,
            &[
                a(attr::NAME, b"moh\0"),
                a(attr::PROTO, &[1]),
                a(attr::DST_ADDR, &[10, 0, 0, 1]),
                a(attr::DST_PORT, &[0, 0]),
            ],
        );
        assert_eq!(
            ev(&del),
            Some(Event::EntryDel {
                profile: "moh".into(),
                key: key(proto::ICMP, "10.0.0.1", 0),
            })
        );
        let flush = genl(
            cmd::ENTRY_FLUSH,
            &[
                a(attr::NAME, b"moh\0"),
                a(attr::ENTRIES, &3u32.to_ne_bytes()),
            ],
        );
        assert_eq!(
            ev(&flush),
            Some(Event::EntryFlush {
                profile: "moh".into(),
                deleted: 3,
            })
        );
        // Profile events as before; unknown commands skipped.
        assert!(matches!(
            ev(&reply_bytes(cmd::NEW)),
            Some(Event::Change(EventKind::New, _))
        ));
        assert_eq!(ev(&genl(cmd::ENTRY_GET, &[])), None);
        assert_eq!(ev(&genl(77, &[a(attr::NAME, b"x\0")])), None);
    }

    #[test]
    fn decodes_a_profile_with_entries_only() {
        // put_mapping sends every mapping attribute, zero for a profile without one.
        let bytes = genl(
            cmd::GET,
            &[
                a(attr::NAME, b"moh\0"),
                a(attr::FAMILY, &[NFPROTO_IPV4]),
                a(attr::FLAGS, &[0, 0]),
                a(attr::MIN_ADDR, &[0; 4]),
                a(attr::MAX_ADDR, &[0; 4]),
                a(attr::PREFIX_LEN, &[0]),
                a(attr::MIN_PORT, &[0, 0]),
                a(attr::MAX_PORT, &[0, 0]),
                a(attr::SEED, &[0; 4]),
                a(attr::RULES, &1u32.to_ne_bytes()),
                a(attr::ENTRIES, &100_000u32.to_ne_bytes()),
            ],
        );
        let p = decode_profile(&parse_genl(&bytes).unwrap()).unwrap();
        assert!(p.entries_only());
        assert_eq!(
            (p.entries, p.rules, p.counters),
            (Some(100_000), Some(1), None)
        );
        let mut none = SsnatInfo::zeroed();
        none.family = NFPROTO_IPV4;
        assert_eq!(p.info, none);
        // Its request decodes to the same.
        let sent = request_bytes(&request(cmd::NEW, profile_attrs("moh", &none).unwrap()).unwrap())
            .unwrap();
        assert_eq!(
            decode_profile(&parse_genl(&sent).unwrap()).unwrap().info,
            none
        );
        // An older module: no ENTRIES.
        assert_eq!(
            decode_profile(&parse_genl(&reply_bytes(cmd::GET)).unwrap())
                .unwrap()
                .entries,
            None
        );
    }

    #[test]
    fn entry_encode_then_decode_is_identity() {
        for (k, opts, fam) in [
            (
                key(proto::UDP, "203.0.113.5", 31000),
                vec![(Opt::ToSource, "198.51.100.7:10002")],
                Family::V4,
            ),
            (
                key(proto::TCP, "192.0.2.1", 1),
                vec![(Opt::ToPorts, "53-54"), (Opt::RandomSeed, "9")],
                Family::V4,
            ),
            (
                key(proto::ICMP, "192.0.2.1", 0),
                vec![(Opt::ToSource, "10.1.0.0/16")],
                Family::V4,
            ),
            (
                key(proto::SCTP, "2001:db8::1", 65535),
                vec![(Opt::ToSource, "[2001:db8::1]-[2001:db8::ff]:4000-4100")],
                Family::V6,
            ),
            (
                key(99, "::ffff:192.0.2.1", 0),
                vec![(Opt::ToSource, "2001:db8::/64")],
                Family::V6,
            ),
        ] {
            let i = info(&opts, fam);
            let msg = request(cmd::ENTRY_NEW, entry_attrs("x", &k, Some(&i)).unwrap()).unwrap();
            let back = parse_genl(&request_bytes(&msg).unwrap()).unwrap();
            let (name, e) = decode_entry(&back).unwrap();
            assert_eq!(
                (name.as_str(), e.key, e.info, e.counters),
                ("x", k, i, None),
                "{k}"
            );
            // The key survives the kernel's form too.
            assert_eq!(EntryKey::from_dest(&k.to_dest()), Some(k));
        }
    }

    #[test]
    fn bad_entry_replies_are_errors_not_panics() {
        let base = |drop: u16, extra: &[Vec<u8>]| {
            let mut attrs: Vec<Vec<u8>> = [
                (attr::NAME, b"moh\0".to_vec()),
                (attr::PROTO, vec![17]),
                (attr::DST_ADDR, vec![203, 0, 113, 5]),
                (attr::DST_PORT, 5u16.to_ne_bytes().to_vec()),
                (attr::FAMILY, vec![NFPROTO_IPV4]),
                (attr::FLAGS, F_MAP_PORT.to_ne_bytes().to_vec()),
                (attr::MIN_PORT, 5u16.to_ne_bytes().to_vec()),
            ]
            .into_iter()
            .filter(|(t, _)| *t != drop)
            .map(|(t, p)| a(t, &p))
            .collect();
            attrs.extend_from_slice(extra);
            genl(cmd::ENTRY_GET, &attrs)
        };
        let err = |bytes: Vec<u8>| {
            decode_entry(&parse_genl(&bytes).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(decode_entry(&parse_genl(&base(0, &[])).unwrap()).is_ok());
        assert_eq!(
            err(base(attr::NAME, &[])),
            "netlink: bad entry message from the kernel: no NAME"
        );
        assert!(err(base(attr::PROTO, &[])).ends_with("no PROTO"));
        assert!(err(base(attr::DST_ADDR, &[])).ends_with("no DST_ADDR"));
        assert!(err(base(attr::FAMILY, &[])).ends_with("no FAMILY"));
        assert!(
            err(base(attr::DST_ADDR, &[a(attr::DST_ADDR, &[1, 2, 3, 4, 5])]))
                .ends_with("DST_ADDR of 5 bytes")
        );
        assert!(err(base(attr::DST_PORT, &[a(attr::DST_PORT, &[1])]))
            .contains("DST_PORT has 1 bytes, not 2"));
        assert!(
            err(base(attr::PROTO, &[a(attr::PROTO, &[1, 2])])).contains("PROTO has 2 bytes, not 1")
        );
        // A lying reply: an IPv6 destination with an IPv4 mapping.
        assert!(err(base(attr::DST_ADDR, &[a(attr::DST_ADDR, &[0; 16])]))
            .ends_with("the mapping's family is not the destination's"));
        // A counter of the wrong size inside STATS.
        let stats = a(attr::STATS | 0x8000, &a(1, &[1, 2, 3]));
        assert!(err(base(0, &[stats])).contains("counter 1 has 3 bytes"));
        // A flush event without its count; a DEL event without its key.
        let ev = |bytes: Vec<u8>| decode_event(&parse_genl(&bytes).unwrap());
        assert!(ev(genl(cmd::ENTRY_FLUSH, &[a(attr::NAME, b"moh\0")]))
            .unwrap_err()
            .to_string()
            .ends_with("no ENTRIES"));
        assert!(ev(genl(cmd::ENTRY_DEL, &[a(attr::NAME, b"moh\0")])).is_err());
        // Truncated: a parse error.
        let mut t = entry_reply_bytes(cmd::ENTRY_GET);
        t.truncate(t.len() - 3);
        assert!(parse_genl(&t).and_then(|g| decode_entry(&g)).is_err());
    }

    #[test]
    fn extack_offsets_name_the_entry_attributes() {
        let i = info(&[(Opt::ToSource, "198.51.100.7:10002")], Family::V4);
        let k = key(proto::UDP, "203.0.113.5", 31000);
        let sent = request_bytes(
            &request(cmd::ENTRY_NEW, entry_attrs("moh", &k, Some(&i)).unwrap()).unwrap(),
        )
        .unwrap();
        // genl 4, NAME 8, PROTO 8: DST_ADDR at 20, DST_PORT at 28, FAMILY at 36.
        assert_eq!(attr_at(&sent, 20), Some(attr::DST_ADDR));
        assert_eq!(attr_at(&sent, 28), Some(attr::DST_PORT));
        assert_eq!(attr_at(&sent, 36), Some(attr::FAMILY));
        let ext = |msg: &[u8], off: u32| {
            let mut ext = GenlBuffer::new();
            for (t, p) in [
                (NlmsgerrAttr::Msg, msg.to_vec()),
                (NlmsgerrAttr::Offset, off.to_ne_bytes().to_vec()),
            ] {
                ext.push(
                    NlattrBuilder::default()
                        .nla_type(AttrTypeBuilder::default().nla_type(t).build().unwrap())
                        .nla_payload(p)
                        .build()
                        .unwrap(),
                );
            }
            ext
        };
        let e = kernel_error(
            Op::EntryAdd,
            Some("moh udp 203.0.113.5:31000"),
            -(Errno::EINVAL as i32),
            &ext(
                b"an entry of a protocol with ports needs its destination port (1-65535)\0",
                16 + 28,
            ),
            &sent,
        );
        assert_eq!(
            e.to_string(),
            "profile entry add moh udp 203.0.113.5:31000: Invalid argument: an entry of a protocol \
             with ports needs its destination port (1-65535) (attribute DST_PORT)"
        );
        let e = kernel_error(
            Op::EntrySet,
            Some("moh udp 203.0.113.5:31000"),
            -(Errno::ENOENT as i32),
            &ext(b"no such entry\0", 16 + 20),
            &sent,
        );
        assert_eq!(e.exit_code(), 6);
        assert_eq!(
            e.to_string(),
            "profile entry set moh udp 203.0.113.5:31000: no such entry (see 'ssnatctl profile \
             entry list moh'; 'ssnatctl profile entry add' creates one)"
        );
        let e = kernel_error(
            Op::EntryAdd,
            Some("moh udp 203.0.113.5:31000"),
            -(Errno::ENOENT as i32),
            &ext(b"no such profile\0", 16 + 4),
            &sent,
        );
        assert!(
            e.to_string().ends_with(
                ": no such profile (see 'ssnatctl profile list'; 'ssnatctl \
             profile add moh' creates one without a mapping, for entries only)"
            ),
            "{e}"
        );
        let e = kernel_error(
            Op::EntryAdd,
            Some("moh udp 203.0.113.5:31000"),
            -(Errno::ENOSPC as i32),
            &ext(
                b"too many entries in this profile (module parameter max_entries)\0",
                0,
            ),
            &sent,
        );
        assert_eq!(e.exit_code(), 1);
        assert!(
            e.to_string().ends_with(
                ": No space left on device: too many entries in this profile \
             (module parameter max_entries)"
            ),
            "{e}"
        );
        let e = kernel_error(
            Op::EntryAdd,
            Some("moh udp 203.0.113.5:31000"),
            -(Errno::EEXIST as i32),
            &ext(b"entry exists\0", 16 + 20),
            &sent,
        );
        assert_eq!(e.exit_code(), 7);
        assert!(
            e.to_string()
                .ends_with(": entry exists: use 'ssnatctl profile entry set' to replace it"),
            "{e}"
        );
        // SET of a profile to another family while it has entries.
        let e = kernel_error(
            Op::Set,
            Some("moh"),
            -(Errno::EBUSY as i32),
            &ext(
                b"profile has entries of its address family (flush them first)\0",
                16 + 12,
            ),
            &request_bytes(&request(cmd::SET, profile_attrs("moh", &i).unwrap()).unwrap()).unwrap(),
        );
        assert_eq!(
            e.to_string(),
            "profile set moh: profile has entries of its address family: delete them first \
             ('ssnatctl profile entry flush moh')"
        );
    }

    #[test]
    fn entry_keys() {
        let k = key(proto::UDP, "203.0.113.5", 31000);
        assert_eq!(k.to_string(), "udp 203.0.113.5:31000");
        assert_eq!(
            key(proto::TCP, "2001:db8::1", 5).to_string(),
            "tcp [2001:db8::1]:5"
        );
        assert_eq!(
            key(proto::ICMPV6, "2001:db8::1", 0).to_string(),
            "icmpv6 2001:db8::1"
        );
        assert_eq!(key(47, "10.0.0.1", 0).to_string(), "47 10.0.0.1");
        let d = k.to_dest();
        assert_eq!(d, Dest::new(&[203, 0, 113, 5], 31000, proto::UDP).unwrap());
        assert_eq!(d.port, 31000u16.to_be_bytes());
        let mut bad = d;
        bad.family = 7;
        assert_eq!(EntryKey::from_dest(&bad), None);
        assert!(k.check().is_ok());
        assert!(key(proto::ICMP, "10.0.0.1", 0).check().is_ok());
        assert!(key(proto::DCCP, "10.0.0.1", 0).check().is_err());
        assert!(key(proto::ICMP, "10.0.0.1", 1).check().is_err());
        for p in DEST_PORT_PROTOCOLS {
            assert!(key(p, "10.0.0.1", 0).check().is_err(), "{p}");
            assert!(
                !proto_name(p).chars().all(|c| c.is_ascii_digit()),
                "{p} has a name"
            );
        }
    }

    #[test]
    fn event_kinds() {
        assert_eq!(
            EventKind::from_cmd(cmd::NEW).map(EventKind::name),
            Some("new")
        );
        assert_eq!(
            EventKind::from_cmd(cmd::SET).map(EventKind::name),
            Some("set")
        );
        assert_eq!(
            EventKind::from_cmd(cmd::DEL).map(EventKind::name),
            Some("del")
        );
        assert_eq!(EventKind::from_cmd(cmd::GET), None);
    }

    /// The socket layer against the kernel's own generic netlink controller, which
    /// every Linux has: resolution, a dump, an acked request, and an error with its
    /// extended ack (message and attribute).
    #[test]
    fn talks_to_the_real_generic_netlink_controller() {
        let mut c = Client {
            socket: open_socket().expect("generic netlink socket"),
            family: 0,
            seq: 0,
            interrupted: false,
        };
        let ctrl = c.resolve("nlctrl").expect("nlctrl resolves");
        assert_eq!(ctrl.id, u16::from(GenlId::Ctrl));
        assert!(
            ctrl.groups.iter().any(|(n, _)| n == "notify"),
            "{:?}",
            ctrl.groups
        );
        assert!(matches!(
            c.resolve("no-such-famly"),
            Err(Error::FamilyMissing)
        ));
        c.family = ctrl.id;
        let getfamily = u8::from(CtrlCmd::Getfamily);
        let families = c
            .request(Op::Dump, None, getfamily, Reply::Dump, GenlBuffer::new())
            .expect("dump");
        assert!(!families.is_empty());
        let mut attrs = GenlBuffer::new();
        attrs.push(nlattr(u16::from(CtrlAttr::FamilyName), name_payload("nlctrl")).unwrap());
        let one = c
            .request(Op::Get, Some("nlctrl"), getfamily, Reply::Acked, attrs)
            .expect("get");
        assert_eq!(one.len(), 1);
        // CTRL_CMD_GETPOLICY validates strictly: a 1-byte FAMILY_ID (u16) is refused
        // with an extended ack that names it. Attribute 1 is NAME in our numbering.
        let mut attrs = GenlBuffer::new();
        attrs.push(nlattr(u16::from(CtrlAttr::FamilyId), vec![1]).unwrap());
        // CTRL_CMD_GETPOLICY of <linux/genetlink.h> (Linux 5.8), which neli lacks.
        const CTRL_CMD_GETPOLICY: u8 = 10;
        match c.request(Op::Add, Some("x"), CTRL_CMD_GETPOLICY, Reply::Dump, attrs) {
            Err(Error::Kernel {
                errno,
                extack,
                attr,
                ..
            }) => {
                assert_eq!(errno, Errno::EINVAL);
                assert!(extack.is_some_and(|m| !m.is_empty()));
                assert_eq!(attr, attr_name(u16::from(CtrlAttr::FamilyId)));
            }
            other => panic!("{:?}", other.map(|v| v.len())),
        }
        // The connection still works after an error.
        assert!(c.resolve("nlctrl").is_ok());
    }

    #[test]
    fn connect_without_the_module_says_so() {
        // Only meaningful where the module is not loaded (no QEMU here).
        if std::path::Path::new("/sys/module/xt_SSNAT").exists() {
            return;
        }
        assert!(matches!(Client::connect(), Err(Error::FamilyMissing)));
    }
}
