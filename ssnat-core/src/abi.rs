// SPDX-License-Identifier: GPL-2.0
//! The kernel/userspace ABI of the `SSNAT` xtables target: the one definition.
//!
//! `iptables` (through `libxt_SSNAT.so`) fills a [`SsnatInfo`] and hands it to the kernel,
//! which checks it in checkentry with [`SsnatInfo::validate`], the same function the
//! extension runs before it sends the rule. The layout is asserted at compile time below,
//! so the module, the extension and the CLI cannot disagree without failing to build.

/// Target name, as in `-j SSNAT`.
pub const TARGET_NAME: &str = "SSNAT";
/// Target revision registered by the module and asked for by the extension.
pub const TARGET_REVISION: u8 = 0;
/// Version of this ABI, shown by `ssnatctl` and the module.
pub const ABI_VERSION: u32 = 1;

/// Rewrite the source address (`--to-source ADDR...`).
pub const F_MAP_ADDR: u16 = 1 << 0;
/// Rewrite the source port (`--to-source ...:PORT` or `--to-ports`).
pub const F_MAP_PORT: u16 = 1 << 1;
/// The address is a prefix (`min_addr`/`prefix_len`): the network bits are written,
/// the host bits of the packet's address are kept (one-to-one, as NETMAP does).
pub const F_PREFIX: u16 = 1 << 2;
/// The mapping is the named runtime profile in [`SsnatInfo::profile`]
/// (`--profile NAME`, managed with `ssnatctl`); no other flag and no mapping field is
/// set. The profile's port mapping applies to packets that have ports; the others get
/// the address only.
pub const F_PROFILE: u16 = 1 << 3;
/// Flags that describe a mapping (inline in a rule, or in a profile).
pub const F_MAPPING: u16 = F_MAP_ADDR | F_MAP_PORT | F_PREFIX;
/// All flags this revision knows.
pub const F_MASK: u16 = F_MAPPING | F_PROFILE;

/// Protocols whose packets have a port (or, for ICMP echo, an identifier) to rewrite.
pub const PORT_PROTOCOLS: &[u8] = &[1, 6, 17, 33, 58, 132, 136];
/// Default seed of the flow hash (`--random-seed` changes it).
pub const DEFAULT_SEED: u32 = 0;

/// `NFPROTO_IPV4`.
pub const NFPROTO_IPV4: u8 = 2;
/// `NFPROTO_IPV6`.
pub const NFPROTO_IPV6: u8 = 10;

/// Netfilter hook bits, `1 << NF_INET_*`, as in a rule's `hook_mask`.
pub mod hook {
    /// `NF_INET_PRE_ROUTING`.
    pub const PRE_ROUTING: u32 = 1 << 0;
    /// `NF_INET_LOCAL_IN`.
    pub const LOCAL_IN: u32 = 1 << 1;
    /// `NF_INET_FORWARD`.
    pub const FORWARD: u32 = 1 << 2;
    /// `NF_INET_LOCAL_OUT`.
    pub const LOCAL_OUT: u32 = 1 << 3;
    /// `NF_INET_POST_ROUTING`.
    pub const POST_ROUTING: u32 = 1 << 4;
}

/// The tables SSNAT runs in, in the order the messages name them.
pub const TABLES: [&str; 3] = ["raw", "mangle", "filter"];

/// The hooks SSNAT may run from in `table` (bits of [`hook`]), or `None` for a table it
/// is refused in: `raw` PREROUTING and OUTPUT (before conntrack, the place for it),
/// `mangle` all five, `filter` INPUT, FORWARD and OUTPUT. Every other table (`nat`,
/// whose rules only see a connection's first packet; `security`) is refused. The
/// kernel's checkentry and the extension both ask this.
pub const fn allowed_hooks(table: &[u8]) -> Option<u32> {
    use hook::*;
    match table {
        b"raw" => Some(PRE_ROUTING | LOCAL_OUT),
        b"mangle" => Some(PRE_ROUTING | LOCAL_IN | FORWARD | LOCAL_OUT | POST_ROUTING),
        b"filter" => Some(LOCAL_IN | FORWARD | LOCAL_OUT),
        _ => None,
    }
}

/// The message for a rule in another table, before the table's quoted name: the
/// kernel logs `SSNAT: {TABLE_MESSAGE} "nat"`, the extension prints the same.
pub const TABLE_MESSAGE: &str = "only valid in the raw, mangle and filter tables, not";

/// The message for a rule in an allowed table but a chain whose hook is not allowed
/// there (only the kernel knows the hooks), before the table's quoted name.
pub const HOOK_MESSAGE: &str =
    "not valid from this chain (raw: PREROUTING, OUTPUT; filter: INPUT, FORWARD, OUTPUT; mangle: all) of table";

/// Length of [`SsnatInfo::profile`], including the terminating NUL.
pub const PROFILE_NAME_LEN: usize = 32;

/// Target parameters of one `-j SSNAT` rule (`struct xt_ssnat_info`).
///
/// Addresses are in network byte order; an IPv4 address uses the first 4 bytes of the
/// 16 and the rest is zero. Ports are in host byte order, as in `xt_multiport`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SsnatInfo {
    /// `F_*` flags.
    pub flags: u16,
    /// `NFPROTO_IPV4` or `NFPROTO_IPV6`: the family the addresses belong to.
    pub family: u8,
    /// Prefix length when `F_PREFIX` is set (1-32 for IPv4, 1-128 for IPv6), else 0.
    pub prefix_len: u8,
    /// Lowest source port to write (host byte order).
    pub min_port: u16,
    /// Highest source port to write (host byte order); equal to `min_port` for one port.
    pub max_port: u16,
    /// Lowest source address to write; with `F_PREFIX`, the prefix (host bits zero).
    pub min_addr: [u8; 16],
    /// Highest source address to write; equal to `min_addr` for one address; with
    /// `F_PREFIX`, the last address of the prefix.
    pub max_addr: [u8; 16],
    /// Seed of the flow hash that picks inside a range.
    pub seed: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// With [`F_PROFILE`], the profile's name, NUL-terminated and NUL-padded; else
    /// all zero.
    pub profile: [u8; PROFILE_NAME_LEN],
    /// Kernel-private: never read from userspace, not copied back to it (`usersize`).
    pub kernel_private: u64,
}

/// Bytes of [`SsnatInfo`] that userspace owns: what the kernel copies back on a dump.
pub const USER_SIZE: usize = core::mem::offset_of!(SsnatInfo, kernel_private);
/// `XT_ALIGN(sizeof(struct xt_ssnat_info))` on 64-bit: the info blob's exact size.
pub const TARGET_SIZE: usize = core::mem::size_of::<SsnatInfo>();

// Layout: asserted wherever this file is compiled (kernel module, extension, CLI).
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(offset_of!(SsnatInfo, flags) == 0);
    assert!(offset_of!(SsnatInfo, family) == 2);
    assert!(offset_of!(SsnatInfo, prefix_len) == 3);
    assert!(offset_of!(SsnatInfo, min_port) == 4);
    assert!(offset_of!(SsnatInfo, max_port) == 6);
    assert!(offset_of!(SsnatInfo, min_addr) == 8);
    assert!(offset_of!(SsnatInfo, max_addr) == 24);
    assert!(offset_of!(SsnatInfo, seed) == 40);
    assert!(offset_of!(SsnatInfo, reserved) == 44);
    assert!(offset_of!(SsnatInfo, profile) == 48);
    assert!(offset_of!(SsnatInfo, kernel_private) == 80);
    assert!(size_of::<SsnatInfo>() == 88);
    assert!(align_of::<SsnatInfo>() == 8);
    // XT_ALIGN() rounds to 8 on every 64-bit architecture: no tail to pad. (`%`, not
    // `is_multiple_of`: the module builds with rustc 1.85, Debian's 7.3 kernel's.)
    assert!(size_of::<SsnatInfo>() % 8 == 0);
};

/// Why a [`SsnatInfo`] is refused. [`core::fmt::Display`] gives the message both the
/// extension and the kernel print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoError {
    /// Unknown bits in `flags`.
    UnknownFlags,
    /// Neither an address nor a port to write.
    NothingToDo,
    /// `family` is not IPv4 or IPv6, or differs from the rule's family.
    BadFamily,
    /// The address range is reversed, or an IPv4 address has bits past its 4 bytes.
    BadAddrRange,
    /// The port range is reversed, or a port is given as 0.
    BadPortRange,
    /// An IPv6 address range wider than one /64.
    WideRange,
    /// A prefix length out of range, host bits set in the prefix, or a prefix with a
    /// last address that does not match.
    BadPrefix,
    /// A port mapping on a rule that does not name a protocol with ports.
    PortNeedsProtocol,
    /// Reserved fields are not zero.
    Reserved,
    /// A profile name that is empty, too long, not NUL-terminated or with characters
    /// other than letters, digits, `-`, `_` and `.`.
    BadProfileName,
    /// `--profile` together with an inline mapping.
    ProfileAndMapping,
}

impl InfoError {
    /// The message, as the extension and the kernel print it after "SSNAT: ".
    pub fn message(self) -> &'static str {
        // Every message is ASCII: `to_str` cannot fail.
        self.c_message().to_str().unwrap_or("bad rule")
    }

    /// The same message as a C string (the kernel's extended acks take those).
    pub fn c_message(self) -> &'static core::ffi::CStr {
        match self {
            InfoError::UnknownFlags => c"unknown flags (extension newer than module?)",
            InfoError::NothingToDo => c"no address or port to translate to",
            InfoError::BadFamily => c"address family does not match the rule's family",
            InfoError::BadAddrRange => c"bad address range: first address above the last",
            InfoError::BadPortRange => c"bad port range: ports are 1-65535, first not above last",
            InfoError::WideRange => c"IPv6 address range wider than a /64",
            InfoError::BadPrefix => c"bad prefix: length 1-32 (IPv4) or 1-128 (IPv6), no host bits set",
            InfoError::PortNeedsProtocol => {
                c"a port needs -p tcp, udp, udplite, dccp, sctp, icmp or ipv6-icmp"
            }
            InfoError::Reserved => c"reserved fields are not zero",
            InfoError::BadProfileName => c"bad profile name: 1-31 letters, digits, '-', '_' or '.'",
            InfoError::ProfileAndMapping => {
                c"--profile cannot be combined with --to-source or --to-ports"
            }
        }
    }
}

impl core::fmt::Display for InfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl SsnatInfo {
    /// An all-zero info, as `iptables` allocates it.
    pub const fn zeroed() -> Self {
        SsnatInfo {
            flags: 0,
            family: 0,
            prefix_len: 0,
            min_port: 0,
            max_port: 0,
            min_addr: [0; 16],
            max_addr: [0; 16],
            seed: 0,
            reserved: 0,
            profile: [0; PROFILE_NAME_LEN],
            kernel_private: 0,
        }
    }

    /// Length of the address in bytes for `family`.
    pub fn addr_len(&self) -> usize {
        if self.family == NFPROTO_IPV4 {
            4
        } else {
            16
        }
    }

    /// Checks everything userspace controls. `rule_family` is the family of the table the
    /// rule is in (`NFPROTO_IPV4` or `NFPROTO_IPV6`); `rule_proto` the protocol the rule
    /// matches (`-p`), 0 for any or an inverted match. `kernel_private` is not looked at.
    pub fn validate(&self, rule_family: u8, rule_proto: u8) -> Result<(), InfoError> {
        if self.flags & !F_MASK != 0 {
            return Err(InfoError::UnknownFlags);
        }
        if self.flags & F_PROFILE != 0 {
            if self.flags != F_PROFILE {
                return Err(InfoError::ProfileAndMapping);
            }
            if self.family != rule_family {
                return Err(InfoError::BadFamily);
            }
            if self.prefix_len != 0
                || self.min_port != 0
                || self.max_port != 0
                || self.min_addr != [0; 16]
                || self.max_addr != [0; 16]
                || self.seed != 0
            {
                return Err(InfoError::ProfileAndMapping);
            }
            if self.reserved != 0 {
                return Err(InfoError::Reserved);
            }
            return match self.profile_name() {
                Some(_) => Ok(()),
                None => Err(InfoError::BadProfileName),
            };
        }
        if self.profile != [0; PROFILE_NAME_LEN] {
            return Err(InfoError::Reserved);
        }
        self.validate_mapping(rule_family)?;
        if self.flags & F_MAP_PORT != 0 && !PORT_PROTOCOLS.contains(&rule_proto) {
            return Err(InfoError::PortNeedsProtocol);
        }
        Ok(())
    }

    /// The profile name of an [`F_PROFILE`] rule, if it is valid (without its NUL).
    pub fn profile_name(&self) -> Option<&[u8]> {
        let len = self.profile.iter().position(|&c| c == 0)?;
        let (name, pad) = self.profile.split_at(len);
        (crate::genl::valid_profile_name(name) && pad.iter().all(|&c| c == 0)).then_some(name)
    }

    /// Checks the mapping fields alone (flags within [`F_MAPPING`], family, addresses,
    /// ports): what a rule's inline mapping and a profile must both satisfy. A profile's
    /// port mapping needs no protocol: it applies to the packets that have ports.
    pub fn validate_mapping(&self, family: u8) -> Result<(), InfoError> {
        if self.flags & !F_MAPPING != 0 {
            return Err(InfoError::UnknownFlags);
        }
        if self.flags & (F_MAP_ADDR | F_MAP_PORT) == 0 {
            return Err(InfoError::NothingToDo);
        }
        if (self.family != NFPROTO_IPV4 && self.family != NFPROTO_IPV6) || self.family != family {
            return Err(InfoError::BadFamily);
        }
        if self.reserved != 0 {
            return Err(InfoError::Reserved);
        }
        let n = self.addr_len();
        if self.flags & F_MAP_ADDR != 0 {
            if self.min_addr[n..].iter().chain(&self.max_addr[n..]).any(|&b| b != 0) {
                return Err(InfoError::BadAddrRange);
            }
            if self.flags & F_PREFIX != 0 {
                let len = usize::from(self.prefix_len);
                if len == 0 || len > n * 8 {
                    return Err(InfoError::BadPrefix);
                }
                for i in 0..n {
                    let host = host_mask_byte(len, i);
                    if self.min_addr[i] & host != 0 || self.max_addr[i] != self.min_addr[i] | host {
                        return Err(InfoError::BadPrefix);
                    }
                }
            } else {
                if self.prefix_len != 0 {
                    return Err(InfoError::BadPrefix);
                }
                if self.min_addr > self.max_addr {
                    return Err(InfoError::BadAddrRange);
                }
                if n == 16 && self.min_addr[..8] != self.max_addr[..8] {
                    return Err(InfoError::WideRange);
                }
            }
        } else if self.min_addr != [0; 16]
            || self.max_addr != [0; 16]
            || self.prefix_len != 0
            || self.flags & F_PREFIX != 0
        {
            return Err(InfoError::BadAddrRange);
        }
        if self.flags & F_MAP_PORT != 0 {
            if self.min_port == 0 || self.min_port > self.max_port {
                return Err(InfoError::BadPortRange);
            }
        } else if self.min_port != 0 || self.max_port != 0 {
            return Err(InfoError::BadPortRange);
        }
        Ok(())
    }
}

/// The bits of byte `i` of an address that lie past a prefix of `len` bits.
pub fn host_mask_byte(len: usize, i: usize) -> u8 {
    let start = i * 8;
    if len <= start {
        0xff
    } else if len >= start + 8 {
        0
    } else {
        0xff >> (len - start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(addr: [u8; 4], port: Option<u16>) -> SsnatInfo {
        let mut i = SsnatInfo::zeroed();
        i.family = NFPROTO_IPV4;
        i.flags = F_MAP_ADDR;
        i.min_addr[..4].copy_from_slice(&addr);
        i.max_addr = i.min_addr;
        if let Some(p) = port {
            i.flags |= F_MAP_PORT;
            i.min_port = p;
            i.max_port = p;
        }
        i
    }

    #[test]
    fn layout_matches_the_c_view() {
        assert_eq!(TARGET_SIZE, 88);
        assert_eq!(USER_SIZE, 80);
        assert_eq!(core::mem::offset_of!(SsnatInfo, min_addr), 8);
    }

    #[test]
    fn accepts_address_and_port() {
        assert_eq!(v4([198, 51, 100, 7], Some(4000)).validate(NFPROTO_IPV4, 17), Ok(()));
        assert_eq!(v4([198, 51, 100, 7], None).validate(NFPROTO_IPV4, 0), Ok(()));
        let mut i = v4([1, 2, 3, 4], None);
        i.max_addr[3] = 9;
        assert_eq!(i.validate(NFPROTO_IPV4, 0), Ok(()));
    }

    #[test]
    fn prefixes() {
        let mut i = v4([10, 1, 0, 0], None);
        i.flags |= F_PREFIX;
        i.prefix_len = 16;
        i.max_addr[..4].copy_from_slice(&[10, 1, 255, 255]);
        assert_eq!(i.validate(NFPROTO_IPV4, 0), Ok(()));
        let mut j = i;
        j.min_addr[2] = 1; // host bit set
        assert_eq!(j.validate(NFPROTO_IPV4, 0), Err(InfoError::BadPrefix));
        let mut j = i;
        j.prefix_len = 33;
        assert_eq!(j.validate(NFPROTO_IPV4, 0), Err(InfoError::BadPrefix));
        assert_eq!(host_mask_byte(20, 2), 0x0f);
        assert_eq!(host_mask_byte(20, 1), 0);
        assert_eq!(host_mask_byte(20, 3), 0xff);
    }

    #[test]
    fn ipv6_ranges_stay_within_a_64() {
        let mut i = SsnatInfo::zeroed();
        i.family = NFPROTO_IPV6;
        i.flags = F_MAP_ADDR;
        i.min_addr = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        i.max_addr = i.min_addr;
        i.max_addr[15] = 0xff;
        assert_eq!(i.validate(NFPROTO_IPV6, 0), Ok(()));
        i.max_addr[7] = 1;
        assert_eq!(i.validate(NFPROTO_IPV6, 0), Err(InfoError::WideRange));
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(v4([1, 2, 3, 4], None).validate(NFPROTO_IPV6, 0), Err(InfoError::BadFamily));
        assert_eq!(v4([1, 2, 3, 4], Some(5)).validate(NFPROTO_IPV4, 0), Err(InfoError::PortNeedsProtocol));
        assert_eq!(v4([1, 2, 3, 4], Some(5)).validate(NFPROTO_IPV4, 47), Err(InfoError::PortNeedsProtocol));
        let mut i = v4([1, 2, 3, 4], Some(1));
        i.flags |= 0x8000;
        assert_eq!(i.validate(NFPROTO_IPV4, 17), Err(InfoError::UnknownFlags));
        let mut i = v4([1, 2, 3, 4], Some(1));
        i.min_port = 0;
        assert_eq!(i.validate(NFPROTO_IPV4, 17), Err(InfoError::BadPortRange));
        let mut i = v4([1, 2, 3, 4], Some(10));
        i.max_port = 9;
        assert_eq!(i.validate(NFPROTO_IPV4, 17), Err(InfoError::BadPortRange));
        let mut i = v4([1, 2, 3, 4], None);
        i.min_addr[5] = 1;
        assert_eq!(i.validate(NFPROTO_IPV4, 17), Err(InfoError::BadAddrRange));
        let mut i = SsnatInfo::zeroed();
        i.family = NFPROTO_IPV4;
        assert_eq!(i.validate(NFPROTO_IPV4, 17), Err(InfoError::NothingToDo));
        let mut i = v4([1, 2, 3, 9], None);
        i.max_addr[3] = 4;
        assert_eq!(i.validate(NFPROTO_IPV4, 0), Err(InfoError::BadAddrRange));
    }

    fn profile(name: &[u8]) -> SsnatInfo {
        let mut i = SsnatInfo::zeroed();
        i.family = NFPROTO_IPV4;
        i.flags = F_PROFILE;
        i.profile[..name.len()].copy_from_slice(name);
        i
    }

    #[test]
    fn messages_are_ascii() {
        use InfoError::*;
        for e in [UnknownFlags, NothingToDo, BadFamily, BadAddrRange, BadPortRange, WideRange,
                  BadPrefix, PortNeedsProtocol, Reserved, BadProfileName, ProfileAndMapping] {
            assert!(e.c_message().to_str().is_ok_and(|m| m.is_ascii() && m == e.message()));
        }
    }

    #[test]
    fn profiles() {
        assert_eq!(profile(b"moh").validate(NFPROTO_IPV4, 0), Ok(()));
        assert_eq!(profile(b"moh").profile_name(), Some(&b"moh"[..]));
        assert_eq!(profile(b"moh").validate(NFPROTO_IPV6, 0), Err(InfoError::BadFamily));
        assert_eq!(profile(b"").validate(NFPROTO_IPV4, 0), Err(InfoError::BadProfileName));
        assert_eq!(profile(b"a b").validate(NFPROTO_IPV4, 0), Err(InfoError::BadProfileName));
        assert_eq!(profile(&[b'a'; 32]).validate(NFPROTO_IPV4, 0), Err(InfoError::BadProfileName));
        let mut i = profile(b"moh");
        i.profile[5] = b'x'; // garbage after the NUL
        assert_eq!(i.validate(NFPROTO_IPV4, 0), Err(InfoError::BadProfileName));
        let mut i = profile(b"moh");
        i.flags |= F_MAP_ADDR;
        assert_eq!(i.validate(NFPROTO_IPV4, 0), Err(InfoError::ProfileAndMapping));
        let mut i = profile(b"moh");
        i.min_port = 1;
        assert_eq!(i.validate(NFPROTO_IPV4, 0), Err(InfoError::ProfileAndMapping));
        // An inline rule may not carry a name.
        let mut i = v4([1, 2, 3, 4], None);
        i.profile[0] = b'x';
        assert_eq!(i.validate(NFPROTO_IPV4, 0), Err(InfoError::Reserved));
        // A profile's mapping may map ports with no protocol to match.
        assert_eq!(v4([1, 2, 3, 4], Some(5)).validate_mapping(NFPROTO_IPV4), Ok(()));
        let mut i = v4([1, 2, 3, 4], Some(5));
        i.flags |= F_PROFILE;
        assert_eq!(i.validate_mapping(NFPROTO_IPV4), Err(InfoError::UnknownFlags));
    }
}
