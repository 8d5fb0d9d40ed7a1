//! The built `libxt_SSNAT.so` as iptables uses it.
//!
//! * With the real `iptables-legacy`/`ip6tables-legacy` (root only, skipped otherwise):
//!   the help text, and rules the extension must refuse (exit status 2) before anything
//!   reaches the kernel. No valid rule is added: that needs the kernel module.
//! * Through libxtables itself, as iptables drives an extension (no root, no kernel):
//!   `xtables_init_all`, dlopen() of the library by `xtables_find_target`, `x6_parse`,
//!   `xtables_option_tfcall` (our `x6_fcheck`), then `print` and `save`, and the saved form
//!   parsed back. This runs in a child process (this test binary again), since the
//!   extension writes to C's stdout and errors exit the process.

use std::env;
use std::ffi::{c_char, c_int, CStr, CString};
use std::mem::size_of;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::ptr;

use xt_SSNAT::sys;

/// Directory holding the `libxt_SSNAT.so` built with this test: the target directory's
/// profile directory (`target/debug`), which is the parent of this binary's `deps/`.
fn so_dir() -> PathBuf {
    let exe = env::current_exe().expect("path of the test binary");
    let deps = exe.parent().expect("test binary in a directory");
    let dir = [deps.parent(), Some(deps)]
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

/// `program` and the XTABLES_LIBDIR to run it with, or `None` (with a note) when this
/// test cannot run here.
fn legacy(program: &str) -> Option<(PathBuf, String)> {
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
    let out = Command::new(exe)
        .args(args)
        .env("XTABLES_LIBDIR", libdir)
        .output()
        .expect("running iptables");
    eprintln!(
        "$ XTABLES_LIBDIR={libdir} {} {}\nexit: {:?}\nstdout:\n{}stderr:\n{}",
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
        ("iptables-legacy", "[ipaddr"),
        ("ip6tables-legacy", "[ipv6addr]"),
    ] {
        let Some((exe, libdir)) = legacy(program) else {
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
        assert!(stdout.contains("source of each packet, without connection tracking."));
    }
}

/// Each case: program, --to-source argument (None: left out), expected message.
const REFUSED: &[(&str, Option<&str>, &str)] = &[
    (
        "iptables-legacy",
        Some("1.2.3.4:0"),
        "SSNAT: port \"0\" out of range 1-65535",
    ),
    (
        "iptables-legacy",
        Some("1.2.3"),
        "SSNAT: bad address \"1.2.3\"",
    ),
    ("iptables-legacy", None, "SSNAT: --to-source is required"),
    (
        "iptables-legacy",
        Some("1.2.3.4-1.2.3.9"),
        "SSNAT: address and port ranges are not supported yet",
    ),
    (
        "ip6tables-legacy",
        Some("[2001:db8::7]:0"),
        "SSNAT: port \"0\" out of range 1-65535",
    ),
    (
        "ip6tables-legacy",
        Some("198.51.100.7"),
        "SSNAT: \"198.51.100.7\" is an IPv4 address, this is an IPv6 rule (use iptables)",
    ),
];

#[test]
fn iptables_legacy_refuses_bad_rules_before_the_kernel() {
    for &(program, to_source, message) in REFUSED {
        let Some((exe, libdir)) = legacy(program) else {
            continue;
        };
        let mut args = vec!["-t", "raw", "-A", "OUTPUT", "-j", "SSNAT"];
        args.extend(to_source.iter().flat_map(|a| ["--to-source", a]));
        let out = run(&exe, &libdir, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

// ---- Through libxtables, in a child process ---------------------------------------

/// Set in the child: `4` or `6`, the family to run as.
const CHILD_FAMILY: &str = "SSNAT_TEST_XTABLES_FAMILY";
/// Set in the child: the `--to-source` argument.
const CHILD_ARG: &str = "SSNAT_TEST_XTABLES_ARG";
/// Printed by the child before its results, after libtest's own lines.
const MARK: &str = "==ssnat-xtables==";

extern "C" {
    /// `errx(3)` of `<err.h>`: prints "prog: " and the printf-formatted message to
    /// stderr and exits with `status`. Declared by hand, test-only: it is what
    /// `xtables_globals.exit_err` must be (printf-like, does not return), so the child
    /// uses it as its exit_err.
    fn errx(status: c_int, fmt: *const c_char, ...) -> !;
    /// getopt(3)'s argument of the current option, `<getopt.h>`/`<unistd.h>`; declared by
    /// hand, test-only: libxtables' option dispatch reads the argument from it.
    static mut optarg: *mut c_char;
}

/// `compat_rev` of the child: there is no kernel to ask, every revision is fine.
unsafe extern "C" fn any_revision(_name: *const c_char, _rev: u8, _opt: c_int) -> c_int {
    1
}

/// The child: what iptables does for `-j SSNAT --to-source ARG` and then `-L`/`-S`.
#[test]
fn xtables_child() {
    let (Ok(family), Ok(arg)) = (env::var(CHILD_FAMILY), env::var(CHILD_ARG)) else {
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
    let globals = Box::leak(Box::new(sys::xtables_globals {
        option_offset: 0,
        program_name: c"ssnat-test".as_ptr(),
        program_version: c"0".as_ptr(),
        orig_opts: ptr::null_mut(),
        opts: ptr::null_mut(),
        exit_err: Some(exit_err),
        compat_rev: Some(any_revision),
    }));
    let arg = CString::new(arg).expect("no NUL in the argument");
    // SAFETY: this drives libxtables the way iptables' do_parse() does, on one thread:
    // the globals are leaked (live forever), the target comes from libxtables and stays
    // registered, and the entry blob is as large as iptables makes it and outlives every
    // use. Callbacks are called with the arguments libxtables' own dispatchers pass.
    unsafe {
        assert_eq!(sys::xtables_init_all(globals, nfproto as u8), 0);
        let t = sys::xtables_find_target(c"SSNAT".as_ptr(), sys::XTF_LOAD_MUST_SUCCEED);
        assert!(!t.is_null());
        let t = &mut *t;

        // xtables' command parser: allocate the entry, header + XT_ALIGN'ed info.
        let header = xt_SSNAT::ext::xt_align(size_of::<sys::xt_entry_target>());
        let total = header + t.size;
        let blob: &mut [u64] = Vec::leak(vec![0u64; total.div_ceil(8)]);
        let entry = blob.as_mut_ptr().cast::<sys::xt_entry_target>();
        (*entry).u.user.target_size = total as u16;
        (*entry).u.user.revision = t.revision;
        let name = CStr::from_ptr(t.name).to_bytes();
        for (dst, &src) in (*entry).u.user.name.iter_mut().zip(name) {
            *dst = src as c_char;
        }
        t.t = entry;

        // getopt_long() found --to-source: iptables hands it to the extension.
        optarg = arg.as_ptr().cast_mut();
        let c = t.option_offset + xt_SSNAT::ext::OPT_TO_SOURCE;
        sys::xtables_option_tpcall(c, ptr::null_mut(), false, t, ptr::null_mut());
        // The final check, by libxtables itself.
        sys::xtables_option_tfcall(t);

        sys::printf(c"%s\n".as_ptr(), CString::new(MARK).unwrap().as_ptr());
        (t.print.expect("print"))(ptr::null(), entry, 0);
        sys::printf(c"\n".as_ptr());
        (t.save.expect("save"))(ptr::null(), entry);
        sys::printf(c"\n".as_ptr());
        sys::fflush(sys::stdout);
    }
    // Leave before libtest prints its verdict into our output.
    std::process::exit(0);
}

/// The child's outcome: `Ok((print, save))` or `Err((exit status, stderr))`.
fn through_libxtables(family: u8, arg: &str) -> Result<(String, String), (Option<i32>, String)> {
    let out = Command::new(env::current_exe().unwrap())
        .args([
            "--exact",
            "xtables_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_FAMILY, family.to_string())
        .env(CHILD_ARG, std::ffi::OsStr::from_bytes(arg.as_bytes()))
        .env("XTABLES_LIBDIR", so_dir())
        .output()
        .expect("running the child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!(
        "child ipv{family} {arg:?}: {:?}\n{stdout}{stderr}",
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

#[test]
fn print_and_save_through_libxtables() {
    let cases = [
        (
            4,
            "198.51.100.7:4000",
            " to:198.51.100.7:4000",
            " --to-source 198.51.100.7:4000",
        ),
        (
            4,
            "198.51.100.7",
            " to:198.51.100.7",
            " --to-source 198.51.100.7",
        ),
        (
            6,
            "[2001:db8::7]:4000",
            " to:[2001:db8::7]:4000",
            " --to-source [2001:db8::7]:4000",
        ),
        (
            6,
            "[2001:0db8::0:7]",
            " to:2001:db8::7",
            " --to-source 2001:db8::7",
        ),
        (
            6,
            "2001:db8::7",
            " to:2001:db8::7",
            " --to-source 2001:db8::7",
        ),
    ];
    for (family, arg, print, save) in cases {
        let got = through_libxtables(family, arg).expect("accepted");
        assert_eq!(
            got,
            (print.to_owned(), save.to_owned()),
            "ipv{family} {arg}"
        );
        // iptables-save | iptables-restore: the saved argument gives the same rule.
        let saved_arg = save.strip_prefix(" --to-source ").unwrap();
        assert_eq!(
            through_libxtables(family, saved_arg),
            Ok(got),
            "ipv{family} {saved_arg}"
        );
    }
}

#[test]
fn refused_through_libxtables() {
    let cases = [
        (4, "1.2.3.4:0", "SSNAT: port \"0\" out of range 1-65535"),
        (4, "1.2.3", "SSNAT: bad address \"1.2.3\""),
        (
            4,
            "1.2.3.4:1000-2000",
            "SSNAT: address and port ranges are not supported yet",
        ),
        (
            6,
            "[2001:db8::7]:65536",
            "SSNAT: port \"65536\" out of range 1-65535",
        ),
        (6, "[2001:db8::7", "SSNAT: bad --to-source \"[2001:db8::7\""),
    ];
    for (family, arg, message) in cases {
        let (status, stderr) = through_libxtables(family, arg).expect_err("refused");
        assert_eq!(status, Some(2), "ipv{family} {arg}: {stderr}");
        assert!(stderr.contains(message), "ipv{family} {arg}: {stderr}");
    }
}
