// SPDX-License-Identifier: GPL-2.0
//! A small nfnetlink_log client: receives the packets an `-j NFLOG --nflog-group N` rule
//! (or nftables' `log group N`) copies to userspace.
//!
//! The pure half builds the configuration messages ([`config_bind`], [`config_mode`]) and
//! splits a received buffer into netlink messages ([`messages`]); it never panics on what
//! it is given, whatever lengths the buffer claims. The socket half, [`Reader`], is a raw
//! `AF_NETLINK`/`NETLINK_NETFILTER` socket (through `nix`) that binds to one group and
//! yields each packet's `NFULA_PAYLOAD`, the packet from its network header on.
//!
//! Binding needs `CAP_NET_ADMIN` in the network namespace. The reader sends no
//! `NFULNL_CFG_CMD_PF_BIND`: since Linux 3.17 the NFLOG target reaches nfnetlink_log
//! without it, and binding would make nfnetlink_log the namespace's default logger for the
//! family, a side effect on other users.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};
use nix::sys::time::TimeVal;

/// `NFNL_SUBSYS_ULOG`: nfnetlink's subsystem number of nfnetlink_log.
pub const NFNL_SUBSYS_ULOG: u8 = 4;
/// `NFULNL_MSG_PACKET`: a logged packet (kernel to user).
pub const NFULNL_MSG_PACKET: u8 = 0;
/// `NFULNL_MSG_CONFIG`: a configuration request (user to kernel).
pub const NFULNL_MSG_CONFIG: u8 = 1;

/// `NFULA_CFG_CMD`: attribute with a one-byte command.
pub const NFULA_CFG_CMD: u16 = 1;
/// `NFULA_CFG_MODE`: attribute with `struct nfulnl_msg_config_mode`.
pub const NFULA_CFG_MODE: u16 = 2;
/// `NFULNL_CFG_CMD_BIND`: bind this socket to the group in `res_id`.
pub const NFULNL_CFG_CMD_BIND: u8 = 1;
/// `NFULNL_CFG_CMD_UNBIND`: unbind from the group.
pub const NFULNL_CFG_CMD_UNBIND: u8 = 2;
/// `NFULNL_COPY_PACKET`: copy the packet (up to the copy range).
pub const NFULNL_COPY_PACKET: u8 = 2;

/// `NFULA_PACKET_HDR`: `struct nfulnl_msg_packet_hdr` (hw_protocol, hook).
pub const NFULA_PACKET_HDR: u16 = 1;
/// `NFULA_PAYLOAD`: the packet from the network header on.
pub const NFULA_PAYLOAD: u16 = 9;
/// `NFULA_PREFIX`: the rule's `--nflog-prefix`, NUL-terminated.
pub const NFULA_PREFIX: u16 = 10;

const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// Appends one netlink attribute (header, data, padding).
fn put_attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let len = 4 + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(align4(buf.len()), 0);
}

/// An `NFULNL_MSG_CONFIG` request with one attribute, asking for an acknowledgement.
fn config(seq: u32, family: u8, group: u16, ty: u16, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(&[0; 4]); // nlmsg_len, set below
    m.extend_from_slice(&(u16::from(NFNL_SUBSYS_ULOG) << 8 | u16::from(NFULNL_MSG_CONFIG)).to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: to the kernel
    m.extend_from_slice(&[family, 0]); // nfgen_family, version NFNETLINK_V0
    m.extend_from_slice(&group.to_be_bytes()); // res_id
    put_attr(&mut m, ty, data);
    let len = m.len() as u32;
    m[..4].copy_from_slice(&len.to_ne_bytes());
    m
}

/// The request that binds the sending socket to `group` (family `AF_UNSPEC`).
pub fn config_bind(seq: u32, group: u16) -> Vec<u8> {
    config(seq, 0, group, NFULA_CFG_CMD, &[NFULNL_CFG_CMD_BIND])
}

/// The request that unbinds the sending socket from `group`.
pub fn config_unbind(seq: u32, group: u16) -> Vec<u8> {
    config(seq, 0, group, NFULA_CFG_CMD, &[NFULNL_CFG_CMD_UNBIND])
}

/// The request that sets `group`'s copy mode and range (`struct nfulnl_msg_config_mode`:
/// `__be32 copy_range; __u8 copy_mode; __u8 _pad;`).
pub fn config_mode(seq: u32, group: u16, mode: u8, range: u32) -> Vec<u8> {
    let mut data = [0u8; 6];
    data[..4].copy_from_slice(&range.to_be_bytes());
    data[4] = mode;
    config(seq, 0, group, NFULA_CFG_MODE, &data)
}

/// A logged packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The hook's protocol family (`nfgen_family`): 2 (`AF_INET`), 10 (`AF_INET6`), 7
    /// (`AF_BRIDGE`)...
    pub family: u8,
    /// The group (`res_id`).
    pub group: u16,
    /// The hook (`NF_INET_*`) from `NFULA_PACKET_HDR`, if present.
    pub hook: Option<u8>,
    /// The link-layer protocol (ethertype) from `NFULA_PACKET_HDR`, if present.
    pub hw_protocol: Option<u16>,
    /// The rule's prefix (without the NUL), if present.
    pub prefix: Option<&'a [u8]>,
    /// `NFULA_PAYLOAD`: the packet from its network header on; empty if absent.
    pub payload: &'a [u8],
}

/// One netlink message of a received buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// An `NFULNL_MSG_PACKET`.
    Packet(Packet<'a>),
    /// An `NLMSG_ERROR` with error 0: the acknowledgement of request `seq`.
    Ack {
        /// The sequence number of the request.
        seq: u32,
    },
    /// An `NLMSG_ERROR` with an error: request `seq` failed with `errno` (positive).
    Error {
        /// The sequence number of the request.
        seq: u32,
        /// The error number, positive.
        errno: i32,
    },
    /// Any other message (`NLMSG_DONE`, `NLMSG_NOOP`...), by type.
    Other {
        /// `nlmsg_type`.
        ty: u16,
    },
}

/// A buffer that is not a sequence of well-formed netlink messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// A header is cut short, or a length runs past the buffer.
    Truncated,
    /// A length is smaller than its header.
    BadLength,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParseError::Truncated => "netlink message truncated",
            ParseError::BadLength => "netlink length shorter than its header",
        })
    }
}

impl std::error::Error for ParseError {}

/// The netlink messages in `buf`, in order. After an error the iterator ends.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

/// Iterator over the netlink messages of a buffer; see [`messages`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

fn u16_ne(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_ne(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The attributes in `buf`: (type without flags, data). Stops at the first malformed one.
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16_ne(buf, 0)?);
        let ty = u16_ne(buf, 2)? & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            buf = &[];
            return None;
        }
        let data = &buf[4..len];
        buf = buf.get(align4(len)..).unwrap_or_default();
        Some((ty, data))
    })
}

fn packet(body: &[u8]) -> Result<Packet<'_>, ParseError> {
    let g = body.get(..NFGENMSG_LEN).ok_or(ParseError::Truncated)?;
    let mut p = Packet {
        family: g[0],
        group: u16::from_be_bytes([g[2], g[3]]),
        hook: None,
        hw_protocol: None,
        prefix: None,
        payload: &[],
    };
    for (ty, data) in attrs(&body[NFGENMSG_LEN..]) {
        match ty {
            NFULA_PACKET_HDR if data.len() >= 3 => {
                p.hw_protocol = Some(u16::from_be_bytes([data[0], data[1]]));
                p.hook = Some(data[2]);
            }
            NFULA_PAYLOAD => p.payload = data,
            NFULA_PREFIX => p.prefix = Some(data.strip_suffix(&[0]).unwrap_or(data)),
            _ => {}
        }
    }
    Ok(p)
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.next_message();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

impl<'a> Messages<'a> {
    fn next_message(&mut self) -> Result<Message<'a>, ParseError> {
        let buf = self.rest;
        let len = u32_ne(buf, 0).ok_or(ParseError::Truncated)?;
        let len = usize::try_from(len).map_err(|_| ParseError::Truncated)?;
        let ty = u16_ne(buf, 4).ok_or(ParseError::Truncated)?;
        let seq = u32_ne(buf, 8).ok_or(ParseError::Truncated)?;
        if len < NLMSG_HDRLEN {
            return Err(ParseError::BadLength);
        }
        let body = buf.get(NLMSG_HDRLEN..len).ok_or(ParseError::Truncated)?;
        self.rest = buf.get(align4(len)..).unwrap_or_default();
        if ty == NLMSG_ERROR {
            let err = u32_ne(body, 0).ok_or(ParseError::Truncated)? as i32;
            let seq = u32_ne(body, 4 + 8).unwrap_or(seq);
            return Ok(if err == 0 {
                Message::Ack { seq }
            } else {
                Message::Error { seq, errno: err.saturating_neg() }
            });
        }
        if ty == u16::from(NFNL_SUBSYS_ULOG) << 8 | u16::from(NFULNL_MSG_PACKET) {
            return packet(body).map(Message::Packet);
        }
        Ok(Message::Other { ty })
    }
}

/// Receive buffer size: a 64 KiB packet and its attributes, and a few more.
const BUF_LEN: usize = 256 * 1024;

/// A netlink socket bound to one NFLOG group.
#[derive(Debug)]
pub struct Reader {
    fd: OwnedFd,
    group: u16,
    seq: u32,
    buf: Vec<u8>,
}

fn errno(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl Reader {
    /// Opens a socket in the calling thread's network namespace, binds it to `group` and
    /// sets the copy mode to whole packets (`NFULNL_COPY_PACKET`, range 0xffff). Fails
    /// with `EPERM` without `CAP_NET_ADMIN` and also when another socket holds the group
    /// (nfnetlink_log's answer then).
    pub fn open(group: u16) -> io::Result<Reader> {
        let fd = socket::socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkNetFilter,
        )
        .map_err(errno)?;
        socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(errno)?;
        // A larger buffer rides out bursts; failing to get one is not fatal.
        let _ = socket::setsockopt(&fd, socket::sockopt::RcvBuf, &(4 << 20));
        let mut r = Reader { fd, group, seq: 0, buf: vec![0; BUF_LEN] };
        r.request(config_bind)?;
        r.request(|seq, group| config_mode(seq, group, NFULNL_COPY_PACKET, 0xffff))?;
        Ok(r)
    }

    /// The group this reader is bound to.
    pub fn group(&self) -> u16 {
        self.group
    }

    /// Sends one configuration request and waits for its acknowledgement (packets that
    /// arrive meanwhile are dropped).
    fn request(&mut self, build: impl Fn(u32, u16) -> Vec<u8>) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let msg = build(seq, self.group);
        socket::sendto(self.fd.as_raw_fd(), &msg, &NetlinkAddr::new(0, 0), MsgFlags::empty()).map_err(errno)?;
        loop {
            let n = socket::recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()).map_err(errno)?;
            for m in messages(&self.buf[..n]) {
                match m {
                    Ok(Message::Ack { seq: s }) if s == seq => return Ok(()),
                    Ok(Message::Error { seq: s, errno }) if s == seq => {
                        return Err(io::Error::from_raw_os_error(errno));
                    }
                    Ok(_) => {}
                    Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                }
            }
        }
    }

    /// How long [`Reader::recv`] waits before failing with `WouldBlock`; `None` (the
    /// default) waits for ever. Use it to call [`crate::Follower::expire`] now and then.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        let tv = match timeout {
            Some(d) => TimeVal::new(d.as_secs().try_into().unwrap_or(i64::MAX), d.subsec_micros().into()),
            None => TimeVal::new(0, 0),
        };
        socket::setsockopt(&self.fd, socket::sockopt::ReceiveTimeout, &tv).map_err(errno)
    }

    /// Waits for the next batch from the kernel and returns the packets in it.
    ///
    /// Errors: `WouldBlock` after the timeout ([`Reader::set_timeout`]); `ENOBUFS` when the
    /// socket's buffer overran and the kernel dropped packets (log it and go on: the next
    /// call receives again); `InvalidData` for a batch that does not parse, after the
    /// packets before the fault.
    pub fn recv(&mut self) -> io::Result<Vec<Packet<'_>>> {
        let n = socket::recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()).map_err(errno)?;
        let mut out = Vec::new();
        for m in messages(&self.buf[..n]) {
            match m {
                Ok(Message::Packet(p)) if p.group == self.group => out.push(p),
                Ok(_) => {}
                Err(e) if out.is_empty() => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                Err(_) => break,
            }
        }
        Ok(out)
    }
}

impl AsFd for Reader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // Closing the socket unbinds too; saying so frees the group at once.
        let msg = config_unbind(self.seq.wrapping_add(1), self.group);
        let _ = socket::sendto(self.fd.as_raw_fd(), &msg, &NetlinkAddr::new(0, 0), MsgFlags::empty());
    }
}

#[cfg(test)]
mod tests;
