use std::fs::OpenOptions;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::fs::{LockGuard, StdFileSystem};

type Replayed = (Wal, ReplayReport, Vec<(u64, Vec<u8>)>);

fn open_collecting(dir: &Path, recovery: RecoveryMode) -> Result<Replayed> {
    let mut seen = Vec::new();
    let options = WalOptions {
        sync: SyncPolicy::Always,
        recovery,
        next_seq_floor: 1,
    };
    let (wal, report) = Wal::open(Arc::new(StdFileSystem), dir, options, |seq, payload| {
        seen.push((seq, payload.to_vec()));
        Ok(())
    })?;
    Ok((wal, report, seen))
}

fn payload(i: u64) -> Vec<u8> {
    format!("record number {i} with some body").into_bytes()
}

fn write_records(dir: &Path, count: u64) -> PathBuf {
    let (mut wal, _, _) = open_collecting(dir, RecoveryMode::Strict).unwrap();
    for i in 0..count {
        wal.append(&[&payload(i)]).unwrap();
    }
    let path = wal.file_path.clone();
    drop(wal);
    path
}

#[test]
fn records_round_trip_in_order_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 10);
    let (mut wal, report, seen) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
    assert_eq!(report.records, 10);
    assert_eq!(report.last_seq, 10);
    assert!(report.damage.is_none());
    for (i, (seq, body)) in seen.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(body, &payload(i as u64));
    }
    assert_eq!(wal.append(&[b"next"]).unwrap(), 11);
}

#[test]
fn a_batch_is_consecutive_records() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _, _) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
    assert_eq!(wal.append(&[b"a", b"b", b"c"]).unwrap(), 3);
    drop(wal);
    let (_, _, seen) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
    let bodies: Vec<&[u8]> = seen.iter().map(|(_, body)| body.as_slice()).collect();
    assert_eq!(bodies, vec![b"a" as &[u8], b"b", b"c"]);
}

#[test]
fn every_cut_of_the_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_records(dir.path(), 3);
    let full = std::fs::read(&path).unwrap();
    let last_len = RECORD_HEADER_LEN + payload(2).len();
    for cut in 1..last_len {
        std::fs::write(&path, &full[..full.len() - cut]).unwrap();
        let (mut wal, report, seen) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
        assert_eq!(seen.len(), 2, "cut of {cut} bytes");
        let (_, damage) = report.damage.expect("torn tail reported");
        assert_eq!(damage.kind, DamageKind::TornTail);
        assert_eq!(damage.dropped_bytes, (last_len - cut) as u64);
        // The tail is cut off the file, so the next append lands on a clean boundary.
        assert_eq!(wal.append(&[b"after"]).unwrap(), 3);
        drop(wal);
        let (_, report, seen) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
        assert!(report.damage.is_none());
        assert_eq!(seen.last().unwrap().1, b"after");
        std::fs::write(&path, &full).unwrap();
    }
}

#[test]
fn a_zero_filled_tail_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_records(dir.path(), 3);
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&[0u8; 4096])
        .unwrap();
    let (_, report, seen) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(report.damage.unwrap().1.kind, DamageKind::TornTail);
}

#[test]
fn any_flipped_byte_before_the_last_record_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_records(dir.path(), 4);
    let full = std::fs::read(&path).unwrap();
    let last_start = full.len() - (RECORD_HEADER_LEN + payload(3).len());
    for at in format::HEADER_LEN..last_start {
        let mut damaged = full.clone();
        damaged[at] ^= 0x40;
        std::fs::write(&path, &damaged).unwrap();
        match open_collecting(dir.path(), RecoveryMode::Strict) {
            Err(Error::Corrupt { offset, .. }) => {
                assert!(offset <= at as u64, "flip at {at} reported at {offset}")
            }
            other => panic!(
                "flip at byte {at}: expected Corrupt, got {:?}",
                other.map(|r| r.1)
            ),
        }
    }
    std::fs::write(&path, &full).unwrap();
}

#[test]
fn header_damage_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_records(dir.path(), 1);
    let mut damaged = std::fs::read(&path).unwrap();
    damaged[3] ^= 1;
    std::fs::write(&path, &damaged).unwrap();
    assert!(matches!(
        open_collecting(dir.path(), RecoveryMode::Strict),
        Err(Error::Corrupt { offset: 0, .. })
    ));
}

#[test]
fn truncating_recovery_cuts_at_the_damage_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_records(dir.path(), 5);
    let mut damaged = std::fs::read(&path).unwrap();
    let second_record = format::HEADER_LEN + RECORD_HEADER_LEN + payload(0).len();
    damaged[second_record + RECORD_HEADER_LEN + 2] ^= 0xff;
    std::fs::write(&path, &damaged).unwrap();
    let (mut wal, report, seen) =
        open_collecting(dir.path(), RecoveryMode::TruncateAtCorruption).unwrap();
    assert_eq!(seen.len(), 1);
    let (_, damage) = report.damage.unwrap();
    assert_eq!(damage.offset, second_record as u64);
    assert!(matches!(damage.kind, DamageKind::Corrupt { .. }));
    assert_eq!(wal.append(&[b"fresh"]).unwrap(), 2);
    drop(wal);
    let (_, report, seen) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
    assert!(report.damage.is_none());
    assert_eq!(seen.len(), 2);
}

#[test]
fn oversized_records_are_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _, _) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
    let huge = vec![0u8; MAX_PAYLOAD_LEN + 1];
    assert!(matches!(
        wal.append(&[b"ok", &huge]),
        Err(Error::RecordTooLarge { .. })
    ));
    assert_eq!(
        wal.append(&[b"ok"]).unwrap(),
        1,
        "nothing of the refused batch was written"
    );
}

/// A file system whose WAL appends or syncs fail while a switch is on.
#[derive(Debug, Default)]
struct Failing {
    fail_append: Arc<AtomicBool>,
    fail_sync: Arc<AtomicBool>,
}

#[derive(Debug)]
struct FailingFile {
    inner: Arc<dyn WalFile>,
    fail_append: Arc<AtomicBool>,
    fail_sync: Arc<AtomicBool>,
}

impl WalFile for FailingFile {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        if self.fail_append.load(Ordering::SeqCst) {
            // Half the bytes reach the file, as on a disk that fills mid-write.
            self.inner.append(&data[..data.len() / 2])?;
            return Err(io::Error::other("no space left on device"));
        }
        self.inner.append(data)
    }
    fn sync(&self) -> io::Result<()> {
        if self.fail_sync.load(Ordering::SeqCst) {
            return Err(io::Error::other("EIO"));
        }
        self.inner.sync()
    }
    fn truncate(&self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
}

impl FileSystem for Failing {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        StdFileSystem.create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        StdFileSystem.list_dir(path)
    }
    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        Ok(Arc::new(FailingFile {
            inner: StdFileSystem.open_append(path)?,
            fail_append: Arc::clone(&self.fail_append),
            fail_sync: Arc::clone(&self.fail_sync),
        }))
    }
    fn open_read(&self, path: &Path) -> io::Result<(Box<dyn io::Read + Send>, u64)> {
        StdFileSystem.open_read(path)
    }
    fn write_file(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        StdFileSystem.write_file(path, data)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        StdFileSystem.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        StdFileSystem.remove_file(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        StdFileSystem.sync_dir(path)
    }
    fn lock_dir(&self, dir: &Path) -> Result<Box<dyn LockGuard>> {
        StdFileSystem.lock_dir(dir)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn crate::fs::NewFile>> {
        StdFileSystem.create(path)
    }
    fn map(&self, path: &Path) -> io::Result<Arc<dyn crate::fs::MappedFile>> {
        StdFileSystem.map(path)
    }
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        StdFileSystem.hard_link(from, to)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        StdFileSystem.remove_dir_all(path)
    }
}

#[test]
fn a_failed_append_leaves_the_log_clean_and_usable() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(Failing::default());
    let options = WalOptions {
        sync: SyncPolicy::Always,
        recovery: RecoveryMode::Strict,
        next_seq_floor: 1,
    };
    let (mut wal, _) = Wal::open(fs.clone(), dir.path(), options, |_, _| Ok(())).unwrap();
    wal.append(&[b"one"]).unwrap();
    fs.fail_append.store(true, Ordering::SeqCst);
    assert!(matches!(wal.append(&[b"two"]), Err(Error::Io { .. })));
    fs.fail_append.store(false, Ordering::SeqCst);
    assert_eq!(
        wal.append(&[b"three"]).unwrap(),
        2,
        "space is back: appends work again"
    );
    drop(wal);
    let (_, report, seen) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
    assert!(report.damage.is_none());
    let bodies: Vec<&[u8]> = seen.iter().map(|(_, body)| body.as_slice()).collect();
    assert_eq!(bodies, vec![b"one" as &[u8], b"three"]);
}

#[test]
fn a_failed_fsync_poisons_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(Failing::default());
    let options = WalOptions {
        sync: SyncPolicy::Always,
        recovery: RecoveryMode::Strict,
        next_seq_floor: 1,
    };
    let (mut wal, _) = Wal::open(fs.clone(), dir.path(), options, |_, _| Ok(())).unwrap();
    wal.append(&[b"zero"]).unwrap();
    fs.fail_sync.store(true, Ordering::SeqCst);
    assert!(matches!(wal.append(&[b"one"]), Err(Error::Io { .. })));
    fs.fail_sync.store(false, Ordering::SeqCst);
    assert!(matches!(wal.append(&[b"two"]), Err(Error::Poisoned { .. })));
    // The record whose fsync failed was reported failed, but its bytes may have
    // reached the disk (nothing tells), as with any write whose fsync failed: a reopen
    // may replay it. What was refused after the poisoning never is.
    drop(wal);
    let (_, report, seen) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
    assert!(report.damage.is_none());
    let bodies: Vec<&[u8]> = seen.iter().map(|(_, body)| body.as_slice()).collect();
    assert_eq!(bodies[0], b"zero");
    assert!(!bodies.contains(&(b"two" as &[u8])), "{bodies:?}");
}

#[test]
fn every_second_policy_syncs_in_the_background_and_reports_failure() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(Failing::default());
    let options = WalOptions {
        sync: SyncPolicy::EverySecond,
        recovery: RecoveryMode::Strict,
        next_seq_floor: 1,
    };
    let (mut wal, _) = Wal::open(fs.clone(), dir.path(), options, |_, _| Ok(())).unwrap();
    fs.fail_sync.store(true, Ordering::SeqCst);
    wal.append(&[b"one"]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match wal.append(&[b"more"]) {
            Err(Error::Poisoned { .. }) => break,
            Ok(_) => assert!(
                std::time::Instant::now() < deadline,
                "background fsync never ran"
            ),
            Err(other) => panic!("unexpected {other:?}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn an_interrupted_file_creation_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 2);
    let stale = dir.path().join(format!("{}.tmp", format::file_name(3)));
    std::fs::write(&stale, b"half a hea").unwrap();
    let (_, report, seen) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
    assert_eq!((report.records, seen.len()), (2, 2));
    assert!(!stale.exists());
}

#[test]
fn rotation_trims_covered_files_and_the_floor_is_respected() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _, _) = open_collecting(dir.path(), RecoveryMode::Strict).unwrap();
    wal.append(&[b"one", b"two"]).unwrap();
    wal.rotate(u64::MAX).unwrap();
    assert_eq!(wal.files().len(), 1);
    wal.append(&[b"three"]).unwrap();
    drop(wal);
    // The engine opens with the floor its manifest gives: here, records 1 and 2 are
    // covered, so the WAL must hold everything from 3 on.
    let floor = |next_seq_floor| WalOptions {
        sync: SyncPolicy::Always,
        recovery: RecoveryMode::Strict,
        next_seq_floor,
    };
    let mut seen = Vec::new();
    let (_, report) = Wal::open(
        Arc::new(StdFileSystem),
        dir.path(),
        floor(3),
        |seq, payload| {
            seen.push((seq, payload.to_vec()));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, vec![(3, b"three".to_vec())]);
    assert_eq!(report.last_seq, 3);
    assert!(
        matches!(
            Wal::open(Arc::new(StdFileSystem), dir.path(), floor(1), |_, _| Ok(())),
            Err(Error::Corrupt { .. })
        ),
        "records 1 and 2 are gone, so a floor of 1 cannot be met"
    );

    // A manifest covering up to 9 means the WAL must continue at 10 or later.
    let options = WalOptions {
        sync: SyncPolicy::Always,
        recovery: RecoveryMode::Strict,
        next_seq_floor: 10,
    };
    let (mut wal, _) =
        Wal::open(Arc::new(StdFileSystem), dir.path(), options, |_, _| Ok(())).unwrap();
    assert_eq!(wal.append(&[b"ten"]).unwrap(), 10);
    drop(wal);
    let mut last = 0;
    let (_, report) = Wal::open(Arc::new(StdFileSystem), dir.path(), floor(10), |seq, _| {
        last = seq;
        Ok(())
    })
    .unwrap();
    assert_eq!((report.last_seq, last), (10, 10));

    // A WAL that starts above the floor has lost records.
    let options = WalOptions {
        sync: SyncPolicy::Always,
        recovery: RecoveryMode::Strict,
        next_seq_floor: 2,
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(format::file_name(5)),
        format::encode_header(5),
    )
    .unwrap();
    assert!(matches!(
        Wal::open(Arc::new(StdFileSystem), dir.path(), options, |_, _| Ok(())),
        Err(Error::Corrupt { .. })
    ));
}
