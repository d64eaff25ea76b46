//! Locking that survives a panic elsewhere.
//!
//! A thread that panics while holding a `std::sync::Mutex` poisons it; every critical
//! section in ucp is a few assignments that leave the data consistent, so the data is taken
//! back instead of spreading the panic to every later caller.

use std::sync::{Mutex, MutexGuard};

/// Lock `mutex`, recovering the data if a panicking thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
