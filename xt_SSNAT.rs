// SPDX-License-Identifier: GPL-2.0
//! xt_SSNAT: stateless source NAT as an xtables target.
//!
//! `-j SSNAT --to-source ADDR[:PORT]` rewrites the source address and/or port of each
//! packet in place and fixes every checksum, keeping no per-flow state and never
//! calling into conntrack. The packet logic is the pure `ssnat-core` code (compiled
//! in below with `#[path]`, and unit-tested on the host with `cargo test`); this file
//! adapts an sk_buff to it through the safe [`xtables`] abstraction.

#![allow(non_snake_case)] // the crate is named after the module, `xt_SSNAT`

use kernel::prelude::*;

#[path = "ssnat-core/src/abi.rs"]
pub mod abi;
#[path = "ssnat-core/src/csum.rs"]
pub mod csum;
#[path = "ssnat-core/src/packet.rs"]
pub mod packet;
pub mod xtables;

use abi::SsnatInfo;
use packet::{L4Csum, Mapping, Skip};
use xtables::{CheckContext, IpSummed, SkBuff, Verdict};

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

    fn check(info: &mut SsnatInfo, ctx: &CheckContext<'_>) -> Result {
        if let Err(e) = info.validate(ctx.family, ctx.proto) {
            pr_info!("SSNAT: {}\n", e.message());
            return Err(EINVAL);
        }
        let table = ctx.table.to_bytes();
        match allowed_hooks(table) {
            None => {
                pr_info!(
                    "SSNAT: only valid in the raw, mangle and filter tables, not \"{}\"\n",
                    ctx.table
                );
                return Err(EINVAL);
            }
            Some(allowed) if ctx.hook_mask & !allowed != 0 => {
                pr_info!(
                    "SSNAT: chain not valid in table \"{}\" (raw: PREROUTING, OUTPUT; filter: INPUT, FORWARD, OUTPUT; mangle: all)\n",
                    ctx.table
                );
                return Err(EINVAL);
            }
            Some(_) => {}
        }
        // Nothing per rule to set up yet.
        info.kernel_private = 0;
        Ok(())
    }

    fn target(skb: &mut SkBuff, info: &SsnatInfo, family: u8, _hooknum: u8) -> Verdict {
        // Whatever happens, the packet goes on: SSNAT rewrites or leaves it alone.
        let _ = rewrite(skb, info, family);
        Verdict::Continue
    }
}

/// Rewrites the packet's source as `info` says, or says why not.
fn rewrite(skb: &mut SkBuff, info: &SsnatInfo, family: u8) -> core::result::Result<(), Skip> {
    if family != abi::NFPROTO_IPV4 {
        // IPv6 comes with the full datapath.
        return Err(Skip::UnknownProtocol);
    }
    let map = Mapping::from_info(info);
    let pkt_len = skb.network_len();
    let mut head = [0u8; packet::MAX_PLAN_LEN];
    let head = &mut head[..pkt_len.min(packet::MAX_PLAN_LEN)];
    skb.copy_network(head).map_err(|_| Skip::Truncated)?;
    let plan = packet::plan_ipv4(head, pkt_len, &map)?;
    let l4csum = match skb.ip_summed() {
        IpSummed::Partial => L4Csum::Partial,
        _ => L4Csum::Full,
    };
    let done = {
        let bytes = skb
            .writable_network(plan.write_len)
            .map_err(|_| Skip::Truncated)?;
        packet::apply_ipv4(bytes, &plan, &map, l4csum)?
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
