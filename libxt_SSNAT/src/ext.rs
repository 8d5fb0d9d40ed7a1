//! The extension proper: the two `struct xtables_target`s (IPv4 and IPv6), their
//! callbacks, and the constructor that registers them when iptables dlopen()s
//! `libxt_SSNAT.so`.
//!
//! This is the C side of iptables' `extensions/libxt_*.c` in Rust: the callbacks only
//! convert between C and [`crate::parse`], where the logic is. Errors go through
//! libxtables' `xt_params->exit_err`, which prints `iptables v1.8.9 (legacy): SSNAT: ...`
//! and exits (status 2 for `PARAMETER_PROBLEM`), before anything reaches the kernel.
//!
//! No `xlate` (iptables-translate to nftables): nftables has no stateless-NAT statement
//! that means the same for every protocol, so none is offered.

use std::ffi::{c_int, c_void, CStr, CString};
use std::mem::size_of;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use ssnat_core::abi::{SsnatInfo, TARGET_NAME, TARGET_REVISION, USER_SIZE};

use crate::parse::{final_check, format_to_source, parse_to_source, Family};
use crate::sys;

/// Target name as a C string; checked against the ABI's [`TARGET_NAME`] below.
pub const NAME: &CStr = c"SSNAT";

const _: () = {
    let (a, b) = (NAME.to_bytes(), TARGET_NAME.as_bytes());
    assert!(a.len() == b.len());
    let mut i = 0;
    while i < a.len() {
        assert!(a[i] == b[i]);
        i += 1;
    }
};

/// Option id of `--to-source`: its bit in libxtables' `xflags`.
pub const OPT_TO_SOURCE: u32 = 0;

/// `XT_ALIGN(size)` of `<linux/netfilter/x_tables.h>`, which is
/// `__ALIGN_KERNEL(size, __alignof__(struct _xt_align))`: round up to the alignment of
/// that struct (bound by bindgen, so this follows the C headers).
pub const fn xt_align(size: usize) -> usize {
    let align = std::mem::align_of::<sys::_xt_align>();
    (size + align - 1) & !(align - 1)
}

/// Bytes before the info in a `struct xt_entry_target`: `XT_ALIGN(sizeof(*t))`, as
/// iptables allocates it.
const ENTRY_HEADER: usize = xt_align(size_of::<sys::xt_entry_target>());

/// The option table of both targets (`x6_options`), ended by an all-zero entry
/// (`XTOPT_TABLEEND`).
///
/// Not `XTOPT_PUT`: the argument is parsed by our `x6_parse`. `XTOPT_MAND` makes
/// libxtables insist on the option too, but our `x6_fcheck` runs first (see
/// `xtables_option_tfcall`) and says so in our words.
static OPTIONS: OptionTable = OptionTable([
    sys::xt_option_entry {
        name: c"to-source".as_ptr(),
        type_: sys::XTTYPE_STRING,
        id: OPT_TO_SOURCE,
        excl: 0,
        also: 0,
        flags: sys::XTOPT_MAND,
        ptroff: 0,
        size: 0,
        min: 0,
        max: 0,
    },
    // SAFETY: xt_option_entry is plain data (pointers and integers), for which all-zero
    // bytes are valid: a null name, which is what marks the end of the table.
    unsafe { std::mem::zeroed() },
]);

/// `[xt_option_entry; 2]` made shareable between threads.
struct OptionTable([sys::xt_option_entry; 2]);

// SAFETY: the table is never written after compilation, and its only pointers lead to
// string literals, which are immutable 'static data.
unsafe impl Sync for OptionTable {}

const HELP_V4: &CStr = c"SSNAT target options:
 --to-source [ipaddr[-ipaddr]][:port[-port]]
\t\t\t\tAddress (range) and port (range) to write into the
\t\t\t\tsource of each packet, without connection tracking.
";

const HELP_V6: &CStr = c"SSNAT target options:
 --to-source [ipv6addr][-[ipv6addr]][:port[-port]]
\t\t\t\tAddress (range) and port (range) to write into the
\t\t\t\tsource of each packet, without connection tracking.
\t\t\t\tThe brackets are literal; without a port they
\t\t\t\tmay be left out: ipv6addr[-ipv6addr].
";

const fn family(v6: bool) -> Family {
    if v6 {
        Family::V6
    } else {
        Family::V4
    }
}

/// The two targets registered by the constructor, for `NFPROTO_IPV4` and `NFPROTO_IPV6`,
/// like iptables' `libxt_NETMAP`/`libxt_SNAT` do for their two families.
pub fn targets() -> [sys::xtables_target; 2] {
    [target::<false>(), target::<true>()]
}

fn target<const V6: bool>() -> sys::xtables_target {
    sys::xtables_target {
        version: sys::XTABLES_VERSION.as_ptr().cast(),
        name: NAME.as_ptr(),
        revision: TARGET_REVISION,
        family: family(V6).nfproto().into(),
        size: xt_align(size_of::<SsnatInfo>()),
        userspacesize: USER_SIZE,
        help: Some(help::<V6>),
        print: Some(print::<V6>),
        save: Some(save::<V6>),
        x6_parse: Some(x6_parse::<V6>),
        x6_fcheck: Some(x6_fcheck::<V6>),
        x6_options: OPTIONS.0.as_ptr(),
        // Everything else zero/NULL, as in a C designated initializer: no real_name,
        // ext_flags, init (iptables hands us zeroed data), old-style parse, xlate, udata.
        ..Default::default()
    }
}

/// The library's constructor, what `_init` is in iptables' C extensions: runs when
/// iptables dlopen()s `libxt_SSNAT.so` and registers both targets.
#[cfg(not(test))]
#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = register;

#[cfg_attr(test, allow(dead_code))]
extern "C" fn register() {
    // Outside iptables (a test binary that links this crate as an rlib) there is no
    // libxtables context, and xtables_register_target() would dereference libxtables'
    // unset `afinfo`. iptables sets `xt_params` in xtables_init_all() before it loads any
    // extension, so that is the sign we are in iptables.
    if params().is_null() {
        return;
    }
    guarded(|| {
        // libxtables keeps the targets in its lists, and writes to them, for the rest of
        // the process: they must live (and stay put) forever.
        let targets: &'static mut [sys::xtables_target; 2] = Box::leak(Box::new(targets()));
        // SAFETY: two initialized targets in writable memory that is never freed or
        // moved; their strings and option table are 'static.
        unsafe { sys::xtables_register_targets(targets.as_mut_ptr(), targets.len() as u32) };
    });
}

/// `help`: the usage text shown by `iptables -j SSNAT -h`.
extern "C" fn help<const V6: bool>() {
    guarded(|| c_print(if V6 { HELP_V6 } else { HELP_V4 }));
}

/// `x6_parse`: `--to-source` into the info.
///
/// # Safety
/// `cb` is the call libxtables' `xtables_option_tpcall` prepared: valid, with `entry`
/// from our table, `arg` the option's argument and `data` the target's info.
unsafe extern "C" fn x6_parse<const V6: bool>(cb: *mut sys::xt_option_call) {
    guarded(|| {
        // SAFETY: `cb` is valid (caller's contract). This is libxtables' generic part, as
        // every x6 extension calls it: refuses a repeated option or a "!" and records the
        // option in cb->xflags.
        unsafe { sys::xtables_option_parse(cb) };
        // SAFETY: valid, and ours alone for the duration of the callback.
        let cb = unsafe { &mut *cb };
        // SAFETY: `entry` points into OPTIONS, which lives forever.
        if unsafe { (*cb.entry).id } != OPT_TO_SOURCE || cb.arg.is_null() {
            return;
        }
        // SAFETY: `arg` is a NUL-terminated argv string (checked non-null above).
        let arg = unsafe { CStr::from_ptr(cb.arg) }.to_string_lossy();
        match parse_to_source(&arg, family(V6)) {
            // SAFETY: `data` is the info blob of `size` = XT_ALIGN(sizeof info) bytes
            // that iptables allocated for this target; unaligned write, to assume nothing.
            Ok(info) => unsafe { cb.data.cast::<SsnatInfo>().write_unaligned(info) },
            Err(e) => exit_error(sys::PARAMETER_PROBLEM, &format!("{TARGET_NAME}: {e}")),
        }
    });
}

/// `x6_fcheck`: the rule's final check, the same `validate()` the kernel will run.
///
/// # Safety
/// `cb` is the call `xtables_option_tfcall` prepared: valid, `data` the target's info.
unsafe extern "C" fn x6_fcheck<const V6: bool>(cb: *mut sys::xt_fcheck_call) {
    guarded(|| {
        // SAFETY: valid for the callback (caller's contract); only read.
        let cb = unsafe { &*cb };
        // SAFETY: `data` is the target's info blob, at least size_of::<SsnatInfo>() bytes.
        let info = unsafe { cb.data.cast::<SsnatInfo>().read_unaligned() };
        if let Err(msg) = final_check(cb.xflags, OPT_TO_SOURCE, &info, family(V6)) {
            exit_error(sys::PARAMETER_PROBLEM, &format!("{TARGET_NAME}: {msg}"));
        }
    });
}

/// `print`: the target's part of an `iptables -L` line, ` to:ADDR:PORT`.
///
/// # Safety
/// `target` is null or a whole `struct xt_entry_target` of `u.target_size` bytes.
unsafe extern "C" fn print<const V6: bool>(
    _ip: *const c_void,
    target: *const sys::xt_entry_target,
    _numeric: c_int,
) {
    guarded(|| {
        // SAFETY: forwarded from the caller's contract.
        let text = match unsafe { info_of(target) } {
            Some(info) => format_to_source(&info, family(V6)),
            None => "(truncated)".to_owned(),
        };
        c_print_str(&format!(" to:{text}"));
    });
}

/// `save`: the target's options as `iptables-save` writes them, ` --to-source ADDR:PORT`,
/// which `iptables-restore` parses back to the same info.
///
/// # Safety
/// As [`print`].
unsafe extern "C" fn save<const V6: bool>(_ip: *const c_void, target: *const sys::xt_entry_target) {
    guarded(|| {
        // SAFETY: forwarded from the caller's contract.
        if let Some(info) = unsafe { info_of(target) } {
            c_print_str(&format!(
                " --to-source {}",
                format_to_source(&info, family(V6))
            ));
        }
    });
}

/// The info inside a target entry, or `None` if the entry is too short to hold one.
///
/// # Safety
/// `target` is null or points to a readable `struct xt_entry_target` followed by the
/// rest of its `u.target_size` bytes.
unsafe fn info_of(target: *const sys::xt_entry_target) -> Option<SsnatInfo> {
    if target.is_null() {
        return None;
    }
    // SAFETY: `target` is readable (contract); every member of the union starts with the
    // u16 target_size.
    let total = usize::from(unsafe { (*target).u.target_size });
    if total < ENTRY_HEADER + size_of::<SsnatInfo>() {
        return None;
    }
    // SAFETY: the entry has `total` bytes, so the info fits after the header; `data` is
    // the flexible array member at ENTRY_HEADER. Unaligned read, to assume nothing.
    Some(unsafe {
        ptr::addr_of!((*target).data)
            .cast::<SsnatInfo>()
            .read_unaligned()
    })
}

/// `xt_params`, libxtables' globals, or null before `xtables_init_all()`.
fn params() -> *mut sys::xtables_globals {
    // SAFETY: a plain read of a pointer-sized global, which libxtables writes only in
    // xtables_init_all()/xtables_set_params(), before extensions are loaded and from the
    // same (only) thread.
    unsafe { ptr::addr_of!(sys::xt_params).read() }
}

/// `xtables_error(status, "%s", msg)`: prints the message iptables' way and exits.
fn exit_error(status: sys::xtables_exittype, msg: &str) -> ! {
    // A message with a NUL in it (from an argument) would be cut; show it escaped.
    let msg = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    let params = params();
    if !params.is_null() {
        // SAFETY: non-null `xt_params` points to the program's live `xtables_globals`.
        if let Some(exit_err) = unsafe { (*params).exit_err } {
            // SAFETY: exit_err is printf-like; "%s" takes exactly the one NUL-terminated
            // string we pass. It does not return.
            unsafe { exit_err(status, c"%s".as_ptr(), msg.as_ptr()) }
        }
    }
    // No libxtables context (cannot happen inside iptables).
    eprintln!("{}", msg.to_string_lossy());
    std::process::exit(status as i32)
}

/// Runs a callback body without letting a panic unwind into C: a panic (a bug) becomes
/// an ordinary iptables error. (With the release profile's `panic = "abort"` a panic
/// aborts instead, which is just as sound.)
fn guarded(body: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(body)).is_err() {
        exit_error(
            sys::OTHER_PROBLEM,
            &format!("{TARGET_NAME}: internal error"),
        );
    }
}

/// Writes to C's `stdout`, through its buffer, where iptables writes the rest of the
/// line (Rust's `std::io::stdout` has a buffer of its own and would reorder the output).
fn c_print(text: &CStr) {
    // SAFETY: "%s" takes exactly the one NUL-terminated string we pass.
    unsafe { sys::printf(c"%s".as_ptr(), text.as_ptr()) };
}

fn c_print_str(text: &str) {
    if let Ok(text) = CString::new(text) {
        c_print(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssnat_core::abi::{NFPROTO_IPV4, NFPROTO_IPV6, TARGET_SIZE};

    #[test]
    fn registered_sizes_follow_the_abi() {
        // XT_ALIGN(s) as the C macro computes it: __ALIGN_KERNEL_MASK(s, mask) is
        // ((s) + (mask)) & ~(mask), mask = __alignof__(struct _xt_align) - 1.
        let mask = std::mem::align_of::<sys::_xt_align>() - 1;
        let aligned = (size_of::<SsnatInfo>() + mask) & !mask;
        for t in targets() {
            assert_eq!(t.size, aligned);
            assert_eq!(t.size, TARGET_SIZE);
            assert_eq!(t.size, 88);
            assert_eq!(t.userspacesize, USER_SIZE);
            assert_eq!(t.userspacesize, 80);
            assert_eq!(t.revision, TARGET_REVISION);
        }
        assert_eq!(ENTRY_HEADER, 32);
        assert_eq!(xt_align(1), 8);
        assert_eq!(xt_align(8), 8);
        assert_eq!(xt_align(81), 88);
    }

    #[test]
    fn targets_are_ssnat_for_both_families() {
        assert_eq!(u32::from(NFPROTO_IPV4), sys::NFPROTO_IPV4);
        assert_eq!(u32::from(NFPROTO_IPV6), sys::NFPROTO_IPV6);
        let [v4, v6] = targets();
        assert_eq!(u32::from(v4.family), sys::NFPROTO_IPV4);
        assert_eq!(u32::from(v6.family), sys::NFPROTO_IPV6);
        for t in [v4, v6] {
            // SAFETY: the pointers are to 'static NUL-terminated literals.
            let (name, version) = unsafe { (CStr::from_ptr(t.name), CStr::from_ptr(t.version)) };
            assert_eq!(name.to_str(), Ok(TARGET_NAME));
            assert_eq!(version.to_bytes_with_nul(), sys::XTABLES_VERSION);
            assert!(t.next.is_null() && t.real_name.is_null());
            assert!(t.x6_parse.is_some() && t.x6_fcheck.is_some());
            assert!(t.print.is_some() && t.save.is_some() && t.help.is_some());
            assert!(t.parse.is_none() && t.final_check.is_none() && t.init.is_none());
            assert_eq!(t.x6_options, OPTIONS.0.as_ptr());
        }
    }

    #[test]
    fn option_table() {
        let [to_source, end] = &OPTIONS.0;
        // SAFETY: 'static literal.
        assert_eq!(unsafe { CStr::from_ptr(to_source.name) }, c"to-source");
        assert_eq!(to_source.type_, sys::XTTYPE_STRING);
        assert_eq!(to_source.id, OPT_TO_SOURCE);
        assert_eq!(to_source.flags & sys::XTOPT_PUT, 0);
        assert!(end.name.is_null());
    }

    #[test]
    fn info_of_reads_behind_the_header() {
        // An entry as iptables builds it: 8-aligned header + info.
        let mut blob = vec![0u64; (ENTRY_HEADER + TARGET_SIZE) / 8];
        let info = crate::parse::parse_to_source("192.0.2.9:53", Family::V4).unwrap();
        let base = blob.as_mut_ptr().cast::<u8>();
        // SAFETY: the blob holds ENTRY_HEADER + TARGET_SIZE bytes, 8-aligned.
        unsafe {
            base.cast::<u16>()
                .write((ENTRY_HEADER + TARGET_SIZE) as u16);
            base.add(ENTRY_HEADER).cast::<SsnatInfo>().write(info);
            assert_eq!(info_of(base.cast()), Some(info));
            base.cast::<u16>()
                .write((ENTRY_HEADER + TARGET_SIZE - 1) as u16);
            assert_eq!(info_of(base.cast()), None);
            assert_eq!(info_of(ptr::null()), None);
        }
    }
}
