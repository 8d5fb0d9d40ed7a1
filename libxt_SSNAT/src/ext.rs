//! The extension proper: the two `struct xtables_target`s (IPv4 and IPv6), their
//! callbacks, and the constructor that registers them when iptables dlopen()s
//! `libxt_SSNAT.so`.
//!
//! This is the C side of iptables' `extensions/libxt_*.c` in Rust: the callbacks only
//! convert between C and [`ssnat_spec`], where the logic is. Errors go through
//! libxtables' `xt_params->exit_err`, which prints `iptables v1.8.9 (legacy): SSNAT: ...`
//! and exits (status 2 for `PARAMETER_PROBLEM`), before anything reaches the kernel.
//!
//! Options come in through the old-style `parse` callback, not `x6_parse`: libxtables
//! calls `parse` when a target has no `x6_parse`, and hands it the argument vector
//! iptables parses, which `x6_parse` does not get. `parse` makes the very call
//! `xtables_option_tpcall` would have made to an `x6_parse` (libxtables'
//! `xtables_option_parse` first, for its "only once" and "cannot be inverted" checks), so
//! the options, `x6_options` and `x6_fcheck` work as in any x6 extension.
//!
//! The final check needs what `x6_fcheck` is not given: the rule's protocol (`-p`), in
//! the rule entry that `parse` sees (as `libxt_NAT` reads it), and the table, which no
//! callback is told (neither `struct xt_option_call` nor `struct xt_fcheck_call` has it)
//! but which the argument vector gives (`-t nat`; [`crate::cmdline`]). So `parse` records
//! both in the target's `udata` scratch area, which iptables allocates zeroed for every
//! `-j SSNAT` (`xs_init_target`), and `x6_fcheck` refuses a table the kernel refuses,
//! with the kernel's message, and hands the protocol to the same `validate()` the kernel
//! runs. Like `SNAT`'s, the check sees a `-p` given before the target's options only; the
//! table is read from the whole command line, wherever `-t` is.
//!
//! No `xlate` (iptables-translate to nftables): nftables has no stateless-NAT statement
//! that means the same for every protocol, so none is offered.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::mem::size_of;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use ssnat_core::abi::{SsnatInfo, TARGET_NAME, TARGET_REVISION, USER_SIZE};
use ssnat_spec::{
    apply_option, check_table, final_check, print_text, save_text, Family, Opt, RuleProto,
};

use crate::cmdline::{table_arg, HasArg, LongOpt};
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

/// One entry of the option table: an option whose string argument our `x6_parse`
/// parses (not `XTOPT_PUT`), given at most once (libxtables refuses a repeat), never
/// inverted (no `XTOPT_INVERT`: libxtables refuses a `!`).
///
/// None is `XTOPT_MAND`: a rule needs `--to-source`, `--to-ports` or `--profile`, which
/// our `x6_fcheck` checks (libxtables cannot say "one of"). None has an `excl` mask
/// either: `--profile` and the mapping options exclude each other, but libxtables' own
/// message for that would not say why, so [`ssnat_spec`] refuses the mix (in
/// `x6_parse`, and in `x6_fcheck` for what the info does not show).
// The update is needless with libxtables 1.8.9's struct, not with 1.8.11's.
#[allow(clippy::needless_update)]
const fn option(name: &'static CStr, opt: Opt) -> sys::xt_option_entry {
    sys::xt_option_entry {
        name: name.as_ptr(),
        type_: sys::XTTYPE_STRING,
        id: opt.id(),
        excl: 0,
        also: 0,
        flags: 0,
        ptroff: 0,
        size: 0,
        min: 0,
        max: 0,
        // Fields newer libxtables have (1.8.11: `base`) zero, as C's designated
        // initialisers leave them: the extension builds against either.
        // SAFETY: xt_option_entry is plain data (pointers and integers), for which
        // all-zero bytes are valid.
        ..unsafe { std::mem::zeroed() }
    }
}

/// The option table of both targets (`x6_options`), in [`Opt`] id order, ended by an
/// all-zero entry (`XTOPT_TABLEEND`).
static OPTIONS: OptionTable = OptionTable([
    option(c"to-source", Opt::ToSource),
    option(c"to-ports", Opt::ToPorts),
    option(c"random-seed", Opt::RandomSeed),
    option(c"profile", Opt::Profile),
    // SAFETY: xt_option_entry is plain data (pointers and integers), for which all-zero
    // bytes are valid: a null name, which is what marks the end of the table.
    unsafe { std::mem::zeroed() },
]);

/// `[xt_option_entry; 5]` (one per [`Opt`] and the end) made shareable between threads.
struct OptionTable([sys::xt_option_entry; Opt::ALL.len() + 1]);

// SAFETY: the table is never written after compilation, and its only pointers lead to
// string literals, which are immutable 'static data.
unsafe impl Sync for OptionTable {}

/// The per-rule scratch area (`udata`, `udata_size` bytes, zeroed by iptables for each
/// `-j SSNAT`): what `parse` saw and `x6_fcheck` is not given, the rule's protocol (from
/// the rule's entry) and the argument vector (which gives the table).
///
/// Plain integers, so that any content is a valid value.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Scratch {
    /// `-p`: the protocol number, 0 for none.
    proto: u8,
    /// Non-zero for `! -p`.
    inverted: u8,
    /// The address of the argument vector iptables is parsing (a `char **`), 0 when not
    /// known. The vector lives until the rule's parse ends (with `x6_fcheck`); the
    /// scratch area is zeroed again for the next rule's `-j SSNAT`.
    argv: usize,
}

impl Scratch {
    fn rule_proto(self) -> RuleProto {
        RuleProto {
            proto: self.proto,
            inverted: self.inverted != 0,
        }
    }
}

/// `iptables -j SSNAT -h`.
pub const HELP_V4: &CStr = c"SSNAT target options:
 --to-source {ipaddr[-ipaddr]|prefix/len}[:port[-port]]
\t\t\t\tAddress, address range or prefix and optional port
\t\t\t\t(range) to write into the source of each packet,
\t\t\t\twithout connection tracking. A prefix maps one to
\t\t\t\tone, keeping the host bits (10.1.0.0/16).
 --to-ports port[-port]
\t\t\t\tPort (range) to write; the address is kept.
\t\t\t\tPorts need -p tcp, udp, udplite, dccp, sctp or icmp.
 --random-seed value
\t\t\t\tSeed of the flow hash that picks inside ranges
\t\t\t\t(default 0: the same on every host).
 --profile name
\t\t\t\tTake the mapping from the runtime profile of that
\t\t\t\tname (see ssnatctl), instead of the options above.
";

/// `ip6tables -j SSNAT -h`.
pub const HELP_V6: &CStr = c"SSNAT target options:
 --to-source {ipv6addr[-ipv6addr]|prefix/len}
 --to-source {[ipv6addr][-[ipv6addr]]|[prefix]/len}:port[-port]
\t\t\t\tAddress, address range (within a /64) or prefix and
\t\t\t\toptional port (range) to write into the source of each
\t\t\t\tpacket, without connection tracking. A prefix maps
\t\t\t\tone to one, keeping the host bits (2001:db8::/64).
\t\t\t\tWith a port, the brackets are literal:
\t\t\t\t[2001:db8::7]:4000, [2001:db8::]/64:4000.
 --to-ports port[-port]
\t\t\t\tPort (range) to write; the address is kept.
\t\t\t\tPorts need -p tcp, udp, udplite, dccp, sctp or
\t\t\t\tipv6-icmp.
 --random-seed value
\t\t\t\tSeed of the flow hash that picks inside ranges
\t\t\t\t(default 0: the same on every host).
 --profile name
\t\t\t\tTake the mapping from the runtime profile of that
\t\t\t\tname (see ssnatctl), instead of the options above.
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
        // The old-style parse, for the argument vector (see the module's docs), with the
        // x6 option table and final check.
        parse: Some(parse::<V6>),
        x6_fcheck: Some(x6_fcheck::<V6>),
        x6_options: OPTIONS.0.as_ptr(),
        udata_size: size_of::<Scratch>(),
        // Everything else zero/NULL, as in a C designated initializer: no real_name,
        // ext_flags, init (iptables hands us zeroed data), x6_parse (it would be called
        // instead of parse), final_check (x6_fcheck is), xlate.
        ..Default::default()
    }
}

/// The two targets as registered with libxtables (IPv4, IPv6), once the constructor has
/// run; null before (and outside iptables). libxtables hands callbacks these very
/// structs (`&t->t` to `parse`), never copies.
static REGISTERED: AtomicPtr<sys::xtables_target> = AtomicPtr::new(ptr::null_mut());

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
        REGISTERED.store(targets.as_mut_ptr(), Ordering::Release);
        // SAFETY: two initialized targets in writable memory that is never freed or
        // moved; their strings and option table are 'static.
        unsafe { sys::xtables_register_targets(targets.as_mut_ptr(), targets.len() as u32) };
    });
}

/// `help`: the usage text shown by `iptables -j SSNAT -h`.
extern "C" fn help<const V6: bool>() {
    guarded(|| c_print(if V6 { HELP_V6 } else { HELP_V4 }));
}

/// The registered target of family `V6` whose entry pointer `target` points to (the
/// `&t->t` libxtables passes to `parse`), or `None` if it is not one of ours.
fn registered<const V6: bool>(
    target: *mut *mut sys::xt_entry_target,
) -> Option<*mut sys::xtables_target> {
    let base = REGISTERED.load(Ordering::Acquire);
    if base.is_null() {
        return None;
    }
    // SAFETY: `base` is the leaked array of two targets (register()), which lives forever;
    // index 0 or 1 stays inside it.
    let t = unsafe { base.add(usize::from(V6)) };
    // SAFETY: only the address of a field is formed, no reference.
    ptr::eq(unsafe { ptr::addr_of_mut!((*t).t) }, target).then_some(t)
}

/// `parse`, the old-style option callback: one option (id `c`, argument in getopt's
/// `optarg`), handled as libxtables' `xtables_option_tpcall` would hand it to an
/// `x6_parse` ([`parse_option`]); the argument vector kept in the scratch area for
/// `x6_fcheck`. Returns 1: the option was ours.
///
/// # Safety
/// As libxtables' `xtables_option_tpcall` calls it: `c` is the option's id in our table,
/// `argv` null or the NULL-terminated argument vector being parsed, `flags` the target's
/// `tflags`, `entry` null or the rule's entry (a `struct ipt_entry` for IPv4, a
/// `struct ip6t_entry` for IPv6), `target` points to the entry pointer of the target being
/// parsed (`&t->t`), whose entry holds the info after an `XT_ALIGN`ed header; getopt's
/// `optarg` is the option's argument.
unsafe extern "C" fn parse<const V6: bool>(
    c: c_int,
    argv: *mut *mut c_char,
    invert: c_int,
    flags: *mut c_uint,
    entry: *const c_void,
    target: *mut *mut sys::xt_entry_target,
) -> c_int {
    guarded(|| {
        let Ok(id) = u32::try_from(c) else {
            exit_error(
                sys::OTHER_PROBLEM,
                &format!("Extension does not know id {c}"),
            );
        };
        // Our table, up to its all-zero end.
        let Some(option) = OPTIONS
            .0
            .iter()
            .take_while(|o| !o.name.is_null())
            .find(|o| o.id == id)
        else {
            exit_error(
                sys::OTHER_PROBLEM,
                &format!("Extension does not know id {id}"),
            );
        };
        // SAFETY: `target` is null or points to the entry pointer (contract).
        if target.is_null() || unsafe { (*target).is_null() } {
            exit_error(
                sys::OTHER_PROBLEM,
                &format!("{TARGET_NAME}: internal error: no target entry"),
            );
        }
        let t = registered::<V6>(target);
        // SAFETY: a registered target lives forever; its udata is null or the scratch
        // area iptables allocated for this rule (xs_init_target), which the call owns.
        let udata = t.map_or(ptr::null_mut(), |t| unsafe { (*t).udata });
        // The call xtables_option_tpcall() makes to an x6_parse.
        let mut cb = sys::xt_option_call {
            // SAFETY: a plain read of getopt's global (this process parses on one thread).
            arg: unsafe { ptr::addr_of!(sys::optarg).read() },
            ext_name: NAME.as_ptr(),
            entry: option,
            // SAFETY: `target` points to the entry pointer (contract); the info is the
            // entry's flexible `data`, after the header.
            data: unsafe { ptr::addr_of_mut!((**target).data).cast() },
            // SAFETY: `flags` is the target's tflags (contract).
            xflags: unsafe { *flags },
            invert: invert != 0,
            xt_entry: entry.cast_mut(),
            udata,
            ..Default::default()
        };
        cb.__bindgen_anon_1.target = target;
        // SAFETY: `cb` is a complete call as libxtables makes it, from the caller's
        // contract.
        unsafe { parse_option::<V6>(&mut cb) };
        // SAFETY: as the read above.
        unsafe { *flags = cb.xflags };
        if !udata.is_null() {
            let scratch = udata.cast::<Scratch>();
            // SAFETY: non-null udata is our udata_size = size_of::<Scratch>() bytes,
            // which parse_option may just have written; unaligned, to assume nothing.
            unsafe {
                let mut s = scratch.read_unaligned();
                s.argv = argv as usize;
                scratch.write_unaligned(s);
            }
        }
    });
    1
}

/// What an `x6_parse` would do: one option into the info; and the rule's protocol into
/// the scratch area.
///
/// # Safety
/// `cb` is a call as libxtables' `xtables_option_tpcall` prepares it: valid, with `entry`
/// from our table, `arg` the option's argument, `data` the target's info, `udata` null
/// or our `udata_size` bytes, and `xt_entry` null or the rule's entry (a
/// `struct ipt_entry` for IPv4, a `struct ip6t_entry` for IPv6).
unsafe fn parse_option<const V6: bool>(cb: *mut sys::xt_option_call) {
    // SAFETY: `cb` is valid (caller's contract). This is libxtables' generic part, as
    // every x6 extension calls it: refuses a repeated option or a "!" and records the
    // option in cb->xflags.
    unsafe { sys::xtables_option_parse(cb) };
    // SAFETY: valid, and ours alone for the duration of the callback.
    let cb = unsafe { &mut *cb };
    // SAFETY: `xt_entry` is null or the rule's entry of our family (contract).
    let proto = unsafe { rule_proto::<V6>(cb.xt_entry) };
    if !cb.udata.is_null() {
        // Recorded at every option, so the last one, which knows the most of the
        // rule, is what x6_fcheck sees.
        let scratch = cb.udata.cast::<Scratch>();
        // SAFETY: non-null udata is our udata_size = size_of::<Scratch>() bytes, any
        // content valid; unaligned, to assume nothing.
        unsafe {
            let mut s = scratch.read_unaligned();
            s.proto = proto.proto;
            s.inverted = proto.inverted.into();
            scratch.write_unaligned(s);
        }
    }
    // SAFETY: `entry` points into OPTIONS, which lives forever.
    let id = unsafe { (*cb.entry).id };
    let (Some(opt), false) = (Opt::from_id(id), cb.arg.is_null()) else {
        return;
    };
    // SAFETY: `arg` is a NUL-terminated argv string (checked non-null above).
    let arg = unsafe { CStr::from_ptr(cb.arg) }.to_string_lossy();
    let data = cb.data.cast::<SsnatInfo>();
    // SAFETY: `data` is the info blob of `size` = XT_ALIGN(sizeof info) bytes that
    // iptables allocated (zeroed) for this target and that earlier options of the
    // rule filled; unaligned read and write, to assume nothing.
    let mut info = unsafe { data.read_unaligned() };
    match apply_option(&mut info, opt, &arg, family(V6)) {
        // SAFETY: as the read above.
        Ok(()) => unsafe { data.write_unaligned(info) },
        Err(e) => exit_error(sys::PARAMETER_PROBLEM, &format!("{TARGET_NAME}: {e}")),
    }
}

/// The protocol the rule matches, from its entry as iptables fills it while it parses
/// the command line (so a `-p` given after `-j SSNAT`'s options is not there yet).
///
/// Only the protocol number and the `XT_INV_PROTO` inversion flag are read, for both
/// families. `IP6T_F_PROTO`, which the kernel also looks at for IPv6, is not: some
/// iptables versions set it only after the options are parsed, and it is set whenever
/// `-p` gives a protocol, the one case where the number is not 0.
///
/// # Safety
/// `entry` is null or points to a readable `struct ipt_entry` (IPv4) or
/// `struct ip6t_entry` (IPv6).
unsafe fn rule_proto<const V6: bool>(entry: *const c_void) -> RuleProto {
    if entry.is_null() {
        // No entry (a program that drives extensions without rules): no protocol known.
        return RuleProto::default();
    }
    let (proto, invflags) = if V6 {
        let e = entry.cast::<sys::ip6t_entry>();
        // SAFETY: an ip6t_entry for IPv6 (contract); plain field reads through raw
        // pointers, without forming references to the C struct.
        unsafe { ((*e).ipv6.proto, (*e).ipv6.invflags) }
    } else {
        let e = entry.cast::<sys::ipt_entry>();
        // SAFETY: an ipt_entry for IPv4 (contract); as above.
        unsafe { ((*e).ip.proto, (*e).ip.invflags) }
    };
    RuleProto {
        // The entry holds a u16 for IPv6; protocol numbers are one byte.
        proto: u8::try_from(proto).unwrap_or(0),
        inverted: u32::from(invflags) & sys::XT_INV_PROTO != 0,
    }
}

/// `x6_fcheck`: the rule's final check: the table (from the argument vector `parse`
/// recorded), then the same `validate()` the kernel will run, with the rule's protocol
/// recorded by `parse`.
///
/// # Safety
/// `cb` is the call `xtables_option_tfcall` prepared: valid, `data` the target's info,
/// `udata` null or our `udata_size` bytes; a non-zero `argv` in it is the argument vector
/// iptables is parsing, whose first `optind` words are valid (or up to a NULL).
unsafe extern "C" fn x6_fcheck<const V6: bool>(cb: *mut sys::xt_fcheck_call) {
    guarded(|| {
        // SAFETY: valid for the callback (caller's contract); only read.
        let cb = unsafe { &*cb };
        // SAFETY: `data` is the target's info blob, at least size_of::<SsnatInfo>() bytes.
        let info = unsafe { cb.data.cast::<SsnatInfo>().read_unaligned() };
        let scratch = if cb.udata.is_null() {
            Scratch::default()
        } else {
            // SAFETY: non-null udata is our udata_size bytes, zeroed or written by
            // x6_parse; any bytes are a valid Scratch.
            unsafe { cb.udata.cast::<Scratch>().read_unaligned() }
        };
        // SAFETY: a non-zero argv is the vector being parsed (contract).
        if let Some(table) = unsafe { table_of_command(scratch.argv as *const *const c_char) } {
            if let Err(e) = check_table(&table) {
                exit_error(sys::PARAMETER_PROBLEM, &format!("{TARGET_NAME}: {e}"));
            }
        }
        if let Err(msg) = final_check(cb.xflags, &info, family(V6), scratch.rule_proto()) {
            exit_error(sys::PARAMETER_PROBLEM, &format!("{TARGET_NAME}: {msg}"));
        }
    });
}

/// The table the command line being parsed gives (`filter` when it has no `-t`), read
/// from `argv` as iptables' getopt_long() reads it ([`table_arg`], with iptables' long
/// options from `xt_params->opts`); `None` when `argv` is null (a program that drives the
/// extension without a command line) or empty.
///
/// Only the words getopt has seen are read: `argv[1..optind]`, which at the final check
/// is the whole command line (iptables calls it after its getopt loop), stopping early
/// at a NULL.
///
/// # Safety
/// `argv` is null or a NULL-terminated argument vector whose words before the NULL (or
/// the first `optind`) are valid C strings; `xt_params->opts` is null or a `struct
/// option` table ended by an entry with a null name.
unsafe fn table_of_command(argv: *const *const c_char) -> Option<Vec<u8>> {
    if argv.is_null() {
        return None;
    }
    // SAFETY: a plain read of getopt's global.
    let end = usize::try_from(unsafe { ptr::addr_of!(sys::optind).read() }).unwrap_or(0);
    let mut words: Vec<&[u8]> = Vec::new();
    for i in 0..end {
        // SAFETY: within the vector: before its NULL and its first optind words
        // (contract); each word is a C string.
        let word = unsafe { *argv.add(i) };
        if word.is_null() {
            break;
        }
        // SAFETY: as above.
        words.push(unsafe { CStr::from_ptr(word) }.to_bytes());
    }
    if words.is_empty() {
        return None;
    }
    let mut long = Vec::new();
    let params = params();
    let mut opt: *const sys::option = if params.is_null() {
        ptr::null()
    } else {
        // SAFETY: non-null `xt_params` points to the program's live `xtables_globals`.
        unsafe { (*params).opts }
    };
    // SAFETY: a table ended by a null name (contract); names are C strings.
    while !opt.is_null() && unsafe { !(*opt).name.is_null() } {
        // SAFETY: as above.
        let o = unsafe { &*opt };
        long.push(LongOpt {
            // SAFETY: as above.
            name: unsafe { CStr::from_ptr(o.name) }.to_bytes(),
            has_arg: HasArg::from_c(o.has_arg),
            flag: o.flag as usize,
            val: o.val,
        });
        // SAFETY: not past the end entry.
        opt = unsafe { opt.add(1) };
    }
    let table = table_arg(&words, &long).unwrap_or(b"filter");
    Some(table.to_vec())
}

/// `print`: the target's part of an `iptables -L` line: ` profile:NAME` for a rule that
/// takes its mapping from a runtime profile; else ` to:ADDR[:PORT]`, ` ports:PORT` for a
/// port alone, then ` random-seed:N` (decimal) when not the default.
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
            Some(info) => print_text(&info, family(V6)),
            None => " (truncated)".to_owned(),
        };
        c_print_str(&text);
    });
}

/// `save`: the target's options as `iptables-save` writes them (` --to-source ADDR:PORT`,
/// ` --to-ports PORT`, ` --random-seed N` in decimal, or ` --profile NAME`), which
/// `iptables-restore` parses back to the same info.
///
/// # Safety
/// As [`print`].
unsafe extern "C" fn save<const V6: bool>(_ip: *const c_void, target: *const sys::xt_entry_target) {
    guarded(|| {
        // SAFETY: forwarded from the caller's contract.
        if let Some(info) = unsafe { info_of(target) } {
            c_print_str(&save_text(&info, family(V6)));
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
            // The old-style parse (it gets the argument vector), the x6 final check.
            assert!(t.parse.is_some() && t.x6_fcheck.is_some());
            assert!(t.print.is_some() && t.save.is_some() && t.help.is_some());
            assert!(t.x6_parse.is_none() && t.final_check.is_none() && t.init.is_none());
            assert_eq!(t.x6_options, OPTIONS.0.as_ptr());
        }
    }

    #[test]
    fn option_table() {
        let [table @ .., end] = &OPTIONS.0;
        assert_eq!(table.len(), Opt::ALL.len());
        for (entry, opt) in table.iter().zip(Opt::ALL) {
            // SAFETY: 'static literal.
            let name = unsafe { CStr::from_ptr(entry.name) };
            assert_eq!(name.to_str(), Ok(opt.name()));
            assert_eq!(entry.type_, sys::XTTYPE_STRING);
            assert_eq!(entry.id, opt.id());
            assert_eq!(entry.flags, 0, "{name:?}: not PUT, MAND, MULTI or INVERT");
        }
        assert!(end.name.is_null());
    }

    #[test]
    fn udata_holds_the_scratch() {
        for t in targets() {
            assert_eq!(t.udata_size, size_of::<Scratch>());
            assert!(t.udata.is_null());
        }
        // Zeroed udata: no protocol.
        assert_eq!(Scratch::default().rule_proto(), RuleProto::default());
        let s = Scratch {
            proto: 17,
            inverted: 1,
            argv: 0,
        };
        assert_eq!(
            s.rule_proto(),
            RuleProto {
                proto: 17,
                inverted: true
            }
        );
        // Zeroed udata: no argument vector, so no table to check.
        assert_eq!(Scratch::default().argv, 0);
        // SAFETY: a null vector is allowed.
        assert_eq!(unsafe { table_of_command(ptr::null()) }, None);
    }

    #[test]
    fn table_of_command_reads_the_words_getopt_saw() {
        let words: Vec<CString> = ["iptables", "-A", "OUTPUT", "-t", "nat", "-j", "SSNAT"]
            .map(|w| CString::new(w).unwrap())
            .to_vec();
        let mut argv: Vec<*const c_char> = words.iter().map(|w| w.as_ptr()).collect();
        argv.push(ptr::null());
        let table = |optind: c_int| {
            // SAFETY: only this test writes optind; the vector is NULL-terminated and its
            // words live until the end of the test. xt_params is null here: no long
            // options.
            unsafe {
                ptr::addr_of_mut!(sys::optind).write(optind);
                table_of_command(argv.as_ptr())
            }
        };
        // All seen (at the final check, optind is the word count).
        assert_eq!(table(7), Some(b"nat".to_vec()));
        // Only the words getopt has seen: "-t nat" not yet, so filter.
        assert_eq!(table(3), Some(b"filter".to_vec()));
        assert_eq!(table(4), Some(b"filter".to_vec()));
        // Past the end: stops at the NULL.
        assert_eq!(table(100), Some(b"nat".to_vec()));
        // Nothing seen.
        assert_eq!(table(0), None);
        assert_eq!(table(-1), None);
        // SAFETY: as above.
        unsafe { ptr::addr_of_mut!(sys::optind).write(1) };
    }

    #[test]
    fn rule_proto_reads_the_entry() {
        // SAFETY: all-zero entries are valid (integers and arrays); the pointers are to
        // live entries of the right family.
        unsafe {
            let mut e4: sys::ipt_entry = std::mem::zeroed();
            let mut e6: sys::ip6t_entry = std::mem::zeroed();
            let p4 = |e: &sys::ipt_entry| rule_proto::<false>(ptr::from_ref(e).cast());
            let p6 = |e: &sys::ip6t_entry| rule_proto::<true>(ptr::from_ref(e).cast());
            assert_eq!(p4(&e4), RuleProto::default());
            assert_eq!(p6(&e6), RuleProto::default());
            e4.ip.proto = 17;
            e6.ipv6.proto = 6;
            e6.ipv6.flags = sys::IP6T_F_PROTO as u8;
            assert_eq!(
                p4(&e4),
                RuleProto {
                    proto: 17,
                    inverted: false
                }
            );
            assert_eq!(
                p6(&e6),
                RuleProto {
                    proto: 6,
                    inverted: false
                }
            );
            e4.ip.invflags = sys::XT_INV_PROTO as u8;
            e6.ipv6.invflags = sys::XT_INV_PROTO as u8;
            assert_eq!(
                p4(&e4),
                RuleProto {
                    proto: 17,
                    inverted: true
                }
            );
            assert_eq!(
                p6(&e6),
                RuleProto {
                    proto: 6,
                    inverted: true
                }
            );
            assert_eq!(rule_proto::<false>(ptr::null()), RuleProto::default());
            assert_eq!(rule_proto::<true>(ptr::null()), RuleProto::default());
        }
    }

    #[test]
    fn help_texts() {
        for help in [HELP_V4, HELP_V6] {
            let help = help.to_str().unwrap();
            assert!(help.starts_with("SSNAT target options:\n --to-source "));
            for opt in Opt::ALL {
                assert!(help.contains(&format!("\n --{} ", opt.name())), "{opt:?}");
            }
            assert!(help.contains("(default 0: the same on every host)."));
            assert!(help.contains(
                "\n --profile name\n\t\t\t\tTake the mapping from the runtime profile of that\n\t\t\t\tname (see ssnatctl), instead of the options above.\n"
            ));
            // Netfilter style: an option line, or an explanation indented by four tabs.
            for line in help.lines().skip(1) {
                assert!(
                    line.starts_with(" --") || line.starts_with("\t\t\t\t"),
                    "{line:?}"
                );
            }
        }
    }

    #[test]
    fn info_of_reads_behind_the_header() {
        // An entry as iptables builds it: 8-aligned header + info.
        let mut blob = vec![0u64; (ENTRY_HEADER + TARGET_SIZE) / 8];
        let mut info = SsnatInfo::zeroed();
        apply_option(&mut info, Opt::ToSource, "192.0.2.9:53", Family::V4).unwrap();
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
