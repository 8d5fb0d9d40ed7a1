// SPDX-License-Identifier: GPL-2.0
//! The kernel's control plane: the `SSNAT` generic netlink family of
//! [`ssnat_core::genl`], spoken with `neli`.
//!
//! Everything netlink is in this module, behind a small API: [`Client::connect`], then
//! the [`Profiles`] methods (`add`, `set`, `del`, `get`, `dump`, `subscribe`). The rest
//! of `ssnatctl` only sees [`Profile`]s and [`Event`]s, so it is tested with a fake
//! [`Profiles`]. The encoding of requests ([`profile_attrs`], [`request_bytes`]) and the
//! decoding of replies ([`decode_profile`]) are plain functions, tested on bytes.
//!
//! # Protocol (family [`genl::FAMILY_NAME`], version [`genl::FAMILY_VERSION`])
//!
//! - `NEW`/`SET`: `NAME`, `FAMILY`, `FLAGS`, `MIN_ADDR` and `MAX_ADDR` (4 or 16 bytes)
//!   with `F_MAP_ADDR`, `PREFIX_LEN` with `F_PREFIX`, `MIN_PORT` and `MAX_PORT` with
//!   `F_MAP_PORT`, and always `SEED` (so that `SET` replaces a seed with the default);
//!   sent with `NLM_F_ACK`.
//! - `DEL`: `NAME`, with `NLM_F_ACK`.
//! - `GET`: `NAME` with `NLM_F_ACK`, one reply; or `NLM_F_DUMP` without attributes, one
//!   reply per profile. A reply carries the mapping attributes, `RULES` and the nested
//!   `STATS` (`u64` attribute `i + 1` = `COUNTERS[i]`; `PAD` ignored).
//! - Events: the multicast group [`genl::MCGRP_EVENTS`], commands `NEW`, `SET` and
//!   `DEL`, with the profile's attributes as a `GET` reply has them.
//!
//! Errors come back as `NLMSG_ERROR`; the socket has `NETLINK_EXT_ACK` on, and the
//! extended ack's message (and the attribute its offset points at) go into
//! [`Error::Kernel`].

use std::collections::VecDeque;
use std::io::Cursor;

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
use ssnat_core::genl::{self, attr, cmd, COUNTERS};

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
    /// The socket's receive buffer overflowed: changes were lost.
    Lost,
}

/// The kernel's profiles of the current network namespace.
pub trait Profiles {
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
/// `info`.
pub fn profile_attrs(name: &str, info: &SsnatInfo) -> Result<Attrs, Error> {
    let mut attrs = GenlBuffer::new();
    attrs.push(nlattr(attr::NAME, name_payload(name))?);
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
    Ok(attrs)
}

/// The attributes of a `DEL` or `GET` request for profile `name`.
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

fn bad(what: impl std::fmt::Display) -> Error {
    Error::Netlink(format!("bad profile message from the kernel: {what}"))
}

fn fixed<const N: usize>(ty: u16, payload: &[u8]) -> Result<[u8; N], Error> {
    payload.try_into().map_err(|_| {
        bad(format_args!(
            "attribute {} has {} bytes, not {N}",
            attr_name(ty).unwrap_or("?"),
            payload.len()
        ))
    })
}

/// Decodes a profile message (a `GET` reply, a dump entry or an event). Unknown
/// attributes are skipped (a newer module may add some); `NAME`, `FAMILY` and `FLAGS`
/// are required, the other mapping attributes default to zero.
pub fn decode_profile(msg: &GenlMsg) -> Result<Profile, Error> {
    let mut name = None;
    let mut family = None;
    let mut flags = None;
    let mut info = SsnatInfo::zeroed();
    let mut min_addr: Option<Vec<u8>> = None;
    let mut max_addr: Option<Vec<u8>> = None;
    let mut rules = None;
    let mut counters = None;
    for a in msg.attrs().iter() {
        let ty = *a.nla_type().nla_type();
        let p = a.nla_payload().as_ref();
        match ty {
            attr::NAME => {
                let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
                name = Some(String::from_utf8_lossy(&p[..end]).into_owned());
            }
            attr::FAMILY => family = Some(fixed::<1>(ty, p)?[0]),
            attr::FLAGS => flags = Some(u16::from_ne_bytes(fixed(ty, p)?)),
            attr::MIN_ADDR => min_addr = Some(p.to_vec()),
            attr::MAX_ADDR => max_addr = Some(p.to_vec()),
            attr::PREFIX_LEN => info.prefix_len = fixed::<1>(ty, p)?[0],
            attr::MIN_PORT => info.min_port = u16::from_ne_bytes(fixed(ty, p)?),
            attr::MAX_PORT => info.max_port = u16::from_ne_bytes(fixed(ty, p)?),
            attr::SEED => info.seed = u32::from_ne_bytes(fixed(ty, p)?),
            attr::RULES => rules = Some(u32::from_ne_bytes(fixed(ty, p)?)),
            attr::STATS => counters = Some(decode_stats(a)?),
            _ => {}
        }
    }
    let name = name.ok_or_else(|| bad("no NAME"))?;
    info.family = family.ok_or_else(|| bad("no FAMILY"))?;
    info.flags = flags.ok_or_else(|| bad("no FLAGS"))?;
    let len = match info.family {
        NFPROTO_IPV4 => 4,
        NFPROTO_IPV6 => 16,
        f => return Err(bad(format_args!("unknown family {f}"))),
    };
    for (value, field) in [
        (min_addr, &mut info.min_addr),
        (max_addr, &mut info.max_addr),
    ] {
        if let Some(v) = value {
            // Zero bytes: a profile that maps no address may send empty addresses.
            if !v.is_empty() && v.len() != len {
                return Err(bad(format_args!("address of {} bytes", v.len())));
            }
            field[..v.len()].copy_from_slice(&v);
        }
    }
    Ok(Profile {
        name,
        info,
        rules,
        counters,
    })
}

fn decode_stats(a: &neli::genl::Nlattr<u16, Buffer>) -> Result<[u64; N_COUNTERS], Error> {
    let nested = a
        .get_attr_handle::<u16>()
        .map_err(|e| bad(format_args!("STATS: {e}")))?;
    let mut counters = [0; N_COUNTERS];
    for c in nested.iter() {
        let ty = *c.nla_type().nla_type();
        if ty == attr::PAD || ty == 0 {
            continue;
        }
        if let Some(slot) = counters.get_mut(usize::from(ty) - 1) {
            let p = c.nla_payload().as_ref();
            *slot = u64::from_ne_bytes(
                p.try_into()
                    .map_err(|_| bad(format_args!("counter {ty} has {} bytes", p.len())))?,
            );
        }
        // Counters this ssnatctl does not know are skipped.
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
        let replies = match self.transact(u16::from(GenlId::Ctrl), Reply::Acked, msg) {
            Ok(r) => r,
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

    /// Sends `msg` to `nl_type` and reads the replies to it.
    fn transact(
        &mut self,
        nl_type: u16,
        reply: Reply,
        msg: GenlMsg,
    ) -> Result<Vec<GenlMsg>, Failure> {
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
        let mut replies = Vec::new();
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
                    NlPayload::Ack(_) => return Ok(replies),
                    NlPayload::DumpExtAck(e) if *e.error() != 0 => {
                        return Err(Failure::Kernel {
                            errno: *e.error(),
                            ext_ack: e.ext_ack().clone(),
                        })
                    }
                    NlPayload::DumpExtAck(_) | NlPayload::Empty => {
                        if reply == Reply::Dump {
                            return Ok(replies);
                        }
                    }
                    NlPayload::Payload(buf) => {
                        if *m.nl_type() == u16::from(Nlmsg::Done) {
                            return Ok(replies);
                        }
                        if *m.nl_type() == nl_type {
                            replies.push(parse_genl(buf.as_ref()).map_err(Failure::Socket)?);
                        }
                    }
                }
            }
        }
    }

    /// A request of `op` (on profile `name`) with command `c` and `attrs`.
    fn request(
        &mut self,
        op: Op,
        name: Option<&str>,
        c: u8,
        reply: Reply,
        attrs: Attrs,
    ) -> Result<Vec<GenlMsg>, Error> {
        let msg = request(c, attrs)?;
        let sent = request_bytes(&msg)?;
        self.transact(self.family, reply, msg)
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
                let event =
                    parse_genl(buf.as_ref()).map(|g| EventKind::from_cmd(*g.cmd()).map(|k| (k, g)));
                match event {
                    Ok(Some((kind, g))) => self
                        .pending
                        .push_back(decode_profile(&g).map(|p| Event::Change(kind, Box::new(p)))),
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
