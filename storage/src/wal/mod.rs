//! The write-ahead log: every mutation is framed here before it is acknowledged.
//!
//! ```text
//! Wal::open ── list wal-*.log ── replay each in order ── cut a torn tail ── writer
//!                                  (replay.rs)                               │
//! append(payloads) ── frame (format.rs) ── one write ── fsync per SyncPolicy ┘
//!                                                       ├─ Always: group commit
//!                                                       └─ EverySec: syncer thread
//! ```
//!
//! Under `Always` a writer may append with [`Wal::append_unsynced`] under its own
//! mutex, release it, and wait in [`GroupSync::sync_through`], so that writers arriving
//! while an fsync is in flight share the next one (group.rs).
//!
//! The WAL never interprets payloads; the engine encodes and decodes them.

pub mod format;
mod group;
mod replay;
mod syncer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use group::GroupSync;
pub use replay::{Damage, DamageKind, RecoveryMode};

use crate::error::{Error, Result};
use crate::fs::{write_atomic, FileSystem, WalFile};
use format::{
    encode_header, encode_record, file_name, parse_file_name, MAX_PAYLOAD_LEN, RECORD_HEADER_LEN,
};
use syncer::{Poison, Syncer};

/// When appended records are made durable, with the meaning of Redis's `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// fsync before an append returns; a batch of records costs one fsync.
    Always,
    /// fsync from a background thread once a second: a crash of the machine loses at
    /// most about a second of acknowledged writes; a crash of the process loses none.
    #[default]
    EverySecond,
    /// Never fsync; the OS writes back when it likes.
    Never,
}

/// Options for opening the WAL.
#[derive(Clone, Copy, Debug)]
pub struct WalOptions {
    pub sync: SyncPolicy,
    pub recovery: RecoveryMode,
    /// Sequence number the next record must get at least: one past the last record
    /// that a published manifest covers. Records below it may have been trimmed.
    pub next_seq_floor: u64,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions {
            sync: SyncPolicy::default(),
            recovery: RecoveryMode::default(),
            next_seq_floor: 1,
        }
    }
}

/// What replay found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records handed to the caller.
    pub records: u64,
    /// Sequence number of the last record replayed, 0 for an empty log.
    pub last_seq: u64,
    /// Damage that was cut away (a torn tail, or corruption under truncating recovery),
    /// with the file it was in.
    pub damage: Option<(PathBuf, Damage)>,
    /// WAL files removed because they followed cut-away corruption.
    pub dropped_files: Vec<PathBuf>,
}

/// An open write-ahead log, positioned after its last intact record.
#[derive(Debug)]
pub struct Wal {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    /// Every WAL file, oldest first, the current one last.
    files: Vec<PathBuf>,
    file: Arc<dyn WalFile>,
    file_path: PathBuf,
    /// Bytes of the current file that hold intact records; a failed append is cut back
    /// to this length.
    file_len: u64,
    next_seq: u64,
    policy: SyncPolicy,
    poison: Arc<Poison>,
    group: Arc<GroupSync>,
    syncer: Option<Syncer>,
    frame: Vec<u8>,
}

impl Wal {
    /// Opens the WAL in `dir`, replaying every record through `apply`, and returns the
    /// log ready to append after the last intact record.
    ///
    /// `apply` receives `(seq, payload)` in sequence order. An error from `apply` stops
    /// the replay and is returned as is.
    pub fn open(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        options: WalOptions,
        mut apply: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<(Wal, ReplayReport)> {
        let names = fs.list_dir(dir).map_err(|e| Error::io("list", dir, e))?;
        for stale in names.iter().filter(|name| {
            name.strip_suffix(".tmp")
                .is_some_and(|n| parse_file_name(n).is_some())
        }) {
            // A WAL file whose creation was interrupted before its rename; it never held
            // a record.
            let path = dir.join(stale);
            fs.remove_file(&path)
                .map_err(|e| Error::io("remove", &path, e))?;
        }
        let mut files: Vec<(u64, PathBuf)> = names
            .into_iter()
            .filter_map(|name| parse_file_name(&name).map(|seq| (seq, dir.join(name))))
            .collect();
        files.sort();

        let mut report = ReplayReport::default();
        let mut current: Option<(PathBuf, u64)> = None;
        let mut next_seq = 1u64;
        for (index, (first_seq, path)) in files.iter().enumerate() {
            if report.damage.is_some() {
                // Everything after cut-away corruption goes with it.
                fs.remove_file(path)
                    .map_err(|e| Error::io("remove", path, e))?;
                report.dropped_files.push(path.clone());
                continue;
            }
            if index == 0 && *first_seq > options.next_seq_floor {
                return Err(Error::Corrupt {
                    path: path.clone(),
                    offset: 0,
                    reason: format!(
                        "the WAL starts at sequence {first_seq}, but records from {} on are not in any segment",
                        options.next_seq_floor
                    ),
                });
            }
            if index > 0 && *first_seq != next_seq {
                return Err(Error::Corrupt {
                    path: path.clone(),
                    offset: 0,
                    reason: format!(
                        "WAL files skip from sequence {} to {first_seq}",
                        next_seq - 1
                    ),
                });
            }
            let replayed =
                replay::replay_file(fs.as_ref(), path, *first_seq, options.recovery, &mut apply)?;
            report.records += replayed.records;
            next_seq = replayed.last_seq.map_or(*first_seq, |seq| seq + 1);
            let is_last = index + 1 == files.len();
            if let Some(damage) = replayed.damage {
                if !is_last && options.recovery == RecoveryMode::Strict {
                    return Err(Error::Corrupt {
                        path: path.clone(),
                        offset: damage.offset,
                        reason: "damaged record in a WAL file that later files follow".to_string(),
                    });
                }
                report.damage = Some((path.clone(), damage));
            }
            current = Some((path.clone(), replayed.valid_len));
        }
        report.last_seq = next_seq - 1;
        let mut kept: Vec<PathBuf> = files
            .iter()
            .map(|(_, path)| path.clone())
            .filter(|path| !report.dropped_files.contains(path))
            .collect();

        // With no WAL yet, or with every record already in segments (a crash between
        // publishing a manifest and trimming the WAL, or a cut below it), appends must
        // continue above the floor, in a file of their own.
        let (file_path, file_len) = match current {
            Some(found) if next_seq >= options.next_seq_floor => found,
            _ => {
                next_seq = next_seq.max(options.next_seq_floor);
                let name = file_name(next_seq);
                write_atomic(fs.as_ref(), dir, &name, &encode_header(next_seq))?;
                // Older files hold only covered records now; left behind they would look
                // like a gap in the sequence.
                for covered in kept.drain(..) {
                    fs.remove_file(&covered)
                        .map_err(|e| Error::io("remove", &covered, e))?;
                }
                fs.sync_dir(dir)
                    .map_err(|e| Error::io("fsync directory", dir, e))?;
                kept.push(dir.join(&name));
                (dir.join(name), format::HEADER_LEN as u64)
            }
        };
        let file = fs
            .open_append(&file_path)
            .map_err(|e| Error::io("open for append", &file_path, e))?;
        if report.damage.is_some() {
            file.truncate(file_len)
                .map_err(|e| Error::io("cut the damaged tail of", &file_path, e))?;
        }

        let poison = Arc::new(Poison::default());
        let syncer = match options.sync {
            SyncPolicy::EverySecond => Some(Syncer::start(
                Arc::clone(&file),
                file_path.clone(),
                Arc::clone(&poison),
            )?),
            SyncPolicy::Always | SyncPolicy::Never => None,
        };
        let group = Arc::new(GroupSync::new(
            Arc::clone(&file),
            file_path.clone(),
            next_seq - 1,
            Arc::clone(&poison),
        ));
        let wal = Wal {
            fs,
            dir: dir.to_path_buf(),
            files: kept,
            file,
            file_path,
            file_len,
            next_seq,
            policy: options.sync,
            poison,
            group,
            syncer,
            frame: Vec::new(),
        };
        Ok((wal, report))
    }

    /// Appends `payloads` as consecutive records with one write and, under
    /// [`SyncPolicy::Always`], one fsync. Returns the sequence number of the last one.
    ///
    /// Either every payload is appended or none is: a failed write is cut back off the
    /// file before the error returns, so the log stays appendable (for example once a
    /// full disk has space again). A failed fsync poisons the log, because the OS may
    /// have dropped the unsynced pages and nothing tells which; under
    /// [`SyncPolicy::Always`] the unsynced records are cut off too, as they were never
    /// acknowledged.
    pub fn append(&mut self, payloads: &[&[u8]]) -> Result<u64> {
        let seq = self.append_unsynced(payloads)?;
        if self.policy == SyncPolicy::Always {
            self.group.sync_through(seq)?;
        }
        Ok(seq)
    }

    /// Appends as [`Wal::append`] does but leaves the fsync to the caller, whatever the
    /// policy: under [`SyncPolicy::Always`] the records are durable only once
    /// [`GroupSync::sync_through`] of the returned sequence number returned, which the
    /// caller may call after releasing whatever serialises its appends.
    pub fn append_unsynced(&mut self, payloads: &[&[u8]]) -> Result<u64> {
        self.poison.check()?;
        let mut total = 0usize;
        for payload in payloads {
            if payload.len() > MAX_PAYLOAD_LEN {
                return Err(Error::RecordTooLarge {
                    size: payload.len(),
                    limit: MAX_PAYLOAD_LEN,
                });
            }
            total += RECORD_HEADER_LEN + payload.len();
        }
        self.frame.clear();
        self.frame.reserve(total);
        let mut seq = self.next_seq;
        for payload in payloads {
            encode_record(&mut self.frame, seq, payload);
            seq += 1;
        }
        if let Err(error) = self.file.append(&self.frame) {
            if let Err(cut) = self.file.truncate(self.file_len) {
                self.poison
                    .set(format!("cutting a failed append failed: {cut}"));
            }
            return Err(Error::io("append to", &self.file_path, error));
        }
        self.file_len += self.frame.len() as u64;
        self.next_seq = seq;
        self.group.appended(seq - 1);
        if self.policy == SyncPolicy::EverySecond {
            self.poison.mark_dirty();
        }
        Ok(seq - 1)
    }

    /// Makes every appended record durable now, whatever the policy, sharing an fsync
    /// in flight when it covers them.
    pub fn sync(&self) -> Result<()> {
        self.poison.check()?;
        self.group.sync_through(self.next_seq - 1)
    }

    /// The group-commit handle of this log, for waiting on durability without holding
    /// the `Wal` (see [`Wal::append_unsynced`]). It follows rotations.
    pub fn group_sync(&self) -> Arc<GroupSync> {
        Arc::clone(&self.group)
    }

    /// The policy the log was opened with.
    pub fn policy(&self) -> SyncPolicy {
        self.policy
    }

    /// Starts a new WAL file at the next sequence number and removes the older files
    /// whose every record has a sequence number up to `covered`.
    ///
    /// Call only after publishing a manifest that covers every record up to `covered`:
    /// the removed files hold nothing else.
    pub fn rotate(&mut self, covered: u64) -> Result<()> {
        self.poison.check()?;
        // The old file must be durable before a new one takes appends: a leader that
        // noted the new file could not make records of the old one durable. Failing
        // here leaves nothing to undo.
        self.group.sync_through(self.next_seq - 1)?;
        let current_first = self
            .files
            .last()
            .and_then(|path| path.file_name()?.to_str().and_then(parse_file_name));
        if current_first != Some(self.next_seq) {
            let name = file_name(self.next_seq);
            let path = self.dir.join(&name);
            let temporary = self.dir.join(format!("{name}.tmp"));
            // Until the rename, a failure leaves at most a temporary, which the next
            // rotation replaces and `open` removes.
            self.fs
                .write_file(&temporary, &encode_header(self.next_seq))
                .map_err(|e| Error::io("write", &temporary, e))?;
            self.fs
                .rename(&temporary, &path)
                .map_err(|e| Error::io("rename into place", &path, e))?;
            // From here a file starting at `next_seq` is in place. If making it durable
            // or opening it fails, appends must not go on in the current file: their
            // sequence numbers would overlap the new file's, a gap to the next `open`.
            // So the log refuses appends until reopened, as after any failed fsync.
            let file = self
                .fs
                .sync_dir(&self.dir)
                .map_err(|e| Error::io("fsync directory", &self.dir, e))
                .and_then(|()| {
                    self.fs
                        .open_append(&path)
                        .map_err(|e| Error::io("open for append", &path, e))
                })
                .inspect_err(|error| {
                    self.poison.set(format!(
                        "starting the WAL file {} failed: {error}",
                        path.display()
                    ))
                })?;
            self.group
                .switch_file(Arc::clone(&file), path.clone())
                .inspect_err(|error| {
                    self.poison.set(format!(
                        "syncing the WAL before switching to {} failed: {error}",
                        path.display()
                    ))
                })?;
            if let Some(syncer) = self.syncer.take() {
                syncer.stop();
                self.syncer = Some(Syncer::start(
                    Arc::clone(&file),
                    path.clone(),
                    Arc::clone(&self.poison),
                )?);
            }
            self.file = file;
            self.file_path = path.clone();
            self.file_len = format::HEADER_LEN as u64;
            self.files.push(path);
        }
        // Oldest first, and each file forgotten only once removed: a file left behind
        // and forgotten would make a gap in the sequence once later files are removed.
        // A file ends where the next one starts.
        while self.files.len() > 1
            && self.files[1]
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(parse_file_name)
                .is_some_and(|next_first| next_first.saturating_sub(1) <= covered)
        {
            let path = &self.files[0];
            match self.fs.remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", path, e)),
            }
            self.files.remove(0);
        }
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| Error::io("fsync directory", &self.dir, e))
    }

    /// The WAL files, oldest first; the last one takes appends.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The directory holding the WAL files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Reads every record of `files` (in order) and checks its framing and checksum,
/// returning the number of records. A torn tail is tolerated in the last file only.
pub fn verify_files(fs: &dyn FileSystem, files: &[PathBuf]) -> Result<u64> {
    let mut records = 0;
    for (index, path) in files.iter().enumerate() {
        let first_seq = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(parse_file_name)
            .ok_or_else(|| Error::Corrupt {
                path: path.clone(),
                offset: 0,
                reason: "not a WAL file name".into(),
            })?;
        let replayed = replay::replay_file(
            fs,
            path,
            first_seq,
            RecoveryMode::Strict,
            &mut |_, _| Ok(()),
        )?;
        if replayed.damage.is_some() && index + 1 < files.len() {
            return Err(Error::Corrupt {
                path: path.clone(),
                offset: replayed.valid_len,
                reason: "damaged record before the last WAL file".into(),
            });
        }
        records += replayed.records;
    }
    Ok(records)
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Some(syncer) = self.syncer.take() {
            syncer.stop();
        }
        // A clean close leaves nothing for the OS to lose; an error here has no one to
        // report to, and every acknowledged write was already framed.
        let _ = self.file.sync();
    }
}

#[cfg(test)]
mod tests;
