//! Group commit: writers that need their records durable share fsyncs.
//!
//! ```text
//! writer: append under the WAL mutex ─ release it ─ sync_through(seq)
//!   covered already?            → return
//!   a sync in flight?           → wait for it, look again
//!   otherwise, the leader:        note (file, last appended), fsync that file with no
//!                                 lock held, publish the synced sequence, wake all
//! ```
//!
//! Appends go on while a leader's fsync runs; whatever they add waits for the next one,
//! which the first of them to look leads. A failed fsync poisons the log: the leader
//! gets the I/O error, every waiter and every later caller [`Error::Poisoned`].
//!
//! Rotation replaces the file, so the pair (file, last appended sequence) a leader
//! notes must belong together: both change only under [`GroupSync`]'s own lock, and
//! [`GroupSync::switch_file`] first syncs everything appended to the old file. A leader
//! in flight on the old file is waited for, so once the new file is in place no fsync
//! of the old one is outstanding and every later leader syncs the new one.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::syncer::Poison;
use crate::error::{Error, Result};
use crate::fs::WalFile;

/// The shared fsync of one write-ahead log. Obtained from [`super::Wal::group_sync`];
/// usable without the WAL's own mutex.
#[derive(Debug)]
pub struct GroupSync {
    state: Mutex<State>,
    synced_or_failed: Condvar,
    poison: Arc<Poison>,
}

#[derive(Debug)]
struct State {
    file: Arc<dyn WalFile>,
    path: PathBuf,
    /// The last sequence number written into `file` (or an older file).
    appended: u64,
    /// Every record up to this sequence number is durable.
    synced: u64,
    /// A leader is fsyncing right now.
    in_flight: bool,
    /// Callers blocked waiting for a leader, for tests that need all of them parked.
    waiting: usize,
    /// Fsyncs started, for tests that check that writers share them.
    syncs: u64,
}

impl GroupSync {
    /// `appended` records are in `file` already; none of them is known to be durable
    /// (they were replayed, and the process that wrote them may not have synced).
    pub(crate) fn new(
        file: Arc<dyn WalFile>,
        path: PathBuf,
        appended: u64,
        poison: Arc<Poison>,
    ) -> GroupSync {
        GroupSync {
            state: Mutex::new(State {
                file,
                path,
                appended,
                synced: 0,
                in_flight: false,
                waiting: 0,
                syncs: 0,
            }),
            synced_or_failed: Condvar::new(),
            poison,
        }
    }

    /// Records that everything up to `seq` is written to the current file. Called
    /// under the WAL mutex, after the write returned.
    pub(crate) fn appended(&self, seq: u64) {
        let mut state = self.state.lock();
        state.appended = state.appended.max(seq);
    }

    /// Returns once every record up to `seq` is durable, fsyncing (or sharing another
    /// caller's fsync) as needed. A sequence beyond the last appended one is treated as
    /// the last appended one: nothing else exists to sync.
    ///
    /// Fails with the I/O error when this caller's fsync fails, and with
    /// [`Error::Poisoned`] when the log was poisoned before `seq` became durable,
    /// including by the failed fsync of the leader this caller waited for.
    pub fn sync_through(&self, seq: u64) -> Result<()> {
        let mut state = self.state.lock();
        let seq = seq.min(state.appended);
        loop {
            if state.synced >= seq {
                return Ok(());
            }
            self.poison.check()?;
            if state.in_flight {
                state.waiting += 1;
                self.synced_or_failed.wait(&mut state);
                state.waiting -= 1;
                continue;
            }
            state.in_flight = true;
            state.syncs += 1;
            let target = state.appended;
            let file = Arc::clone(&state.file);
            let path = state.path.clone();
            // The fsync runs without the lock so that appends, and callers whose
            // records it already covers, go on meanwhile.
            let outcome = parking_lot::MutexGuard::unlocked(&mut state, || file.sync());
            state.in_flight = false;
            match outcome {
                Ok(()) => {
                    state.synced = state.synced.max(target);
                    self.synced_or_failed.notify_all();
                }
                Err(error) => {
                    self.poison
                        .set(format!("fsync of {} failed: {error}", path.display()));
                    self.synced_or_failed.notify_all();
                    return Err(Error::io("fsync", &path, error));
                }
            }
        }
    }

    /// Makes `file` the one appends go to from now on. Everything appended to the old
    /// file is synced first (waiting for a leader in flight), so no record of the old
    /// file is ever counted as durable by an fsync of the new one.
    pub(crate) fn switch_file(&self, file: Arc<dyn WalFile>, path: PathBuf) -> Result<()> {
        self.sync_through(u64::MAX)?;
        let mut state = self.state.lock();
        debug_assert!(!state.in_flight, "appends are held off while rotating");
        state.file = file;
        state.path = path;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.state.lock().waiting
    }

    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.state.lock().syncs
    }
}

#[cfg(test)]
mod tests;
