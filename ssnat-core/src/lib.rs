//! Pure logic of xt_SSNAT, shared by the kernel module and the userspace tools.
//!
//! Nothing here knows about the kernel: [`abi`] is the one definition of the target-info
//! blob that iptables hands to the kernel, [`csum`] is RFC 1071/1624 checksum arithmetic
//! and [`packet`] rewrites a packet held in a byte slice. The kernel module compiles these
//! same files into `xt_SSNAT.ko` with `#[path]` (see `xt_SSNAT.rs`); here they form a
//! `no_std` crate that `cargo test` checks on the host.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod abi;
pub mod crc32c;
pub mod csum;
pub mod genl;
pub mod hash;
pub mod packet;
