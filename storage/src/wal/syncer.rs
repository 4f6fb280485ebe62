//! The background fsync of `SyncPolicy::EverySecond`, and the poison flag that a failed
//! fsync raises for every later append.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::fs::WalFile;

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

/// The thread that fsyncs the WAL once a second when something was appended.
#[derive(Debug)]
pub(crate) struct Syncer {
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    pub fn start(file: Arc<dyn WalFile>, path: PathBuf, poison: Arc<Poison>) -> Result<Syncer> {
        let stop = Arc::new(Stop::default());
        let thread_stop = Arc::clone(&stop);
        let spawn_path = path.clone();
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
                if poison.take_dirty() {
                    if let Err(error) = file.sync() {
                        poison.set(format!(
                            "background fsync of {} failed: {error}",
                            path.display()
                        ));
                    }
                }
            })
            .map_err(|e| Error::io("start the WAL sync thread for", &spawn_path, e))?;
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
