use std::collections::HashSet;
use std::io::{Read, Write};

use super::*;
use crate::fs::{read_all, write_atomic};
use crate::wal::{RecoveryMode, SyncPolicy, Wal, WalOptions};

fn p(path: &str) -> &Path {
    Path::new(path)
}

/// A disk with a durable `/db`, as if it had existed before the test.
fn disk() -> SimFileSystem {
    let fs = SimFileSystem::new();
    fs.create_durable_dir_all(p("/db")).unwrap();
    fs
}

/// `/db/f` holding `data`, durably: written, synced, its entry synced.
fn durable_file(fs: &SimFileSystem, data: &[u8]) {
    fs.write_file(p("/db/f"), data).unwrap();
    fs.sync_dir(p("/db")).unwrap();
}

#[test]
fn appended_but_unsynced_bytes_are_lost() {
    let fs = disk();
    durable_file(&fs, b"head");
    let wal = fs.open_append(p("/db/f")).unwrap();
    wal.append(b" tail").unwrap();
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"head tail");
    fs.power_cut();
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"head");

    // A new file whose entry is durable but whose bytes never were comes back empty.
    let mut new = fs.create(p("/db/g")).unwrap();
    new.write_all(b"never synced").unwrap();
    fs.sync_dir(p("/db")).unwrap();
    fs.power_cut();
    assert_eq!(fs.current_file(p("/db/g")).unwrap(), b"");
}

#[test]
fn synced_bytes_survive() {
    let fs = disk();
    durable_file(&fs, b"head");
    let wal = fs.open_append(p("/db/f")).unwrap();
    wal.append(b" one").unwrap();
    wal.sync().unwrap();
    wal.append(b" two").unwrap();
    let mut new = fs.create(p("/db/g")).unwrap();
    new.write_all(b"sealed").unwrap();
    new.sync().unwrap();
    fs.sync_dir(p("/db")).unwrap();
    assert_eq!(fs.durable_file(p("/db/f")).unwrap(), b"head one");
    fs.power_cut();
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"head one");
    assert_eq!(fs.current_file(p("/db/g")).unwrap(), b"sealed");
}

#[test]
fn a_synced_file_in_an_unsynced_directory_is_lost() {
    let fs = disk();
    fs.write_file(p("/db/f"), b"synced").unwrap();
    assert!(fs.exists(p("/db/f")));
    assert!(!fs.durably_exists(p("/db/f")));
    fs.power_cut();
    assert!(!fs.exists(p("/db/f")));
    assert_eq!(fs.list_dir(p("/db")).unwrap(), Vec::<String>::new());
}

#[test]
fn a_new_directory_is_durable_once_its_parent_is_synced() {
    let fs = disk();
    fs.create_dir_all(p("/db/a/b")).unwrap();
    fs.write_file(p("/db/a/b/f"), b"x").unwrap();
    fs.sync_dir(p("/db/a/b")).unwrap();
    fs.sync_dir(p("/db/a")).unwrap();
    fs.power_cut();
    assert!(!fs.exists(p("/db/a")), "/db was never synced");

    fs.create_dir_all(p("/db/a/b")).unwrap();
    fs.write_file(p("/db/a/b/f"), b"x").unwrap();
    for dir in ["/db/a/b", "/db/a", "/db"] {
        fs.sync_dir(p(dir)).unwrap();
    }
    fs.power_cut();
    assert_eq!(fs.current_file(p("/db/a/b/f")).unwrap(), b"x");
}

#[test]
fn rename_reverts_without_a_directory_sync_and_persists_with_one() {
    let fs = disk();
    durable_file(&fs, b"old");
    fs.write_file(p("/db/f.tmp"), b"new").unwrap();
    fs.rename(p("/db/f.tmp"), p("/db/f")).unwrap();
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"new");
    fs.power_cut();
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"old");
    assert!(!fs.exists(p("/db/f.tmp")));

    write_atomic(&fs, p("/db"), "f", b"new").unwrap();
    fs.power_cut();
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"new");
    assert_eq!(fs.list_dir(p("/db")).unwrap(), vec!["f".to_string()]);
}

#[test]
fn a_rename_across_directories_needs_both_synced() {
    let fs = disk();
    fs.create_durable_dir_all(p("/db/sub")).unwrap();
    durable_file(&fs, b"x");
    fs.rename(p("/db/f"), p("/db/sub/f")).unwrap();
    fs.sync_dir(p("/db/sub")).unwrap();
    fs.power_cut();
    // Only the target was synced: the file now has both names, as on a real disk.
    assert!(fs.exists(p("/db/f")) && fs.exists(p("/db/sub/f")));
}

#[test]
fn hard_links_share_the_file_and_need_a_directory_sync() {
    let fs = disk();
    durable_file(&fs, b"x");
    fs.hard_link(p("/db/f"), p("/db/link")).unwrap();
    let wal = fs.open_append(p("/db/link")).unwrap();
    wal.append(b"y").unwrap();
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"xy");
    assert_eq!(fs.space_used(), 2, "one file, two names");
    wal.sync().unwrap();
    fs.power_cut();
    assert!(!fs.exists(p("/db/link")));
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"xy");
    assert_eq!(
        fs.hard_link(p("/db/f"), p("/db/f")).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
}

#[test]
fn removals_revert_without_a_directory_sync() {
    let fs = disk();
    fs.create_dir_all(p("/db/seg")).unwrap();
    fs.write_file(p("/db/seg/a"), b"a").unwrap();
    fs.sync_dir(p("/db/seg")).unwrap();
    durable_file(&fs, b"f");
    fs.remove_dir_all(p("/db/seg")).unwrap();
    fs.remove_file(p("/db/f")).unwrap();
    assert!(!fs.exists(p("/db/seg")) && !fs.exists(p("/db/f")));
    fs.power_cut();
    assert_eq!(fs.current_file(p("/db/seg/a")).unwrap(), b"a");
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"f");

    fs.remove_dir_all(p("/db/seg")).unwrap();
    fs.remove_file(p("/db/f")).unwrap();
    fs.sync_dir(p("/db")).unwrap();
    fs.power_cut();
    assert_eq!(fs.list_dir(p("/db")).unwrap(), Vec::<String>::new());
    assert_eq!(fs.space_used(), 0);
}

#[test]
fn keep_random_prefix_leaves_durable_bytes_and_a_prefix_of_the_rest() {
    let appended: Vec<u8> = (0..200u8).collect();
    let mut lengths = HashSet::new();
    for seed in 0..20 {
        let fs = disk();
        durable_file(&fs, b"head");
        fs.set_power_cut_mode(PowerCutMode::KeepRandomPrefix { seed });
        let wal = fs.open_append(p("/db/f")).unwrap();
        wal.append(&appended).unwrap();
        fs.power_cut();
        let left = fs.current_file(p("/db/f")).unwrap();
        assert!(left.starts_with(b"head"), "seed {seed}");
        assert!(appended.starts_with(&left[4..]), "seed {seed}");
        assert_eq!(fs.durable_file(p("/db/f")).unwrap(), left, "now durable");
        lengths.insert(left.len());
    }
    assert!(
        lengths.len() > 10,
        "prefixes vary with the seed: {lengths:?}"
    );

    // Same seed, same outcome.
    let survivor = |seed| {
        let fs = disk();
        durable_file(&fs, b"head");
        fs.set_power_cut_mode(PowerCutMode::KeepRandomPrefix { seed });
        fs.open_append(p("/db/f"))
            .unwrap()
            .append(&appended)
            .unwrap();
        fs.power_cut();
        fs.current_file(p("/db/f")).unwrap()
    };
    assert_eq!(survivor(7), survivor(7));
}

#[test]
fn keep_random_prefix_reverts_a_file_rewritten_in_place() {
    let fs = disk();
    durable_file(&fs, b"old contents");
    fs.set_power_cut_mode(PowerCutMode::KeepRandomPrefix { seed: 1 });
    fs.create(p("/db/f"))
        .unwrap()
        .write_all(b"new contents that are longer")
        .unwrap();
    fs.power_cut();
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"old contents");
}

#[test]
fn a_full_disk_refuses_writes_until_space_is_freed() {
    let fs = disk();
    durable_file(&fs, b"0123456789");
    fs.set_space_limit(Some(16));
    let wal = fs.open_append(p("/db/f")).unwrap();
    wal.append(b"abcd").unwrap();
    let full = wal.append(b"efghijk").unwrap_err();
    assert_eq!(full.kind(), ErrorKind::StorageFull);
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"0123456789abcd");
    assert_eq!(
        fs.write_file(p("/db/g"), b"abc").unwrap_err().kind(),
        ErrorKind::StorageFull
    );
    let mut new = fs.create(p("/db/h")).unwrap();
    assert_eq!(
        new.write_all(b"abc").unwrap_err().kind(),
        ErrorKind::StorageFull
    );

    fs.set_space_limit(Some(100));
    wal.append(b"efghijk").unwrap();
    new.write_all(b"abc").unwrap();
    assert_eq!(fs.space_used(), 24);

    // Removing a file frees its space, but not while a handle keeps it open.
    fs.set_space_limit(Some(24));
    fs.remove_file(p("/db/f")).unwrap();
    assert_eq!(fs.space_used(), 24);
    drop(wal);
    assert_eq!(fs.space_used(), 3);
    new.write_all(b"more").unwrap();
}

#[test]
fn a_partially_full_disk_writes_what_fits() {
    let fs = disk();
    fs.set_space_limit(Some(6));
    fs.set_full_disk(FullDisk::WritePartial);
    fs.write_file(p("/db/f"), b"abcd").unwrap();
    let wal = fs.open_append(p("/db/f")).unwrap();
    assert_eq!(
        wal.append(b"efgh").unwrap_err().kind(),
        ErrorKind::StorageFull
    );
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"abcdef");
    wal.truncate(4).unwrap();
    let mut new = fs.create(p("/db/g")).unwrap();
    assert_eq!(new.write(b"xyz").unwrap(), 2, "a short write first");
    assert_eq!(new.write(b"z").unwrap_err().kind(), ErrorKind::StorageFull);
}

#[test]
fn injected_failures_fire_exactly_n_times() {
    let fs = disk();
    durable_file(&fs, b"x");
    let wal = fs.open_append(p("/db/f")).unwrap();
    fs.fail_next(Operation::Sync, 2);
    fs.fail_next(Operation::Rename, 1);
    for _ in 0..2 {
        let error = wal.sync().unwrap_err();
        assert!(error.to_string().contains("injected Sync"), "{error}");
    }
    wal.sync().unwrap();
    wal.append(b"y").unwrap();
    assert!(fs.rename(p("/db/f"), p("/db/g")).is_err());
    assert!(fs.exists(p("/db/f")), "a failed rename changes nothing");
    fs.rename(p("/db/f"), p("/db/g")).unwrap();

    fs.fail_next(Operation::Write, 1);
    fs.fail_next(Operation::LockDir, 1);
    assert!(fs.create(p("/db/h")).unwrap().write_all(b"a").is_err());
    assert!(matches!(fs.lock_dir(p("/db")), Err(Error::Io { .. })));
    fs.fail_next(Operation::SyncDir, 5);
    fs.clear_failures();
    fs.sync_dir(p("/db")).unwrap();
}

#[test]
fn fail_after_fails_exactly_one_operation_of_any_kind() {
    let fs = disk();
    durable_file(&fs, b"x");
    let before = fs.operations();
    fs.fail_after(2);
    fs.sync_dir(p("/db")).unwrap();
    fs.list_dir(p("/db")).unwrap();
    let error = fs.rename(p("/db/f"), p("/db/g")).unwrap_err();
    assert!(error.to_string().contains("injected Rename"), "{error}");
    assert!(fs.exists(p("/db/f")), "a failed rename changes nothing");
    fs.rename(p("/db/f"), p("/db/g")).unwrap();
    assert_eq!(fs.operations(), before + 4, "the failed one counts");
    fs.fail_after(0);
    fs.clear_failures();
    fs.sync_dir(p("/db")).unwrap();
}

#[test]
fn handles_die_in_a_power_cut() {
    let fs = disk();
    durable_file(&fs, b"x");
    let wal = fs.open_append(p("/db/f")).unwrap();
    let mut new = fs.create(p("/db/g")).unwrap();
    fs.power_cut();
    assert!(wal.append(b"y").is_err());
    assert!(wal.sync().is_err());
    assert!(wal.truncate(0).is_err());
    assert!(new.write(b"y").is_err());
    assert!(new.flush().is_err());
    assert!(new.sync().is_err());
    // Files opened after the cut work; dropping the dead handles disturbs nothing.
    let again = fs.open_append(p("/db/f")).unwrap();
    drop((wal, new));
    again.append(b"z").unwrap();
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"xz");
}

#[test]
fn a_directory_lock_is_exclusive_until_dropped_or_the_power_fails() {
    let fs = disk();
    let held = fs.lock_dir(p("/db")).unwrap();
    assert!(fs.exists(&Path::new("/db").join(LOCK_FILE_NAME)));
    match fs.lock_dir(p("/db")) {
        Err(Error::Locked { path, holder }) => {
            assert_eq!((path.as_path(), holder), (p("/db"), None));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(held);
    let held = fs.lock_dir(p("/db")).unwrap();
    fs.power_cut();
    let after = fs.lock_dir(p("/db")).unwrap();
    drop(held);
    assert!(
        matches!(fs.lock_dir(p("/db")), Err(Error::Locked { .. })),
        "a guard from before the cut does not release the new lock"
    );
    drop(after);
    assert!(matches!(fs.lock_dir(p("/missing")), Err(Error::Io { .. })));
}

#[test]
fn a_scheduled_power_cut_stops_everything_until_restart() {
    let fs = disk();
    durable_file(&fs, b"x");
    let wal = fs.open_append(p("/db/f")).unwrap();
    let before = fs.operations();
    fs.power_cut_after(2);
    wal.append(b"y").unwrap();
    wal.append(b"z").unwrap();
    assert!(wal.append(b"!").is_err(), "cut instead of the third");
    assert!(fs.is_powered_off());
    assert!(fs.list_dir(p("/db")).is_err());
    assert_eq!(fs.operations(), before + 2);
    fs.restart();
    assert_eq!(fs.current_file(p("/db/f")).unwrap(), b"x");
    assert!(wal.append(b"y").is_err(), "the handle died");
    fs.open_append(p("/db/f")).unwrap().append(b"y").unwrap();
}

#[test]
fn reads_and_maps_are_copies_of_the_current_bytes() {
    let fs = disk();
    fs.write_file(p("/db/f"), b"abc").unwrap();
    let map = fs.map(p("/db/f")).unwrap();
    let (mut reader, len) = fs.open_read(p("/db/f")).unwrap();
    fs.open_append(p("/db/f")).unwrap().append(b"d").unwrap();
    let mut read = Vec::new();
    reader.read_to_end(&mut read).unwrap();
    assert_eq!(
        (map.bytes(), read.as_slice(), len),
        (&b"abc"[..], &b"abc"[..], 3)
    );
    assert_eq!(read_all(&fs, p("/db/f")).unwrap(), b"abcd");
    assert_eq!(
        fs.map(p("/db")).unwrap_err().kind(),
        ErrorKind::IsADirectory
    );
    assert_eq!(
        fs.open_read(p("/db/x")).err().unwrap().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs.list_dir(p("/db/f")).unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
}

#[test]
fn paths_are_normalised_and_relative_ones_are_their_own_tree() {
    let fs = SimFileSystem::new();
    fs.create_dir_all(p("db/./sub")).unwrap();
    fs.write_file(p("db/sub/../f"), b"x").unwrap();
    assert_eq!(fs.current_file(p("./db/f")).unwrap(), b"x");
    assert!(!fs.exists(p("/db/f")));
    assert_eq!(fs.sync_dir(p("")).unwrap_err().kind(), ErrorKind::NotFound);
    fs.sync_dir(p(".")).unwrap();
    fs.sync_dir(p("db")).unwrap();
    fs.power_cut();
    assert_eq!(fs.current_file(p("db/f")).unwrap(), b"x");
    assert!(
        fs.exists(p("db/sub")),
        "synced along with db's other entries"
    );
}

#[test]
fn rename_follows_posix_rules() {
    let fs = disk();
    fs.create_dir_all(p("/db/d/e")).unwrap();
    fs.write_file(p("/db/f"), b"x").unwrap();
    let kind = |from, to| fs.rename(p(from), p(to)).unwrap_err().kind();
    assert_eq!(kind("/db/f", "/db/d"), ErrorKind::IsADirectory);
    assert_eq!(kind("/db/d/e", "/db/f"), ErrorKind::NotADirectory);
    assert_eq!(kind("/db/d/e", "/db/d"), ErrorKind::DirectoryNotEmpty);
    assert_eq!(kind("/db/d", "/db/d/e/x"), ErrorKind::InvalidInput);
    assert_eq!(kind("/db/nothing", "/db/g"), ErrorKind::NotFound);
    fs.rename(p("/db/d"), p("/db/moved")).unwrap();
    assert!(fs.exists(p("/db/moved/e")));
}

#[test]
fn the_durable_image_opens_with_the_real_file_system() {
    let fs = disk();
    let options = WalOptions {
        sync: SyncPolicy::Always,
        recovery: RecoveryMode::Strict,
        ..WalOptions::default()
    };
    let (mut wal, _) = Wal::open(Arc::new(fs.clone()), p("/db"), options, |_, _| Ok(())).unwrap();
    wal.append(&[b"one", b"two"]).unwrap();
    let real = tempfile::tempdir().unwrap();
    fs.write_durable_image_to(p("/db"), real.path()).unwrap();
    let mut seen = 0;
    let fs_real: Arc<dyn FileSystem> = Arc::new(crate::fs::StdFileSystem);
    Wal::open(fs_real, real.path(), options, |_, _| {
        seen += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, 2);
}

type Replayed = (Wal, crate::wal::ReplayReport, Vec<Vec<u8>>);

fn open_wal(fs: &SimFileSystem, sync: SyncPolicy) -> Result<Replayed> {
    let mut seen = Vec::new();
    let options = WalOptions {
        sync,
        recovery: RecoveryMode::Strict,
        ..WalOptions::default()
    };
    let (wal, report) = Wal::open(Arc::new(fs.clone()), p("/db"), options, |_, payload| {
        seen.push(payload.to_vec());
        Ok(())
    })?;
    Ok((wal, report, seen))
}

fn payloads(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("record {i} with a body").into_bytes())
        .collect()
}

#[test]
fn the_wal_under_always_keeps_every_record_through_a_power_cut() {
    let fs = disk();
    let records = payloads(12);
    let (mut wal, _, _) = open_wal(&fs, SyncPolicy::Always).unwrap();
    for record in &records[..10] {
        wal.append(&[record]).unwrap();
    }
    wal.append(&[&records[10], &records[11]]).unwrap();
    fs.power_cut();
    drop(wal);
    let (_, report, seen) = open_wal(&fs, SyncPolicy::Always).unwrap();
    assert_eq!(seen, records);
    assert!(report.damage.is_none());
}

#[test]
fn the_wal_under_never_keeps_a_prefix_and_reopens() {
    let records = payloads(20);
    let modes = std::iter::once(PowerCutMode::DropUnsynced)
        .chain((0..16).map(|seed| PowerCutMode::KeepRandomPrefix { seed }));
    let mut torn = 0;
    for mode in modes {
        let fs = disk();
        fs.set_power_cut_mode(mode);
        let (mut wal, _, _) = open_wal(&fs, SyncPolicy::Never).unwrap();
        for record in &records {
            wal.append(&[record]).unwrap();
        }
        fs.power_cut();
        drop(wal);
        let (mut wal, report, seen) = open_wal(&fs, SyncPolicy::Never).unwrap();
        assert!(records.starts_with(&seen), "{mode:?}");
        if mode == PowerCutMode::DropUnsynced {
            assert!(seen.is_empty());
        }
        if let Some((_, damage)) = report.damage {
            assert_eq!(damage.kind, crate::wal::DamageKind::TornTail, "{mode:?}");
            torn += 1;
        }
        // The log goes on after what survived, and a sync makes that durable.
        wal.append(&[b"after"]).unwrap();
        wal.sync().unwrap();
        fs.power_cut();
        drop(wal);
        let (_, report, again) = open_wal(&fs, SyncPolicy::Never).unwrap();
        assert!(report.damage.is_none(), "{mode:?}");
        assert_eq!(again.len(), seen.len() + 1);
        assert_eq!(again.last().unwrap(), b"after");
    }
    assert!(torn > 0, "some random prefix ends inside a record");
}

#[test]
fn the_wal_cuts_back_a_partial_append_on_a_full_disk() {
    let fs = disk();
    fs.set_full_disk(FullDisk::WritePartial);
    let (mut wal, _, _) = open_wal(&fs, SyncPolicy::Always).unwrap();
    wal.append(&[b"one"]).unwrap();
    fs.set_space_limit(Some(fs.space_used() + 10));
    match wal.append(&[b"two, which does not fit"]) {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), ErrorKind::StorageFull),
        other => panic!("expected a full disk, got {other:?}"),
    }
    fs.set_space_limit(None);
    wal.append(&[b"three"]).unwrap();
    fs.power_cut();
    drop(wal);
    let (_, report, seen) = open_wal(&fs, SyncPolicy::Always).unwrap();
    assert!(report.damage.is_none());
    assert_eq!(seen, vec![b"one".to_vec(), b"three".to_vec()]);
}

#[test]
fn a_failed_wal_sync_poisons_the_log() {
    let fs = disk();
    let (mut wal, _, _) = open_wal(&fs, SyncPolicy::Always).unwrap();
    fs.fail_next(Operation::Sync, 1);
    assert!(matches!(wal.append(&[b"one"]), Err(Error::Io { .. })));
    assert!(matches!(wal.append(&[b"two"]), Err(Error::Poisoned { .. })));
}

/// Cuts the power before each operation of opening a WAL and appending to it in turn:
/// whatever the cut point, the log reopens and holds every acknowledged record.
#[test]
fn the_wal_survives_a_power_cut_at_every_operation() {
    let records = payloads(5);
    for cut_at in 0.. {
        let fs = disk();
        fs.set_power_cut_mode(PowerCutMode::KeepRandomPrefix { seed: cut_at });
        fs.power_cut_after(cut_at);
        let mut acknowledged = 0;
        if let Ok((mut wal, _, _)) = open_wal(&fs, SyncPolicy::Always) {
            for record in &records {
                if wal.append(&[record]).is_err() {
                    break;
                }
                acknowledged += 1;
            }
        }
        if !fs.is_powered_off() {
            assert_eq!(acknowledged, records.len());
            assert!(
                cut_at > 5,
                "the workload has more than a handful of operations"
            );
            break;
        }
        fs.restart();
        let (_, report, seen) = open_wal(&fs, SyncPolicy::Always)
            .unwrap_or_else(|e| panic!("cut before operation {cut_at}: {e}"));
        assert!(records.starts_with(&seen), "cut before operation {cut_at}");
        assert!(seen.len() >= acknowledged, "cut before operation {cut_at}");
        if let Some((_, damage)) = report.damage {
            assert_eq!(damage.kind, crate::wal::DamageKind::TornTail);
        }
    }
}
