// SPDX-License-Identifier: GPL-2.0
//! Whether the target is registered with xtables: `/proc/net/ip_tables_targets` and
//! `/proc/net/ip6_tables_targets` list the registered target names, one a line. They exist
//! only while the legacy `ip_tables`/`ip6_tables` code is loaded; without them the answer
//! is "unknown" (`None`), not "no".

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::module::read_attr;
use crate::rules::Family;

/// `<proc>/net/ip_tables_targets` or `<proc>/net/ip6_tables_targets`.
pub fn targets_file(proc_root: &Path, family: Family) -> PathBuf {
    let name = match family {
        Family::Ipv4 => "ip_tables_targets",
        Family::Ipv6 => "ip6_tables_targets",
    };
    proc_root.join("net").join(name)
}

/// Whether `target` is one of the lines of a `*_tables_targets` file.
pub fn lists_target(targets: &str, target: &str) -> bool {
    targets.lines().any(|l| l.trim() == target)
}

/// Whether `target` is registered for `family`: `None` when the kernel has no list.
pub fn registered(proc_root: &Path, family: Family, target: &str) -> Result<Option<bool>, Error> {
    Ok(read_attr(&targets_file(proc_root, family))?.map(|list| lists_target(&list, target)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGETS: &str = "NFQUEUE\nNFQUEUE\nDNAT\nSNAT\nSSNAT\nERROR\nSSNATX\n";

    #[test]
    fn finds_exact_names_only() {
        assert!(lists_target(TARGETS, "SSNAT"));
        assert!(lists_target(TARGETS, "SNAT"));
        assert!(!lists_target(TARGETS, "SSNA"));
        assert!(!lists_target("SSNATX\nXSSNAT\nssnat\n", "SSNAT"));
        assert!(!lists_target("", "SSNAT"));
    }

    #[test]
    fn reads_both_families_from_a_fake_proc() {
        let root = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            registered(root.path(), Family::Ipv4, "SSNAT").expect("read"),
            None
        );
        std::fs::create_dir(root.path().join("net")).expect("mkdir");
        std::fs::write(targets_file(root.path(), Family::Ipv4), TARGETS).expect("write");
        std::fs::write(targets_file(root.path(), Family::Ipv6), "DNAT\nSNAT\n").expect("write");
        assert_eq!(
            registered(root.path(), Family::Ipv4, "SSNAT").expect("read"),
            Some(true)
        );
        assert_eq!(
            registered(root.path(), Family::Ipv6, "SSNAT").expect("read"),
            Some(false)
        );
        assert!(targets_file(root.path(), Family::Ipv6).ends_with("net/ip6_tables_targets"));
    }
}
