//! The background fsync of `SyncPolicy::EverySecond`, and the poison flag that a failed
//! fsync raises for every later append.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::group::GroupSync;
use crate::error::{Error, Result};

/// Set once an fsync fails; from then on the log refuses appends until reopened.
#[derive(Debug, Default)]
pub(crate) struct Poison {
    reason: Mutex<Option<String>>,
    dirty: AtomicBool,
}

impl Poison {
    pub fn check(&self) -> Result<()> {
        match self.reason.lock().as_ref() {
            Some(reason) => Err(Error::Poisoned {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    pub fn set(&self, reason: String) {
        self.reason.lock().get_or_insert(reason);
    }

    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::AcqRel)
    }
}

#[derive(Debug, Default)]
struct Stop {
    requested: Mutex<bool>,
    wake: Condvar,
}

/// The thread that fsyncs the WAL once a second when something was appended. It syncs
/// through the group sync, which follows rotations (and syncs the files rotated away
/// from first), so it never needs restarting.
#[derive(Debug)]
pub(crate) struct Syncer {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    pub fn start(group: Arc<GroupSync>, poison: Arc<Poison>) -> Result<Syncer> {
        let stop = Arc::new(Stop::default());
        let thread_stop = Arc::clone(&stop);
        let dir = group.dir().to_path_buf();
        let thread = std::thread::Builder::new()
            .name("strata-wal-sync".into())
            .spawn(move || loop {
                {
                    let mut requested = thread_stop.requested.lock();
                    if !*requested {
                        thread_stop
                            .wake
                            .wait_for(&mut requested, Duration::from_secs(1));
                    }
                    if *requested {
                        return;
                    }
                }
                // A failure poisons the log inside the group sync; appends report it.
                if poison.take_dirty() {
                    let _ = group.sync_through(u64::MAX);
                }
            })
            .map_err(|e| Error::io("start the WAL sync thread for", &dir, e))?;
        Ok(Syncer {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        *self.stop.requested.lock() = true;
        self.stop.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
