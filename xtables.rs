// SPDX-License-Identifier: GPL-2.0
//! A small, safe abstraction over the kernel's xtables target API.
//!
//! C reference: `include/linux/netfilter/x_tables.h`. The C side of the module
//! (`xt_SSNAT_glue.c`) owns the `struct xt_target` registrations and the inline
//! sk_buff accessors; this file turns them into a [`Target`] trait, a
//! [`Registration`] guard and an [`SkBuff`] view that can only write bytes it
//! has made writable. Every `unsafe` of the module lives here.

use kernel::ffi::{c_char, c_int, c_uint, c_void};
use core::marker::PhantomData;
use kernel::bindings;
use kernel::error::to_result;
use kernel::prelude::*;

/// Verdicts a target returns (`include/uapi/linux/netfilter.h`, `x_tables.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `XT_CONTINUE`: go on with the next rule.
    Continue,
    /// `NF_ACCEPT`.
    Accept,
    /// `NF_DROP`.
    Drop,
}

impl Verdict {
    fn to_raw(self) -> c_uint {
        match self {
            Verdict::Continue => 0xffff_ffff, // XT_CONTINUE
            Verdict::Accept => 1,             // NF_ACCEPT
            Verdict::Drop => 0,               // NF_DROP
        }
    }
}

/// Where a rule using the target is being added (`struct xt_tgchk_param`).
pub struct CheckContext<'a> {
    /// `NFPROTO_IPV4` or `NFPROTO_IPV6`.
    pub family: u8,
    /// Name of the table (with nft_compat, the nftables table's name).
    pub table: &'a CStr,
    /// Hooks (`1 << NF_INET_*`) from which the rule can be reached; 0 when not known
    /// yet (an nft_compat rule in a chain that is not a base chain).
    pub hook_mask: u32,
    /// The protocol the rule matches (`-p`), 0 for any protocol or an inverted match.
    pub proto: u8,
    /// Whether the rule comes through nftables' xt compatibility layer.
    pub nft_compat: bool,
}

/// An xtables target implemented in Rust.
pub trait Target: 'static {
    /// The target-info blob userspace sends with each rule. Its size must be a
    /// multiple of 8 (`XT_ALIGN`) and it must be valid for any bit pattern the kernel
    /// hands over after [`Target::check`] accepted it.
    type Info: Copy + 'static;
    /// Name of the target, as in `-j NAME`.
    const NAME: &'static CStr;
    /// Revision of the target.
    const REVISION: u8;
    /// Bytes of [`Target::Info`] that are copied back to userspace on a dump.
    const USER_SIZE: usize;

    /// checkentry: accepts or refuses a rule. May write kernel-private fields of `info`.
    fn check(info: &mut Self::Info, ctx: &CheckContext<'_>) -> Result;

    /// destroy: the rule is gone.
    fn destroy(_info: &mut Self::Info, _family: u8) {}

    /// The packet path.
    fn target(skb: &mut SkBuff, info: &Self::Info, family: u8, hooknum: u8) -> Verdict;
}

extern "C" {
    fn ssnat_glue_register(
        name: *const c_char,
        revision: u8,
        targetsize: c_uint,
        usersize: c_uint,
        target: unsafe extern "C" fn(*mut bindings::sk_buff, *const c_void, u8, u8) -> c_uint,
        check: unsafe extern "C" fn(*mut c_void, u8, *const c_char, c_uint, u8, bool) -> c_int,
        destroy: unsafe extern "C" fn(*mut c_void, u8),
    ) -> c_int;
    fn ssnat_glue_unregister();
    fn ssnat_skb_network_len(skb: *const bindings::sk_buff) -> c_uint;
    fn ssnat_skb_copy_network(
        skb: *const bindings::sk_buff,
        offset: c_uint,
        buf: *mut c_void,
        len: c_uint,
    ) -> c_int;
    fn ssnat_skb_writable_network(skb: *mut bindings::sk_buff, len: c_uint) -> *mut u8;
    fn ssnat_skb_ip_summed(skb: *const bindings::sk_buff) -> u8;
    fn ssnat_skb_csum_adjust(skb: *mut bindings::sk_buff, l3: u16, l4: u16);
}

/// Registration of a [`Target`] for IPv4 and IPv6; unregisters when dropped.
///
/// # Invariants
///
/// The target `T` is registered with xtables for as long as the value lives.
pub struct Registration<T: Target> {
    _t: PhantomData<T>,
}

impl<T: Target> Registration<T> {
    /// Registers `T`. Only one target can be registered per module.
    pub fn new() -> Result<Self> {
        let size = core::mem::size_of::<T::Info>();
        if size % 8 != 0 || T::USER_SIZE > size {
            return Err(EINVAL);
        }
        let size = c_uint::try_from(size).map_err(|_| EINVAL)?;
        let user = c_uint::try_from(T::USER_SIZE).map_err(|_| EINVAL)?;
        // SAFETY: `T::NAME` is a NUL-terminated string that lives forever; the
        // callbacks are `extern "C"` functions with the signatures the glue expects, and
        // they stay valid as long as the module is loaded, which outlives the
        // registration (it is dropped in the module's exit path).
        to_result(unsafe {
            ssnat_glue_register(
                T::NAME.as_char_ptr(),
                T::REVISION,
                size,
                user,
                target_callback::<T>,
                check_callback::<T>,
                destroy_callback::<T>,
            )
        })?;
        // INVARIANT: registration succeeded above.
        Ok(Registration { _t: PhantomData })
    }
}

impl<T: Target> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the target is registered; xt_unregister_targets
        // waits for no packet to be in the callbacks (rules hold a module reference, so
        // none is left when the module can be unloaded).
        unsafe { ssnat_glue_unregister() };
    }
}

/// # Safety
///
/// Called by xtables with a valid skb and the rule's info blob, which checkentry
/// accepted and which is `size_of::<T::Info>()` bytes, 8-aligned.
unsafe extern "C" fn target_callback<T: Target>(
    skb: *mut bindings::sk_buff,
    info: *const c_void,
    family: u8,
    hooknum: u8,
) -> c_uint {
    // SAFETY: xtables passes the skb it owns for the duration of the call, and nothing
    // else touches it meanwhile.
    let skb = unsafe { SkBuff::from_raw(skb) };
    // SAFETY: per the function's safety contract `info` points to a `T::Info` that is
    // only read while rules are in place.
    let info = unsafe { &*info.cast::<T::Info>() };
    T::target(skb, info, family, hooknum).to_raw()
}

/// # Safety
///
/// Called by xtables from checkentry: `info` is the rule's blob of exactly
/// `size_of::<T::Info>()` bytes (x_tables checks the size), owned by the caller for
/// the call; `table` is a NUL-terminated string.
unsafe extern "C" fn check_callback<T: Target>(
    info: *mut c_void,
    family: u8,
    table: *const c_char,
    hook_mask: c_uint,
    proto: u8,
    nft_compat: bool,
) -> c_int {
    // SAFETY: see the function's safety contract.
    let info = unsafe { &mut *info.cast::<T::Info>() };
    // SAFETY: `table` is a valid NUL-terminated string for the duration of the call.
    let table = unsafe { CStr::from_char_ptr(table) };
    let ctx = CheckContext {
        family,
        table,
        hook_mask,
        proto,
        nft_compat,
    };
    match T::check(info, &ctx) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by xtables when a rule goes away, with the blob checkentry accepted.
unsafe extern "C" fn destroy_callback<T: Target>(info: *mut c_void, family: u8) {
    // SAFETY: see the function's safety contract; the rule is no longer reachable from
    // the packet path, so this is the only reference.
    let info = unsafe { &mut *info.cast::<T::Info>() };
    T::destroy(info, family);
}

/// How the checksum of a packet is being handled (`skb->ip_summed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpSummed {
    /// `CHECKSUM_NONE`.
    None,
    /// `CHECKSUM_UNNECESSARY`.
    Unnecessary,
    /// `CHECKSUM_COMPLETE`: `skb->csum` holds the sum of the data.
    Complete,
    /// `CHECKSUM_PARTIAL`: the L4 checksum is left for the device to finish.
    Partial,
}

/// A packet in the packet path: a view of a `struct sk_buff` that reads through
/// copies and writes only bytes it has made writable.
///
/// # Invariants
///
/// `self.0` is a valid `struct sk_buff` owned by the current hook invocation.
#[repr(transparent)]
pub struct SkBuff(bindings::sk_buff);

impl SkBuff {
    /// # Safety
    ///
    /// `ptr` must be a valid skb, not used by anyone else for the lifetime `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::sk_buff) -> &'a mut SkBuff {
        // SAFETY: `SkBuff` is `repr(transparent)` over `sk_buff`; validity and exclusive
        // use come from the caller.
        unsafe { &mut *ptr.cast::<SkBuff>() }
    }

    fn as_raw(&self) -> *mut bindings::sk_buff {
        core::ptr::from_ref(&self.0).cast_mut()
    }

    /// Bytes of the packet from the network header on.
    pub fn network_len(&self) -> usize {
        // SAFETY: by the type invariant the skb is valid.
        let len = unsafe { ssnat_skb_network_len(self.as_raw()) };
        usize::try_from(len).unwrap_or(0)
    }

    /// Copies bytes from the network header on into `buf`, as many as it holds.
    pub fn copy_network(&self, buf: &mut [u8]) -> Result {
        let len = c_uint::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: `buf` is valid for `len` bytes of writes; skb_copy_bits checks the
        // range against the packet and fails rather than read past it.
        to_result(unsafe {
            ssnat_skb_copy_network(self.as_raw(), 0, buf.as_mut_ptr().cast(), len)
        })
    }

    /// Makes the first `len` bytes from the network header on linear and private to this
    /// packet (unsharing a clone if needed) and lends them out for writing.
    pub fn writable_network(&mut self, len: usize) -> Result<&mut [u8]> {
        let clen = c_uint::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: by the type invariant the skb is valid and ours.
        let ptr = unsafe { ssnat_skb_writable_network(self.as_raw(), clen) };
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: skb_ensure_writable() made `len` bytes from the network header linear
        // and not shared with any clone; the borrow of `self` keeps anyone else from
        // touching the skb (and so moving its data) while the slice lives.
        Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
    }

    /// `skb->ip_summed`.
    pub fn ip_summed(&self) -> IpSummed {
        // SAFETY: by the type invariant the skb is valid.
        match unsafe { ssnat_skb_ip_summed(self.as_raw()) } {
            1 => IpSummed::Unnecessary,
            2 => IpSummed::Complete,
            3 => IpSummed::Partial,
            _ => IpSummed::None,
        }
    }

    /// Adds the one's-complement differences of a rewrite to a `CHECKSUM_COMPLETE` sum.
    pub fn csum_adjust(&mut self, l3: u16, l4: u16) {
        // SAFETY: by the type invariant the skb is valid and ours.
        unsafe { ssnat_skb_csum_adjust(self.as_raw(), l3, l4) };
    }
}
