// SPDX-License-Identifier: GPL-2.0
//! A small, safe abstraction over the kernel's xtables target API.
//!
//! C reference: `include/linux/netfilter/x_tables.h`. The C side of the module
//! (`xt_SSNAT_glue.c`, interface in `xt_SSNAT_glue.h`) owns the `struct xt_target`
//! registrations, the inline sk_buff accessors, per-CPU counters and procfs; this file
//! turns them into a [`Target`] trait, a [`Registration`] guard, an [`SkBuff`] view that
//! can only write bytes it has made writable, and [`RuleStats`] per-rule counters.
//! Every `unsafe` of the module lives here.

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::error::to_result;
use kernel::ffi::{c_char, c_int, c_uint, c_void};
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

/// Opaque `struct net`: the network namespace a rule is added in.
#[repr(C)]
pub struct Net {
    _opaque: [u8; 0],
}

/// Opaque `struct ssnat_rule` of the C glue.
#[repr(C)]
struct RawRule {
    _opaque: [u8; 0],
}

/// Where a rule using the target is being added (`struct xt_tgchk_param`).
pub struct CheckContext<'a> {
    /// The network namespace of the rule.
    pub net: &'a Net,
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
    /// multiple of 8 (`XT_ALIGN`).
    type Info: Copy + 'static;
    /// Name of the target, as in `-j NAME`.
    const NAME: &'static CStr;
    /// Revision of the target.
    const REVISION: u8;
    /// Bytes of [`Target::Info`] that are copied back to userspace on a dump.
    const USER_SIZE: usize;
    /// Names of the per-rule counters (see [`RuleStats`]), as `/proc/net/xt_SSNAT`
    /// shows them.
    const COUNTERS: &'static [&'static CStr];

    /// What [`Target::check`] sets up for each rule and [`Target::target`] gets with
    /// each packet (counters, references), dropped when the rule goes away.
    type Private: Send + Sync + 'static;

    /// The kernel-private `u64` of the info blob (beyond [`Target::USER_SIZE`]) where
    /// the abstraction keeps the rule's [`Target::Private`]. Userspace never sees it;
    /// whatever it sends there is overwritten in checkentry.
    fn private_slot(info: &mut Self::Info) -> &mut u64;

    /// The same slot, to read.
    fn private(info: &Self::Info) -> &u64;

    /// Accepts or refuses the table and the hooks (`1 << NF_INET_*`) a rule is reached
    /// from. xtables asks before [`Target::check`]; with nft_compat, also for each
    /// base chain that reaches the rule, through jumps (the rule may sit in a regular
    /// chain, where `check` saw a hook mask of 0).
    fn check_hooks(table: &CStr, hook_mask: u32) -> Result;

    /// checkentry: accepts or refuses a rule, and sets up its private state.
    fn check(info: &Self::Info, ctx: &CheckContext<'_>) -> Result<KBox<Self::Private>>;

    /// The packet path. `pkt` is the packet, its linear part already private to this
    /// skb; `private` is what [`Target::check`] set up for this rule; `rcu` proves the
    /// call runs inside the hook's RCU read-side critical section.
    fn target(pkt: &mut Packet<'_>, info: &Self::Info, private: &Self::Private, rcu: &HookRcu) -> Verdict;

    /// The packet path's common case, tried first for a packet with nothing to keep
    /// right beyond its bytes (conntrack does not track it, its sum is not
    /// `CHECKSUM_COMPLETE`, its linear part is private): `pkt` holds only those bytes.
    /// Returns `true` when it has dealt with the packet (the verdict is then
    /// [`Verdict::Continue`]); `false` when it has changed nothing and
    /// [`Target::target`] is to have the packet instead. It holds no skb and calls
    /// nothing (the glue keeps only the skb and its parameters across the call, for a
    /// packet it declines). `V6`: the target's family (IPv6, or IPv4), each compiled
    /// apart.
    fn fast<const V6: bool>(pkt: &mut Linear<'_>, info: &Self::Info, private: &Self::Private, rcu: &HookRcu) -> bool;
}

/// A packet's bytes from its network header on, as [`Target::fast`] gets them: the
/// linear part, private to the skb and writable in place, and where the packet's
/// bytes end.
pub struct Linear<'a> {
    /// The linear bytes from the network header on (at most `len`).
    pub head: &'a mut [u8],
    /// Bytes of the packet from the network header on.
    pub len: usize,
    /// With `CHECKSUM_PARTIAL`, where the checksum the device finishes starts,
    /// relative to the network header.
    pub csum_start: Option<usize>,
}

/// Proof that the code holding it runs inside the RCU read-side critical section in
/// which netfilter runs its hooks (`nf_hook()` takes `rcu_read_lock()` around them):
/// RCU-protected data may be read for the duration of the borrow, without taking the
/// read lock again.
///
/// # Invariants
///
/// Only [`target_callback`] creates one, on its stack, for the duration of a target
/// call.
pub struct HookRcu {
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a `HookRcu` exists only inside a netfilter hook, which runs under
// `rcu_read_lock()` for the whole call (type invariant): an RCU read-side section.
unsafe impl crate::rcu_box::ReadSide for HookRcu {}

/// Exports `T`'s packet path as `ssnat_rust_target`, the symbol the C glue's
/// `xt_target.target` calls directly, with the skb and the view of it the glue has
/// just filled (a function pointer set at registration would make every packet pay an
/// indirect call). Use once, in the crate root.
#[macro_export]
macro_rules! target_entry {
    ($t:ty) => {
        /// The packet path of the target, called by the C glue (`xt_SSNAT_glue.c`).
        ///
        /// # Safety
        ///
        /// As [`xtables::target_callback`].
        #[no_mangle]
        pub unsafe extern "C" fn ssnat_rust_target(
            skb: *mut kernel::bindings::sk_buff,
            info: *const kernel::ffi::c_void,
            data: core::ptr::NonNull<u8>,
            len: u32,
            writable: u32,
            state: u64,
        ) -> kernel::ffi::c_uint {
            // SAFETY: the glue passes what xtables passes its target and what it found
            // out about the skb just now, the contract of `target_callback`.
            unsafe { $crate::xtables::target_callback::<$t>(skb, info, data, len, writable, state) }
        }

        $crate::fast_entry!($t, ssnat_rust_fast4, false, "IPv4");
        $crate::fast_entry!($t, ssnat_rust_fast6, true, "IPv6");
    };
}
/// One family's fast path for [`target_entry!`]: exports `$name`, which the C glue's
/// target of that family (`$v6`) calls first.
#[doc(hidden)]
#[macro_export]
macro_rules! fast_entry {
    ($t:ty, $name:ident, $v6:literal, $family:literal) => {
        #[doc = concat!("The packet path's common case for the ", $family, " target, tried first by the C glue.")]
        ///
        /// # Safety
        ///
        /// As [`xtables::fast_callback`].
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            info: *const kernel::ffi::c_void,
            data: core::ptr::NonNull<u8>,
            len: u32,
            writable: u32,
            csum_start: i32,
        ) -> bool {
            // SAFETY: the glue passes what xtables passes its target and what it found
            // out about the skb just now, the contract of `fast_callback`.
            unsafe { $crate::xtables::fast_callback::<$t, $v6>(info, data, len, writable, csum_start) }
        }
    };
}

type CheckFn = unsafe extern "C" fn(*mut c_void, *const Net, u8, *const c_char, c_uint, u8, bool) -> c_int;
type CheckHooksFn = unsafe extern "C" fn(*const c_char, c_uint) -> c_int;
type DestroyFn = unsafe extern "C" fn(*mut c_void, u8);

extern "C" {
    fn ssnat_glue_register(
        name: *const c_char,
        revision: u8,
        targetsize: c_uint,
        usersize: c_uint,
        check: CheckFn,
        check_hooks: CheckHooksFn,
        destroy: DestroyFn,
        counter_names: *const *const c_char,
        ncounters: c_uint,
    ) -> c_int;
    fn ssnat_glue_unregister();
    fn ssnat_skb_header(skb: *const bindings::sk_buff, len: c_uint, buf: *mut u8) -> *const u8;
    fn ssnat_skb_writable_network(skb: *mut bindings::sk_buff, len: c_uint) -> *mut u8;
    fn ssnat_skb_csum_adjust(skb: *mut bindings::sk_buff, l3: u16, l4: u16);
    fn ssnat_rule_new(
        net: *const Net,
        family: u8,
        table: *const c_char,
        flags: u16,
        min_addr: *const u8,
        max_addr: *const u8,
        prefix_len: u8,
        min_port: u16,
        max_port: u16,
        seed: u32,
        profile: *const c_char,
    ) -> *mut RawRule;
    fn ssnat_rule_free(rule: *mut RawRule);
    fn ssnat_counters_alloc(n: c_uint) -> *mut u64;
    fn ssnat_counters_free(c: *mut u64);
    // The counters' fallback, where `percpu_add` has no instruction of its own.
    #[cfg(not(all(target_arch = "x86_64", CONFIG_SMP)))]
    fn ssnat_counters_add(c: *mut u64, idx: c_uint, n: u64);
    fn ssnat_counters_sum(c: *mut u64, idx: c_uint) -> u64;
    fn ssnat_glue_set_abi_version(v: c_uint);
    fn ssnat_glue_max_profiles() -> c_uint;
    fn ssnat_glue_log_ratelimit() -> bool;
    fn ssnat_glue_set_net_exit(f: Option<extern "C" fn(*const Net)>);
    fn ssnat_rule_counters(rule: *mut RawRule, n: *mut c_uint) -> *mut u64;
}

/// Most counters a target may have (`SSNAT_MAX_COUNTERS` in the glue).
const MAX_COUNTERS: usize = 16;

/// The C strings of `T::COUNTERS`, as the glue wants them.
struct CounterNames<T: Target>(PhantomData<T>);

impl<T: Target> CounterNames<T> {
    const PTRS: [*const c_char; MAX_COUNTERS] = {
        let mut ptrs = [core::ptr::null(); MAX_COUNTERS];
        let mut i = 0;
        while i < T::COUNTERS.len() && i < MAX_COUNTERS {
            // `CStrExt::as_char_ptr` is not `const`; the cast gives the kernel's `c_char`.
            #[allow(clippy::disallowed_methods)]
            let p = T::COUNTERS[i].as_ptr().cast();
            ptrs[i] = p;
            i += 1;
        }
        ptrs
    };
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
        if size % 8 != 0 || T::USER_SIZE > size || T::COUNTERS.len() > MAX_COUNTERS {
            return Err(EINVAL);
        }
        let size = c_uint::try_from(size).map_err(|_| EINVAL)?;
        let user = c_uint::try_from(T::USER_SIZE).map_err(|_| EINVAL)?;
        let ncounters = c_uint::try_from(T::COUNTERS.len()).map_err(|_| EINVAL)?;
        // `PTRS` is a constant expression: the reference is promoted to a static.
        let names: &'static [*const c_char; MAX_COUNTERS] = &CounterNames::<T>::PTRS;
        // SAFETY: `T::NAME` and the counter names are NUL-terminated strings that live
        // forever (`'static`); `names` is promoted to a static; the callbacks are
        // `extern "C"` functions with the signatures `xt_SSNAT_glue.h` declares, valid as
        // long as the module is loaded, which outlives the registration (it is dropped in
        // the module's exit path). The packet path, `ssnat_rust_target`, is
        // `target_entry!(T)`'s.
        to_result(unsafe {
            ssnat_glue_register(
                T::NAME.as_char_ptr(),
                T::REVISION,
                size,
                user,
                check_callback::<T>,
                check_hooks_callback::<T>,
                destroy_callback::<T>,
                names.as_ptr(),
                ncounters,
            )
        })?;
        // INVARIANT: registration succeeded above.
        Ok(Registration { _t: PhantomData })
    }
}

impl<T: Target> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the target is registered. No rule is left (each
        // holds a reference on the module, so exit cannot run while one exists), so no
        // packet can be in the callbacks.
        unsafe { ssnat_glue_unregister() };
    }
}

/// The packet path's entry, for [`target_entry!`].
///
/// # Safety
///
/// Called by the glue's target, inside a netfilter hook (under `rcu_read_lock()`),
/// with a valid skb, the rule's info blob, which checkentry accepted and which is
/// `size_of::<T::Info>()` bytes, 8-aligned, and what the glue has just found out
/// about the skb (`ssnat_rust_target()` in `xt_SSNAT_glue.h`): its network header
/// `data` (not NULL), followed by `writable` linear bytes that are private to the
/// skb (a clone's were unshared) and `len` bytes in all; in `state`, the checksum's
/// start and the `SSNAT_VIEW_*` flags.
#[inline(always)]
pub unsafe fn target_callback<T: Target>(
    skb: *mut bindings::sk_buff,
    info: *const c_void,
    data: NonNull<u8>,
    len: u32,
    writable: u32,
    state: u64,
) -> c_uint {
    // SAFETY: per the function's safety contract `info` points to a `T::Info` that is
    // only read while rules are in place.
    let info = unsafe { &*info.cast::<T::Info>() };
    let raw = *T::private(info) as usize as *const T::Private;
    if raw.is_null() {
        return Verdict::Continue.to_raw();
    }
    // SAFETY: checkentry accepted this rule, so its slot holds the `KBox<T::Private>`
    // that `check_callback` stored there, until `destroy_callback`, which cannot run
    // while packets use the rule.
    let private = unsafe { &*raw };
    // INVARIANT: we are inside the hook (the function's safety contract), for the
    // duration of the call.
    let rcu = HookRcu { _not_send: PhantomData };
    let view = View {
        data,
        len,
        writable,
        csum_start: state as u32 as i32,
        flags: (state >> 32) as u8,
    };
    // SAFETY: xtables passes the skb it owns for the duration of the call, and nothing
    // else touches it meanwhile; the glue found out `view` about it just now.
    let mut pkt = unsafe { Packet::from_raw(skb, view) };
    T::target(&mut pkt, info, private, &rcu).to_raw()
}

/// The packet path's common case ([`Target::fast`]).
///
/// # Safety
///
/// Called by the glue's target, inside a netfilter hook (under `rcu_read_lock()`),
/// with the rule's info blob as for [`target_callback`], for a packet that conntrack
/// does not track, whose sum is not `CHECKSUM_COMPLETE` and whose linear part is
/// private to the skb: `data` (not NULL) is its network header, followed by `writable`
/// bytes, linear, private and writable, and `len` bytes in all (`writable <= len`);
/// `csum_start` as in `ssnat_rust_target()`'s `state`. Nothing else may touch the
/// skb's data during the call.
#[inline(always)]
pub unsafe fn fast_callback<T: Target, const V6: bool>(
    info: *const c_void,
    data: NonNull<u8>,
    len: u32,
    writable: u32,
    csum_start: i32,
) -> bool {
    // SAFETY: per the function's safety contract `info` points to a `T::Info` that is
    // only read while rules are in place.
    let info = unsafe { &*info.cast::<T::Info>() };
    let raw = *T::private(info) as usize as *const T::Private;
    if raw.is_null() {
        return true;
    }
    // SAFETY: checkentry accepted this rule, so its slot holds the `KBox<T::Private>`
    // that `check_callback` stored there, until `destroy_callback`, which cannot run
    // while packets use the rule.
    let private = unsafe { &*raw };
    // INVARIANT: we are inside the hook (the function's safety contract), for the
    // duration of the call.
    let rcu = HookRcu { _not_send: PhantomData };
    let mut pkt = Linear {
        // SAFETY: per the function's safety contract `data` is followed by `writable`
        // linear bytes of the skb that no clone shares and no one else touches during
        // the call, which the slice's lifetime (this call) does not outlive.
        head: unsafe { core::slice::from_raw_parts_mut(data.as_ptr(), writable as usize) },
        len: len as usize,
        csum_start: usize::try_from(csum_start).ok(),
    };
    T::fast::<V6>(&mut pkt, info, private, &rcu)
}

/// # Safety
///
/// Called by xtables from checkentry: `info` is the rule's blob of exactly
/// `size_of::<T::Info>()` bytes (x_tables checks the size), 8-aligned, owned by the
/// caller for the call; `net` is the rule's namespace; `table` a NUL-terminated string.
unsafe extern "C" fn check_callback<T: Target>(
    info: *mut c_void,
    net: *const Net,
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
    // SAFETY: `net` is valid for the duration of the call; `Net` is opaque.
    let net = unsafe { &*net };
    let ctx = CheckContext {
        net,
        family,
        table,
        hook_mask,
        proto,
        nft_compat,
    };
    match T::check(info, &ctx) {
        Ok(private) => {
            // INVARIANT (of the slot): it now holds this rule's private state, taken
            // back exactly once by `destroy_callback`.
            *T::private_slot(info) = KBox::into_raw(private) as usize as u64;
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by xtables (x_tables' `xt_check_target`, nft_compat's validation) with
/// `table` a NUL-terminated string valid for the call.
unsafe extern "C" fn check_hooks_callback<T: Target>(table: *const c_char, hook_mask: c_uint) -> c_int {
    // SAFETY: `table` is a valid NUL-terminated string for the duration of the call.
    let table = unsafe { CStr::from_char_ptr(table) };
    match T::check_hooks(table, hook_mask) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by xtables when a rule goes away, with the blob checkentry accepted.
unsafe extern "C" fn destroy_callback<T: Target>(info: *mut c_void, family: u8) {
    let _ = family;
    // SAFETY: see the function's safety contract; the rule is no longer reachable from
    // the packet path, so this is the only reference.
    let info = unsafe { &mut *info.cast::<T::Info>() };
    let slot = T::private_slot(info);
    let raw = *slot as usize as *mut T::Private;
    *slot = 0;
    if !raw.is_null() {
        // SAFETY: checkentry stored the rule's `KBox` in the slot with `into_raw`;
        // destroy runs once per accepted rule, and the slot is cleared so it cannot be
        // freed twice.
        drop(unsafe { KBox::from_raw(raw) });
    }
}

/// A `struct sk_buff` in the packet path.
///
/// # Invariants
///
/// `self.0` is a valid `struct sk_buff` owned by the current hook invocation.
#[repr(transparent)]
struct SkBuff(bindings::sk_buff);

impl SkBuff {
    fn as_raw(&self) -> *mut bindings::sk_buff {
        core::ptr::from_ref(&self.0).cast_mut()
    }
}

/// What the glue's target found out about the packet (`ssnat_rust_target()`'s
/// arguments in `xt_SSNAT_glue.h`), passed in registers.
#[derive(Clone, Copy)]
struct View {
    /// The network header (or the skb's data, with `len` 0).
    data: NonNull<u8>,
    /// Bytes from the network header on.
    len: u32,
    /// Of which linear and private to the skb: may be written in place.
    writable: u32,
    /// With `CHECKSUM_PARTIAL`, where the checksum starts, from the network header;
    /// or -1.
    csum_start: i32,
    /// `VIEW_*`.
    flags: u8,
}

/// `SSNAT_VIEW_*` of the glue.
const VIEW_TRACKED: u8 = 1;
const VIEW_COMPLETE: u8 = 2;
const VIEW_NOMEM: u8 = 4;

/// A packet in the packet path, from its network header on: what the glue said of it
/// (its linear part made private to the skb, a clone's unshared, as any mangling of
/// the packet must), and the bytes it may write in place. It reads headers in place or
/// through a copy and writes only bytes it has made writable.
///
/// # Invariants
///
/// `view` describes `skb` as it is now: `view.data` is its network header (or, with
/// `view.len == 0`, a pointer into its data), followed by `view.writable`
/// linear bytes that no clone shares (or `view.writable == 0`), and `view.len` is the
/// packet's length from there. Only [`Packet::writable`]
/// changes the skb's data, and it refreshes `view`.
pub struct Packet<'a> {
    skb: &'a mut SkBuff,
    view: View,
}

impl<'a> Packet<'a> {
    /// # Safety
    ///
    /// `skb` must be a valid skb, used by no one else for the lifetime `'a`, and
    /// `view` what the glue found out about it, as it is now.
    unsafe fn from_raw(skb: *mut bindings::sk_buff, view: View) -> Packet<'a> {
        // SAFETY: `SkBuff` is `repr(transparent)` over `sk_buff`; validity, exclusive
        // use and the view's being current come from the caller.
        // INVARIANT: the caller's contract.
        unsafe { Packet { skb: &mut *skb.cast::<SkBuff>(), view } }
    }

    /// Bytes of the packet from the network header on.
    pub fn len(&self) -> usize {
        self.view.len as usize
    }

    /// Whether the packet is empty from the network header on.
    pub fn is_empty(&self) -> bool {
        self.view.len == 0
    }

    /// Whether conntrack already tracks the packet (`skb->_nfct`, no call into it).
    pub fn tracked(&self) -> bool {
        self.view.flags & VIEW_TRACKED != 0
    }

    /// Whether a clone could not be unshared (memory): nothing may be written.
    pub fn no_memory(&self) -> bool {
        self.view.flags & VIEW_NOMEM != 0
    }

    /// With `CHECKSUM_PARTIAL`, where the checksum the device finishes starts,
    /// relative to the network header.
    pub fn csum_start(&self) -> Option<usize> {
        usize::try_from(self.view.csum_start).ok()
    }

    /// The linear bytes from the network header on that may be written in place (at
    /// most [`Packet::len`]; none if a clone could not be unshared).
    pub fn head_mut(&mut self) -> &mut [u8] {
        // SAFETY: by the type invariant `data` is followed by `writable` linear bytes
        // of this skb that no clone shares; the borrow of `self` (which holds the only
        // reference to the skb) keeps anyone else from touching or moving them.
        unsafe { core::slice::from_raw_parts_mut(self.view.data.as_ptr(), self.view.writable as usize) }
    }

    /// The first `buf.len()` bytes from the network header on: in place when they are
    /// linear, else copied into `buf` (`skb_header_pointer`). Fails if the packet is
    /// shorter.
    pub fn header<'b>(&'b self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        let len = c_uint::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: `buf` is valid for `len` bytes of writes; skb_header_pointer() checks
        // the range against the packet and returns NULL rather than read past it.
        let ptr = unsafe { ssnat_skb_header(self.skb.as_raw(), len, buf.as_mut_ptr()) };
        if ptr.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `ptr` points to `len` readable bytes, either in `buf` or in the skb's
        // linear data; both are borrowed for `'b`, and the skb's data cannot move while
        // `self` is borrowed (moving it needs `&mut self`).
        Ok(unsafe { core::slice::from_raw_parts(ptr, buf.len()) })
    }

    /// Makes the first `len` bytes from the network header on linear and private to
    /// this packet (pulling them from the pages if needed) and lends them out for
    /// writing.
    pub fn writable(&mut self, len: usize) -> Result<&mut [u8]> {
        let clen = c_uint::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: by the type invariant the skb is valid and ours; no slice into its
        // data is alive (they borrow `self`).
        let Some(ptr) = NonNull::new(unsafe { ssnat_skb_writable_network(self.skb.as_raw(), clen) }) else {
            self.view.writable = 0;
            return Err(ENOMEM);
        };
        // INVARIANT: skb_ensure_writable() made `len` bytes from the (possibly moved)
        // network header linear and private.
        self.view.data = ptr;
        self.view.writable = clen;
        Ok(self.head_mut())
    }

    /// Whether the packet carries a `CHECKSUM_COMPLETE` sum, which a rewrite must keep
    /// right ([`Packet::csum_adjust`]).
    #[inline(always)]
    pub fn csum_complete(&self) -> bool {
        self.view.flags & VIEW_COMPLETE != 0
    }

    /// Adds the one's-complement differences of a rewrite to a `CHECKSUM_COMPLETE`
    /// sum (nothing to do for any other checksum state).
    #[inline(always)]
    pub fn csum_adjust(&mut self, l3: u16, l4: u16) {
        if self.csum_complete() {
            // SAFETY: by the type invariant the skb is valid and ours.
            unsafe { ssnat_skb_csum_adjust(self.skb.as_raw(), l3, l4) };
        }
    }
}

/// What [`RuleStats::new`] describes a rule with in `/proc/net/xt_SSNAT`.
pub struct RuleDesc<'a> {
    /// Table name.
    pub table: &'a CStr,
    /// `NFPROTO_IPV4` or `NFPROTO_IPV6`.
    pub family: u8,
    /// The mapping, as in the info blob.
    pub flags: u16,
    /// First address.
    pub min_addr: &'a [u8; 16],
    /// Last address.
    pub max_addr: &'a [u8; 16],
    /// Prefix length.
    pub prefix_len: u8,
    /// First port.
    pub min_port: u16,
    /// Last port.
    pub max_port: u16,
    /// Hash seed.
    pub seed: u32,
    /// The runtime profile the rule takes its mapping from, instead of the fields above.
    pub profile: Option<&'a CStr>,
}

/// Per-rule, per-CPU counters (`N` of them: [`Target::COUNTERS`]), listed in
/// `/proc/net/xt_SSNAT` of the rule's namespace.
///
/// # Invariants
///
/// `rule` is a live `struct ssnat_rule` from `ssnat_rule_new`, freed only on drop;
/// `cnt` is its per-CPU array of `N` counters, which lives as long.
pub struct RuleStats<const N: usize> {
    rule: NonNull<RawRule>,
    cnt: NonNull<u64>,
}

// SAFETY: the counters are per CPU and the rule list is protected by a mutex in C:
// `RuleStats` can be used from any CPU and dropped from any thread.
unsafe impl<const N: usize> Send for RuleStats<N> {}
// SAFETY: as above; `count` only touches this CPU's counters.
unsafe impl<const N: usize> Sync for RuleStats<N> {}

impl<const N: usize> RuleStats<N> {
    /// Allocates the counters of a rule in namespace `net`.
    pub fn new(net: &Net, desc: &RuleDesc<'_>) -> Result<Self> {
        // SAFETY: all pointers are valid for the call; the glue copies what it keeps.
        let raw = unsafe {
            ssnat_rule_new(
                net,
                desc.family,
                desc.table.as_char_ptr(),
                desc.flags,
                desc.min_addr.as_ptr(),
                desc.max_addr.as_ptr(),
                desc.prefix_len,
                desc.min_port,
                desc.max_port,
                desc.seed,
                desc.profile.map_or(core::ptr::null(), |p| p.as_char_ptr()),
            )
        };
        let rule = NonNull::new(raw).ok_or(ENOMEM)?;
        let mut n: c_uint = 0;
        // SAFETY: the rule is live (just allocated); `n` is valid for a write.
        let cnt = unsafe { ssnat_rule_counters(rule.as_ptr(), &mut n) };
        // INVARIANT: a live rule, and its counters (allocated with it: never NULL),
        // which the packet path adds to without going through the rule.
        // (The glue was registered with the target's counter names: it allocates as
        // many, which the packet path's indices rely on.)
        let (Some(cnt), true) = (NonNull::new(cnt), n as usize == N) else {
            // SAFETY: the rule is live and ours; nothing else refers to it.
            unsafe { ssnat_rule_free(rule.as_ptr()) };
            return Err(if cnt.is_null() { ENOMEM } else { EINVAL });
        };
        Ok(RuleStats { rule, cnt })
    }

    /// Adds `n` to counter `idx` (an index into [`Target::COUNTERS`]) on this CPU (an
    /// index out of range is ignored).
    #[inline]
    pub fn count(&self, idx: usize, n: u64) {
        if idx < N {
            // SAFETY: by the type invariant the counters are live; `idx` is in range.
            unsafe { percpu_add(self.cnt, idx, n) };
        }
    }

    /// Adds `n` to counter `I` and `m` to counter `J` on this CPU (indices checked at
    /// compile time).
    #[inline(always)]
    pub fn count2<const I: usize, const J: usize>(&self, n: u64, m: u64) {
        const { assert!(I < N && J < N) };
        // SAFETY: by the type invariant the counters are live; both indices are in
        // range (above).
        unsafe {
            percpu_add_at::<I>(self.cnt, n);
            percpu_add_at::<J>(self.cnt, m);
        }
    }
}

impl<const N: usize> Drop for RuleStats<N> {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the rule is live and ours (its counters go
        // with it).
        unsafe { ssnat_rule_free(self.rule.as_ptr()) };
    }
}

/// `this_cpu_add(base[idx], n)`: adds `n` to this CPU's copy of counter `idx` of the
/// per-CPU array `base`, safe against preemption and interrupts on this CPU.
///
/// On x86-64 (SMP) that is the one instruction the C macro gives, here without a call;
/// elsewhere the glue's `ssnat_counters_add()` does it.
///
/// # Safety
///
/// `base` is a live per-CPU array (from `ssnat_counters_alloc`) of more than `idx`
/// counters.
#[inline(always)]
unsafe fn percpu_add(base: NonNull<u64>, idx: usize, n: u64) {
    #[cfg(all(target_arch = "x86_64", CONFIG_SMP))]
    // SAFETY: on x86-64 SMP a per-CPU pointer is an offset into the per-CPU area that
    // %gs holds the base of in the kernel, and `this_cpu_add()` is this `add` to
    // `%gs:ptr`, one instruction, so preemption or an interrupt cannot split it; the
    // slot lies inside the array (the caller's contract). It writes only that slot and
    // the flags (`asm!` assumes both may change).
    unsafe {
        kernel::asm!("addq {n}, %gs:({p},{i},8)"; p = in(reg) base.as_ptr(), i = in(reg) idx, n = in(reg) n, options(nostack));
    }
    #[cfg(not(all(target_arch = "x86_64", CONFIG_SMP)))]
    // SAFETY: the caller's contract; `idx` fits `c_uint` (arrays are allocated with a
    // `c_uint` count).
    unsafe {
        ssnat_counters_add(base.as_ptr(), idx as c_uint, n)
    };
}

/// [`percpu_add`] of a counter known at compile time (its offset in the instruction).
///
/// # Safety
///
/// As for [`percpu_add`], with `IDX` for `idx`.
#[inline(always)]
unsafe fn percpu_add_at<const IDX: usize>(base: NonNull<u64>, n: u64) {
    #[cfg(all(target_arch = "x86_64", CONFIG_SMP))]
    // SAFETY: as in `percpu_add`, the slot at byte offset `IDX * 8`.
    unsafe {
        kernel::asm!("addq {n}, %gs:{off}({p})"; p = in(reg) base.as_ptr(), off = const IDX * 8, n = in(reg) n, options(nostack));
    }
    #[cfg(not(all(target_arch = "x86_64", CONFIG_SMP)))]
    // SAFETY: the caller's contract.
    unsafe {
        percpu_add(base, IDX, n)
    };
}

/// A set of per-CPU `u64` counters: adding touches this CPU's copy only, reading sums
/// them over the CPUs.
///
/// # Invariants
///
/// `ptr` is a per-CPU array of `n` counters from `ssnat_counters_alloc`, freed on drop.
pub struct PerCpuCounters {
    ptr: NonNull<u64>,
    n: usize,
}

// SAFETY: per-CPU memory can be used from any CPU and freed from any thread.
unsafe impl Send for PerCpuCounters {}
// SAFETY: `add` only touches the current CPU's copy (with `this_cpu_add`); `sum` reads.
unsafe impl Sync for PerCpuCounters {}

impl PerCpuCounters {
    /// `n` counters at zero.
    pub fn new(n: usize) -> Result<Self> {
        let count = c_uint::try_from(n).map_err(|_| EINVAL)?;
        // SAFETY: plain allocation.
        let ptr = NonNull::new(unsafe { ssnat_counters_alloc(count) }).ok_or(ENOMEM)?;
        // INVARIANT: allocated above with `n` counters.
        Ok(PerCpuCounters { ptr, n })
    }

    /// Adds `v` to counter `idx` on this CPU (an index out of range is ignored).
    pub fn add(&self, idx: usize, v: u64) {
        if idx < self.n {
            // SAFETY: live per the type invariant; `idx` is in range.
            unsafe { percpu_add(self.ptr, idx, v) };
        }
    }

    /// Adds `n` to counter `i` and `m` to counter `j` on this CPU (indices out of
    /// range: nothing).
    #[inline]
    pub fn add2(&self, i: usize, n: u64, j: usize, m: u64) {
        if i < self.n && j < self.n {
            // SAFETY: live per the type invariant; both indices in range.
            unsafe {
                percpu_add(self.ptr, i, n);
                percpu_add(self.ptr, j, m);
            }
        }
    }

    /// Counter `idx` summed over the CPUs (0 for an index out of range).
    pub fn sum(&self, idx: usize) -> u64 {
        if idx >= self.n {
            return 0;
        }
        // SAFETY: as in `add`.
        unsafe { ssnat_counters_sum(self.ptr.as_ptr(), idx as c_uint) }
    }
}

impl Drop for PerCpuCounters {
    fn drop(&mut self) {
        // SAFETY: live and ours per the type invariant.
        unsafe { ssnat_counters_free(self.ptr.as_ptr()) };
    }
}

/// The module's parameters in `/sys/module/xt_SSNAT/parameters/`.
pub mod facts {
    use super::*;

    /// Sets `abi_version`.
    pub fn set_abi_version(v: u32) {
        // SAFETY: stores an integer.
        unsafe { ssnat_glue_set_abi_version(v) };
    }

    /// `max_profiles`: how many profiles one network namespace may hold.
    pub fn max_profiles() -> usize {
        // SAFETY: reads an integer.
        unsafe { ssnat_glue_max_profiles() as usize }
    }
}

/// Whether a message about a refused rule may be logged now (one rate limit for the
/// module, printk's default burst).
pub fn log_ratelimit() -> bool {
    // SAFETY: takes the module's rate-limit state's own lock.
    unsafe { ssnat_glue_log_ratelimit() }
}

/// Calls `f` with each network namespace that goes away (before its
/// `/proc/net/xt_SSNAT` is removed); `None` stops the calls. `f` may only use the
/// pointer as an identity.
pub fn set_net_exit(f: Option<extern "C" fn(*const Net)>) {
    // SAFETY: stores a function pointer; a `Some` function lives as long as the module
    // (it is code of this module), which outlives the pernet registration.
    unsafe { ssnat_glue_set_net_exit(f) };
}

impl Net {
    /// An identity of the namespace, to key per-namespace state with; never turned
    /// back into a pointer.
    pub fn id(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }
}
