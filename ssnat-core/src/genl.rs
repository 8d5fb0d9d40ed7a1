// SPDX-License-Identifier: GPL-2.0
//! The generic netlink ABI of xt_SSNAT's control plane (runtime profiles): the one
//! definition of the family, its commands and attributes, shared by the kernel module
//! and `ssnatctl`.
//!
//! A profile is a named mapping (everything `--to-source` can express) that rules refer
//! to with `-j SSNAT --profile NAME`. Profiles live per network namespace. Replacing a
//! profile is atomic for the packet path: a packet sees the old mapping or the new one.
//!
//! A profile may also hold **entries**, keyed by destination (protocol, address, port),
//! each with a mapping of its own: a packet of a `--profile` rule whose destination has
//! an entry gets the entry's mapping; one without gets the profile's own mapping, or,
//! for a profile created without one ([`attr::FLAGS`] 0: entries only), passes
//! unchanged and is counted `no-entry`. Entry messages carry the profile's
//! [`attr::NAME`], the key ([`attr::PROTO`], [`attr::DST_ADDR`], [`attr::DST_PORT`]) and
//! the mapping as below.
//!
//! Messages carry a mapping as the attributes [`attr::FAMILY`] to [`attr::SEED`], with
//! the meaning of the fields of [`crate::abi::SsnatInfo`] of the same names (addresses
//! in network byte order, 4 or 16 bytes; ports in host byte order as netlink `u16`s).

/// Generic netlink family name.
pub const FAMILY_NAME: &str = "SSNAT";
/// [`FAMILY_NAME`] as a C string, for the kernel.
pub const FAMILY_NAME_C: &core::ffi::CStr = c"SSNAT";
/// Family version.
pub const FAMILY_VERSION: u8 = 1;
/// Multicast group on which every change is announced (the command of the change,
/// with the profile as a dump shows it).
pub const MCGRP_EVENTS: &str = "events";
/// [`MCGRP_EVENTS`] as a C string, for the kernel.
pub const MCGRP_EVENTS_C: &core::ffi::CStr = c"events";

const fn same(a: &str, b: &core::ffi::CStr) -> bool {
    let (a, b) = (a.as_bytes(), b.to_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
const _: () = assert!(same(FAMILY_NAME, FAMILY_NAME_C) && same(MCGRP_EVENTS, MCGRP_EVENTS_C));

/// Commands (`genlmsghdr.cmd`).
pub mod cmd {
    /// Create a profile (fails with `EEXIST` if it exists).
    pub const NEW: u8 = 1;
    /// Replace a profile's mapping (fails with `ENOENT` if it does not exist).
    pub const SET: u8 = 2;
    /// Delete a profile (`EBUSY` while a rule uses it).
    pub const DEL: u8 = 3;
    /// Get one profile by [`super::attr::NAME`], or dump all of the namespace.
    pub const GET: u8 = 4;
    /// Add an entry to profile [`super::attr::NAME`]: packets to [`super::attr::DST_ADDR`]
    /// port [`super::attr::DST_PORT`] of protocol [`super::attr::PROTO`] get the
    /// entry's mapping (`EEXIST` if the entry exists, `ENOSPC` past the module
    /// parameter `max_entries`).
    pub const ENTRY_NEW: u8 = 5;
    /// Replace an entry's mapping (`ENOENT` if it does not exist); its counters stay.
    pub const ENTRY_SET: u8 = 6;
    /// Delete an entry.
    pub const ENTRY_DEL: u8 = 7;
    /// Get one entry, or dump all of profile [`super::attr::NAME`].
    pub const ENTRY_GET: u8 = 8;
    /// Delete every entry of profile [`super::attr::NAME`]; the notification carries
    /// [`super::attr::ENTRIES`], the number deleted.
    pub const ENTRY_FLUSH: u8 = 9;
}

/// Attributes of a profile message.
pub mod attr {
    /// NUL-terminated name, 1 to [`crate::abi::PROFILE_NAME_LEN`] - 1 bytes: letters,
    /// digits, `-`, `_`, `.`.
    pub const NAME: u16 = 1;
    /// `u8`: `NFPROTO_IPV4` or `NFPROTO_IPV6`.
    pub const FAMILY: u16 = 2;
    /// `u16`: `F_MAP_ADDR`, `F_MAP_PORT`, `F_PREFIX` of [`crate::abi`].
    pub const FLAGS: u16 = 3;
    /// Binary, 4 (IPv4) or 16 (IPv6) bytes.
    pub const MIN_ADDR: u16 = 4;
    /// Binary, 4 or 16 bytes.
    pub const MAX_ADDR: u16 = 5;
    /// `u8`.
    pub const PREFIX_LEN: u16 = 6;
    /// `u16`.
    pub const MIN_PORT: u16 = 7;
    /// `u16`.
    pub const MAX_PORT: u16 = 8;
    /// `u32`.
    pub const SEED: u16 = 9;
    /// `u32`, in replies only: the number of rules that use the profile.
    pub const RULES: u16 = 10;
    /// Nested, in replies only: counters summed over the CPUs, one `u64` attribute
    /// each, numbered from 1 in the order of [`super::COUNTERS`].
    pub const STATS: u16 = 11;
    /// Padding for 64-bit attributes.
    pub const PAD: u16 = 12;
    /// `u32`, in replies only: the number of entries of a profile (of a flush: the
    /// number deleted).
    pub const ENTRIES: u16 = 13;
    /// Binary, 4 or 16 bytes (the profile's family): an entry's destination address.
    pub const DST_ADDR: u16 = 14;
    /// `u16`: an entry's destination port (0 for protocols without ports).
    pub const DST_PORT: u16 = 15;
    /// `u8`: an entry's IP protocol.
    pub const PROTO: u16 = 16;
    /// Highest attribute number.
    pub const MAX: u16 = 16;
    /// Names of the attributes (index: attribute number), for messages.
    pub const NAMES: [&str; MAX as usize + 1] = [
        "UNSPEC", "NAME", "FAMILY", "FLAGS", "MIN_ADDR", "MAX_ADDR", "PREFIX_LEN", "MIN_PORT",
        "MAX_PORT", "SEED", "RULES", "STATS", "PAD", "ENTRIES", "DST_ADDR", "DST_PORT", "PROTO",
    ];
}

/// Names of the counters (per rule in `/proc/net/xt_SSNAT`, per profile in
/// [`attr::STATS`]): packets and bytes rewritten, packets conntrack already tracked,
/// then one per skip reason of [`crate::packet::Skip`].
/// (C strings, as the kernel hands them to `seq_printf`.)
pub const COUNTERS: [&core::ffi::CStr; 3 + crate::packet::SKIP_REASONS] = [
    c"packets",
    c"bytes",
    c"tracked",
    c"truncated",
    c"malformed",
    c"header-chain",
    c"no-port",
    c"unchanged",
    c"no-memory",
    c"no-entry",
];
/// Index of the first skip-reason counter in [`COUNTERS`].
pub const COUNTER_SKIP: usize = 3;

/// Names of an entry's counters (in [`attr::STATS`] of an entry, numbered from 1):
/// packets and bytes that found the entry.
pub const ENTRY_COUNTERS: [&core::ffi::CStr; 2] = [c"packets", c"bytes"];

/// Whether `name` is a valid profile name.
pub fn valid_profile_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() < crate::abi::PROFILE_NAME_LEN
        && name.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_skip_reasons() {
        for (i, s) in crate::packet::Skip::ALL.iter().enumerate() {
            assert_eq!(COUNTERS[COUNTER_SKIP + i].to_str().unwrap(), s.name());
        }
    }

    #[test]
    fn attribute_names_follow_numbers() {
        use attr::*;
        let ids = [NAME, FAMILY, FLAGS, MIN_ADDR, MAX_ADDR, PREFIX_LEN, MIN_PORT, MAX_PORT, SEED, RULES, STATS, PAD,
                   ENTRIES, DST_ADDR, DST_PORT, PROTO];
        let names = ["NAME", "FAMILY", "FLAGS", "MIN_ADDR", "MAX_ADDR", "PREFIX_LEN", "MIN_PORT", "MAX_PORT",
                     "SEED", "RULES", "STATS", "PAD", "ENTRIES", "DST_ADDR", "DST_PORT", "PROTO"];
        for (id, name) in ids.iter().zip(names) {
            assert_eq!(NAMES[*id as usize], name);
        }
        assert_eq!(NAMES.len(), MAX as usize + 1);
    }

    #[test]
    fn names() {
        assert!(valid_profile_name(b"moh"));
        assert!(valid_profile_name(b"call-42_a.b"));
        assert!(!valid_profile_name(b""));
        assert!(!valid_profile_name(b"a b"));
        assert!(!valid_profile_name(&[b'a'; 32]));
        assert!(valid_profile_name(&[b'a'; 31]));
    }
}
