// SPDX-License-Identifier: GPL-2.0
//! Runtime profiles: named mappings that rules refer to (`-j SSNAT --profile NAME`),
//! per network namespace, managed over the generic netlink family `SSNAT` (the ABI is
//! `ssnat-core/src/genl.rs`, the client `ssnatctl`).
//!
//! - The table of all namespaces' profiles is a `KVec<Arc<Profile>>` under one global
//!   mutex, keyed by (namespace, name). Control operations and checkentry take it; the
//!   packet path never does.
//! - A profile's mapping is an [`RcuBox`]: the packet path reads it inside the RCU
//!   read-side section netfilter already holds, and `SET` swaps the whole mapping, so a
//!   packet sees the old mapping or the new one, never a mix.
//! - A profile's entries ([`Entries`]: per-destination mappings) are a hash table the
//!   packet path reads under RCU too; they change one at a time, under the same mutex.
//! - A rule holds an `Arc` of its profile and counts itself in [`Profile::rules`];
//!   `DEL` refuses a profile in use with `EBUSY`. A namespace that goes away drops its
//!   profiles from the table (its rules, destroyed after, drop the last references).

use crate::abi::{self, SsnatInfo, PROFILE_NAME_LEN};
use crate::entries::{self, AddError, Entries, Entry, Writer};
use crate::genetlink::{self, Attrs, Dump, Handler, Op, Policy, Request};
use crate::genl::{self, attr, cmd};
use crate::packet::{Dest, Mapping, DEST_PORT_PROTOCOLS};
use crate::rcu_box::{RcuBox, ReadSide};
use crate::xtables::{self, Net, PerCpuCounters};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::ffi::c_long;
use kernel::net::netlink::MulticastGroup;
use kernel::prelude::*;
use kernel::sync::{rcu, Arc};

kernel::sync::global_lock! {
    // SAFETY: initialised by `init`, called first thing in the module's init.
    unsafe(uninit) static PROFILES: Mutex<KVec<Arc<Profile>>> = KVec::new();
}

/// Generation of the table's membership, for dumps (`NLM_F_DUMP_INTR`); changed under
/// the table lock, never 0.
static GENERATION: AtomicU32 = AtomicU32::new(1);

/// Records a change of the table's membership (call with the table locked).
fn changed() {
    let g = GENERATION.load(Ordering::Relaxed).wrapping_add(1);
    GENERATION.store(if g == 0 { 1 } else { g }, Ordering::Relaxed);
}

/// The profile table's lifetime: [`init`] returns it, and dropping it (at module exit,
/// after the netlink family and the target are unregistered, so no rule is left)
/// drops every profile.
pub struct Table(());

/// Initialises the profile table. Call once, from module init, before anything else of
/// this file.
pub fn init() -> Table {
    // SAFETY: called exactly once, from module init, before any use of `PROFILES`.
    unsafe { PROFILES.init() };
    xtables::set_net_exit(Some(net_exit));
    Table(())
}

impl Drop for Table {
    fn drop(&mut self) {
        xtables::set_net_exit(None);
        // Drop the vector itself, not only its elements: `clear()` would keep its
        // buffer in the static, which outlives the module (kmemleak found it).
        drop(core::mem::replace(&mut *PROFILES.lock(), KVec::new()));
    }
}

extern "C" fn net_exit(net: *const Net) {
    let id = net as usize;
    let mut table = PROFILES.lock();
    table.retain(|p| p.net != id);
    changed();
}

/// A profile's mapping: as netlink set it, and as the packet path uses it.
pub struct Current {
    info: SsnatInfo,
    /// `Mapping::from_info(&info)`, made once when the mapping is set.
    pub map: Mapping,
    /// Whether the profile maps packets without an entry (else it holds entries only,
    /// and such packets pass unchanged, counted `no-entry`).
    pub has_map: bool,
}

impl Current {
    fn new(info: SsnatInfo) -> Current {
        Current { info, map: Mapping::from_info(&info), has_map: info.flags & abi::F_MAPPING != 0 }
    }
}

/// A named mapping of one network namespace.
pub struct Profile {
    net: usize,
    name: Name,
    info: RcuBox<Current>,
    /// Rules that use the profile.
    rules: AtomicU32,
    /// Per-CPU counters, in [`genl::COUNTERS`] order.
    pub stats: PerCpuCounters,
    /// Per-destination mappings.
    pub entries: Entries,
}

impl Profile {
    /// The mapping, for the packet path.
    #[inline(always)]
    pub fn current<'a, R: ReadSide>(&'a self, read: &'a R) -> &'a Current {
        self.info.get(read)
    }

    fn snapshot(&self) -> SsnatInfo {
        self.info.get(&rcu::read_lock()).info
    }

    fn name_bytes(&self) -> &[u8] {
        key(&self.name)
    }

    fn is(&self, net: usize, name: &[u8]) -> bool {
        self.net == net && self.name_bytes() == name
    }
}

/// A rule's use of a profile; the profile's rule count drops with it.
pub struct ProfileUse {
    /// The profile.
    pub profile: Arc<Profile>,
}

impl Drop for ProfileUse {
    fn drop(&mut self) {
        self.profile.rules.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a rule cannot use a profile.
pub enum UseError {
    /// No profile of that name in the rule's namespace.
    Missing,
    /// The profile maps the other address family.
    Family,
}

/// checkentry of a `--profile` rule: finds the profile in the rule's namespace.
pub fn use_profile(net: &Net, name: &[u8], family: u8) -> core::result::Result<ProfileUse, UseError> {
    let table = PROFILES.lock();
    let p = table.iter().find(|p| p.is(net.id(), name)).ok_or(UseError::Missing)?;
    if p.snapshot().family != family {
        return Err(UseError::Family);
    }
    // Under the table lock, like DEL's check of the count.
    p.rules.fetch_add(1, Ordering::Relaxed);
    Ok(ProfileUse { profile: p.clone() })
}

/// The `SSNAT` generic netlink family.
pub struct Control;

/// Attribute policy, indexed by attribute number.
static POLICY: [Policy; attr::MAX as usize + 1] = {
    let mut p = [Policy::UNSPEC; attr::MAX as usize + 1];
    p[attr::NAME as usize] = Policy::nul_string(PROFILE_NAME_LEN as u16 - 1);
    p[attr::FAMILY as usize] = Policy::U8;
    p[attr::FLAGS as usize] = Policy::U16;
    p[attr::MIN_ADDR as usize] = Policy::binary(16);
    p[attr::MAX_ADDR as usize] = Policy::binary(16);
    p[attr::PREFIX_LEN as usize] = Policy::U8;
    p[attr::MIN_PORT as usize] = Policy::U16;
    p[attr::MAX_PORT as usize] = Policy::U16;
    p[attr::SEED as usize] = Policy::U32;
    p[attr::RULES as usize] = Policy::REJECT;
    p[attr::STATS as usize] = Policy::REJECT;
    p[attr::PAD as usize] = Policy::REJECT;
    p[attr::ENTRIES as usize] = Policy::REJECT;
    p[attr::DST_ADDR as usize] = Policy::binary(16);
    p[attr::DST_PORT as usize] = Policy::U16;
    p[attr::PROTO as usize] = Policy::U8;
    p
};

static GROUPS: [MulticastGroup; 1] = [MulticastGroup::const_new(genl::MCGRP_EVENTS_C)];
/// Index of [`genl::MCGRP_EVENTS`] in [`GROUPS`].
const GROUP_EVENTS: u32 = 0;

impl Control {
    /// Registers the family.
    pub fn register(module: &'static ThisModule) -> Result<genetlink::Registration<Control>> {
        let admin = |cmd| Op { cmd, doit: true, dumpit: false, admin: true };
        genetlink::Registration::new(
            module,
            genl::FAMILY_NAME_C,
            u32::from(genl::FAMILY_VERSION),
            &POLICY,
            &[
                admin(cmd::NEW),
                admin(cmd::SET),
                admin(cmd::DEL),
                // Reading is guarded like netfilter's own state (`nft list`, `ipset
                // list`, `conntrack -L`): CAP_NET_ADMIN in the namespace's owner.
                Op { cmd: cmd::GET, doit: true, dumpit: true, admin: true },
                admin(cmd::ENTRY_NEW),
                admin(cmd::ENTRY_SET),
                admin(cmd::ENTRY_DEL),
                admin(cmd::ENTRY_FLUSH),
                Op { cmd: cmd::ENTRY_GET, doit: true, dumpit: true, admin: true },
            ],
            &GROUPS,
        )
    }
}

/// A profile name as the table keeps it: NUL-padded.
type Name = [u8; PROFILE_NAME_LEN];

/// The name without its NUL padding.
fn key(name: &Name) -> &[u8] {
    &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())]
}

/// A profile name attribute's payload as the table keys it, or `None` if invalid.
fn parse_name(raw: &[u8]) -> Option<Name> {
    // The policy checked the length and that a NUL is there; it must be the last byte
    // (`ab\0cd` is not the name `ab`).
    let s = match raw.split_last() {
        Some((0, s)) if !s.contains(&0) && genl::valid_profile_name(s) => s,
        _ => return None,
    };
    let mut name = [0u8; PROFILE_NAME_LEN];
    name[..s.len()].copy_from_slice(s);
    Some(name)
}

/// The profile name of a request.
fn req_name(req: &mut Request<'_>) -> Result<Name> {
    let Some(raw) = req.attr(attr::NAME) else {
        req.fail_missing(c"missing profile name", attr::NAME);
        return Err(EINVAL);
    };
    parse_name(raw).ok_or_else(|| {
        req.fail(abi::InfoError::BadProfileName.c_message(), Some(attr::NAME));
        EINVAL
    })
}

/// The mapping of a NEW or SET request, checked as a rule's inline mapping is; with
/// `none_ok` (a profile, not an entry) flags 0 are a profile without a mapping of its
/// own (entries only).
fn req_mapping(req: &mut Request<'_>, none_ok: bool) -> Result<SsnatInfo> {
    let mut info = SsnatInfo::zeroed();
    let Some([family]) = req.attr_uint::<1>(attr::FAMILY) else {
        req.fail_missing(c"a mapping needs its address family", attr::FAMILY);
        return Err(EINVAL);
    };
    let Some(flags) = req.attr_uint::<2>(attr::FLAGS) else {
        req.fail_missing(c"a mapping needs its flags", attr::FLAGS);
        return Err(EINVAL);
    };
    if family != abi::NFPROTO_IPV4 && family != abi::NFPROTO_IPV6 {
        req.fail(c"family must be NFPROTO_IPV4 (2) or NFPROTO_IPV6 (10)", Some(attr::FAMILY));
        return Err(EINVAL);
    }
    info.family = family;
    info.flags = u16::from_ne_bytes(flags);
    // What the flags say is mapped must be there: a missing address or port is not
    // taken as zeros.
    if info.flags & abi::F_MAP_ADDR != 0 && req.attr(attr::MIN_ADDR).is_none() {
        req.fail_missing(c"an address mapping needs its (first) address", attr::MIN_ADDR);
        return Err(EINVAL);
    }
    if info.flags & abi::F_MAP_PORT != 0 && req.attr(attr::MIN_PORT).is_none() {
        req.fail_missing(c"a port mapping needs its (first) port", attr::MIN_PORT);
        return Err(EINVAL);
    }
    let alen = if family == abi::NFPROTO_IPV6 { 16 } else { 4 };
    for (id, dst) in [(attr::MIN_ADDR, &mut info.min_addr), (attr::MAX_ADDR, &mut info.max_addr)] {
        if let Some(a) = req.attr(id) {
            if a.len() != alen {
                req.fail(c"address length does not match the family (4 or 16 bytes)", Some(id));
                return Err(EINVAL);
            }
            dst[..alen].copy_from_slice(a);
        }
    }
    if info.flags & abi::F_MAP_ADDR != 0 && req.attr(attr::MAX_ADDR).is_none() {
        info.max_addr = info.min_addr;
    }
    info.prefix_len = req.attr_uint::<1>(attr::PREFIX_LEN).map_or(0, |[b]| b);
    info.min_port = req.attr_uint::<2>(attr::MIN_PORT).map_or(0, u16::from_ne_bytes);
    info.max_port = req.attr_uint::<2>(attr::MAX_PORT).map_or(info.min_port, u16::from_ne_bytes);
    info.seed = req.attr_uint::<4>(attr::SEED).map_or(abi::DEFAULT_SEED, u32::from_ne_bytes);
    if none_ok && info.flags == 0 {
        if info.min_addr != [0; 16] || info.max_addr != [0; 16] || info.prefix_len != 0 || info.min_port != 0 || info.max_port != 0 {
            req.fail(c"a profile without a mapping (entries only) takes no address or port", None);
            return Err(EINVAL);
        }
        return Ok(info);
    }
    if let Err(e) = info.validate_mapping(family) {
        // The message iptables prints for the same mapping in a rule.
        req.fail(e.c_message(), None);
        return Err(EINVAL);
    }
    Ok(info)
}

/// Puts a profile's attributes, as GET replies, dumps and notifications carry them.
fn put_profile(m: &mut impl Attrs, p: &Profile) -> Result {
    put_name(m, p)?;
    put_mapping(m, &p.snapshot())?;
    m.put_u32(attr::RULES, p.rules.load(Ordering::Relaxed))?;
    m.put_u32(attr::ENTRIES, p.entries.len())?;
    m.put_nested(attr::STATS, |m| {
        for i in 0..genl::COUNTERS.len() {
            m.put_u64(i as u16 + 1, p.stats.sum(i), attr::PAD)?;
        }
        Ok(())
    })
}

/// Puts the profile's name.
fn put_name(m: &mut impl Attrs, p: &Profile) -> Result {
    let mut name = [0u8; PROFILE_NAME_LEN + 1];
    let bytes = p.name_bytes();
    name[..bytes.len()].copy_from_slice(bytes);
    m.put(attr::NAME, &name[..=bytes.len()])
}

/// Puts a mapping's attributes.
fn put_mapping(m: &mut impl Attrs, info: &SsnatInfo) -> Result {
    let n = info.addr_len();
    m.put_u8(attr::FAMILY, info.family)?;
    m.put_u16(attr::FLAGS, info.flags)?;
    m.put(attr::MIN_ADDR, &info.min_addr[..n])?;
    m.put(attr::MAX_ADDR, &info.max_addr[..n])?;
    m.put_u8(attr::PREFIX_LEN, info.prefix_len)?;
    m.put_u16(attr::MIN_PORT, info.min_port)?;
    m.put_u16(attr::MAX_PORT, info.max_port)?;
    m.put_u32(attr::SEED, info.seed)
}

/// Puts an entry's attributes, as ENTRY_GET replies, dumps and notifications carry
/// them: the profile's name, the key, the mapping (none after a delete) and counters.
fn put_entry(m: &mut impl Attrs, p: &Profile, key: &Dest, entry: Option<&Entry>) -> Result {
    put_name(m, p)?;
    let n = if key.family == abi::NFPROTO_IPV6 { 16 } else { 4 };
    m.put_u8(attr::PROTO, key.proto)?;
    m.put(attr::DST_ADDR, &key.addr[..n])?;
    m.put_u16(attr::DST_PORT, u16::from_be_bytes(key.port))?;
    let Some(e) = entry else { return Ok(()) };
    put_mapping(m, &e.info)?;
    m.put_nested(attr::STATS, |m| {
        for (i, v) in e.counters().into_iter().enumerate() {
            m.put_u64(i as u16 + 1, v, attr::PAD)?;
        }
        Ok(())
    })
}

/// The entry key of a request to profile `p`: protocol (UDP if absent), destination
/// address of the profile's family, and port (which protocols with ports need).
fn req_key(req: &mut Request<'_>, p: &Profile) -> Result<Dest> {
    let family = p.snapshot().family;
    let proto = req.attr_uint::<1>(attr::PROTO).map_or(crate::packet::proto::UDP, |[b]| b);
    let Some(addr) = req.attr(attr::DST_ADDR) else {
        req.fail_missing(c"an entry needs its destination address", attr::DST_ADDR);
        return Err(EINVAL);
    };
    let want = if family == abi::NFPROTO_IPV6 { 16 } else { 4 };
    if addr.len() != want {
        req.fail(c"destination address length does not match the profile's family", Some(attr::DST_ADDR));
        return Err(EINVAL);
    }
    let port = match req.attr_uint::<2>(attr::DST_PORT).map(u16::from_ne_bytes) {
        Some(0) | None if DEST_PORT_PROTOCOLS.contains(&proto) => {
            req.fail_missing(c"an entry of a protocol with ports needs its destination port (1-65535)", attr::DST_PORT);
            return Err(EINVAL);
        }
        Some(p) if p != 0 && !DEST_PORT_PROTOCOLS.contains(&proto) => {
            req.fail(c"the protocol has no ports: the entry's port must be 0", Some(attr::DST_PORT));
            return Err(EINVAL);
        }
        p => p.unwrap_or(0),
    };
    Dest::new(addr, port, proto).ok_or(EINVAL)
}

/// The profile an entry request names, and its entry key and (for NEW and SET) mapping.
fn req_entry(
    req: &mut Request<'_>,
    table: &[Arc<Profile>],
    net: usize,
    mapping: bool,
) -> Result<(Arc<Profile>, Dest, Option<SsnatInfo>)> {
    let name = req_name(req)?;
    let p = table[find(req, table, net, &name)?].clone();
    let key = req_key(req, &p)?;
    let info = if mapping {
        let info = req_mapping(req, false)?;
        if info.family != p.snapshot().family {
            req.fail(c"the entry's mapping is of another family than its profile", Some(attr::FAMILY));
            return Err(EINVAL);
        }
        Some(info)
    } else {
        None
    };
    Ok((p, key, info))
}

/// Announces an entry change on the `events` group.
fn notify_entry(req: &mut Request<'_>, command: u8, p: &Profile, key: &Dest, entry: Option<&Entry>) {
    if let Ok(mut m) = req.message(command) {
        if put_entry(&mut m, p, key, entry).is_ok() {
            req.notify(m, GROUP_EVENTS);
        }
    }
}

/// The index of profile `name` of namespace `net` in `table`, or `ENOENT` for the
/// request.
fn find(req: &mut Request<'_>, table: &[Arc<Profile>], net: usize, name: &Name) -> Result<usize> {
    table.iter().position(|p| p.is(net, key(name))).ok_or_else(|| {
        req.fail(c"no such profile", Some(attr::NAME));
        ENOENT
    })
}

/// Announces a change on the `events` group (best effort: a full listener misses it).
fn notify(req: &mut Request<'_>, command: u8, p: &Profile) {
    if let Ok(mut m) = req.message(command) {
        if put_profile(&mut m, p).is_ok() {
            req.notify(m, GROUP_EVENTS);
        }
    }
}

impl Handler for Control {
    fn doit(command: u8, req: &mut Request<'_>) -> Result {
        let net = req.net().id();
        match command {
            cmd::NEW => {
                let name = req_name(req)?;
                let info = req_mapping(req, true)?;
                let mut table = PROFILES.lock();
                if table.iter().any(|p| p.is(net, key(&name))) {
                    req.fail(c"profile exists (use SET to replace its mapping)", Some(attr::NAME));
                    return Err(EEXIST);
                }
                if table.iter().filter(|p| p.net == net).count() >= xtables::facts::max_profiles() {
                    req.fail(c"too many profiles in this namespace (module parameter max_profiles)", None);
                    return Err(ENOSPC);
                }
                // The profile is charged to the creator's memory cgroup; the table's own
                // vector (shared by all namespaces, one pointer per profile) is not.
                let p = Arc::new(
                    Profile {
                        net,
                        name,
                        info: RcuBox::new(Current::new(info), GFP_KERNEL_ACCOUNT)?,
                        rules: AtomicU32::new(0),
                        stats: PerCpuCounters::new(genl::COUNTERS.len())?,
                        entries: Entries::new()?,
                    },
                    GFP_KERNEL_ACCOUNT,
                )?;
                table.push(p.clone(), GFP_KERNEL)?;
                changed();
                drop(table);
                notify(req, cmd::NEW, &p);
                Ok(())
            }
            cmd::SET => {
                let name = req_name(req)?;
                let info = req_mapping(req, true)?;
                let new = KBox::new(Current::new(info), GFP_KERNEL_ACCOUNT)?;
                let table = PROFILES.lock();
                let p = table[find(req, &table, net, &name)?].clone();
                if p.snapshot().family != info.family && p.rules.load(Ordering::Relaxed) != 0 {
                    req.fail(c"profile in use: its rules need its address family", Some(attr::FAMILY));
                    return Err(EBUSY);
                }
                if p.snapshot().family != info.family && !p.entries.is_empty() {
                    req.fail(c"profile has entries of its address family (flush them first)", Some(attr::FAMILY));
                    return Err(EBUSY);
                }
                // Swapped under the table lock (checkentry sees the family it checks);
                // the old mapping freed after a grace period, waited for without the
                // lock, which other namespaces' requests and checkentry need meanwhile.
                let old = p.info.swap(new);
                drop(table);
                drop(old);
                notify(req, cmd::SET, &p);
                Ok(())
            }
            cmd::DEL => {
                let name = req_name(req)?;
                let mut table = PROFILES.lock();
                let i = find(req, &table, net, &name)?;
                if table[i].rules.load(Ordering::Relaxed) != 0 {
                    req.fail(c"profile in use by rules (delete them first)", Some(attr::NAME));
                    return Err(EBUSY);
                }
                let p = table.remove(i).map_err(|_| ENOENT)?;
                changed();
                drop(table);
                notify(req, cmd::DEL, &p);
                Ok(())
            }
            cmd::GET => {
                let name = req_name(req)?;
                let p = {
                    let table = PROFILES.lock();
                    table[find(req, &table, net, &name)?].clone()
                };
                let mut m = req.message(cmd::GET)?;
                put_profile(&mut m, &p)?;
                req.reply(m)
            }
            cmd::ENTRY_NEW | cmd::ENTRY_SET => {
                let table = PROFILES.lock();
                // SAFETY: the table lock is held while `w` lives.
                let w = unsafe { Writer::assume() };
                let (p, key, info) = req_entry(req, &table, net, true)?;
                let info = info.ok_or(EINVAL)?;
                if command == cmd::ENTRY_SET {
                    if !p.entries.replace(&w, &key, info)? {
                        req.fail(c"no such entry (use 'entry add' to create it)", Some(attr::DST_ADDR));
                        return Err(ENOENT);
                    }
                } else {
                    match p.entries.insert(&w, &key, Entry::new(info), entries::max_entries()) {
                        Ok(()) => {}
                        Err(AddError::Exists) => {
                            req.fail(c"entry exists (use 'entry set' to replace its mapping)", Some(attr::DST_ADDR));
                            return Err(EEXIST);
                        }
                        Err(AddError::Full) => {
                            req.fail(c"too many entries in this profile (module parameter max_entries)", None);
                            return Err(ENOSPC);
                        }
                        Err(AddError::NoMemory) => return Err(ENOMEM),
                    }
                }
                changed();
                let found = p.entries.find(&w, &key);
                if let Some(f) = found {
                    notify_entry(req, command, &p, &key, Some(f.entry()));
                }
                Ok(())
            }
            cmd::ENTRY_DEL => {
                let table = PROFILES.lock();
                // SAFETY: the table lock is held while `w` lives.
                let w = unsafe { Writer::assume() };
                let (p, key, _) = req_entry(req, &table, net, false)?;
                if !p.entries.remove(&w, &key) {
                    req.fail(c"no such entry", Some(attr::DST_ADDR));
                    return Err(ENOENT);
                }
                changed();
                drop(table);
                notify_entry(req, cmd::ENTRY_DEL, &p, &key, None);
                Ok(())
            }
            cmd::ENTRY_FLUSH => {
                let name = req_name(req)?;
                let table = PROFILES.lock();
                // SAFETY: the table lock is held while `w` lives.
                let w = unsafe { Writer::assume() };
                let p = table[find(req, &table, net, &name)?].clone();
                let n = p.entries.flush(&w);
                changed();
                drop(table);
                if let Ok(mut m) = req.message(cmd::ENTRY_FLUSH) {
                    if put_name(&mut m, &p).and_then(|()| m.put_u32(attr::ENTRIES, n)).is_ok() {
                        req.notify(m, GROUP_EVENTS);
                    }
                }
                Ok(())
            }
            cmd::ENTRY_GET => {
                let table = PROFILES.lock();
                // SAFETY: the table lock is held while `w` lives.
                let w = unsafe { Writer::assume() };
                let (p, key, _) = req_entry(req, &table, net, false)?;
                let Some(f) = p.entries.find(&w, &key) else {
                    req.fail(c"no such entry", Some(attr::DST_ADDR));
                    return Err(ENOENT);
                };
                let mut m = req.message(cmd::ENTRY_GET)?;
                put_entry(&mut m, &p, &key, Some(f.entry()))?;
                drop(table);
                req.reply(m)
            }
            _ => Err(EOPNOTSUPP),
        }
    }

    fn dumpit(command: u8, dump: &mut Dump<'_>) -> Result {
        if command == cmd::ENTRY_GET {
            return dump_entries(dump);
        }
        let net = dump.net().id();
        let start = usize::try_from(*dump.position()).unwrap_or(0);
        let table = PROFILES.lock();
        dump.set_generation(GENERATION.load(Ordering::Relaxed));
        let mut done = 0usize;
        for p in table.iter().filter(|p| p.net == net).skip(start) {
            let Some(mut m) = dump.message(cmd::GET) else { break };
            if put_profile(&mut m, p).is_err() {
                break; // full: `m` is cancelled, the next round goes on from here
            }
            m.end();
            done += 1;
        }
        *dump.position() = c_long::try_from(start + done).unwrap_or(c_long::MAX);
        Ok(())
    }
}

/// A dump of one profile's entries, in the order they were added.
fn dump_entries(dump: &mut Dump<'_>) -> Result {
    let net = dump.net().id();
    let name = dump.attr(attr::NAME).and_then(parse_name).ok_or(EINVAL)?;
    let start = usize::try_from(*dump.position()).unwrap_or(0);
    let table = PROFILES.lock();
    // SAFETY: the table lock is held while `w` lives.
    let w = unsafe { Writer::assume() };
    dump.set_generation(GENERATION.load(Ordering::Relaxed));
    let p = table.iter().find(|p| p.is(net, key(&name))).ok_or(ENOENT)?;
    let mut done = 0usize;
    while let Some(f) = p.entries.nth(&w, start + done) {
        let Some(mut m) = dump.message(cmd::ENTRY_GET) else { break };
        if put_entry(&mut m, p, f.key(), Some(f.entry())).is_err() {
            break; // full: `m` is cancelled, the next round goes on from here
        }
        m.end();
        done += 1;
    }
    *dump.position() = c_long::try_from(start + done).unwrap_or(c_long::MAX);
    Ok(())
}
