//! The database handle: the directory, its lock, the WAL and the collections.
//!
//! ```text
//! write:  Collection::upsert ─ validate ─┐
//!                                        ├─ wal lock ─ WAL append (+fsync) ─ apply
//!         Database::create_collection ───┘             = acknowledged
//! read:   Collection::search/get ─ collection's memtable read lock
//! ```
//!
//! Invariant: the catalog and every memtable change only while the WAL mutex is held,
//! in the order of the WAL records, so replaying the WAL rebuilds exactly the state
//! that was acknowledged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use strata_storage::fs::LockGuard;
use strata_storage::wal::{DamageKind, Wal, WalOptions};
use strata_storage::{FileSystem, StdFileSystem};

use crate::codec::{self, Op};
use crate::collection::Collection;
use crate::error::{Error, Result};
use crate::memtable::Memtable;
use crate::options::Options;
use crate::schema::{validate_name, Schema};

/// One collection's state, shared by every handle to it.
#[derive(Debug)]
pub(crate) struct CollectionState {
    pub id: u64,
    pub name: String,
    pub schema: Arc<Schema>,
    pub memtable: RwLock<Memtable>,
    /// Set when the collection is dropped, so stale handles stop working.
    pub dropped: AtomicBool,
}

#[derive(Debug, Default)]
pub(crate) struct Catalog {
    by_name: BTreeMap<String, Arc<CollectionState>>,
    next_id: u64,
}

impl Catalog {
    fn by_id(&self, id: u64) -> Option<&Arc<CollectionState>> {
        self.by_name.values().find(|state| state.id == id)
    }

    /// Applies a logged operation. Called for live writes (already validated) and on
    /// replay, where a violation means the log does not match the rules that wrote it.
    fn apply(&mut self, op: Op) -> std::result::Result<(), String> {
        match op {
            Op::CreateCollection { id, name, schema } => {
                if self.by_name.contains_key(&name) {
                    return Err(format!("collection `{name}` created twice"));
                }
                self.next_id = self.next_id.max(id + 1);
                let memtable = RwLock::new(Memtable::new(&schema));
                let state = CollectionState {
                    id,
                    name: name.clone(),
                    schema: Arc::new(schema),
                    memtable,
                    dropped: AtomicBool::new(false),
                };
                self.by_name.insert(name, Arc::new(state));
            }
            Op::DropCollection { id } => {
                let name = self
                    .by_id(id)
                    .ok_or(format!("drop of unknown collection {id}"))?
                    .name
                    .clone();
                if let Some(state) = self.by_name.remove(&name) {
                    state.dropped.store(true, Ordering::Release);
                }
            }
            Op::Upsert { collection, docs } => {
                let state = self
                    .by_id(collection)
                    .ok_or(format!("upsert into unknown collection {collection}"))?;
                for (_, record) in &docs {
                    crate::collection::check_logged_record(&state.schema, record)?;
                }
                let mut memtable = state.memtable.write();
                for (key, record) in docs {
                    memtable.upsert(key, record);
                }
            }
            Op::Delete { collection, key } => {
                let state = self
                    .by_id(collection)
                    .ok_or(format!("delete in unknown collection {collection}"))?;
                state.memtable.write().delete(&key);
            }
        }
        Ok(())
    }
}

/// What opening found in the write-ahead log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// WAL records replayed.
    pub records_replayed: u64,
    /// A cut made to the log, if any.
    pub cut: Option<WalCut>,
}

/// Bytes cut from the end of a WAL file at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalCut {
    /// The WAL file.
    pub file: PathBuf,
    /// Offset of the first byte cut.
    pub offset: u64,
    /// Bytes cut.
    pub bytes: u64,
    /// `None` for a torn tail (an interrupted last write; nothing acknowledged under
    /// `Durability::Always` is lost). `Some(reason)` for corruption cut away under
    /// `Recovery::TruncateAtCorruption`, which may have lost acknowledged writes.
    pub corruption: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    path: PathBuf,
    pub options: Options,
    wal: Mutex<Wal>,
    catalog: RwLock<Catalog>,
    recovery: RecoveryReport,
    // Released last: declared after everything that writes into the directory.
    _lock: Box<dyn LockGuard>,
}

impl Shared {
    /// Builds an operation from the catalog, logs it and applies it, all under the WAL
    /// mutex, so that what `build` checked cannot change before the write lands.
    /// `build` returns `None` when there is nothing to write; the result says whether
    /// something was written.
    pub(crate) fn write(&self, build: impl FnOnce(&Catalog) -> Result<Option<Op>>) -> Result<bool> {
        let mut wal = self.wal.lock();
        let Some(op) = build(&self.catalog.read())? else {
            return Ok(false);
        };
        let payload = codec::encode(&op);
        if let Op::Upsert { docs, .. } = &op {
            let limit = self.options.limits.max_batch_bytes;
            if docs.len() > 1 && payload.len() > limit {
                return Err(Error::TooLarge {
                    what: "the batch".to_string(),
                    size: payload.len(),
                    limit,
                });
            }
        }
        wal.append(&[&payload])?;
        self.catalog
            .write()
            .apply(op)
            .map_err(|reason| Error::Corrupt {
                file: self.path.clone(),
                offset: 0,
                reason,
            })?;
        Ok(true)
    }
}

impl Catalog {
    /// Checks that a handle's collection has not been dropped (or dropped and
    /// recreated under the same name).
    pub(crate) fn check_live(&self, state: &CollectionState) -> Result<()> {
        match self.by_name.get(&state.name) {
            Some(current) if current.id == state.id => Ok(()),
            _ => Err(Error::CollectionNotFound {
                name: state.name.clone(),
            }),
        }
    }
}

/// An open Strata database: a directory holding collections of documents.
///
/// Cheap to clone (an `Arc`); every clone is the same database. `Send + Sync`: share
/// it between threads. The directory is locked while any clone or collection handle
/// is alive.
#[derive(Clone, Debug)]
pub struct Database {
    shared: Arc<Shared>,
}

impl Database {
    /// Opens the database at `path`, creating the directory if it is missing, with
    /// default [`Options`].
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Database::open_with(path, Options::default())
    }

    /// Opens the database at `path` with `options`, replaying its write-ahead log.
    ///
    /// Fails with [`Error::Locked`] while another handle has it open, and with
    /// [`Error::Corrupt`] if the log is damaged before its last record (see
    /// [`crate::Recovery`]).
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Database> {
        let path = path.as_ref().to_path_buf();
        let fs: Arc<dyn FileSystem> = Arc::new(StdFileSystem);
        fs.create_dir_all(&path).map_err(|e| Error::Io {
            op: "create the database directory",
            path: path.clone(),
            source: e,
        })?;
        let lock = fs.lock_dir(&path)?;

        let mut catalog = Catalog::default();
        let wal_options = WalOptions {
            sync: options.durability.sync_policy(),
            recovery: options.recovery.mode(),
        };
        let (wal, replay) = Wal::open(Arc::clone(&fs), &path, wal_options, |seq, payload| {
            let corrupt = |reason: String| strata_storage::Error::Corrupt {
                path: path.clone(),
                offset: 0,
                reason: format!("WAL record {seq}: {reason}"),
            };
            let op = codec::decode(payload).map_err(corrupt)?;
            catalog.apply(op).map_err(corrupt)
        })?;
        let recovery = RecoveryReport {
            records_replayed: replay.records,
            cut: replay.damage.map(|(file, damage)| WalCut {
                file,
                offset: damage.offset,
                bytes: damage.dropped_bytes,
                corruption: match damage.kind {
                    DamageKind::TornTail => None,
                    DamageKind::Corrupt { reason } => Some(reason),
                },
            }),
        };
        let shared = Shared {
            path,
            options,
            wal: Mutex::new(wal),
            catalog: RwLock::new(catalog),
            recovery,
            _lock: lock,
        };
        Ok(Database {
            shared: Arc::new(shared),
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// What opening found in the write-ahead log (records replayed, a cut torn tail).
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.shared.recovery
    }

    /// Creates a collection, as `FT.CREATE`. Fails with [`Error::CollectionExists`] if
    /// the name is taken.
    pub fn create_collection(&self, name: &str, schema: Schema) -> Result<Collection> {
        validate_name("collection", name)?;
        self.shared.write(|catalog| {
            if catalog.by_name.contains_key(name) {
                return Err(Error::CollectionExists {
                    name: name.to_string(),
                });
            }
            Ok(Some(Op::CreateCollection {
                id: catalog.next_id,
                name: name.to_string(),
                schema,
            }))
        })?;
        self.collection(name)
    }

    /// A handle to an existing collection.
    pub fn collection(&self, name: &str) -> Result<Collection> {
        let catalog = self.shared.catalog.read();
        let state = catalog
            .by_name
            .get(name)
            .ok_or_else(|| Error::CollectionNotFound {
                name: name.to_string(),
            })?;
        Ok(Collection::new(Arc::clone(&self.shared), Arc::clone(state)))
    }

    /// Drops a collection and its documents, as `FT.DROPINDEX ... DD`. Existing handles
    /// to it fail with [`Error::CollectionNotFound`] from then on.
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        self.shared.write(|catalog| {
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
    pub fn list_collections(&self) -> Vec<String> {
        self.shared.catalog.read().by_name.keys().cloned().collect()
    }
}
