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
//! Rotation replaces the file without an fsync (it runs under the WAL mutex, where
//! every writer would wait for it): [`GroupSync::switch_file`] lists the old file as
//! not yet known durable and marks the directory (which gained the new file's entry)
//! for syncing. A leader notes the current file, the listed files and the last appended
//! sequence together under [`GroupSync`]'s own lock, then fsyncs the listed files, the
//! directory, and the current file, in that order: records of a newer file are never
//! counted durable before every older one is. A leader that noted the old file as
//! current before the switch syncs only records of that file.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::syncer::Poison;
use crate::error::{Error, Result};
use crate::fs::{FileSystem, WalFile};

/// The shared fsync of one write-ahead log. Obtained from [`super::Wal::group_sync`];
/// usable without the WAL's own mutex.
#[derive(Debug)]
pub struct GroupSync {
    state: Mutex<State>,
    synced_or_failed: Condvar,
    poison: Arc<Poison>,
    fs: Arc<dyn FileSystem>,
    /// The directory of the WAL files.
    dir: PathBuf,
}

#[derive(Debug)]
struct State {
    file: Arc<dyn WalFile>,
    path: PathBuf,
    /// Older files rotated away from before an fsync covered their last record.
    unsynced: Vec<(Arc<dyn WalFile>, PathBuf)>,
    /// The directory gained a file since its last fsync.
    dir_dirty: bool,
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
        fs: Arc<dyn FileSystem>,
        dir: PathBuf,
        (file, path): (Arc<dyn WalFile>, PathBuf),
        appended: u64,
        poison: Arc<Poison>,
    ) -> GroupSync {
        GroupSync {
            fs,
            dir,
            state: Mutex::new(State {
                file,
                path,
                unsynced: Vec::new(),
                dir_dirty: false,
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
            let older = std::mem::take(&mut state.unsynced);
            let dir_dirty = std::mem::replace(&mut state.dir_dirty, false);
            let file = Arc::clone(&state.file);
            let path = state.path.clone();
            // The fsyncs run without the lock so that appends, and callers whose
            // records they already cover, go on meanwhile. Oldest first: a record of
            // a newer file is durable only once every older one is.
            let outcome = parking_lot::MutexGuard::unlocked(&mut state, || {
                for (older, older_path) in &older {
                    older
                        .sync()
                        .map_err(|error| Error::io("fsync", older_path, error))?;
                }
                if dir_dirty {
                    self.fs
                        .sync_dir(&self.dir)
                        .map_err(|error| Error::io("fsync directory", &self.dir, error))?;
                }
                file.sync()
                    .map_err(|error| Error::io("fsync", &path, error))
            });
            state.in_flight = false;
            match outcome {
                Ok(()) => {
                    state.synced = state.synced.max(target);
                    self.synced_or_failed.notify_all();
                }
                Err(error) => {
                    self.poison.set(format!("{error}"));
                    self.synced_or_failed.notify_all();
                    return Err(error);
                }
            }
        }
    }

    /// Makes `file`, just created in the WAL directory, the one appends go to from now
    /// on, without an fsync: the old file, unless every record in it is durable, is
    /// listed for the next leader to sync before the new one, and so is the directory.
    pub(crate) fn switch_file(&self, file: Arc<dyn WalFile>, path: PathBuf) {
        let mut state = self.state.lock();
        let old = (
            std::mem::replace(&mut state.file, file),
            std::mem::replace(&mut state.path, path),
        );
        if state.synced < state.appended {
            state.unsynced.push(old);
        }
        state.dir_dirty = true;
    }

    /// The directory of the WAL files.
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
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
