// SPDX-License-Identifier: GPL-2.0
//! A profile's entries: per-destination mappings, looked up by the packet path without
//! a lock, in time that does not grow with their number.
//!
//! The table is the kernel's `rhashtable` (resizable, RCU-safe lookups, jhash with a
//! per-table random seed, so that hostile keys cannot make chains long), owned by the
//! C glue (`ssnat_entries_*` in `xt_SSNAT_glue.c`), keyed by the 20 bytes of a
//! [`Dest`]. Each entry carries an [`Entry`] for Rust. Adding, replacing or deleting one
//! entry touches that entry only (the table grows and shrinks in the background, as
//! rhashtable does); removed entries are freed after an RCU grace period, so a packet
//! that found one may use it until its read-side section ends.
//!
//! Writers are serialised by the profile table's mutex: every method that changes the
//! table, or walks it, takes a [`Writer`], which only a holder of that lock can make.

use crate::abi::SsnatInfo;
use crate::packet::{Dest, Mapping};
use crate::rcu_box::ReadSide;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::ffi::{c_int, c_uint, c_ulong, c_void};
use kernel::prelude::*;

/// Opaque `struct ssnat_entries` of the C glue.
#[repr(C)]
struct RawEntries {
    _opaque: [u8; 0],
}

/// Opaque `struct ssnat_entry` of the C glue.
#[repr(C)]
struct RawEntry {
    _opaque: [u8; 0],
}

extern "C" {
    fn ssnat_entries_new() -> *mut RawEntries;
    fn ssnat_entries_free(t: *mut RawEntries);
    fn ssnat_entry_alloc(key: *const Dest, payload: usize) -> *mut RawEntry;
    fn ssnat_entry_free(e: *mut RawEntry);
    fn ssnat_entry_payload(e: *mut RawEntry) -> *mut c_void;
    fn ssnat_entry_key(e: *const RawEntry) -> *const Dest;
    fn ssnat_entry_insert(t: *mut RawEntries, e: *mut RawEntry) -> c_int;
    fn ssnat_entry_find(t: *mut RawEntries, key: *const Dest) -> *mut RawEntry;
    fn ssnat_entry_replace(t: *mut RawEntries, old: *mut RawEntry, e: *mut RawEntry);
    fn ssnat_entry_remove(t: *mut RawEntries, e: *mut RawEntry);
    fn ssnat_entries_flush(t: *mut RawEntries) -> c_uint;
    fn ssnat_entry_nth(t: *mut RawEntries, n: c_ulong) -> *mut RawEntry;
    fn ssnat_entry_lookup(t: *mut RawEntries, key: *const Dest) -> *const c_void;
    fn ssnat_glue_max_entries() -> c_uint;
}

/// `max_entries`: how many entries one profile may hold.
pub fn max_entries() -> u32 {
    // SAFETY: reads an integer.
    unsafe { ssnat_glue_max_entries() }
}

/// What an entry holds besides its key: its mapping, as netlink set it and as the
/// packet path uses it, and its counters.
pub struct Entry {
    /// The mapping as set (for replies and dumps).
    pub info: SsnatInfo,
    /// `Mapping::from_info(&info)`, made once.
    pub map: Mapping,
    packets: AtomicU64,
    bytes: AtomicU64,
}

// The C glue frees entries with `kfree` (after a grace period), running no Rust code,
// and keeps the payload 8-byte aligned.
const _: () = assert!(!core::mem::needs_drop::<Entry>() && core::mem::align_of::<Entry>() <= 8);

impl Entry {
    /// An entry with mapping `info` (validated) and counters at zero.
    pub fn new(info: SsnatInfo) -> Entry {
        Entry { info, map: Mapping::from_info(&info), packets: AtomicU64::new(0), bytes: AtomicU64::new(0) }
    }

    /// Counts a packet of `len` bytes that found the entry.
    #[inline]
    pub fn count(&self, len: usize) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// Packets and bytes that found the entry.
    pub fn counters(&self) -> [u64; 2] {
        [self.packets.load(Ordering::Relaxed), self.bytes.load(Ordering::Relaxed)]
    }
}

/// Proof that the profile table's mutex is held, for as long as the value lives: the
/// right to change and walk entry tables.
pub struct Writer<'a>(PhantomData<&'a ()>);

impl Writer<'_> {
    /// # Safety
    ///
    /// The caller holds the profile table's mutex for the lifetime of the value.
    pub unsafe fn assume() -> Self {
        Writer(PhantomData)
    }
}

/// An entry found by a writer: its key and payload, valid while the writer holds the
/// lock (no one else can remove it).
pub struct Found<'w> {
    raw: NonNull<RawEntry>,
    _w: PhantomData<&'w ()>,
}

impl<'w> Found<'w> {
    /// The entry's key.
    pub fn key(&self) -> &'w Dest {
        // SAFETY: the entry is in the table, which only the lock holder changes, for
        // `'w` (type invariant of `Found`); its key never changes.
        unsafe { &*ssnat_entry_key(self.raw.as_ptr()) }
    }

    /// The entry's payload.
    pub fn entry(&self) -> &'w Entry {
        // SAFETY: as in `key`; the payload was written with an `Entry` before the entry
        // was inserted, and is only read after.
        unsafe { &*ssnat_entry_payload(self.raw.as_ptr()).cast::<Entry>() }
    }
}

/// Why an entry could not be added.
pub enum AddError {
    /// An entry has the key.
    Exists,
    /// The profile holds `max_entries` entries.
    Full,
    /// No memory (or the table could not grow).
    NoMemory,
}

/// A profile's entry table.
///
/// # Invariants
///
/// `raw` comes from `ssnat_entries_new`, is freed only on drop, and every entry in it
/// carries an initialised [`Entry`]. `len` is the number of entries (changed by
/// writers only).
pub struct Entries {
    raw: NonNull<RawEntries>,
    len: AtomicU32,
}

// SAFETY: lookups are RCU-safe from any CPU; changes are serialised by the writer's
// lock; the table can be freed from any thread.
unsafe impl Send for Entries {}
// SAFETY: as above.
unsafe impl Sync for Entries {}

impl Entries {
    /// An empty table.
    pub fn new() -> Result<Self> {
        // SAFETY: plain allocation.
        let raw = NonNull::new(unsafe { ssnat_entries_new() }).ok_or(ENOMEM)?;
        // INVARIANT: allocated above, empty.
        Ok(Entries { raw, len: AtomicU32::new(0) })
    }

    /// Number of entries.
    #[inline(always)]
    pub fn len(&self) -> u32 {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether the table has no entry (the packet path's first question).
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The packet path: the entry for `key`, valid for the read-side section.
    #[inline]
    pub fn lookup<'a, R: ReadSide>(&'a self, _read: &'a R, key: &Dest) -> Option<&'a Entry> {
        // SAFETY: the table is live (type invariant); `_read` proves the RCU read lock
        // rhashtable_lookup() needs.
        let p = unsafe { ssnat_entry_lookup(self.raw.as_ptr(), key) };
        // SAFETY: a payload found is an initialised `Entry` (type invariant); an entry
        // removed meanwhile is freed only after a grace period, which cannot end before
        // `_read`'s section, which bounds `'a`.
        (!p.is_null()).then(|| unsafe { &*p.cast::<Entry>() })
    }

    /// The entry for `key`.
    pub fn find<'w>(&'w self, _w: &'w Writer<'_>, key: &Dest) -> Option<Found<'w>> {
        // SAFETY: the table is live; rhashtable_lookup_fast() takes the RCU lock itself,
        // and the writer's lock keeps the entry from going away after.
        let raw = NonNull::new(unsafe { ssnat_entry_find(self.raw.as_ptr(), key) })?;
        Some(Found { raw, _w: PhantomData })
    }

    /// The `n`-th entry in insertion order (dumps go on from where they were in
    /// constant time).
    pub fn nth<'w>(&'w self, _w: &'w Writer<'_>, n: usize) -> Option<Found<'w>> {
        let n = c_ulong::try_from(n).ok()?;
        // SAFETY: the table is live; the writer's lock serialises walks with changes.
        let raw = NonNull::new(unsafe { ssnat_entry_nth(self.raw.as_ptr(), n) })?;
        Some(Found { raw, _w: PhantomData })
    }

    /// A new entry, not yet in the table.
    fn alloc(key: &Dest, entry: Entry) -> Result<NonNull<RawEntry>> {
        // SAFETY: plain allocation of an entry with room for an `Entry`.
        let raw = NonNull::new(unsafe { ssnat_entry_alloc(key, core::mem::size_of::<Entry>()) }).ok_or(ENOMEM)?;
        // SAFETY: the payload is ours (the entry is in no table), large enough and
        // aligned for an `Entry` (the glue's payload is `u64`-aligned; asserted above).
        unsafe { ssnat_entry_payload(raw.as_ptr()).cast::<Entry>().write(entry) };
        Ok(raw)
    }

    /// Adds an entry for `key`, unless the table holds one for it or `max` entries.
    pub fn insert(&self, w: &Writer<'_>, key: &Dest, entry: Entry, max: u32) -> core::result::Result<(), AddError> {
        if self.find(w, key).is_some() {
            return Err(AddError::Exists);
        }
        if self.len() >= max {
            return Err(AddError::Full);
        }
        let raw = Self::alloc(key, entry).map_err(|_| AddError::NoMemory)?;
        // SAFETY: the table is live and the writer's lock serialises changes; `raw` is
        // a new, initialised entry, which the table owns from here on success.
        match unsafe { ssnat_entry_insert(self.raw.as_ptr(), raw.as_ptr()) } {
            0 => {
                self.len.store(self.len() + 1, Ordering::Relaxed);
                Ok(())
            }
            err => {
                // SAFETY: not inserted: still ours, and no reader has seen it.
                unsafe { ssnat_entry_free(raw.as_ptr()) };
                Err(if err == EEXIST.to_errno() { AddError::Exists } else { AddError::NoMemory })
            }
        }
    }

    /// Replaces the mapping of the entry for `key` with `info`, keeping its counters:
    /// a packet sees the old entry or the new one.
    pub fn replace(&self, w: &Writer<'_>, key: &Dest, info: SsnatInfo) -> Result<bool> {
        let Some(old) = self.find(w, key) else { return Ok(false) };
        let entry = Entry::new(info);
        let [p, b] = old.entry().counters();
        entry.packets.store(p, Ordering::Relaxed);
        entry.bytes.store(b, Ordering::Relaxed);
        let raw = Self::alloc(key, entry)?;
        // SAFETY: the table is live and the writer's lock serialises changes; `old` is
        // in the table with the same key; `raw` is new and initialised. The glue frees
        // `old` after a grace period.
        unsafe { ssnat_entry_replace(self.raw.as_ptr(), old.raw.as_ptr(), raw.as_ptr()) };
        Ok(true)
    }

    /// Deletes the entry for `key`; whether there was one.
    pub fn remove(&self, w: &Writer<'_>, key: &Dest) -> bool {
        let Some(e) = self.find(w, key) else { return false };
        // SAFETY: the table is live and the writer's lock serialises changes; `e` is in
        // the table. The glue frees it after a grace period.
        unsafe { ssnat_entry_remove(self.raw.as_ptr(), e.raw.as_ptr()) };
        self.len.store(self.len() - 1, Ordering::Relaxed);
        true
    }

    /// Deletes every entry; how many there were.
    pub fn flush(&self, _w: &Writer<'_>) -> u32 {
        // SAFETY: the table is live and the writer's lock serialises changes.
        let n = unsafe { ssnat_entries_flush(self.raw.as_ptr()) };
        self.len.store(0, Ordering::Relaxed);
        n
    }
}

impl Drop for Entries {
    fn drop(&mut self) {
        // SAFETY: the table is ours (type invariant). It is dropped with its profile,
        // once no rule uses the profile, so no packet can be looking it up; entries
        // removed earlier are freed by their pending grace periods.
        unsafe { ssnat_entries_free(self.raw.as_ptr()) };
    }
}
