use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::fs::{FileSystem, LockGuard, MappedFile, NewFile, SimFileSystem, WalFile};
use crate::wal::{RecoveryMode, SyncPolicy, Wal, WalOptions};

/// A simulated disk whose WAL fsyncs can be held at a gate (so a test can park a
/// leader mid-fsync and line writers up behind it) and made to fail.
#[derive(Debug, Default)]
struct Gate {
    closed: Mutex<bool>,
    changed: Condvar,
    /// WAL fsyncs that reached the gate.
    arrived: AtomicU64,
    fail: AtomicBool,
}

impl Gate {
    fn set_closed(&self, closed: bool) {
        *self.closed.lock() = closed;
        self.changed.notify_all();
    }

    fn pass(&self) -> io::Result<()> {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let mut closed = self.closed.lock();
        while *closed {
            // A test that fails while a leader is parked must end, not hang.
            if self
                .changed
                .wait_for(&mut closed, std::time::Duration::from_secs(60))
                .timed_out()
            {
                return Err(io::Error::other("the test never opened the gate"));
            }
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(io::Error::other("EIO"));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct GatedFs {
    sim: SimFileSystem,
    gate: Arc<Gate>,
}

#[derive(Debug)]
struct GatedFile {
    inner: Arc<dyn WalFile>,
    gate: Arc<Gate>,
}

impl WalFile for GatedFile {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        self.inner.append(data)
    }
    fn sync(&self) -> io::Result<()> {
        self.gate.pass()?;
        self.inner.sync()
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
}

impl FileSystem for GatedFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.sim.create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.sim.list_dir(path)
    }
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        Ok(Arc::new(GatedFile {
            inner: self.sim.open_append(path)?,
            gate: Arc::clone(&self.gate),
        }))
    }
    fn open_read(&self, path: &Path) -> io::Result<(Box<dyn io::Read + Send>, u64)> {
        self.sim.open_read(path)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn NewFile>> {
        self.sim.create(path)
    }
    fn map(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        self.sim.map(path)
    }
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.sim.hard_link(from, to)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.sim.remove_dir_all(path)
    }
    fn write_file(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.sim.write_file(path, data)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.sim.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.sim.remove_file(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.sim.sync_dir(path)
    }
    fn lock_dir(&self, dir: &Path) -> Result<Box<dyn LockGuard>> {
        self.sim.lock_dir(dir)
    }
}

const DIR: &str = "/db";

fn options(next_seq_floor: u64) -> WalOptions {
    WalOptions {
        sync: SyncPolicy::Always,
        recovery: RecoveryMode::Strict,
        next_seq_floor,
    }
}

fn open(sim: &SimFileSystem, gate: &Arc<Gate>) -> Wal {
    sim.create_durable_dir_all(Path::new(DIR)).unwrap();
    let fs = Arc::new(GatedFs {
        sim: sim.clone(),
        gate: Arc::clone(gate),
    });
    Wal::open(fs, Path::new(DIR), options(1), |_, _| Ok(()))
        .unwrap()
        .0
}

/// Every record a power cut leaves, by sequence number.
fn replay_after_power_cut(sim: &SimFileSystem, floor: u64) -> Vec<(u64, Vec<u8>)> {
    sim.power_cut();
    let mut seen = Vec::new();
    Wal::open(
        Arc::new(sim.clone()),
        Path::new(DIR),
        options(floor),
        |seq, payload| {
            seen.push((seq, payload.to_vec()));
            Ok(())
        },
    )
    .unwrap();
    seen
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn concurrent_appenders_each_return_only_once_durable() {
    let sim = SimFileSystem::new();
    let wal = Mutex::new(open(&sim, &Arc::default()));
    let group = wal.lock().group_sync();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let (wal, group, sim) = (&wal, &group, &sim);
            scope.spawn(move || {
                for i in 0..50 {
                    let body = format!("thread {thread} record {i}").into_bytes();
                    let (seq, path) = {
                        let mut wal = wal.lock();
                        let seq = wal.append_unsynced(&[&body]).unwrap();
                        (seq, wal.file_path.clone())
                    };
                    group.sync_through(seq).unwrap();
                    let durable = sim.durable_file(&path).expect("the WAL file is durable");
                    assert!(
                        contains(&durable, &body),
                        "record {seq} acknowledged before it was durable"
                    );
                }
            });
        }
    });
    let seen = replay_after_power_cut(&sim, 1);
    assert_eq!(seen.len(), 8 * 50, "every acknowledged record survives");
}

#[test]
fn writers_arriving_during_an_fsync_share_the_next_one() {
    let sim = SimFileSystem::new();
    let gate = Arc::new(Gate::default());
    let wal = Mutex::new(open(&sim, &gate));
    let group = wal.lock().group_sync();
    gate.set_closed(true);
    let syncs_before = group.syncs();
    let append = |i: u64| {
        let seq = wal
            .lock()
            .append_unsynced(&[format!("record {i}").as_bytes()])
            .unwrap();
        group.sync_through(seq).map(|()| seq)
    };
    let results = std::thread::scope(|scope| {
        let leader = scope.spawn(|| append(0));
        wait_until("the leader reaches its fsync", || {
            gate.arrived.load(Ordering::SeqCst) == 1
        });
        let waiters: Vec<_> = (1..8).map(|i| scope.spawn(move || append(i))).collect();
        wait_until("seven writers wait", || group.waiting() == 7);
        gate.set_closed(false);
        std::iter::once(leader)
            .chain(waiters)
            .map(|handle| handle.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        group.syncs() - syncs_before,
        2,
        "the leader's fsync, then one for the seven that arrived during it"
    );
    assert_eq!(replay_after_power_cut(&sim, 1).len(), 8);
}

#[test]
fn a_failed_fsync_fails_every_waiter_and_poisons_the_log() {
    let sim = SimFileSystem::new();
    let gate = Arc::new(Gate::default());
    let wal = Mutex::new(open(&sim, &gate));
    let group = wal.lock().group_sync();
    wal.lock().append(&[b"durable before the failure"]).unwrap();
    let arrived_before = gate.arrived.load(Ordering::SeqCst);
    gate.set_closed(true);
    let append = |i: u64| {
        let seq = wal
            .lock()
            .append_unsynced(&[format!("record {i}").as_bytes()])
            .unwrap();
        group.sync_through(seq)
    };
    let (leader, waiters) = std::thread::scope(|scope| {
        let leader = scope.spawn(|| append(0));
        wait_until("the leader reaches its fsync", || {
            gate.arrived.load(Ordering::SeqCst) == arrived_before + 1
        });
        let waiters: Vec<_> = (1..8).map(|i| scope.spawn(move || append(i))).collect();
        wait_until("seven writers wait", || group.waiting() == 7);
        gate.fail.store(true, Ordering::SeqCst);
        gate.set_closed(false);
        let leader = leader.join().unwrap();
        let waiters: Vec<_> = waiters.into_iter().map(|h| h.join().unwrap()).collect();
        (leader, waiters)
    });
    assert!(matches!(leader, Err(Error::Io { .. })), "{leader:?}");
    for waiter in &waiters {
        assert!(matches!(waiter, Err(Error::Poisoned { .. })), "{waiter:?}");
    }
    gate.fail.store(false, Ordering::SeqCst);
    assert!(matches!(
        wal.lock().append_unsynced(&[b"after"]),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(wal.lock().sync(), Err(Error::Poisoned { .. })));
    // What was durable before the failure still is.
    assert!(group.sync_through(1).is_ok());
}

#[test]
fn rotation_waits_for_a_leader_syncing_the_old_file() {
    let sim = SimFileSystem::new();
    let gate = Arc::new(Gate::default());
    let wal = Mutex::new(open(&sim, &gate));
    let group = wal.lock().group_sync();
    let old_file = wal.lock().file_path.clone();
    gate.set_closed(true);
    std::thread::scope(|scope| {
        let leader = scope.spawn(|| {
            let seq = wal.lock().append_unsynced(&[b"in the old file"]).unwrap();
            group.sync_through(seq)
        });
        wait_until("the leader reaches its fsync", || {
            gate.arrived.load(Ordering::SeqCst) == 1
        });
        let rotator = scope.spawn(|| wal.lock().rotate(u64::MAX));
        wait_until("the rotation waits for the leader", || group.waiting() == 1);
        assert!(
            sim.exists(&old_file) && wal.is_locked(),
            "no new file takes appends while the old one is being synced"
        );
        gate.set_closed(false);
        leader.join().unwrap().unwrap();
        rotator.join().unwrap().unwrap();
    });
    let seq = {
        let mut wal = wal.lock();
        assert_ne!(wal.file_path, old_file);
        wal.append_unsynced(&[b"in the new file"]).unwrap()
    };
    assert_eq!(seq, 2);
    group.sync_through(seq).unwrap();
    assert_eq!(
        group.syncs(),
        2,
        "one fsync of the old file (the rotation shares it), one of the new"
    );
    // A manifest covering record 1 is what allows the rotation: the floor is 2.
    assert_eq!(
        replay_after_power_cut(&sim, 2),
        vec![(2, b"in the new file".to_vec())]
    );
}
