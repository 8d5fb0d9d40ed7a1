//! The built `libxt_SSNAT.so` as iptables uses it.
//!
//! * With the real `iptables-legacy`/`ip6tables-legacy` (root only, skipped otherwise):
//!   the help text, rules the extension must refuse (exit status 2) before anything
//!   reaches the kernel, and good rules it lets through to the kernel (checked with `-C`,
//!   which changes nothing; without the module the kernel then says no, with status 1),
//!   and `iptables-legacy-restore --test` (parse only, no commit) of every saved form.
//!   No rule is added: that needs the kernel module.
//! * Tables, with the real legacy and nft iptables (root only): `-t nat` (and every
//!   table but raw, mangle and filter) refused with the kernel's message before anything
//!   reaches the kernel, in every way a table is given (`--table=nat`, `-tnat`, after
//!   the target, `*nat` in a restore file); raw, mangle and filter let through.
//! * Through libxtables itself, as iptables drives an extension (no root, no kernel):
//!   `xtables_init_all`, dlopen() of the library by `xtables_find_target`, our `parse` of
//!   each option (by `xtables_option_tpcall`) with a rule entry that has a protocol
//!   (`-p`) and, for the table tests, an argument vector, `xtables_option_tfcall` (our
//!   `x6_fcheck`), then `print` and `save`, and the saved options parsed back. This
//!   runs in a child process (this test binary again), since the extension writes to C's
//!   stdout and errors exit the process.

use std::env;
use std::ffi::{c_char, c_int, CStr, CString};
use std::io::Write;
use std::mem::size_of;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::ptr;

use xt_SSNAT::sys;

/// Directory holding the `libxt_SSNAT.so` built with this test: this binary's own
/// directory (`target/debug/deps`), where `cargo test` builds it. The copy in the profile
/// directory above (`target/debug`) is only refreshed by `cargo build`, so it may be
/// stale; it is the fallback.
fn so_dir() -> PathBuf {
    let exe = env::current_exe().expect("path of the test binary");
    let deps = exe.parent().expect("test binary in a directory");
    let dir = [Some(deps), deps.parent()]
        .into_iter()
        .flatten()
        .find(|dir| dir.join("libxt_SSNAT.so").is_file())
        .unwrap_or_else(|| panic!("libxt_SSNAT.so not found near {}", exe.display()));
    dir.to_owned()
}

/// The system's extension directory, from pkg-config.
fn system_xtlibdir() -> Option<String> {
    let out = Command::new("pkg-config")
        .args(["--variable=xtlibdir", "xtables"])
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !dir.is_empty()).then_some(dir)
}

fn is_root() -> bool {
    // Effective uid: the second number of the "Uid:" line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `program` (`iptables-legacy`, `ip6tables-nft-restore`, ...) and the XTABLES_LIBDIR to
/// run it with, or `None` (with a note) when this test cannot run here.
fn runnable(program: &str) -> Option<(PathBuf, String)> {
    if !is_root() {
        eprintln!("note: not root, skipping the {program} test");
        return None;
    }
    let Some(exe) = find_program(program) else {
        eprintln!("note: {program} not installed, skipping");
        return None;
    };
    let Some(system) = system_xtlibdir() else {
        eprintln!("note: pkg-config knows no xtables xtlibdir, skipping the {program} test");
        return None;
    };
    Some((exe, format!("{}:{system}", so_dir().display())))
}

fn run(exe: &Path, libdir: &str, args: &[&str]) -> Output {
    run_with_input(exe, libdir, args, "")
}

/// As [`run`], with `input` on the program's stdin.
fn run_with_input(exe: &Path, libdir: &str, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(exe)
        .args(args)
        .env("XTABLES_LIBDIR", libdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running iptables");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input.as_bytes()).expect("writing stdin");
    drop(stdin);
    let out = child.wait_with_output().expect("waiting for iptables");
    eprintln!(
        "$ XTABLES_LIBDIR={libdir} {} {}\n{input}exit: {:?}\nstdout:\n{}stderr:\n{}",
        exe.display(),
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn iptables_legacy_shows_the_help() {
    for (program, addr) in [
        (
            "iptables-legacy",
            " --to-source {ipaddr[-ipaddr]|prefix/len}[:port[-port]]\n",
        ),
        (
            "ip6tables-legacy",
            " --to-source {[ipv6addr][-[ipv6addr]]|[prefix]/len}:port[-port]\n",
        ),
    ] {
        let Some((exe, libdir)) = runnable(program) else {
            continue;
        };
        let out = run(&exe, &libdir, &["-j", "SSNAT", "-h"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success());
        assert!(
            stdout.contains("SSNAT target options:\n --to-source "),
            "{stdout}"
        );
        assert!(stdout.contains(addr), "{stdout}");
        assert!(stdout.contains("\n --to-ports port[-port]\n"), "{stdout}");
        assert!(stdout.contains("\n --random-seed value\n"), "{stdout}");
        assert!(
            stdout.contains("(default 0: the same on every host)."),
            "{stdout}"
        );
        assert!(
            stdout.contains(
                "\n --profile name\n\t\t\t\tTake the mapping from the runtime profile of that\n\t\t\t\tname (see ssnatctl), instead of the options above.\n"
            ),
            "{stdout}"
        );
    }
}

/// The rows of a table written as text: one a line, columns separated by `|`.
fn table(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| line.split('|').map(str::trim).collect())
}

/// Program | the rule after `-t raw -A OUTPUT` | expected message.
const REFUSED: &str = r#"
    iptables-legacy  | -p udp -j SSNAT --to-source 1.2.3.4:0 | SSNAT: port "0" out of range 1-65535
    iptables-legacy  | -j SSNAT --to-source 1.2.3 | SSNAT: bad address "1.2.3"
    iptables-legacy  | -p udp -j SSNAT | SSNAT: --to-source, --to-ports or --profile is required
    iptables-legacy  | -p udp -j SSNAT --random-seed 7 | SSNAT: --to-source, --to-ports or --profile is required
    iptables-legacy  | -j SSNAT --to-source 10.0.0.9-10.0.0.1 | SSNAT: bad address range 10.0.0.9-10.0.0.1: the first address is above the last
    iptables-legacy  | -p udp -j SSNAT --to-source 10.0.0.1:4000-3000 | SSNAT: bad port range 4000-3000: the first port is above the last
    iptables-legacy  | -p udp -j SSNAT --to-ports 4000-3000 | SSNAT: bad port range 4000-3000: the first port is above the last
    iptables-legacy  | -j SSNAT --to-source 10.1.0.0/33 | SSNAT: bad prefix length "33": 1-32 for IPv4
    iptables-legacy  | -j SSNAT --to-source 10.1.2.0/16 | SSNAT: 10.1.2.0/16 has host bits set; did you mean 10.1.0.0/16?
    iptables-legacy  | -j SSNAT --to-source 1.2.3.4:5 | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp (given before -j SSNAT)
    iptables-legacy  | -j SSNAT --to-source 1.2.3.4:5 -p udp | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp (given before -j SSNAT)
    iptables-legacy  | -p gre -j SSNAT --to-source 1.2.3.4:5 | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp, not protocol 47
    iptables-legacy  | ! -p udp -j SSNAT --to-source 1.2.3.4:5 | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp, not an inverted ! -p
    iptables-legacy  | -p udp -j SSNAT --to-source 1.2.3.4:5 --to-ports 6 | SSNAT: --to-ports and a port in --to-source are exclusive
    iptables-legacy  | -p udp -j SSNAT --to-ports 6 --to-source 1.2.3.4:5 | SSNAT: --to-ports and a port in --to-source are exclusive
    iptables-legacy  | -j SSNAT --to-source 1.2.3.4 --random-seed 0x100000000 | SSNAT: bad --random-seed "0x100000000": a number 0-4294967295, decimal or 0x hex
    ip6tables-legacy | -p udp -j SSNAT --to-source [2001:db8::7]:0 | SSNAT: port "0" out of range 1-65535
    ip6tables-legacy | -j SSNAT --to-source 198.51.100.7 | SSNAT: "198.51.100.7" is an IPv4 address, this is an IPv6 rule (use iptables)
    ip6tables-legacy | -j SSNAT --to-source 2001:db8::/129 | SSNAT: bad prefix length "129": 1-128 for IPv6
    ip6tables-legacy | -j SSNAT --to-source 2001:db8::1-2001:db8:0:1::1 | SSNAT: IPv6 address range 2001:db8::1-2001:db8:0:1::1 is wider than a /64
    ip6tables-legacy | -p udp -j SSNAT --to-source [2001:db8::1]/64:4000 | SSNAT: 2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?
    ip6tables-legacy | ! -p udp -j SSNAT --to-ports 53 | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp, not an inverted ! -p
    ip6tables-legacy | -j SSNAT --to-ports 53 | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp (given before -j SSNAT)
    ip6tables-legacy | -p tcp -j SSNAT --to-source [2001:db8::1]:1 --to-ports 2 | SSNAT: --to-ports and a port in --to-source are exclusive
    iptables-legacy  | -p udp -j SSNAT --profile moh --to-source 1.2.3.4 | SSNAT: --profile cannot be combined with --to-source
    iptables-legacy  | -p udp -j SSNAT --to-source 1.2.3.4:5 --profile moh | SSNAT: --profile cannot be combined with --to-source
    iptables-legacy  | -p udp -j SSNAT --profile moh --to-ports 5 | SSNAT: --profile cannot be combined with --to-ports
    iptables-legacy  | -p udp -j SSNAT --to-ports 5 --profile moh | SSNAT: --profile cannot be combined with --to-ports
    iptables-legacy  | -j SSNAT --profile moh --random-seed 7 | SSNAT: --profile cannot be combined with --random-seed
    iptables-legacy  | -j SSNAT --random-seed 7 --profile moh | SSNAT: --profile cannot be combined with --random-seed
    iptables-legacy  | -j SSNAT --random-seed 0 --profile moh | SSNAT: --profile cannot be combined with --random-seed
    iptables-legacy  | -j SSNAT --profile a/b | SSNAT: bad profile name "a/b": 1-31 letters, digits, '-', '_' or '.'
    iptables-legacy  | -j SSNAT --profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | SSNAT: bad profile name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": 1-31 letters, digits, '-', '_' or '.'
    iptables-legacy  | -j SSNAT --profile moh --profile moh | SSNAT: option "--profile" can only be used once
    iptables-legacy  | -j SSNAT --profile a --profile b | SSNAT: option "--profile" can only be used once
    iptables-legacy  | -j SSNAT ! --profile moh | SSNAT: option "--profile" cannot be inverted
    ip6tables-legacy | -p udp -j SSNAT --profile moh --to-ports 53 | SSNAT: --profile cannot be combined with --to-ports
    ip6tables-legacy | -j SSNAT --to-source 2001:db8::/64 --profile moh | SSNAT: --profile cannot be combined with --to-source
    ip6tables-legacy | -j SSNAT --random-seed 0x1 --profile moh | SSNAT: --profile cannot be combined with --random-seed
    ip6tables-legacy | -j SSNAT --profile moh! | SSNAT: bad profile name "moh!": 1-31 letters, digits, '-', '_' or '.'
    ip6tables-legacy | -j SSNAT --profile x --profile x | SSNAT: option "--profile" can only be used once
    ip6tables-legacy | -j SSNAT ! --profile moh | SSNAT: option "--profile" cannot be inverted
"#;

#[test]
fn iptables_legacy_refuses_bad_rules_before_the_kernel() {
    for row in table(REFUSED) {
        let [program, rule, message] = row[..] else {
            panic!("row {row:?}")
        };
        let Some((exe, libdir)) = runnable(program) else {
            continue;
        };
        let mut args = vec!["-t", "raw", "-A", "OUTPUT"];
        args.extend(rule.split_whitespace());
        let out = run(&exe, &libdir, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

/// Rules the extension accepts, each form once: program | the rule after
/// `-t raw -C OUTPUT`.
const ACCEPTED: &str = r#"
    iptables-legacy  | -j SSNAT --to-source 198.51.100.7
    iptables-legacy  | -p udp -j SSNAT --to-source 198.51.100.7:4000
    iptables-legacy  | -p tcp -j SSNAT --to-source 10.0.0.1-10.0.0.9:4000-4100
    iptables-legacy  | -j SSNAT --to-source 10.1.0.0/16 --random-seed 0x1234
    iptables-legacy  | -p sctp -j SSNAT --to-source 10.1.0.0/16:4000
    iptables-legacy  | -p icmp -j SSNAT --to-ports 4000-4100
    iptables-legacy  | -p udplite -j SSNAT --to-source 192.0.2.1 --to-ports 53
    iptables-legacy  | -p dccp -j SSNAT --to-ports 53 --to-source 192.0.2.1
    iptables-legacy  | -j SSNAT -p udp --to-source 192.0.2.1:53
    ip6tables-legacy | -j SSNAT --to-source 2001:db8::/64
    ip6tables-legacy | -j SSNAT --to-source 2001:db8::1-2001:db8::ff
    ip6tables-legacy | -p udp -j SSNAT --to-source [2001:db8::7]:4000
    ip6tables-legacy | -p udp -j SSNAT --to-source [2001:db8::1]-[2001:db8::ff]:4000-4100
    ip6tables-legacy | -p tcp -j SSNAT --to-source [2001:db8::]/64:4000
    ip6tables-legacy | -p tcp -j SSNAT --to-source [2001:db8::/64]:4000
    ip6tables-legacy | -p ipv6-icmp -j SSNAT --to-ports 1000 --random-seed 9
    iptables-legacy  | -p udp -j SSNAT --profile moh
    iptables-legacy  | -j SSNAT --profile call-42_a.b
    iptables-legacy  | ! -p udp -j SSNAT --profile moh
    ip6tables-legacy | -j SSNAT --profile moh
    ip6tables-legacy | -p tcp -j SSNAT --profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
"#;

#[test]
fn iptables_legacy_passes_good_rules_to_the_kernel() {
    for row in table(ACCEPTED) {
        let [program, rule] = row[..] else {
            panic!("row {row:?}")
        };
        let Some((exe, libdir)) = runnable(program) else {
            continue;
        };
        // -C (check) changes nothing, whether the module is there or not.
        let mut args = vec!["-t", "raw", "-C", "OUTPUT"];
        args.extend(rule.split_whitespace());
        let out = run(&exe, &libdir, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Past the extension, the kernel answers: no such rule, or no such target (no
        // module). Either way status 1, not the 2 of a parameter problem.
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(!stderr.contains("SSNAT:"), "{args:?}: {stderr}");
    }
}

// ---- Through libxtables, in a child process ---------------------------------------

/// Set in the child: `4` or `6`, the family to run as.
const CHILD_FAMILY: &str = "SSNAT_TEST_XTABLES_FAMILY";
/// Set in the child: the rule's protocol, `17` (`-p udp`), `!17` (`! -p udp`) or empty.
const CHILD_PROTO: &str = "SSNAT_TEST_XTABLES_PROTO";
/// Set in the child: the target's options, one `NAME ARG` a line (`to-source 1.2.3.4`).
const CHILD_OPTS: &str = "SSNAT_TEST_XTABLES_OPTS";
/// Set in the child, or not: the words of the command line before `-j SSNAT`, one a line
/// (`-t`, `nat`, `-A`, `POSTROUTING`). When set, the child hands the target an argument
/// vector, as iptables does: those words, `-j SSNAT`, then the options; when not, none
/// (a null `argv`, as a program that parses no command line).
const CHILD_ARGV: &str = "SSNAT_TEST_XTABLES_ARGV";
/// Printed by the child before its results, after libtest's own lines.
const MARK: &str = "==ssnat-xtables==";

extern "C" {
    /// `errx(3)` of `<err.h>`: prints "prog: " and the printf-formatted message to
    /// stderr and exits with `status`. Declared by hand, test-only: it is what
    /// `xtables_globals.exit_err` must be (printf-like, does not return), so the child
    /// uses it as its exit_err.
    fn errx(status: c_int, fmt: *const c_char, ...) -> !;
}

/// `compat_rev` of the child: there is no kernel to ask, every revision is fine.
unsafe extern "C" fn any_revision(_name: *const c_char, _rev: u8, _opt: c_int) -> c_int {
    1
}

/// The rule entry iptables fills while it parses `-p` (before the target's options), for
/// `family`: `struct ipt_entry` or `struct ip6t_entry`, leaked.
fn rule_entry(nfproto: u32, proto: &str) -> *mut std::ffi::c_void {
    let (inverted, number) = match proto.strip_prefix('!') {
        Some(p) => (true, p),
        None => (false, proto),
    };
    let number: u16 = if number.is_empty() {
        0
    } else {
        number.parse().expect("protocol number")
    };
    let invflags = if inverted { sys::XT_INV_PROTO as u8 } else { 0 };
    if nfproto == sys::NFPROTO_IPV6 {
        // SAFETY: plain C data, all-zero is valid (as iptables' zeroed command state).
        let mut e: sys::ip6t_entry = unsafe { std::mem::zeroed() };
        e.ipv6.proto = number;
        e.ipv6.invflags = invflags;
        if number != 0 {
            e.ipv6.flags = sys::IP6T_F_PROTO as u8;
        }
        Box::into_raw(Box::new(e)).cast()
    } else {
        // SAFETY: as above.
        let mut e: sys::ipt_entry = unsafe { std::mem::zeroed() };
        e.ip.proto = number;
        e.ip.invflags = invflags;
        Box::into_raw(Box::new(e)).cast()
    }
}

/// The child: what iptables does for `[!] -p PROTO -j SSNAT OPTIONS...` and then `-L`/`-S`.
#[test]
fn xtables_child() {
    let (Ok(family), Ok(proto), Ok(opts)) = (
        env::var(CHILD_FAMILY),
        env::var(CHILD_PROTO),
        env::var(CHILD_OPTS),
    ) else {
        return; // Not the child: nothing to do in the ordinary test run.
    };
    let nfproto = match family.as_str() {
        "6" => sys::NFPROTO_IPV6,
        _ => sys::NFPROTO_IPV4,
    };
    // SAFETY: `errx` takes (int, const char *, ...); xtables_exittype is an unsigned int
    // enum, passed the same way on every ABI this runs on. Only the type is changed.
    let exit_err: unsafe extern "C" fn(sys::xtables_exittype, *const c_char, ...) -> ! = unsafe {
        std::mem::transmute(errx as unsafe extern "C" fn(c_int, *const c_char, ...) -> !)
    };
    // The long options of iptables that matter here (the target's come from libxtables'
    // merge in iptables, which this child does not do): --table takes an argument.
    // SAFETY: all-zero is the table's end entry.
    let end: sys::option = unsafe { std::mem::zeroed() };
    let long_opts = Vec::leak(vec![
        sys::option {
            name: c"table".as_ptr(),
            has_arg: 1,
            flag: ptr::null_mut(),
            val: c_int::from(b't'),
        },
        end,
    ]);
    let globals = Box::leak(Box::new(sys::xtables_globals {
        option_offset: 0,
        program_name: c"ssnat-test".as_ptr(),
        program_version: c"0".as_ptr(),
        orig_opts: ptr::null_mut(),
        opts: long_opts.as_mut_ptr(),
        exit_err: Some(exit_err),
        compat_rev: Some(any_revision),
    }));
    let opts: Vec<(CString, CString)> = opts
        .lines()
        .map(|line| {
            let (name, arg) = line.split_once(' ').expect("NAME ARG");
            (CString::new(name).unwrap(), CString::new(arg).unwrap())
        })
        .collect();
    // The argument vector: program, the words before -j SSNAT, -j SSNAT, then each
    // option and its argument (whose index is where optarg points for it).
    let command = env::var(CHILD_ARGV).ok();
    let mut words: Vec<CString> = vec![CString::new("ssnat-test").unwrap()];
    for word in command.iter().flat_map(|c| c.lines()) {
        words.push(CString::new(word).unwrap());
    }
    words.extend(["-j", "SSNAT"].map(|w| CString::new(w).unwrap()));
    let mut arg_index = Vec::new();
    for (name, arg) in &opts {
        words.push(CString::new(format!("--{}", name.to_str().unwrap())).unwrap());
        arg_index.push(words.len());
        words.push(arg.clone());
    }
    let words = Vec::leak(words);
    let mut argv: Vec<*mut c_char> = words.iter().map(|w| w.as_ptr().cast_mut()).collect();
    argv.push(ptr::null_mut());
    let argv = Vec::leak(argv);
    let argv_ptr = if command.is_some() {
        argv.as_mut_ptr()
    } else {
        ptr::null_mut()
    };
    let entry = rule_entry(nfproto, &proto);
    // SAFETY: this drives libxtables the way iptables' do_parse() does, on one thread:
    // the globals are leaked (live forever), the target comes from libxtables and stays
    // registered, and the entry blob, the udata and the rule entry are as large as
    // iptables makes them and outlive every use. Callbacks are called with the arguments
    // libxtables' own dispatchers pass.
    unsafe {
        assert_eq!(sys::xtables_init_all(globals, nfproto as u8), 0);
        let t = sys::xtables_find_target(c"SSNAT".as_ptr(), sys::XTF_LOAD_MUST_SUCCEED);
        assert!(!t.is_null());
        let t = &mut *t;

        // xtables' command_jump(): allocate the entry, header + XT_ALIGN'ed info.
        let header = xt_SSNAT::ext::xt_align(size_of::<sys::xt_entry_target>());
        let total = header + t.size;
        let blob: &mut [u64] = Vec::leak(vec![0u64; total.div_ceil(8)]);
        let target = blob.as_mut_ptr().cast::<sys::xt_entry_target>();
        (*target).u.user.target_size = total as u16;
        (*target).u.user.revision = t.revision;
        let name = CStr::from_ptr(t.name).to_bytes();
        for (dst, &src) in (*target).u.user.name.iter_mut().zip(name) {
            *dst = src as c_char;
        }
        t.t = target;
        // ... and xs_init_target(): a zeroed scratch area of udata_size bytes.
        assert!(t.udata_size > 0);
        t.udata = Vec::leak(vec![0u64; t.udata_size.div_ceil(8)])
            .as_mut_ptr()
            .cast();

        // getopt_long() found each option: iptables hands it to the extension, with the
        // rule's entry.
        for ((name, _), &at) in opts.iter().zip(&arg_index) {
            let mut id = None;
            let mut o = t.x6_options;
            while !(*o).name.is_null() {
                if CStr::from_ptr((*o).name) == name.as_c_str() {
                    id = Some((*o).id);
                }
                o = o.add(1);
            }
            let id = id.unwrap_or_else(|| panic!("unknown option {name:?}"));
            // getopt_long() has just read the option and its argument.
            ptr::addr_of_mut!(sys::optarg).write(argv[at]);
            ptr::addr_of_mut!(sys::optind).write((at + 1) as c_int);
            sys::xtables_option_tpcall(t.option_offset + id, argv_ptr, false, t, entry);
        }
        // The final check, by libxtables itself, after getopt has read every word.
        ptr::addr_of_mut!(sys::optind).write(words.len() as c_int);
        sys::xtables_option_tfcall(t);

        sys::printf(c"%s\n".as_ptr(), CString::new(MARK).unwrap().as_ptr());
        (t.print.expect("print"))(entry, target, 0);
        sys::printf(c"\n".as_ptr());
        (t.save.expect("save"))(entry, target);
        sys::printf(c"\n".as_ptr());
        sys::fflush(sys::stdout);
    }
    // Leave before libtest prints its verdict into our output.
    std::process::exit(0);
}

/// The child's outcome for a rule of `family` with protocol `proto` (see [`CHILD_PROTO`])
/// and the target options `opts` (`("to-source", "1.2.3.4")`): `Ok((print, save))` or
/// `Err((exit status, stderr))`.
fn through_libxtables(
    family: u8,
    proto: &str,
    opts: &[(&str, &str)],
) -> Result<(String, String), (Option<i32>, String)> {
    through_libxtables_in(family, proto, None, opts)
}

/// As [`through_libxtables`], with an argument vector when `command` is given: its
/// words (see [`CHILD_ARGV`]), before `-j SSNAT` and the options.
fn through_libxtables_in(
    family: u8,
    proto: &str,
    command: Option<&str>,
    opts: &[(&str, &str)],
) -> Result<(String, String), (Option<i32>, String)> {
    let lines: Vec<String> = opts.iter().map(|(o, a)| format!("{o} {a}")).collect();
    let mut child = Command::new(env::current_exe().unwrap());
    if let Some(command) = command {
        let words: Vec<&str> = command.split_whitespace().collect();
        child.env(CHILD_ARGV, words.join("\n"));
    }
    let out = child
        .args([
            "--exact",
            "xtables_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_FAMILY, family.to_string())
        .env(CHILD_PROTO, proto)
        .env(
            CHILD_OPTS,
            std::ffi::OsStr::from_bytes(lines.join("\n").as_bytes()),
        )
        .env("XTABLES_LIBDIR", so_dir())
        .output()
        .expect("running the child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!(
        "child ipv{family} -p {proto:?} {command:?} {opts:?}: {:?}\n{stdout}{stderr}",
        out.status.code()
    );
    if !out.status.success() {
        return Err((out.status.code(), stderr));
    }
    let results = stdout
        .split_once(&format!("{MARK}\n"))
        .expect("marker in output")
        .1;
    let mut lines = results.lines();
    let print = lines.next().expect("print line").to_owned();
    let save = lines.next().expect("save line").to_owned();
    Ok((print, save))
}

/// The options of a rule (` --to-source X --random-seed Y`, as saved), as `(name, arg)`.
fn options_of(words: &str) -> Vec<(&str, &str)> {
    let words: Vec<&str> = words.split_whitespace().collect();
    words
        .chunks(2)
        .map(|pair| (pair[0].strip_prefix("--").expect("an option"), pair[1]))
        .collect()
}

/// Family | protocol (see [`CHILD_PROTO`], `any` for none) | options | -L (after its
/// leading space) | iptables-save.
const FORMS: &str = r#"
    4 | 17  | --to-source 198.51.100.7:4000 | to:198.51.100.7:4000 | --to-source 198.51.100.7:4000
    4 | any | --to-source 198.51.100.7 | to:198.51.100.7 | --to-source 198.51.100.7
    4 | !17 | --to-source 10.0.0.1-10.0.0.9 | to:10.0.0.1-10.0.0.9 | --to-source 10.0.0.1-10.0.0.9
    4 | 6   | --to-source 10.0.0.1-10.0.0.9:4000-4100 | to:10.0.0.1-10.0.0.9:4000-4100 | --to-source 10.0.0.1-10.0.0.9:4000-4100
    4 | any | --to-source 10.1.0.0/16 | to:10.1.0.0/16 | --to-source 10.1.0.0/16
    4 | 132 | --to-source 10.1.0.0/16:4000-4100 | to:10.1.0.0/16:4000-4100 | --to-source 10.1.0.0/16:4000-4100
    4 | 1   | --to-ports 4000-4100 | ports:4000-4100 | --to-ports 4000-4100
    4 | 136 | --to-source 192.0.2.1 --to-ports 53 | to:192.0.2.1:53 | --to-source 192.0.2.1:53
    4 | 33  | --to-ports 53 --to-source 192.0.2.1 | to:192.0.2.1:53 | --to-source 192.0.2.1:53
    4 | 17  | --to-source 192.0.2.1:53 --random-seed 4660 | to:192.0.2.1:53 random-seed:4660 | --to-source 192.0.2.1:53 --random-seed 4660
    4 | 17  | --to-source 192.0.2.1:53 --random-seed 0x1234 | to:192.0.2.1:53 random-seed:4660 | --to-source 192.0.2.1:53 --random-seed 4660
    4 | any | --to-source 192.0.2.1 --random-seed 7 | to:192.0.2.1 random-seed:7 | --to-source 192.0.2.1 --random-seed 7
    4 | any | --random-seed 0 --to-source 192.0.2.1 | to:192.0.2.1 | --to-source 192.0.2.1
    6 | 17  | --to-source [2001:db8::7]:4000 | to:[2001:db8::7]:4000 | --to-source [2001:db8::7]:4000
    6 | any | --to-source [2001:0db8::0:7] | to:2001:db8::7 | --to-source 2001:db8::7
    6 | any | --to-source 2001:db8::7 | to:2001:db8::7 | --to-source 2001:db8::7
    6 | 17  | --to-source [2001:db8::1]-[2001:db8::ff]:4000-4100 | to:[2001:db8::1]-[2001:db8::ff]:4000-4100 | --to-source [2001:db8::1]-[2001:db8::ff]:4000-4100
    6 | any | --to-source 2001:db8::1-2001:db8::ff | to:2001:db8::1-2001:db8::ff | --to-source 2001:db8::1-2001:db8::ff
    6 | any | --to-source 2001:db8::/64 | to:2001:db8::/64 | --to-source 2001:db8::/64
    6 | 6   | --to-source [2001:db8::]/64:4000 | to:[2001:db8::]/64:4000 | --to-source [2001:db8::]/64:4000
    6 | 6   | --to-source [2001:db8::/64]:4000 | to:[2001:db8::]/64:4000 | --to-source [2001:db8::]/64:4000
    6 | 58  | --to-ports 1000 --random-seed 0xdeadbeef | ports:1000 random-seed:3735928559 | --to-ports 1000 --random-seed 3735928559
    6 | any | --to-source 2001:db8::/64 --random-seed 7 | to:2001:db8::/64 random-seed:7 | --to-source 2001:db8::/64 --random-seed 7
    4 | 17  | --profile moh | profile:moh | --profile moh
    4 | any | --profile call-42_a.b | profile:call-42_a.b | --profile call-42_a.b
    4 | !17 | --profile moh | profile:moh | --profile moh
    6 | any | --profile moh | profile:moh | --profile moh
    6 | 58  | --profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | profile:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | --profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
"#;

fn proto_of(column: &str) -> &str {
    match column {
        "any" => "",
        p => p,
    }
}

/// The `-p` option of a rule for a protocol column of [`FORMS`].
fn proto_option(column: &str) -> String {
    let (invert, number) = match column.strip_prefix('!') {
        Some(n) => ("! ", n),
        None => ("", column),
    };
    let name = match number {
        "any" => return String::new(),
        "1" => "icmp",
        "6" => "tcp",
        "17" => "udp",
        "33" => "dccp",
        "58" => "ipv6-icmp",
        "132" => "sctp",
        "136" => "udplite",
        n => panic!("protocol {n}"),
    };
    format!("{invert}-p {name} ")
}

/// `iptables-legacy-restore --test` (parses and builds the rules, commits nothing) takes
/// every saved form of [`FORMS`], all in one process, as after an `iptables-save`. The
/// kernel is not asked to accept them, so no module is needed.
#[test]
fn iptables_legacy_restore_takes_the_saved_forms() {
    for (family, program) in [
        ("4", "iptables-legacy-restore"),
        ("6", "ip6tables-legacy-restore"),
    ] {
        let Some((exe, libdir)) = runnable(program) else {
            continue;
        };
        let mut input = String::from("*raw\n");
        for row in table(FORMS).filter(|row| row[0] == family) {
            input += &format!("-A OUTPUT {}-j SSNAT {}\n", proto_option(row[1]), row[4]);
        }
        input += "COMMIT\n";
        let out = run_with_input(&exe, &libdir, &["--test"], &input);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{input}{stderr}");
        assert!(!stderr.contains("SSNAT:"), "{stderr}");

        // Each rule starts afresh: the protocol of the one before does not carry over.
        let port = if family == "4" {
            "192.0.2.1:53"
        } else {
            "[2001:db8::1]:53"
        };
        let input = format!(
            "*raw\n-A OUTPUT -p udp -j SSNAT --to-source {port}\n-A OUTPUT -j SSNAT --to-ports 53\nCOMMIT\n"
        );
        let out = run_with_input(&exe, &libdir, &["--test"], &input);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{input}{stderr}");
        assert!(
            stderr.contains(
                "SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp"
            ),
            "{stderr}"
        );
        assert!(stderr.contains("Error occurred at line: 3"), "{stderr}");
    }
}

#[test]
fn print_and_save_through_libxtables() {
    for row in table(FORMS) {
        let [family, proto, opts, print, save] = row[..] else {
            panic!("row {row:?}")
        };
        let (family, proto) = (family.parse().expect("4 or 6"), proto_of(proto));
        let got = through_libxtables(family, proto, &options_of(opts)).expect("accepted");
        assert_eq!(
            got,
            (format!(" {print}"), format!(" {save}")),
            "ipv{family} -p {proto} {opts}"
        );
        // iptables-save | iptables-restore: the saved options give the same rule.
        assert_eq!(
            through_libxtables(family, proto, &options_of(save)),
            Ok(got),
            "ipv{family} -p {proto} {save}"
        );
    }
}

/// Family | protocol | options | expected message.
const REFUSED_IN_PROCESS: &str = r#"
    4 | 17  | --to-source 1.2.3.4:0 | SSNAT: port "0" out of range 1-65535
    4 | 17  | --to-source 1.2.3 | SSNAT: bad address "1.2.3"
    4 | 17  | --to-source 10.0.0.9-10.0.0.1 | SSNAT: bad address range 10.0.0.9-10.0.0.1: the first address is above the last
    4 | 17  | --to-ports 4000-3000 | SSNAT: bad port range 4000-3000: the first port is above the last
    4 | any | --to-source 10.1.0.0/33 | SSNAT: bad prefix length "33": 1-32 for IPv4
    4 | any | --to-source 10.1.2.0/16 | SSNAT: 10.1.2.0/16 has host bits set; did you mean 10.1.0.0/16?
    4 | any | --to-source 1.2.3.4:5 | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp (given before -j SSNAT)
    4 | 47  | --to-source 1.2.3.4:5 | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp, not protocol 47
    4 | !17 | --to-source 1.2.3.4:5 | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp, not an inverted ! -p
    4 | !17 | --to-ports 5 | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp, not an inverted ! -p
    4 | 17  | --to-source 1.2.3.4:5 --to-ports 6 | SSNAT: --to-ports and a port in --to-source are exclusive
    4 | 17  | --random-seed 1 | SSNAT: --to-source, --to-ports or --profile is required
    4 | 17  | --random-seed x | SSNAT: bad --random-seed "x"
    6 | 17  | --to-source [2001:db8::7]:65536 | SSNAT: port "65536" out of range 1-65535
    6 | 17  | --to-source [2001:db8::7 | SSNAT: bad --to-source "[2001:db8::7"
    6 | any | --to-source 2001:db8::/129 | SSNAT: bad prefix length "129": 1-128 for IPv6
    6 | any | --to-source 2001:db8::1-2001:db8:0:1::1 | SSNAT: IPv6 address range 2001:db8::1-2001:db8:0:1::1 is wider than a /64
    6 | any | --to-source 192.0.2.1 | SSNAT: "192.0.2.1" is an IPv4 address, this is an IPv6 rule (use iptables)
    6 | any | --to-ports 53 | SSNAT: a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp (given before -j SSNAT)
    4 | 17  | --profile moh --to-source 1.2.3.4 | SSNAT: --profile cannot be combined with --to-source
    4 | 17  | --to-source 1.2.3.4:5 --profile moh | SSNAT: --profile cannot be combined with --to-source
    4 | 17  | --to-ports 5 --profile moh | SSNAT: --profile cannot be combined with --to-ports
    4 | any | --profile moh --random-seed 0 | SSNAT: --profile cannot be combined with --random-seed
    4 | any | --random-seed 0 --profile moh | SSNAT: --profile cannot be combined with --random-seed
    4 | any | --profile a/b | SSNAT: bad profile name "a/b": 1-31 letters, digits, '-', '_' or '.'
    4 | any | --profile a --profile b | SSNAT: option "--profile" can only be used once
    6 | 17  | --profile moh --to-ports 53 | SSNAT: --profile cannot be combined with --to-ports
    6 | any | --to-source 2001:db8::1 --profile moh | SSNAT: --profile cannot be combined with --to-source
    6 | any | --random-seed 0 --profile moh | SSNAT: --profile cannot be combined with --random-seed
    6 | any | --profile aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | SSNAT: bad profile name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": 1-31 letters, digits, '-', '_' or '.'
"#;

#[test]
fn refused_through_libxtables() {
    for row in table(REFUSED_IN_PROCESS) {
        let [family, proto, opts, message] = row[..] else {
            panic!("row {row:?}")
        };
        let (family, proto) = (family.parse().expect("4 or 6"), proto_of(proto));
        let (status, stderr) =
            through_libxtables(family, proto, &options_of(opts)).expect_err("refused");
        assert_eq!(status, Some(2), "ipv{family} -p {proto} {opts}: {stderr}");
        assert!(
            stderr.contains(message),
            "ipv{family} -p {proto} {opts}: {stderr}"
        );
    }
}

/// Profile names that whitespace-separated tables cannot hold (a space, an empty
/// argument): refused with the name quoted, by the real iptables and through libxtables.
#[test]
fn profile_names_with_spaces_or_empty_are_refused() {
    for name in ["x y", "", " moh"] {
        let message =
            format!("SSNAT: bad profile name \"{name}\": 1-31 letters, digits, '-', '_' or '.'");
        for (family, program) in [(4, "iptables-legacy"), (6, "ip6tables-legacy")] {
            let (status, stderr) =
                through_libxtables(family, "", &[("profile", name)]).expect_err("refused");
            assert_eq!(status, Some(2), "ipv{family} {name:?}: {stderr}");
            assert!(stderr.contains(&message), "ipv{family} {name:?}: {stderr}");

            let Some((exe, libdir)) = runnable(program) else {
                continue;
            };
            let args = [
                "-t",
                "raw",
                "-A",
                "OUTPUT",
                "-j",
                "SSNAT",
                "--profile",
                name,
            ];
            let out = run(&exe, &libdir, &args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains(&message), "{args:?}: {stderr}");
        }
    }
}

// ---- Tables -----------------------------------------------------------------------

/// The message for a rule in `table`: the kernel's (xt_SSNAT.rs), after iptables' own
/// prefix (`iptables v1.8.9 (legacy): `).
fn table_message(table: &str) -> String {
    format!("SSNAT: only valid in the raw, mangle and filter tables, not \"{table}\"")
}

/// Program | the command line | the table it is refused for.
const OTHER_TABLES: &str = r#"
    iptables-legacy  | -t nat -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | nat
    iptables-legacy  | -t nat -A POSTROUTING -p udp -j SSNAT --to-source 1.2.3.4:5 | nat
    iptables-legacy  | -t nat -A POSTROUTING -j SSNAT --to-source 1.2.3.4:5 | nat
    iptables-legacy  | --table=nat -I PREROUTING -j SSNAT --profile moh | nat
    iptables-legacy  | --table nat -C OUTPUT -j SSNAT --profile moh | nat
    iptables-legacy  | --tab nat -D OUTPUT -j SSNAT --profile moh | nat
    iptables-legacy  | -tnat -A OUTPUT -j SSNAT --profile moh | nat
    iptables-legacy  | -vt nat -A INPUT -j SSNAT --profile moh | nat
    iptables-legacy  | -A POSTROUTING -j SSNAT --profile moh -t nat | nat
    iptables-legacy  | -t raw -A OUTPUT -j SSNAT --profile moh -t nat | nat
    iptables-legacy  | -t security -A OUTPUT -j SSNAT --to-source 1.2.3.4 | security
    iptables-legacy  | -t nat -A POSTROUTING -m comment --comment -traw -j SSNAT --profile moh | nat
    ip6tables-legacy | -t nat -A POSTROUTING -j SSNAT --to-source 2001:db8::1 | nat
    ip6tables-legacy | -t security -A INPUT -j SSNAT --profile moh | security
    iptables-nft     | -t nat -A POSTROUTING -j SSNAT --to-source 1.2.3.4 | nat
    iptables-nft     | --table=nat -A POSTROUTING -j SSNAT --profile moh | nat
    iptables-nft     | -A POSTROUTING -j SSNAT --profile moh -t nat | nat
    iptables-nft     | -t security -A OUTPUT -j SSNAT --profile moh | security
    ip6tables-nft    | -t nat -A POSTROUTING -p udp -j SSNAT --to-source [2001:db8::1]:53 | nat
    ip6tables-nft    | -tsecurity -A OUTPUT -j SSNAT --profile moh | security
"#;

/// `iptables -t nat ... -j SSNAT` is refused by the extension, with the kernel's words
/// and status 2, before anything reaches the kernel (which would only say "Invalid
/// argument"), legacy and nft alike, however the table is given.
#[test]
fn iptables_refuses_other_tables_before_the_kernel() {
    for row in table(OTHER_TABLES) {
        let [program, rule, refused] = row[..] else {
            panic!("row {row:?}")
        };
        let Some((exe, libdir)) = runnable(program) else {
            continue;
        };
        let args: Vec<&str> = rule.split_whitespace().collect();
        let out = run(&exe, &libdir, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{program} {rule}: {stderr}");
        assert!(
            stderr.contains(&table_message(refused)),
            "{program} {rule}: {stderr}"
        );
    }
}

/// Rules in raw, mangle and filter (also without `-t`: filter) pass the extension, and a
/// `-t`-like argument of another option is not taken for the table: program | the rule,
/// checked with `-C` (which changes nothing).
const GOOD_TABLES: &str = r#"
    iptables-legacy  | -t raw -C PREROUTING -j SSNAT --profile moh
    iptables-legacy  | -t mangle -C POSTROUTING -j SSNAT --to-source 1.2.3.4
    iptables-legacy  | -t filter -C FORWARD -j SSNAT --profile moh
    iptables-legacy  | -C INPUT -j SSNAT --profile moh
    iptables-legacy  | --table=mangle -C INPUT -j SSNAT --profile moh
    iptables-legacy  | -traw -C OUTPUT -m comment --comment -tnat -j SSNAT --profile moh
    iptables-legacy  | -t raw -C OUTPUT -m comment --comment -t -j SSNAT --profile moh
    ip6tables-legacy | -t mangle -C FORWARD -j SSNAT --to-source 2001:db8::1
    ip6tables-legacy | -C OUTPUT -j SSNAT --profile moh
"#;

#[test]
fn iptables_legacy_passes_raw_mangle_and_filter_rules() {
    for row in table(GOOD_TABLES) {
        let [program, rule] = row[..] else {
            panic!("row {row:?}")
        };
        let Some((exe, libdir)) = runnable(program) else {
            continue;
        };
        let args: Vec<&str> = rule.split_whitespace().collect();
        let out = run(&exe, &libdir, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Past the extension: the kernel's answer, status 1 (see
        // iptables_legacy_passes_good_rules_to_the_kernel).
        assert_eq!(out.status.code(), Some(1), "{program} {rule}: {stderr}");
        assert!(!stderr.contains("SSNAT:"), "{program} {rule}: {stderr}");
    }
}

/// `ip[6]tables-{legacy,nft}-restore --test` (parses and builds, commits nothing): the
/// table is the `*TABLE` line's. raw, mangle and filter pass; a rule under `*nat` or
/// `*security` is refused with the kernel's message and its line.
#[test]
fn iptables_restore_refuses_other_tables() {
    for (program, to) in [
        ("iptables-legacy-restore", "192.0.2.1"),
        ("ip6tables-legacy-restore", "2001:db8::1"),
        ("iptables-nft-restore", "192.0.2.1"),
        ("ip6tables-nft-restore", "2001:db8::1"),
    ] {
        let Some((exe, libdir)) = runnable(program) else {
            continue;
        };
        let good = format!(
            "*raw\n-A PREROUTING -j SSNAT --to-source {to}\nCOMMIT\n\
             *mangle\n-A POSTROUTING -j SSNAT --profile moh\nCOMMIT\n\
             *filter\n-A OUTPUT -j SSNAT --to-source {to}\nCOMMIT\n"
        );
        let out = run_with_input(&exe, &libdir, &["--test"], &good);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{program}: {stderr}");
        assert!(!stderr.contains("SSNAT:"), "{program}: {stderr}");

        for table in ["nat", "security"] {
            let bad = format!(
                "*raw\n-A OUTPUT -j SSNAT --profile moh\nCOMMIT\n\
                 *{table}\n-A OUTPUT -j SSNAT --to-source {to}\nCOMMIT\n"
            );
            let out = run_with_input(&exe, &libdir, &["--test"], &bad);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{program} {table}: {stderr}");
            assert!(
                stderr.contains(&table_message(table)),
                "{program} {table}: {stderr}"
            );
            assert!(
                stderr.contains("Error occurred at line: 5"),
                "{program} {table}: {stderr}"
            );
        }
    }
}

/// Command line before `-j SSNAT` | family | protocol | options | the table refused, or
/// `ok`.
const TABLES_IN_PROCESS: &str = r#"
    -t nat -A POSTROUTING | 4 | any | --to-source 192.0.2.1 | nat
    -t nat -A POSTROUTING | 6 | 17 | --to-source [2001:db8::1]:53 | nat
    --table=nat -A POSTROUTING | 4 | any | --profile moh | nat
    --table nat -A POSTROUTING | 4 | any | --profile moh | nat
    -tsecurity -A OUTPUT | 6 | any | --profile moh | security
    -vt broute -A OUTPUT | 4 | any | --profile moh | broute
    -t raw -t nat -A OUTPUT | 4 | any | --profile moh | nat
    -t nat -A POSTROUTING | 4 | 17 | --to-source 192.0.2.1:53 --random-seed 7 | nat
    -t -A OUTPUT | 4 | any | --profile moh | -A
    -t raw -A OUTPUT | 4 | 17 | --to-source 192.0.2.1:53 | ok
    -t mangle -A POSTROUTING | 6 | any | --to-source 2001:db8::/64 | ok
    -t filter -A INPUT | 4 | any | --profile moh | ok
    -A INPUT | 4 | any | --profile moh | ok
    --table=raw -A OUTPUT | 4 | any | --profile moh | ok
"#;

/// The table check through libxtables, with the argument vector iptables would hand over
/// (the child's own, with the words above).
#[test]
fn tables_through_libxtables() {
    for row in table(TABLES_IN_PROCESS) {
        let [command, family, proto, opts, refused] = row[..] else {
            panic!("row {row:?}")
        };
        let (family, proto) = (family.parse().expect("4 or 6"), proto_of(proto));
        let got = through_libxtables_in(family, proto, Some(command), &options_of(opts));
        if refused == "ok" {
            let got = got.unwrap_or_else(|e| panic!("{command} {opts}: {e:?}"));
            // The same rule as without a command line.
            assert_eq!(
                Ok(got),
                through_libxtables(family, proto, &options_of(opts)),
                "{command} {opts}"
            );
        } else {
            let (status, stderr) = got.expect_err("refused");
            assert_eq!(status, Some(2), "{command} {opts}: {stderr}");
            assert!(
                stderr.contains(&table_message(refused)),
                "{command} {opts}: {stderr}"
            );
        }
    }
}
