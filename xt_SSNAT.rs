// SPDX-License-Identifier: GPL-2.0
//! xt_SSNAT: stateless source NAT as an xtables target.
//!
//! `-j SSNAT --to-source ADDR[-ADDR][:PORT[-PORT]]` (or `PREFIX/LEN`, or `--to-ports`)
//! rewrites the source address and/or port of each packet in place and fixes every
//! checksum, keeping no per-flow state and never calling into conntrack. The packet
//! logic is the pure `ssnat-core` code (compiled in below with `#[path]`, and tested on
//! the host with `cargo test`); this file adapts an sk_buff to it through the safe
//! [`xtables`] abstraction and contains no `unsafe`.

#![allow(non_snake_case)] // the crate is named after the module, `xt_SSNAT`

use kernel::prelude::*;

#[path = "ssnat-core/src/abi.rs"]
pub mod abi;
#[path = "ssnat-core/src/crc32c.rs"]
pub mod crc32c;
#[path = "ssnat-core/src/csum.rs"]
pub mod csum;
#[path = "ssnat-core/src/genl.rs"]
pub mod genl;
#[path = "ssnat-core/src/hash.rs"]
pub mod hash;
#[path = "ssnat-core/src/packet.rs"]
pub mod packet;
pub mod xtables;

use abi::SsnatInfo;
use packet::{Family, Mapping, Skip};
use xtables::{CheckContext, RuleDesc, RuleStats, SkBuff, Verdict};

module! {
    type: SsnatModule,
    name: "xt_SSNAT",
    authors: ["xt_SSNAT developers"],
    description: "Xtables: stateless source NAT (no conntrack)",
    license: "GPL",
    alias: ["ipt_SSNAT", "ip6t_SSNAT"],
}

/// The `SSNAT` target.
struct Ssnat;

/// Indices into [`genl::COUNTERS`], the per-rule counters in `/proc/net/xt_SSNAT`
/// order: packets and bytes rewritten, packets seen already tracked by conntrack, then
/// one per [`Skip`] reason.
mod counter {
    pub(crate) const PACKETS: usize = 0;
    pub(crate) const BYTES: usize = 1;
    pub(crate) const TRACKED: usize = 2;
    pub(crate) const SKIP: usize = super::genl::COUNTER_SKIP;
}

/// Hooks a table may run SSNAT from; the others are refused in checkentry.
fn allowed_hooks(table: &[u8]) -> Option<u32> {
    const PRE: u32 = 1 << 0;
    const IN: u32 = 1 << 1;
    const FWD: u32 = 1 << 2;
    const OUT: u32 = 1 << 3;
    const POST: u32 = 1 << 4;
    match table {
        b"raw" => Some(PRE | OUT),
        b"mangle" => Some(PRE | IN | FWD | OUT | POST),
        b"filter" => Some(IN | FWD | OUT),
        _ => None,
    }
}

impl xtables::Target for Ssnat {
    type Info = SsnatInfo;
    const NAME: &'static CStr = c"SSNAT";
    const REVISION: u8 = abi::TARGET_REVISION;
    const USER_SIZE: usize = abi::USER_SIZE;
    const COUNTERS: &'static [&'static CStr] = &genl::COUNTERS;

    fn private_slot(info: &mut SsnatInfo) -> &mut u64 {
        &mut info.kernel_private
    }

    fn private(info: &SsnatInfo) -> &u64 {
        &info.kernel_private
    }

    fn check(info: &SsnatInfo, ctx: &CheckContext<'_>) -> Result<RuleStats> {
        if let Err(e) = info.validate(ctx.family, ctx.proto) {
            pr_info!("SSNAT: {}\n", e.message());
            return Err(EINVAL);
        }
        match allowed_hooks(ctx.table.to_bytes()) {
            None => {
                pr_info!(
                    "SSNAT: only valid in the raw, mangle and filter tables, not \"{}\"\n",
                    ctx.table
                );
                return Err(EINVAL);
            }
            Some(allowed) if ctx.hook_mask & !allowed != 0 => {
                pr_info!(
                    "SSNAT: not valid from this chain of table \"{}\" (raw: PREROUTING, OUTPUT; filter: INPUT, FORWARD, OUTPUT; mangle: all)\n",
                    ctx.table
                );
                return Err(EINVAL);
            }
            Some(_) => {}
        }
        RuleStats::new(
            ctx.net,
            &RuleDesc {
                table: ctx.table,
                family: ctx.family,
                flags: info.flags,
                min_addr: &info.min_addr,
                max_addr: &info.max_addr,
                prefix_len: info.prefix_len,
                min_port: info.min_port,
                max_port: info.max_port,
                seed: info.seed,
            },
        )
    }

    fn target(skb: &mut SkBuff, info: &SsnatInfo, stats: &RuleStats, _family: u8, _hooknum: u8) -> Verdict {
        if skb.tracked() {
            // Conntrack saw this packet first: its entry keeps the old source. SSNAT
            // still rewrites (it is stateless), and counts it, so users can tell.
            stats.count(counter::TRACKED, 1);
        }
        let len = skb.network_len();
        match rewrite(skb, info, len) {
            Ok(()) => {
                stats.count(counter::PACKETS, 1);
                stats.count(counter::BYTES, len as u64);
            }
            Err(why) => stats.count(counter::SKIP + why as usize, 1),
        }
        // Whatever happens, the packet goes on: SSNAT rewrites or leaves it alone.
        Verdict::Continue
    }
}

/// Rewrites the packet's source as `info` says, or says why not. `pkt_len` is the
/// packet's length from the network header on.
fn rewrite(skb: &mut SkBuff, info: &SsnatInfo, pkt_len: usize) -> core::result::Result<(), Skip> {
    let map = Mapping::from_info(info);
    let min = match map.family {
        Family::V4 => 20,
        Family::V6 => 40,
    };
    if pkt_len < min {
        return Err(Skip::Truncated);
    }
    let csum_start = skb.csum_start();
    let plan = {
        let mut buf = [0u8; packet::MAX_PLAN_LEN];
        let n = pkt_len.min(packet::MAX_PLAN_LEN);
        let head = skb.header(&mut buf[..n]).map_err(|_| Skip::Truncated)?;
        packet::plan(head, pkt_len, &map, csum_start)?
    };
    let done = {
        let bytes = skb
            .writable_network(plan.write_len)
            .map_err(|_| Skip::NoMemory)?;
        packet::apply(bytes, &plan)?
    };
    skb.csum_adjust(done.l3_delta.folded(), done.l4_delta.folded());
    Ok(())
}

struct SsnatModule {
    _reg: xtables::Registration<Ssnat>,
}

impl kernel::Module for SsnatModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let reg = xtables::Registration::<Ssnat>::new()?;
        pr_info!("SSNAT target registered (ABI {})\n", abi::ABI_VERSION);
        Ok(SsnatModule { _reg: reg })
    }
}
