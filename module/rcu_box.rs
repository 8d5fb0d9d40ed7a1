// SPDX-License-Identifier: GPL-2.0
//! [`RcuBox`]: a heap value that readers see under RCU and writers replace whole.
//!
//! The kernel crate has `kernel::sync::rcu` (read guards, `synchronize_rcu`) but no
//! RCU-protected pointer yet; this is the minimal one the profiles need: readers load
//! the pointer inside an RCU read-side critical section (the netfilter packet path
//! always is in one) and see either the old value or the new one, never a mix; a writer
//! swaps in a new box and frees the old one after a grace period.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::prelude::*;
use kernel::sync::rcu;

/// Proof of being inside an RCU read-side critical section, for as long as the
/// value is borrowed.
///
/// # Safety
///
/// A value of an implementing type may only exist while the code holding it runs in an
/// RCU read-side critical section that lasts at least as long as the value.
pub unsafe trait ReadSide {}

// SAFETY: a guard holds `rcu_read_lock()` until it is dropped.
unsafe impl ReadSide for rcu::Guard {}

/// A `KBox<T>` published to RCU readers.
///
/// # Invariants
///
/// `ptr` always comes from `KBox::into_raw` and is owned by the `RcuBox`; a pointer
/// swapped out is freed only after a grace period.
pub struct RcuBox<T> {
    ptr: AtomicPtr<T>,
    _owns: PhantomData<KBox<T>>,
}

// SAFETY: the box owns a `T`, handed between threads as a `KBox<T>` would be.
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}
// SAFETY: readers get `&T` (needs `T: Sync`); writers move `T` in and drop it on any
// thread (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}

impl<T> RcuBox<T> {
    /// Boxes `value`.
    pub fn new(value: T, flags: kernel::alloc::Flags) -> Result<Self> {
        let b = KBox::new(value, flags)?;
        // INVARIANT: from `KBox::into_raw`.
        Ok(RcuBox { ptr: AtomicPtr::new(KBox::into_raw(b)), _owns: PhantomData })
    }

    /// The current value, valid for as long as the read-side critical section lasts:
    /// a [`rcu::Guard`], or the netfilter hook's own (`xtables::HookRcu`).
    pub fn get<'a, R: ReadSide>(&'a self, _read: &'a R) -> &'a T {
        // SAFETY: the pointer is a live `KBox` (type invariant). A `replace` that swaps it
        // out waits for a grace period before freeing it, and that grace period cannot
        // end while `_read`'s critical section, which bounds `'a`, is open (`ReadSide`'s
        // contract). `Acquire` pairs with the `AcqRel` swap, so the value's
        // initialisation is visible.
        unsafe { &*self.ptr.load(Ordering::Acquire) }
    }

    /// Publishes `new` and hands back the old value, which readers may still be
    /// using: dropping the [`Retired`] waits for them. Does not sleep, so it can be
    /// called under a lock that the wait must not hold up.
    pub fn swap(&self, new: KBox<T>) -> Retired<T> {
        let old = self.ptr.swap(KBox::into_raw(new), Ordering::AcqRel);
        // INVARIANT: `old` came from `KBox::into_raw` (type invariant of `RcuBox`) and
        // is no longer reachable by new readers; only the `RcuBox` owned it.
        Retired { ptr: old, _owns: PhantomData }
    }
}

/// A value swapped out of an [`RcuBox`], which readers that loaded it before the swap
/// may still use. Dropping it waits for a grace period (sleeps: process context only),
/// then frees it.
///
/// # Invariants
///
/// `ptr` comes from `KBox::into_raw`, is owned by the `Retired` and is no longer
/// reachable from its `RcuBox`.
#[must_use = "dropping it waits for a grace period: drop it where sleeping is fine"]
pub struct Retired<T> {
    ptr: *mut T,
    _owns: PhantomData<KBox<T>>,
}

impl<T> Drop for Retired<T> {
    fn drop(&mut self) {
        rcu::synchronize_rcu();
        // SAFETY: `ptr` came from `KBox::into_raw` and we own it (type invariant); no
        // new reader can find it, and the grace period above ended every reader that
        // loaded it before the swap.
        drop(unsafe { KBox::from_raw(self.ptr) });
    }
}

impl<T> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reader can hold a reference obtained through `get`
        // (their lifetimes are bound by a borrow of `self`); the pointer is ours.
        drop(unsafe { KBox::from_raw(*self.ptr.get_mut()) });
    }
}
