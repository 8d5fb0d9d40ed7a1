// SPDX-License-Identifier: GPL-2.0
//! Generic netlink families with operations, attribute policies, replies, dumps and
//! notifications.
//!
//! C reference: `include/net/genetlink.h`, `include/net/netlink.h`. The kernel crate's
//! `kernel::net::netlink` (7.3) registers families with multicast groups only; this file
//! extends it with what a control plane needs, in the same style: a [`Registration`]
//! guard, a [`Handler`] trait whose `doit`/`dumpit` get safe [`Request`] and [`Dump`]
//! views, [`Policy`] entries built in const context, and message builders ([`Reply`],
//! [`DumpMsg`]) that can only put attributes into a message they own or are writing.
//! Multicast groups are the kernel crate's [`MulticastGroup`]. The inline C helpers
//! (`genlmsg_reply`, `nla_nest_start`, `NETLINK_CB`, ...) come from the module's C glue.

use crate::xtables::Net;
use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::error::to_result;
use kernel::ffi::{c_int, c_long, c_uint, c_void};
use kernel::net::netlink::MulticastGroup;
use kernel::prelude::*;
use kernel::types::Opaque;

// The structs are the kernel's own bindgen types, passed by pointer only; the lint
// trips over `lockdep_map`, which is empty without CONFIG_LOCKDEP.
#[allow(improper_ctypes)]
extern "C" {
    fn ssnat_genl_info_net(info: *const bindings::genl_info) -> *const Net;
    fn ssnat_genlmsg_reply(skb: *mut bindings::sk_buff, info: *mut bindings::genl_info) -> c_int;
    fn ssnat_nla_nest_start(skb: *mut bindings::sk_buff, type_: c_int) -> *mut bindings::nlattr;
    fn ssnat_nla_nest_end(skb: *mut bindings::sk_buff, start: *mut bindings::nlattr);
    fn ssnat_nl_cb_portid(cb: *const bindings::netlink_callback) -> u32;
    fn ssnat_nl_cb_family(cb: *mut bindings::netlink_callback) -> *const bindings::genl_family;
    fn ssnat_nl_cb_cmd(cb: *mut bindings::netlink_callback) -> u8;
    fn ssnat_genl_dump_check_consistent(cb: *mut bindings::netlink_callback, hdr: *mut c_void);
    fn ssnat_nl_cb_net(cb: *const bindings::netlink_callback) -> *const Net;
    fn ssnat_nl_cb_attr(cb: *mut bindings::netlink_callback, id: c_uint) -> *mut bindings::nlattr;
    fn ssnat_skb_len(skb: *const bindings::sk_buff) -> c_uint;
}

type DoitFn = unsafe extern "C" fn(*mut bindings::sk_buff, *mut bindings::genl_info) -> c_int;
type DumpitFn = unsafe extern "C" fn(*mut bindings::sk_buff, *mut bindings::netlink_callback) -> c_int;

/// `NLA_HDRLEN`: the aligned size of `struct nlattr`.
const NLA_HDRLEN: usize = 4;

/// One entry of an attribute policy (`struct nla_policy`), checked by the netlink core
/// before a handler runs; a message that fails gets an extended-ack message naming the
/// attribute.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct Policy(bindings::nla_policy);

// SAFETY: a `Policy` is immutable plain data; its union is only ever the zero value,
// so the pointer member in it is null.
unsafe impl Sync for Policy {}

impl Policy {
    const fn new(type_: u32, len: u16) -> Self {
        // SAFETY: `nla_policy` is plain data for which all-zero bytes is a valid value
        // (`NLA_UNSPEC`, no bounds).
        let mut p: bindings::nla_policy = unsafe { core::mem::zeroed() };
        p.type_ = type_ as u8;
        p.len = len;
        Policy(p)
    }

    /// Attribute number 0, or one not used: accepted and ignored (`NLA_UNSPEC`).
    pub const UNSPEC: Policy = Policy::new(0, 0);
    /// Refused in requests (`NLA_REJECT`): attributes only the kernel sends.
    pub const REJECT: Policy = Policy::new(bindings::NLA_REJECT, 0);
    /// `u8`.
    pub const U8: Policy = Policy::new(bindings::NLA_U8, 0);
    /// `u16`.
    pub const U16: Policy = Policy::new(bindings::NLA_U16, 0);
    /// `u32`.
    pub const U32: Policy = Policy::new(bindings::NLA_U32, 0);

    /// A NUL-terminated string of at most `max_len` bytes before the NUL.
    pub const fn nul_string(max_len: u16) -> Policy {
        Policy::new(bindings::NLA_NUL_STRING, max_len)
    }

    /// Bytes, at most `max_len` of them.
    pub const fn binary(max_len: u16) -> Policy {
        Policy::new(bindings::NLA_BINARY, max_len)
    }
}

/// An operation of a family.
#[derive(Clone, Copy)]
pub struct Op {
    /// The command (`genlmsghdr.cmd`).
    pub cmd: u8,
    /// Handled by [`Handler::doit`].
    pub doit: bool,
    /// Handled by [`Handler::dumpit`] when the request has `NLM_F_DUMP`.
    pub dumpit: bool,
    /// Only for `CAP_NET_ADMIN` in the user namespace that owns the request's network
    /// namespace (`GENL_UNS_ADMIN_PERM`); others get `EPERM` from the netlink core.
    pub admin: bool,
}

/// What a family does with its requests.
pub trait Handler: 'static {
    /// A request without `NLM_F_DUMP`. On error, the netlink core acks with the errno
    /// (and the message set with [`Request::fail`]).
    fn doit(cmd: u8, req: &mut Request<'_>) -> Result;

    /// One round of a dump: puts as many messages into `dump` as fit, starting from
    /// [`Dump::position`], and moves the position past them.
    fn dumpit(cmd: u8, dump: &mut Dump<'_>) -> Result;
}

/// A registered generic netlink family; unregisters it when dropped.
///
/// # Invariants
///
/// `family` is registered with the generic netlink core, and `ops`, `policy` and
/// `mcgrps` (which it points to) live as long as the registration.
pub struct Registration<H: Handler> {
    family: Pin<KBox<Opaque<bindings::genl_family>>>,
    _ops: KVec<bindings::genl_small_ops>,
    _h: PhantomData<H>,
}

// SAFETY: the registration only holds the family for unregistering; the netlink core
// synchronises everything else.
unsafe impl<H: Handler> Send for Registration<H> {}
// SAFETY: no method takes `&self`.
unsafe impl<H: Handler> Sync for Registration<H> {}

impl<H: Handler> Registration<H> {
    /// Registers family `name` (at most 15 bytes), which works in every network
    /// namespace, with its attribute `policy` (indexed by attribute number; its length
    /// minus one is the highest attribute), operations and multicast groups.
    pub fn new(
        module: &'static ThisModule,
        name: &CStr,
        version: u32,
        policy: &'static [Policy],
        ops: &[Op],
        mcgrps: &'static [MulticastGroup],
    ) -> Result<Self> {
        let mut small_ops = KVec::with_capacity(ops.len(), GFP_KERNEL)?;
        for op in ops {
            // SAFETY: `genl_small_ops` is plain data for which zero is a valid value.
            let mut o: bindings::genl_small_ops = unsafe { core::mem::zeroed() };
            o.cmd = op.cmd;
            o.doit = op.doit.then_some(doit_callback::<H> as DoitFn);
            o.dumpit = op.dumpit.then_some(dumpit_callback::<H> as DumpitFn);
            o.flags = if op.admin { bindings::GENL_UNS_ADMIN_PERM as u8 } else { 0 };
            small_ops.push(o, GFP_KERNEL)?;
        }
        // SAFETY: `genl_family` is plain data for which zero is a valid value.
        let mut f: bindings::genl_family = unsafe { core::mem::zeroed() };
        let bytes = name.to_bytes_with_nul();
        if bytes.len() > f.name.len() || policy.is_empty() {
            return Err(EINVAL);
        }
        for (d, s) in f.name.iter_mut().zip(bytes) {
            *d = *s;
        }
        f.version = version;
        f.maxattr = c_uint::try_from(policy.len() - 1).map_err(|_| EINVAL)?;
        f.policy = policy.as_ptr().cast();
        f.small_ops = small_ops.as_ptr();
        f.n_small_ops = u8::try_from(small_ops.len()).map_err(|_| EINVAL)?;
        f.mcgrps = mcgrps.as_ptr().cast();
        f.n_mcgrps = u8::try_from(mcgrps.len()).map_err(|_| EINVAL)?;
        f.module = module.as_ptr();
        f.set_netnsok(1);
        let family = KBox::pin(Opaque::new(f), GFP_KERNEL)?;
        // SAFETY: `family` is a fully initialised `genl_family` at a stable address (it
        // is pinned) that, with the ops, policy and groups it points to, lives until
        // `drop` unregisters it.
        to_result(unsafe { bindings::genl_register_family(family.get()) })?;
        // INVARIANT: registered above; `small_ops` moves into the struct (its heap
        // buffer does not move).
        Ok(Registration { family, _ops: small_ops, _h: PhantomData })
    }
}

impl<H: Handler> Drop for Registration<H> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the family is registered; after this call no
        // operation runs any more.
        unsafe { bindings::genl_unregister_family(self.family.get()) };
    }
}

/// # Safety
///
/// Called by the generic netlink core with a request skb and its parsed `info`.
unsafe extern "C" fn doit_callback<H: Handler>(
    _skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    // SAFETY: `info` and its header are valid for the call.
    let cmd = unsafe { (*(*info).genlhdr).cmd };
    // SAFETY: the core hands us `info` for the duration of the call, exclusively.
    let mut req = Request { info: unsafe { &mut *info } };
    match H::doit(cmd, &mut req) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the generic netlink core with the dump skb to fill and the dump's state.
unsafe extern "C" fn dumpit_callback<H: Handler>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> c_int {
    // SAFETY: `cb` is valid for the call and set up by the genl core for a dump.
    let family = unsafe { ssnat_nl_cb_family(cb) };
    // SAFETY: as above.
    let cmd = unsafe { ssnat_nl_cb_cmd(cb) };
    // SAFETY: the core hands us the skb and `cb` for the duration of the call, exclusively.
    let mut dump = Dump { skb, cb: unsafe { &mut *cb }, family };
    match H::dumpit(cmd, &mut dump) {
        // SAFETY: `skb` is valid for the call. A length of 0 ends the dump.
        Ok(()) => (unsafe { ssnat_skb_len(skb) }) as c_int,
        Err(e) => e.to_errno(),
    }
}

/// A request being handled by [`Handler::doit`].
pub struct Request<'a> {
    info: &'a mut bindings::genl_info,
}

impl<'a> Request<'a> {
    /// The parsed attribute `id` in the request skb, or null when absent.
    fn nlattr(&self, id: u16) -> *mut bindings::nlattr {
        // SAFETY: `family` is the registered family of this request.
        let max = unsafe { (*self.info.family).maxattr };
        if self.info.attrs.is_null() || c_uint::from(id) > max {
            return core::ptr::null_mut();
        }
        // SAFETY: the core parsed the request into `attrs`, an array of `maxattr + 1`
        // pointers (null for absent attributes); `id` is within it.
        unsafe { *self.info.attrs.add(usize::from(id)) }
    }

    /// The payload of attribute `id`, if present (its type and size are those the
    /// policy allows).
    pub fn attr(&self, id: u16) -> Option<&[u8]> {
        let a = self.nlattr(id);
        if a.is_null() {
            return None;
        }
        // SAFETY: `a` points into the request skb, which outlives the handler call
        // and so the borrow of `self`; the policy checked that its `nla_len` bytes are
        // in the message.
        unsafe {
            let len = usize::from((*a).nla_len).checked_sub(NLA_HDRLEN)?;
            Some(core::slice::from_raw_parts(a.cast::<u8>().add(NLA_HDRLEN), len))
        }
    }

    /// Attribute `id` as a `u8`, `u16` or `u32` in host order (the policy checked the
    /// size; a wrong size reads as absent).
    pub fn attr_uint<const N: usize>(&self, id: u16) -> Option<[u8; N]> {
        self.attr(id)?.try_into().ok()
    }

    /// The network namespace the request came from.
    pub fn net(&self) -> &Net {
        // SAFETY: `info` is valid; the namespace outlives the request.
        unsafe { &*ssnat_genl_info_net(self.info) }
    }

    /// Sets the extended-ack message (and the offending attribute) of the error the
    /// handler is about to return.
    pub fn fail(&mut self, msg: &'static CStr, bad_attr: Option<u16>) {
        let ext = self.info.extack;
        if ext.is_null() {
            return;
        }
        let bad = bad_attr.map_or(core::ptr::null_mut(), |id| self.nlattr(id));
        // SAFETY: `extack` is valid for the request; the message is static.
        unsafe {
            (*ext)._msg = msg.as_char_ptr();
            (*ext).bad_attr = bad;
        }
    }

    /// Sets the extended-ack message of the error the handler is about to return for
    /// a missing attribute `id` (`NL_SET_ERR_ATTR_MISS`: the ack names the attribute).
    pub fn fail_missing(&mut self, msg: &'static CStr, id: u16) {
        self.fail(msg, None);
        let ext = self.info.extack;
        if !ext.is_null() {
            // SAFETY: `extack` is valid for the request.
            unsafe { (*ext).miss_type = id };
        }
    }

    /// A new reply to this request (or notification about it), with command `cmd`.
    pub fn message(&self, cmd: u8) -> Result<Reply> {
        // SAFETY: plain allocation.
        let skb = unsafe { bindings::genlmsg_new(bindings::GENLMSG_DEFAULT_SIZE, bindings::GFP_KERNEL) };
        let skb = NonNull::new(skb).ok_or(ENOMEM)?;
        // SAFETY: `skb` is ours and empty; `family` is registered.
        let hdr = unsafe {
            bindings::genlmsg_put(skb.as_ptr(), self.info.snd_portid, self.info.snd_seq, self.info.family, 0, cmd)
        };
        let reply = Reply { skb, hdr };
        if reply.hdr.is_null() {
            return Err(EMSGSIZE);
        }
        Ok(reply)
    }

    /// Sends `msg` to the requester.
    pub fn reply(&mut self, msg: Reply) -> Result {
        let skb = msg.finish();
        // SAFETY: `skb` is a finished message we own; `genlmsg_reply` consumes it.
        to_result(unsafe { ssnat_genlmsg_reply(skb, self.info) })
    }

    /// Sends `msg` to multicast group `group` (an index into the family's groups) of
    /// the request's network namespace.
    pub fn notify(&mut self, msg: Reply, group: u32) {
        let skb = msg.finish();
        // SAFETY: `skb` is a finished message we own, consumed by `genl_notify`; `info`
        // is this request's.
        unsafe { bindings::genl_notify(self.info.family, skb, self.info, group, bindings::GFP_KERNEL) };
    }
}

/// Puts attributes into a message being built.
pub trait Attrs {
    /// The skb of the message.
    fn skb(&mut self) -> *mut bindings::sk_buff;

    /// Puts attribute `id` with payload `data`.
    fn put(&mut self, id: u16, data: &[u8]) -> Result {
        let len = c_int::try_from(data.len()).map_err(|_| EMSGSIZE)?;
        // SAFETY: the skb is a message being built by us; `data` is readable.
        to_result(unsafe { bindings::nla_put(self.skb(), c_int::from(id), len, data.as_ptr().cast()) })
    }

    /// Puts a `u8` attribute.
    fn put_u8(&mut self, id: u16, v: u8) -> Result {
        self.put(id, &[v])
    }

    /// Puts a `u16` attribute (host order).
    fn put_u16(&mut self, id: u16, v: u16) -> Result {
        self.put(id, &v.to_ne_bytes())
    }

    /// Puts a `u32` attribute (host order).
    fn put_u32(&mut self, id: u16, v: u32) -> Result {
        self.put(id, &v.to_ne_bytes())
    }

    /// Puts a `u64` attribute (host order), 8-aligned with a `pad` attribute if needed.
    fn put_u64(&mut self, id: u16, v: u64, pad: u16) -> Result {
        let b = v.to_ne_bytes();
        // SAFETY: as in `put`.
        to_result(unsafe {
            bindings::nla_put_64bit(self.skb(), c_int::from(id), 8, b.as_ptr().cast(), c_int::from(pad))
        })
    }

    /// Puts a nested attribute `id` whose content `fill` puts.
    fn put_nested(&mut self, id: u16, fill: impl FnOnce(&mut Self) -> Result) -> Result
    where
        Self: Sized,
    {
        // SAFETY: the skb is a message being built by us.
        let start = unsafe { ssnat_nla_nest_start(self.skb(), c_int::from(id)) };
        if start.is_null() {
            return Err(EMSGSIZE);
        }
        fill(self)?;
        // SAFETY: `start` is the header `nla_nest_start` put into this skb, and
        // everything after it belongs to the nest.
        unsafe { ssnat_nla_nest_end(self.skb(), start) };
        Ok(())
    }
}

/// A message we own (a reply or a notification); freed if dropped unsent.
///
/// # Invariants
///
/// `skb` is an skb from `genlmsg_new`, owned; `hdr` its generic netlink header.
pub struct Reply {
    skb: NonNull<bindings::sk_buff>,
    hdr: *mut c_void,
}

impl Reply {
    fn finish(self) -> *mut bindings::sk_buff {
        let me = core::mem::ManuallyDrop::new(self);
        // SAFETY: by the type invariant `hdr` heads the message in `skb`.
        unsafe { bindings::genlmsg_end(me.skb.as_ptr(), me.hdr) };
        me.skb.as_ptr()
    }
}

impl Attrs for Reply {
    fn skb(&mut self) -> *mut bindings::sk_buff {
        self.skb.as_ptr()
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own the skb.
        unsafe { bindings::nlmsg_free(self.skb.as_ptr()) };
    }
}

/// One round of a dump, in [`Handler::dumpit`].
pub struct Dump<'a> {
    skb: *mut bindings::sk_buff,
    cb: &'a mut bindings::netlink_callback,
    family: *const bindings::genl_family,
}

impl Dump<'_> {
    /// The dump's position, kept between rounds (0 at the start).
    pub fn position(&mut self) -> &mut c_long {
        // SAFETY: `args` is the union member generic netlink dumps use for their
        // state; every bit pattern is a valid `[c_long; 6]`.
        unsafe { &mut self.cb.__bindgen_anon_1.args[0] }
    }

    /// Sets the generation of what is being dumped (non-zero; changed whenever the set
    /// changes): a message after a change between rounds gets `NLM_F_DUMP_INTR`, so
    /// the reader knows to dump again.
    pub fn set_generation(&mut self, generation: u32) {
        self.cb.seq = generation;
    }

    /// The payload of attribute `id` of the dump's request, if present (checked
    /// against the family's policy, as for [`Request::attr`]).
    pub fn attr(&mut self, id: u16) -> Option<&[u8]> {
        // SAFETY: `cb` is a dump of our family, whose request the core parsed.
        let a = unsafe { ssnat_nl_cb_attr(self.cb, c_uint::from(id)) };
        if a.is_null() {
            return None;
        }
        // SAFETY: `a` points into the request skb, which the dump holds until it ends;
        // the policy checked that its `nla_len` bytes are in the message.
        unsafe {
            let len = usize::from((*a).nla_len).checked_sub(NLA_HDRLEN)?;
            Some(core::slice::from_raw_parts(a.cast::<u8>().add(NLA_HDRLEN), len))
        }
    }

    /// The network namespace of the dumping socket.
    pub fn net(&self) -> &Net {
        // SAFETY: `cb` is valid; the namespace outlives the dump round.
        unsafe { &*ssnat_nl_cb_net(self.cb) }
    }

    /// Starts the next message of the dump, with command `cmd`; `None` when the skb is
    /// full (the dump goes on in the next round).
    pub fn message(&mut self, cmd: u8) -> Option<DumpMsg<'_>> {
        // SAFETY: `cb` and its request header are valid.
        let (portid, seq) = unsafe { (ssnat_nl_cb_portid(self.cb), (*self.cb.nlh).nlmsg_seq) };
        // SAFETY: the dump skb is ours to fill for this round; `family` is registered.
        let hdr = unsafe {
            bindings::genlmsg_put(self.skb, portid, seq, self.family, bindings::NLM_F_MULTI as c_int, cmd)
        };
        if hdr.is_null() {
            return None;
        }
        // SAFETY: `hdr` heads the message just put into this round's skb; `cb` is the
        // dump's.
        unsafe { ssnat_genl_dump_check_consistent(self.cb, hdr) };
        Some(DumpMsg { skb: self.skb, hdr, done: false, _d: PhantomData })
    }
}

/// A message of a dump; cancelled (removed from the skb) unless [`DumpMsg::end`] is
/// called.
///
/// # Invariants
///
/// `hdr` heads the last message in `skb`, the dump skb of the current round.
pub struct DumpMsg<'a> {
    skb: *mut bindings::sk_buff,
    hdr: *mut c_void,
    done: bool,
    _d: PhantomData<&'a mut Dump<'a>>,
}

impl DumpMsg<'_> {
    /// Completes the message.
    pub fn end(mut self) {
        // SAFETY: by the type invariant.
        unsafe { bindings::genlmsg_end(self.skb, self.hdr) };
        self.done = true;
    }
}

impl Attrs for DumpMsg<'_> {
    fn skb(&mut self) -> *mut bindings::sk_buff {
        self.skb
    }
}

impl Drop for DumpMsg<'_> {
    fn drop(&mut self) {
        if !self.done {
            // SAFETY: by the type invariant; the message is the last one in the skb.
            unsafe { bindings::genlmsg_cancel(self.skb, self.hdr) };
        }
    }
}
