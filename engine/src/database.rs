//! The public database handle: open (manifest, segments, WAL replay), collections,
//! and maintenance (flush, compact, backup, verify).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use strata_storage::sealed::SealedFile;
use strata_storage::wal::format::{
    file_name as wal_file_name, parse_file_name as parse_wal_file_name,
};
use strata_storage::wal::Wal;
use strata_storage::wal::{DamageKind, WalOptions};
use strata_storage::{manifest as manifest_file, FileSystem, StdFileSystem};

use crate::collection::Collection;
use crate::maintenance::worker::Worker;
use crate::model::codec::{self, Op};
use crate::model::error::{Error, Result};
use crate::model::options::{Options, Recovery};
use crate::model::reports::{RecoveryReport, VerifyReport, WalCut};
use crate::model::schema::{validate_name, Schema};
use crate::segment::overlay::Overlay;
use crate::segment::{segment_dir_name, FileKind, Segment, SEGMENTS_DIR};
use crate::write::manifest::Manifest;
use crate::write::store::{io, ApplyError, Catalog, Shared};
use crate::write::tables::SegmentSlot;

#[derive(Debug)]
pub(crate) struct DatabaseInner {
    pub shared: Arc<Shared>,
    worker: Mutex<Option<Worker>>,
}

impl Drop for DatabaseInner {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.lock().take() {
            worker.stop();
        }
    }
}

/// An open Strata database: a directory holding collections of documents.
///
/// Cheap to clone (an `Arc`); every clone is the same database. `Send + Sync`: share
/// it between threads. The directory is locked while any clone or collection handle
/// is alive.
///
/// ```
/// use strata::Database;
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(dir.path().join("db"))?;
/// let same = db.clone();
/// std::thread::spawn(move || same.list_collections()).join().unwrap();
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Database {
    inner: Arc<DatabaseInner>,
}

impl Database {
    /// Opens the database at `path`, creating the directory if it is missing, with
    /// default [`Options`].
    ///
    /// ```
    /// use strata::{Database, Error};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = Database::open(dir.path().join("app.strata"))?;
    /// // One open handle per directory (clone it to share).
    /// assert!(matches!(Database::open(dir.path().join("app.strata")), Err(Error::Locked { .. })));
    /// # drop(db);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Database::open_with(path, Options::default())
    }

    /// Opens the database at `path` with `options`: reads the manifest, maps the
    /// segments it names (without reading their vectors), and replays the WAL records
    /// the segments do not hold yet.
    ///
    /// Fails with [`Error::Locked`] while another handle has it open, and with
    /// [`Error::Corrupt`] if a file fails its checks (see [`crate::Recovery`]).
    ///
    /// ```
    /// use strata::{Database, Durability, Options};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let options = Options { durability: Durability::Always, ..Options::default() };
    /// let db = Database::open_with(dir.path().join("db"), options)?;
    /// # drop(db);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Database> {
        let path = path.as_ref().to_path_buf();
        let fs: Arc<dyn FileSystem> = options
            .file_system
            .clone()
            .unwrap_or_else(|| Arc::new(StdFileSystem));
        create_durable_dir(fs.as_ref(), &path)?;
        let lock = fs.lock_dir(&path)?;

        let found = crate::write::manifest::read(fs.as_ref(), &path)?;
        let missing_wal = check_manifest_and_wal_present(fs.as_ref(), &path, found.is_some())?;
        let manifest = found.unwrap_or(Manifest {
            next_segment_id: 1,
            ..Manifest::default()
        });
        let mut catalog = load_catalog(&fs, &path, &manifest)?;

        // Every record up to the highest mark may have been trimmed from the WAL.
        let covered = manifest
            .collections
            .iter()
            .map(|entry| entry.covered)
            .fold(manifest.catalog_seq, u64::max);
        let missing_wal_cut = match missing_wal {
            false => None,
            true => {
                let file = path.join(wal_file_name(covered + 1));
                let reason = format!(
                    "the WAL is missing: every write after sequence {covered} (the last flush) is lost"
                );
                if options.recovery == Recovery::Strict {
                    return Err(Error::Corrupt {
                        file,
                        offset: 0,
                        reason: format!(
                            "{reason}; open with Recovery::TruncateAtCorruption to accept that"
                        ),
                    });
                }
                Some(WalCut {
                    file,
                    offset: 0,
                    bytes: 0,
                    corruption: Some(reason),
                })
            }
        };
        let wal_options = WalOptions {
            sync: options.durability.sync_policy(),
            recovery: options.recovery.mode(),
            next_seq_floor: covered + 1,
        };
        let mut replayed = 0u64;
        let (wal, replay) = Wal::open(Arc::clone(&fs), &path, wal_options, |seq, payload| {
            let corrupt = |reason: String| strata_storage::Error::Corrupt {
                path: path.clone(),
                offset: 0,
                reason: format!("WAL record {seq}: {reason}"),
            };
            let op = codec::decode(payload).map_err(corrupt)?;
            if !replays(&manifest, seq, &op) {
                return Ok(());
            }
            replayed += 1;
            catalog.apply(op, seq, true).map_err(|error| match error {
                ApplyError::Rule(reason) => corrupt(reason),
                // Damage to a segment read while replaying is that file's, not the
                // log's: blaming the log would point recovery at the wrong file.
                ApplyError::Segment(error) => to_storage_error(error),
            })
        })?;
        // Only once the open cannot fail any more: a refused open changes nothing.
        remove_orphans(fs.as_ref(), &path, &manifest)?;
        let recovery = RecoveryReport {
            records_replayed: replayed,
            cut: missing_wal_cut.or(replay.damage.map(|(file, damage)| WalCut {
                file,
                offset: damage.offset,
                bytes: damage.dropped_bytes,
                corruption: match damage.kind {
                    DamageKind::TornTail => None,
                    DamageKind::Corrupt { reason } => Some(reason),
                },
            })),
        };
        let shared = Arc::new(Shared {
            path,
            fs,
            options,
            wal: Mutex::new(wal),
            catalog: RwLock::new(catalog),
            recovery,
            flush_signal: Default::default(),
            background_flush: Default::default(),
            _lock: lock,
        });
        let worker = shared
            .options
            .background_work
            .then(|| Worker::start(Arc::clone(&shared)))
            .transpose()?;
        // Replay may have left memtables past their limits; the next write to such a
        // collection freezes it.
        Ok(Database {
            inner: Arc::new(DatabaseInner {
                shared,
                worker: Mutex::new(worker),
            }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The database directory.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// assert!(db.path().ends_with("db"));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.shared().path
    }

    /// What opening found in the write-ahead log (records replayed, a cut torn tail).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// assert_eq!(db.recovery_report().records_replayed, 0);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.shared().recovery
    }

    /// Creates a collection, as `FT.CREATE`. Fails with [`Error::CollectionExists`] if
    /// the name is taken.
    ///
    /// ```
    /// use strata::{Error, Metric, Schema, VectorIndex};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// let schema = Schema::builder().tag("kind").vector("v", 3, Metric::L2, VectorIndex::hnsw(16, 200)).build()?;
    /// db.create_collection("items", schema.clone())?;
    /// assert!(matches!(db.create_collection("items", schema), Err(Error::CollectionExists { .. })));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn create_collection(&self, name: &str, schema: Schema) -> Result<Collection> {
        validate_name("collection", name)?;
        crate::collection::write(self.shared(), |catalog| {
            if catalog.by_name.contains_key(name) {
                return Err(Error::CollectionExists {
                    name: name.to_string(),
                });
            }
            Ok(Some(Op::CreateCollection {
                id: catalog.next_collection_id,
                name: name.to_string(),
                schema,
            }))
        })?;
        self.collection(name)
    }

    /// A handle to an existing collection.
    ///
    /// ```
    /// use strata::{Error, Schema};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// db.create_collection("notes", Schema::builder().text("body").build()?)?;
    /// assert_eq!(db.collection("notes")?.name(), "notes");
    /// assert!(matches!(db.collection("nope"), Err(Error::CollectionNotFound { .. })));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn collection(&self, name: &str) -> Result<Collection> {
        let catalog = self.shared().catalog.read();
        let state = catalog
            .by_name
            .get(name)
            .ok_or_else(|| Error::CollectionNotFound {
                name: name.to_string(),
            })?;
        Ok(Collection::new(Arc::clone(&self.inner), Arc::clone(state)))
    }

    /// Drops a collection and its documents, as `FT.DROPINDEX ... DD`. Existing handles
    /// to it fail with [`Error::CollectionNotFound`] from then on; its files go once
    /// the next manifest no longer names them and no reader holds them.
    ///
    /// ```
    /// use strata::{Error, Schema};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// let notes = db.create_collection("notes", Schema::builder().text("body").build()?)?;
    /// db.drop_collection("notes")?;
    /// assert!(matches!(notes.len(), Err(Error::CollectionNotFound { .. })));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        crate::collection::write(self.shared(), |catalog| {
            let state = catalog
                .by_name
                .get(name)
                .ok_or_else(|| Error::CollectionNotFound {
                    name: name.to_string(),
                })?;
            Ok(Some(Op::DropCollection { id: state.id }))
        })?;
        Ok(())
    }

    /// Names of the collections, sorted.
    ///
    /// ```
    /// use strata::Schema;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// db.create_collection("b", Schema::builder().text("t").build()?)?;
    /// db.create_collection("a", Schema::builder().text("t").build()?)?;
    /// assert_eq!(db.list_collections(), ["a", "b"]);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn list_collections(&self) -> Vec<String> {
        self.shared()
            .catalog
            .read()
            .by_name
            .keys()
            .cloned()
            .collect()
    }

    /// Writes every memtable to an immutable segment and every changed deletion
    /// bitmap to disk, publishes a new manifest, and trims the WAL. Writers wait only
    /// while the manifest is published; readers never wait.
    ///
    /// ```
    /// use strata::{Doc, Schema, SourceKind};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// let notes = db.create_collection("notes", Schema::builder().text("body").build()?)?;
    /// notes.upsert("a", Doc::new().text("body", "x"))?;
    /// db.flush()?;
    /// assert!(matches!(notes.info()?.sources[0].kind, SourceKind::Segment(_)));
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        let collections: Vec<_> = self
            .shared()
            .catalog
            .read()
            .by_name
            .values()
            .cloned()
            .collect();
        for state in collections {
            crate::maintenance::flush::flush_all(self.shared(), &state)?;
        }
        let shared = self.shared();
        let mut wal = shared.lock_wal();
        // Also when nothing was flushed: collections created or dropped since the last
        // manifest, and idle collections' marks, are brought up to date.
        shared.publish_manifest(&mut wal, None, |_| {})?;
        Ok(())
    }

    /// Seals the memtable and trims the WAL: the same as [`Database::flush`], named
    /// for what it does to the log (like SQLite's `wal_checkpoint`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// db.checkpoint()?; // same as flush()
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn checkpoint(&self) -> Result<()> {
        self.flush()
    }

    /// Flushes, then merges each collection's segments into one, dropping deleted and
    /// expired rows (like SQLite's `VACUUM`). Readers keep the old segments until they
    /// finish.
    ///
    /// ```
    /// use strata::{Doc, Schema, SourceKind};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// let notes = db.create_collection("notes", Schema::builder().text("body").build()?)?;
    /// for round in 0..3 {
    ///     notes.upsert(format!("k{round}"), Doc::new().text("body", "x"))?;
    ///     db.flush()?;
    /// }
    /// db.compact()?;
    /// assert_eq!(notes.info()?.sources.iter().filter(|s| matches!(s.kind, SourceKind::Segment(_))).count(), 1);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn compact(&self) -> Result<()> {
        self.flush()?;
        let collections: Vec<_> = self
            .shared()
            .catalog
            .read()
            .by_name
            .values()
            .cloned()
            .collect();
        for state in collections {
            crate::maintenance::compaction::compact_collection(
                self.shared(),
                &state,
                crate::maintenance::compaction::pick_all,
            )?;
        }
        Ok(())
    }

    /// Writes a consistent copy of the database to `destination`, which must not
    /// exist or be empty. Immutable segment files are hard-linked where the file system
    /// allows (copied otherwise); the WAL is copied. Writers pause while the files are
    /// linked and copied; readers do not. The copy opens as a normal database.
    ///
    /// ```
    /// use strata::{Database, Doc, Schema};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// db.create_collection("notes", Schema::builder().text("body").build()?)?
    ///     .upsert("a", Doc::new().text("body", "x"))?;
    /// let copy = dir.path().join("copy");
    /// db.backup(&copy)?;
    /// assert_eq!(Database::open(&copy)?.collection("notes")?.len()?, 1);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn backup(&self, destination: impl AsRef<Path>) -> Result<()> {
        crate::maintenance::backup::backup(self.shared(), destination.as_ref())
    }

    /// Reads every file and checks every checksum and cross-reference, like SQLite's
    /// `PRAGMA integrity_check`. Damage is [`Error::Corrupt`] naming the file.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = strata::Database::open(dir.path().join("db"))?;
    /// let report = db.verify()?;
    /// assert_eq!(report.segments, 0);
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn verify(&self) -> Result<VerifyReport> {
        crate::maintenance::backup::verify(self.shared())
    }
}

/// Whether replay applies the record `seq` holding `op`: the manifest says which
/// records its segments (and its collection list) already reflect.
fn replays(manifest: &Manifest, seq: u64, op: &Op) -> bool {
    match op.data_collection() {
        Some(id) => match manifest.collection(id) {
            Some(entry) => seq > entry.covered,
            // Created after the manifest (replayed), or dropped before it (skipped).
            None => seq > manifest.catalog_seq,
        },
        None => seq > manifest.catalog_seq,
    }
}

/// Carries an engine error through the WAL's replay callback, which speaks storage
/// errors. Segment reads fail only with `Corrupt`; anything else keeps its message.
fn to_storage_error(error: Error) -> strata_storage::Error {
    match error {
        Error::Corrupt {
            file,
            offset,
            reason,
        } => strata_storage::Error::Corrupt {
            path: file,
            offset,
            reason,
        },
        Error::UnsupportedVersion {
            file,
            found,
            supported,
        } => strata_storage::Error::UnsupportedVersion {
            path: file,
            found,
            supported,
        },
        Error::Io { op, path, source } => strata_storage::Error::Io { op, path, source },
        other => strata_storage::Error::Io {
            op: "replay the WAL into",
            path: PathBuf::new(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

/// Creates `path` if it is missing and makes its entry durable: without a fsync of
/// the parent, a power cut could lose a new database along with its directory.
fn create_durable_dir(fs: &dyn FileSystem, path: &Path) -> Result<()> {
    if fs.list_dir(path).is_ok() {
        return Ok(());
    }
    fs.create_dir_all(path)
        .map_err(|e| io("create the database directory", path, e))?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs.sync_dir(parent)
        .map_err(|e| io("fsync the parent of", path, e))
}

/// Refuses a database whose MANIFEST or WAL is missing, instead of opening it with
/// data silently gone. Returns whether the WAL is missing next to a manifest, which
/// only truncating recovery accepts.
///
/// The WAL is created at the first open, before anything is flushed, and is rotated by
/// creating the new file before removing the old ones; so a database with a manifest
/// always has a WAL file. Without a manifest nothing was ever trimmed from the WAL, so
/// it starts at sequence 1; a WAL that starts later, or segments with no WAL at all,
/// mean the manifest was lost (and the segments must not be removed as orphans).
fn check_manifest_and_wal_present(
    fs: &dyn FileSystem,
    path: &Path,
    has_manifest: bool,
) -> Result<bool> {
    let names = fs.list_dir(path).map_err(|e| io("list", path, e))?;
    let first_wal = names.iter().filter_map(|n| parse_wal_file_name(n)).min();
    if has_manifest {
        return Ok(first_wal.is_none());
    }
    let has_segments = fs
        .list_dir(&path.join(SEGMENTS_DIR))
        .is_ok_and(|entries| !entries.is_empty());
    let lost = match first_wal {
        Some(first) if first > 1 => Some(format!(
            "the file is missing, but the WAL starts at sequence {first}: the writes before it are in segments only a manifest names"
        )),
        None if has_segments => Some("the file is missing, and so is the WAL, but segments exist".to_string()),
        _ => None,
    };
    match lost {
        Some(reason) => Err(Error::Corrupt {
            file: path.join(manifest_file::MANIFEST_NAME),
            offset: 0,
            reason,
        }),
        None => Ok(false),
    }
}

/// Opens the segments and overlays the manifest names.
fn load_catalog(fs: &Arc<dyn FileSystem>, path: &Path, manifest: &Manifest) -> Result<Catalog> {
    let mut catalog = Catalog {
        next_collection_id: manifest.next_collection_id,
        next_segment_id: manifest.next_segment_id.max(1),
        published: manifest.clone(),
        ..Catalog::default()
    };
    for collection in &manifest.collections {
        let mut slots = Vec::new();
        for entry in &collection.segments {
            let dir = path.join(SEGMENTS_DIR).join(segment_dir_name(entry.id));
            let segment = Segment::open(
                Arc::clone(fs),
                &dir,
                entry.id,
                &collection.schema,
                entry.row_count,
                entry.files.clone(),
            )?;
            let overlay = if entry.state_version == 0 {
                Overlay::default()
            } else {
                let kind = FileKind::State(entry.state_version);
                let file = SealedFile::open_verified(
                    fs.as_ref(),
                    &dir.join(kind.file_name()),
                    kind.code(),
                    kind.version(),
                )?;
                if file.body_crc() != entry.state_crc {
                    return Err(file
                        .corrupt(0, "file does not match the manifest's checksum")
                        .into());
                }
                Overlay::decode(file.body(), segment.row_count())
                    .map_err(|reason| file.corrupt(0, reason))?
            };
            slots.push(SegmentSlot {
                segment: Arc::new(segment),
                overlay: Arc::new(overlay),
                state_version: entry.state_version,
                state_crc: entry.state_crc,
                dirty: false,
            });
        }
        catalog.insert(
            collection.id,
            collection.name.clone(),
            collection.schema.clone(),
            slots,
        );
    }
    Ok(catalog)
}

/// Removes what a crash left behind: segment directories and state files that no
/// published manifest names, and a half-written manifest.
fn remove_orphans(fs: &dyn FileSystem, path: &Path, manifest: &Manifest) -> Result<()> {
    let _ = fs.remove_file(&path.join(format!("{}.tmp", manifest_file::MANIFEST_NAME)));
    let segments_dir = path.join(SEGMENTS_DIR);
    let Ok(names) = fs.list_dir(&segments_dir) else {
        return Ok(());
    };
    let live: HashSet<String> = manifest
        .collections
        .iter()
        .flat_map(|c| &c.segments)
        .map(|s| segment_dir_name(s.id))
        .collect();
    for name in names {
        let dir = segments_dir.join(&name);
        if !live.contains(&name) {
            fs.remove_dir_all(&dir)
                .map_err(|e| io("remove the orphaned segment", &dir, e))?;
            continue;
        }
        let entry = manifest
            .collections
            .iter()
            .flat_map(|c| &c.segments)
            .find(|s| segment_dir_name(s.id) == name);
        let current_state = entry.map(|s| s.state_version).unwrap_or(0);
        for file in fs.list_dir(&dir).map_err(|e| io("list", &dir, e))? {
            if let Some(FileKind::State(version)) = FileKind::from_file_name(&file)
                && version != current_state
            {
                let stale = dir.join(&file);
                fs.remove_file(&stale)
                    .map_err(|e| io("remove the stale state file", &stale, e))?;
            }
        }
    }
    Ok(())
}
