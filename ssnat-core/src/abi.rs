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
/// All flags this revision knows.
pub const F_MASK: u16 = F_MAP_ADDR | F_MAP_PORT;

/// `NFPROTO_IPV4`.
pub const NFPROTO_IPV4: u8 = 2;
/// `NFPROTO_IPV6`.
pub const NFPROTO_IPV6: u8 = 10;

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
    /// Reserved for prefix mappings; zero in revision 0.
    pub prefix_len: u8,
    /// Lowest source port to write (host byte order).
    pub min_port: u16,
    /// Highest source port to write (host byte order); equal to `min_port` for one port.
    pub max_port: u16,
    /// Lowest source address to write.
    pub min_addr: [u8; 16],
    /// Highest source address to write; equal to `min_addr` for one address.
    pub max_addr: [u8; 16],
    /// Seed of the flow hash that picks inside a range.
    pub seed: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Reserved for named profiles (NUL-padded); empty in revision 0.
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
    // XT_ALIGN() rounds to 8 on every 64-bit architecture: no tail to pad.
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
    /// Ranges, prefixes and profiles are not supported by this revision yet.
    Unsupported,
    /// Reserved fields are not zero.
    Reserved,
}

impl core::fmt::Display for InfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            InfoError::UnknownFlags => "unknown flags (extension newer than module?)",
            InfoError::NothingToDo => "no address or port to translate to",
            InfoError::BadFamily => "address family does not match the rule's family",
            InfoError::BadAddrRange => "bad address range: first address above the last",
            InfoError::BadPortRange => "bad port range: ports are 1-65535, first not above last",
            InfoError::Unsupported => "address and port ranges are not supported yet",
            InfoError::Reserved => "reserved fields are not zero",
        })
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
    /// rule is in (`NFPROTO_IPV4` or `NFPROTO_IPV6`). `kernel_private` is not looked at.
    pub fn validate(&self, rule_family: u8) -> Result<(), InfoError> {
        if self.flags & !F_MASK != 0 {
            return Err(InfoError::UnknownFlags);
        }
        if self.flags & (F_MAP_ADDR | F_MAP_PORT) == 0 {
            return Err(InfoError::NothingToDo);
        }
        if (self.family != NFPROTO_IPV4 && self.family != NFPROTO_IPV6)
            || self.family != rule_family
        {
            return Err(InfoError::BadFamily);
        }
        if self.reserved != 0 || self.prefix_len != 0 || self.profile[0] != 0 {
            return Err(InfoError::Reserved);
        }
        if self.flags & F_MAP_ADDR != 0 {
            let n = self.addr_len();
            if self.min_addr[n..].iter().chain(&self.max_addr[n..]).any(|&b| b != 0)
                || self.min_addr > self.max_addr
            {
                return Err(InfoError::BadAddrRange);
            }
            if self.min_addr != self.max_addr {
                return Err(InfoError::Unsupported);
            }
        } else if self.min_addr != [0; 16] || self.max_addr != [0; 16] {
            return Err(InfoError::BadAddrRange);
        }
        if self.flags & F_MAP_PORT != 0 {
            if self.min_port == 0 || self.min_port > self.max_port {
                return Err(InfoError::BadPortRange);
            }
            if self.min_port != self.max_port {
                return Err(InfoError::Unsupported);
            }
        } else if self.min_port != 0 || self.max_port != 0 {
            return Err(InfoError::BadPortRange);
        }
        Ok(())
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
        assert_eq!(v4([198, 51, 100, 7], Some(4000)).validate(NFPROTO_IPV4), Ok(()));
        assert_eq!(v4([198, 51, 100, 7], None).validate(NFPROTO_IPV4), Ok(()));
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(v4([1, 2, 3, 4], None).validate(NFPROTO_IPV6), Err(InfoError::BadFamily));
        let mut i = v4([1, 2, 3, 4], Some(1));
        i.flags |= 0x8000;
        assert_eq!(i.validate(NFPROTO_IPV4), Err(InfoError::UnknownFlags));
        let mut i = v4([1, 2, 3, 4], Some(1));
        i.min_port = 0;
        assert_eq!(i.validate(NFPROTO_IPV4), Err(InfoError::BadPortRange));
        let mut i = v4([1, 2, 3, 4], Some(10));
        i.max_port = 9;
        assert_eq!(i.validate(NFPROTO_IPV4), Err(InfoError::BadPortRange));
        let mut i = v4([1, 2, 3, 4], None);
        i.min_addr[5] = 1;
        assert_eq!(i.validate(NFPROTO_IPV4), Err(InfoError::BadAddrRange));
        let mut i = SsnatInfo::zeroed();
        i.family = NFPROTO_IPV4;
        assert_eq!(i.validate(NFPROTO_IPV4), Err(InfoError::NothingToDo));
        let mut i = v4([1, 2, 3, 4], None);
        i.max_addr[3] = 9;
        assert_eq!(i.validate(NFPROTO_IPV4), Err(InfoError::Unsupported));
    }
}
