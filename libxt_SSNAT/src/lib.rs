//! `libxt_SSNAT.so`: the iptables/ip6tables extension of the `SSNAT` target.
//!
//! iptables dlopen()s `$XTABLES_LIBDIR/libxt_SSNAT.so` the first time a rule names
//! `-j SSNAT`; the library's constructor registers one target per family with libxtables
//! ([`ext`]). From then on iptables calls back for each option (`--to-source`,
//! `--to-ports`, `--random-seed`, or `--profile`: parsed by [`ssnat_spec`]), the final
//! check (the kernel's own [`ssnat_core::abi::SsnatInfo::validate`], with the rule's
//! `-p`, and the kernel's rule on tables: raw, mangle or filter, read from the command
//! line by [`cmdline`]), `-L` and `iptables-save`. With `--profile NAME` the rule takes its mapping from
//! the runtime profile NAME (managed with `ssnatctl`), which the kernel must have when
//! the rule is added.
//!
//! ```text
//! iptables  -t raw -A OUTPUT -p udp -j SSNAT --to-source 198.51.100.7:4000
//! iptables  -t raw -A OUTPUT -p tcp -j SSNAT --to-source 10.1.0.0/16:4000-4100
//! iptables  -t raw -A OUTPUT -p udp -j SSNAT --to-ports 4000 --random-seed 4660
//! iptables  -t raw -A OUTPUT -p udp -j SSNAT --profile moh
//! ip6tables -t raw -A OUTPUT -p udp -j SSNAT --to-source [2001:db8::7]:4000
//! ip6tables -t raw -A OUTPUT        -j SSNAT --to-source 2001:db8::/64
//! ```
//!
//! Install by copying `target/release/libxt_SSNAT.so` into the directory
//! `pkg-config --variable=xtlibdir xtables` names, or point iptables at another directory
//! with `XTABLES_LIBDIR=DIR:SYSTEM_XTLIBDIR` (the variable replaces the default list).
//!
//! The crate is also an rlib, so that tests link the same code; outside iptables the
//! constructor does nothing.
// The library must be called libxt_SSNAT.so, hence the crate name xt_SSNAT.
#![allow(non_snake_case)]
#![warn(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]

pub mod cmdline;
pub mod ext;
pub mod sys;
