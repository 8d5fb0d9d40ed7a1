//! Build script: find libxtables with pkg-config and generate its bindings with bindgen.
//!
//! Nothing host-specific is set here: pkg-config says where `xtables.h` and
//! `libxtables.so` are, and bindgen finds libclang the usual way (`LIBCLANG_PATH`, which
//! the project's scripts export, or the system default).

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-env-changed=LIBCLANG_PATH");

    // Links libxtables (`-lxtables`), like iptables' own extensions, which carry a
    // DT_NEEDED on libxtables.so.12: iptables has it loaded already, so the dlopen()ed
    // library binds to that same copy. It also lets the test binaries link.
    let xtables = pkg_config::Config::new()
        .atleast_version("1.8")
        .probe("xtables")
        .unwrap_or_else(|e| {
            panic!("libxtables not found by pkg-config (install libxtables-dev): {e}")
        });

    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        // The extension's side of libxtables.
        .allowlist_type("xtables_target")
        .allowlist_type("xt_entry_target")
        .allowlist_type("xt_option_entry")
        .allowlist_type("xt_option_call")
        .allowlist_type("xt_fcheck_call")
        .allowlist_type("xtables_globals")
        .allowlist_type("xt_option_type")
        .allowlist_type("xt_option_flags")
        .allowlist_type("xtables_exittype")
        .allowlist_type("xtables_tryload")
        // `XT_ALIGN(s)` is a function-like macro (no binding); its alignment is
        // `__alignof__(struct _xt_align)`, which we take from this struct.
        .allowlist_type("_xt_align")
        // The rule entry behind `xt_option_call.xt_entry`: its protocol (`-p`) decides
        // whether a port may be mapped.
        .allowlist_type("ipt_entry")
        .allowlist_type("ip6t_entry")
        .allowlist_var("XT_INV_PROTO")
        .allowlist_var("IP6T_F_PROTO")
        .allowlist_function("xtables_register_targets")
        .allowlist_function("xtables_register_target")
        .allowlist_function("xtables_option_parse")
        // The old-style parse callback reads the option's argument and the argument
        // vector's end from getopt's globals, and the long options from xt_params->opts.
        .allowlist_type("option")
        .allowlist_var("optarg")
        .allowlist_var("optind")
        // Used by the tests, which drive the dlopen()ed library the way iptables does.
        .allowlist_function("xtables_init_all")
        .allowlist_function("xtables_find_target")
        .allowlist_function("xtables_option_tpcall")
        .allowlist_function("xtables_option_tfcall")
        .allowlist_function("printf")
        .allowlist_function("fflush")
        .allowlist_var("stdout")
        .allowlist_var("xt_params")
        .allowlist_var("XTABLES_VERSION")
        // NFPROTO_* are members of an anonymous enum in <linux/netfilter.h>.
        .allowlist_item("NFPROTO_.*")
        .prepend_enum_name(false)
        .derive_default(true)
        .derive_debug(false);
    for dir in &xtables.include_paths {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
    }
    let bindings = builder
        .generate()
        .unwrap_or_else(|e| panic!("bindgen failed on xtables.h (is libclang installed?): {e}"));

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("xtables.rs"))
        .expect("writing the xtables bindings");
}
