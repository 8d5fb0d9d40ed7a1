// SPDX-License-Identifier: GPL-2.0
//! xt_SSNAT: stateless source NAT as an xtables target.
//!
//! `-j SSNAT --to-source ADDR[-ADDR][:PORT[-PORT]]` (or `PREFIX/LEN`, or `--to-ports`)
//! rewrites the source address and/or port of each packet in place and fixes every
//! checksum, keeping no per-flow state and never calling into conntrack. With
//! `--profile NAME` the mapping is a runtime profile's ([`profiles`]), which `ssnatctl`
//! replaces atomically over the generic netlink family `SSNAT` ([`genetlink`]). The packet
//! logic is the pure `ssnat-core` code (compiled in below with `#[path]`, and tested on
//! the host with `cargo test`); this file adapts an sk_buff to it through the safe
//! [`xtables`] abstraction and contains no `unsafe`.

#![allow(non_snake_case)] // the crate is named after the module, `xt_SSNAT`

use kernel::prelude::*;
use kernel::str::BStr;

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

// The module's own kernel-side code, beside its C glue in module/.
#[path = "module/entries.rs"]
pub mod entries;
#[path = "module/genetlink.rs"]
pub mod genetlink;
#[path = "module/profiles.rs"]
pub mod profiles;
#[path = "module/rcu_box.rs"]
pub mod rcu_box;
#[path = "module/xtables.rs"]
pub mod xtables;

use abi::SsnatInfo;
use packet::{Mapping, Outcome, Plan, Rewritten, Skip};
use profiles::{Profile, ProfileUse, UseError};
use xtables::{CheckContext, HookRcu, Linear, Packet, PerCpuCounters, RuleDesc, RuleStats, Verdict};

module! {
    type: SsnatModule,
    name: "xt_SSNAT",
    authors: ["xt_SSNAT developers"],
    description: "Xtables: stateless source NAT (no conntrack)",
    license: "GPL",
    // The targets, as x_tables asks for them, and the generic netlink family
    // (`genl::FAMILY_NAME`), as genetlink asks for it: `ssnatctl` loads the module.
    alias: ["ipt_SSNAT", "ip6t_SSNAT", "net-pf-16-proto-16-family-SSNAT"],
}

/// The `SSNAT` target.
struct Ssnat;

/// Logs why a rule is refused, rate-limited as netfilter's own checkentry functions do
/// (`pr_info_ratelimited`): whoever may add rules must not flood the log.
macro_rules! refuse {
    ($($arg:tt)*) => {
        if xtables::log_ratelimit() {
            pr_info!($($arg)*);
        }
    };
}

/// What a rule keeps: its counters, its mapping (made once, here, rather than from
/// the info blob for every packet), and with `--profile` the profile it uses instead.
struct RuleState {
    stats: RuleStats<{ genl::COUNTERS.len() }>,
    map: Mapping,
    profile: Option<ProfileUse>,
}

impl RuleState {
    /// Rewrites the packet with `map` and counts the outcome in the rule and, with
    /// `--profile`, in the profile's counters `also` (the caller branches on the
    /// profile once, and each branch gets its own copy of this).
    ///
    /// The linear part of the packet is private and writable (the glue saw to it): a
    /// common packet is rewritten there in one pass, any other out of line. (A clone
    /// that could not be unshared has no writable bytes: it goes the other way.) Each
    /// way counts its own outcome, so that the common one's stays in registers.
    #[inline(always)]
    fn run(&self, pkt: &mut Packet<'_>, map: &Mapping, also: Option<&PerCpuCounters>) {
        if pkt.tracked() {
            // Conntrack saw this packet first: its entry keeps the old source. SSNAT
            // still rewrites (it is stateless), and counts it, so users can tell.
            self.count(also, counter::TRACKED, 1);
        }
        let len = pkt.len();
        let csum_start = pkt.csum_start();
        match packet::rewrite_common(pkt.head_mut(), len, map, csum_start) {
            Some(res) => self.account(pkt, res, len, also),
            None => {
                let res = rewrite_other(pkt, map);
                self.account(pkt, res, len, also)
            }
        }
    }

    /// Adds `n` to counter `idx` of the rule and of its profile's counters `also`.
    #[inline(always)]
    fn count(&self, also: Option<&PerCpuCounters>, idx: usize, n: u64) {
        self.stats.count(idx, n);
        if let Some(c) = also {
            c.add(idx, n);
        }
    }

    /// Keeps a `CHECKSUM_COMPLETE` sum right after a rewrite of the packet (of `len`
    /// bytes) and counts it, or counts why it was left alone.
    #[inline(always)]
    fn account(
        &self,
        pkt: &mut Packet<'_>,
        res: core::result::Result<Rewritten, Skip>,
        len: usize,
        also: Option<&PerCpuCounters>,
    ) {
        if let Ok(done) = &res {
            pkt.csum_adjust(done.l3_delta().folded(), done.l4_delta().folded());
        }
        self.tally(res.map(|_| ()), len, also);
    }

    /// Counts a rewrite of a packet of `len` bytes, or why it was left alone.
    #[inline(always)]
    fn tally(&self, res: core::result::Result<(), Skip>, len: usize, also: Option<&PerCpuCounters>) {
        match res {
            Ok(()) => {
                let len = len as u64;
                self.stats.count2::<{ counter::PACKETS }, { counter::BYTES }>(1, len);
                if let Some(c) = also {
                    c.add2(counter::PACKETS, 1, counter::BYTES, len);
                }
            }
            Err(why) => self.count(also, counter::SKIP + why as usize, 1),
        }
    }

    /// [`Self::run`]'s common packet, for [`Ssnat::fast`]: `false` (nothing written)
    /// for any other, and for a mapping of the other family than `V6` says.
    #[inline(always)]
    fn run_fast<const V6: bool>(&self, pkt: &mut Linear<'_>, map: &Mapping, also: Option<&PerCpuCounters>) -> bool {
        if (map.family == packet::Family::V6) != V6 {
            return false;
        }
        match packet::rewrite_fast(pkt.head, pkt.len, map, pkt.csum_start) {
            Some(res) => {
                self.tally(res.map(|_| ()), pkt.len, also);
                true
            }
            None => false,
        }
    }
}

/// Indices into [`genl::COUNTERS`], the per-rule counters in `/proc/net/xt_SSNAT`
/// order: packets and bytes rewritten, packets seen already tracked by conntrack, then
/// one per [`Skip`] reason.
mod counter {
    pub(crate) const PACKETS: usize = 0;
    pub(crate) const BYTES: usize = 1;
    pub(crate) const TRACKED: usize = 2;
    pub(crate) const SKIP: usize = super::genl::COUNTER_SKIP;
}

impl xtables::Target for Ssnat {
    type Info = SsnatInfo;
    type Private = RuleState;
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

    fn check_hooks(table: &CStr, hook_mask: u32) -> Result {
        match abi::allowed_hooks(table.to_bytes()) {
            None => {
                refuse!("SSNAT: {} \"{}\"\n", abi::TABLE_MESSAGE, table);
                Err(EINVAL)
            }
            Some(allowed) if hook_mask & !allowed != 0 => {
                refuse!("SSNAT: {} \"{}\"\n", abi::HOOK_MESSAGE, table);
                Err(EINVAL)
            }
            Some(_) => Ok(()),
        }
    }

    fn check(info: &SsnatInfo, ctx: &CheckContext<'_>) -> Result<KBox<RuleState>> {
        if let Err(e) = info.validate(ctx.family, ctx.proto) {
            refuse!("SSNAT: {}\n", e.message());
            return Err(EINVAL);
        }
        let profile = match info.profile_name() {
            Some(name) if info.flags & abi::F_PROFILE != 0 => {
                match profiles::use_profile(ctx.net, name, ctx.family) {
                    Ok(u) => Some(u),
                    Err(UseError::Missing) => {
                        refuse!(
                            "SSNAT: profile \"{}\" does not exist in this namespace (create it with 'ssnatctl profile add')\n",
                            BStr::from_bytes(name)
                        );
                        return Err(ENOENT);
                    }
                    Err(UseError::Family) => {
                        refuse!(
                            "SSNAT: profile \"{}\" maps the other address family\n",
                            BStr::from_bytes(name)
                        );
                        return Err(EINVAL);
                    }
                }
            }
            _ => None,
        };
        // The name as `/proc/net/xt_SSNAT` shows the rule (`profile:NAME`).
        let name_c = info
            .profile
            .split_inclusive(|&c| c == 0)
            .next()
            .and_then(|s| CStr::from_bytes_with_nul(s).ok());
        let stats = RuleStats::new(
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
                profile: profile.as_ref().and(name_c),
            },
        )?;
        Ok(KBox::new(RuleState { stats, map: Mapping::from_info(info), profile }, GFP_KERNEL_ACCOUNT)?)
    }

    #[inline(always)]
    fn target(pkt: &mut Packet<'_>, _info: &SsnatInfo, state: &RuleState, rcu: &HookRcu) -> Verdict {
        match &state.profile {
            None => state.run(pkt, &state.map, None),
            Some(u) => {
                let p = &u.profile;
                // The profile's current mapping, read once: the whole packet is
                // rewritten with it even if `ssnatctl profile set` replaces it meanwhile.
                let cur = p.current(rcu);
                if p.entries.is_empty() && cur.has_map {
                    state.run(pkt, &cur.map, Some(&p.stats))
                } else {
                    run_entries(state, pkt, p, cur, rcu)
                }
            }
        }
        // Whatever happens, the packet goes on: SSNAT rewrites or leaves it alone.
        Verdict::Continue
    }

    #[inline(always)]
    fn fast<const V6: bool>(pkt: &mut Linear<'_>, _info: &SsnatInfo, state: &RuleState, rcu: &HookRcu) -> bool {
        match &state.profile {
            None => state.run_fast::<V6>(pkt, &state.map, None),
            Some(u) => {
                let p = &u.profile;
                // Read once, as in `target`: if it declines, `target` reads it again
                // and goes by what it reads then.
                let cur = p.current(rcu);
                p.entries.is_empty() && cur.has_map && state.run_fast::<V6>(pkt, &cur.map, Some(&p.stats))
            }
        }
    }
}

/// A `--profile` rule's packet when the profile has entries (or no mapping of its own):
/// the entry for the packet's destination gives the mapping; without one, the
/// profile's own mapping does, or, for a profile of entries only, the packet passes
/// unchanged, counted `no-entry`.
#[inline(never)]
fn run_entries(state: &RuleState, pkt: &mut Packet<'_>, p: &Profile, cur: &profiles::Current, rcu: &HookRcu) {
    let also = Some(&p.stats);
    let len = pkt.len();
    let need = len.min(packet::MAX_PLAN_LEN);
    let head = pkt.head_mut();
    let key = if head.len() >= need {
        packet::destination(head, len, cur.map.family)
    } else {
        // (only here: zeroing it costs as much as the lookup)
        let mut buf = [0u8; packet::MAX_PLAN_LEN];
        match pkt.header(&mut buf[..need]) {
            Ok(h) => packet::destination(h, len, cur.map.family),
            Err(_) => Err(Skip::Truncated),
        }
    };
    match key {
        Ok(key) => {
            if let Some(e) = p.entries.lookup(rcu, &key) {
                e.count(len);
                return state.run(pkt, &e.map, also);
            }
        }
        // Headers that cannot be read: what the planner would say of them.
        Err(why) if !cur.has_map => return state.count(also, counter::SKIP + why as usize, 1),
        Err(_) => {}
    }
    if cur.has_map {
        state.run(pkt, &cur.map, also)
    } else {
        state.count(also, counter::SKIP + Skip::NoEntry as usize, 1)
    }
}

/// The rewrite of a packet the common path leaves: planned from the linear part when
/// it holds what the planner reads, else from a copy of the headers; when the plan
/// writes beyond the writable bytes (SCTP's CRC over a paged packet, say), they are
/// made writable (pulled from the pages) first.
#[inline(never)]
fn rewrite_other(pkt: &mut Packet<'_>, map: &Mapping) -> core::result::Result<Rewritten, Skip> {
    if pkt.no_memory() {
        return Err(Skip::NoMemory);
    }
    let len = pkt.len();
    let csum_start = pkt.csum_start();
    let need = len.min(packet::MAX_PLAN_LEN);
    let head = pkt.head_mut();
    if head.len() >= need {
        return match packet::rewrite_other(head, len, map, csum_start) {
            Outcome::Done(done) => Ok(done),
            Outcome::Skipped(why) => Err(why),
            Outcome::Later(plan) => apply_later(pkt, &plan),
        };
    }
    // Headers not all in the linear part (or a packet too short for any): plan from a
    // copy.
    let plan = {
        let mut buf = [0u8; packet::MAX_PLAN_LEN];
        let head = pkt.header(&mut buf[..need]).map_err(|_| Skip::Truncated)?;
        packet::plan(head, len, map, csum_start)?
    };
    apply_later(pkt, &plan)
}

/// Makes the bytes `plan` writes writable, and writes them.
fn apply_later(pkt: &mut Packet<'_>, plan: &Plan) -> core::result::Result<Rewritten, Skip> {
    let bytes = pkt.writable(plan.write_len).map_err(|_| Skip::NoMemory)?;
    packet::apply(bytes, plan)
}

// The packet path's entry point, called by the C glue.
crate::target_entry!(Ssnat);

struct SsnatModule {
    // Dropped in this order: the netlink family first (no more profile changes),
    // then the target, then the profiles.
    _control: genetlink::Registration<profiles::Control>,
    _target: xtables::Registration<Ssnat>,
    _profiles: profiles::Table,
}

impl kernel::Module for SsnatModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        xtables::facts::set_abi_version(abi::ABI_VERSION);
        // On an error below, what was set up is dropped in reverse order.
        let table = profiles::init();
        let target = xtables::Registration::<Ssnat>::new()?;
        let control = profiles::Control::register(module)?;
        pr_info!("SSNAT target registered (ABI {})\n", abi::ABI_VERSION);
        Ok(SsnatModule { _control: control, _target: target, _profiles: table })
    }
}
