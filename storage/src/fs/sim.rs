//! A simulated file system for crash, power-loss and disk-full tests.
//!
//! Killing the process cannot show a missing fsync, because the OS page cache outlives
//! it. A power cut does not, and [`SimFileSystem`] models one. Everything lives in
//! memory, and every file and directory has two states:
//!
//! - a file's *current* bytes (what reads see) and its *durable* bytes (what survives a
//!   power cut). Syncing a handle, [`FileSystem::write_file`] and [`WalFile::truncate`]
//!   (which the real implementation follows with `fsync`) make them equal.
//! - a directory's *current* entries and its *durable* entries. Creating, renaming,
//!   linking and removing change only the current ones; [`FileSystem::sync_dir`] makes
//!   them durable. A directory's own existence is an entry of its parent, so a new
//!   directory survives a power cut only once its parent was synced.
//!
//! [`SimFileSystem::power_cut`] reverts everything to its durable state, kills every
//! open handle and releases every lock. Beyond that the simulation refuses writes past
//! a space budget ([`SimFileSystem::set_space_limit`]), fails chosen operations
//! ([`SimFileSystem::fail_next`], [`SimFileSystem::fail_after`]) and cuts the power at a chosen operation
//! ([`SimFileSystem::power_cut_after`]), so a test can crash at every step in turn.
//!
//! Paths are keys: absolute and relative paths are two separate trees, `.` is skipped
//! and `..` drops the previous component (there are no symlinks to make that wrong).
//! Like a real file system, an unlinked file stays readable and writable through the
//! handles open on it, and its bytes take space until the last one is dropped.

mod state;

use std::fmt;
use std::io::{self, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{FileSystem, LockGuard, MappedFile, NewFile, WalFile};
use crate::error::{Error, Result};
use crate::lock::LOCK_FILE_NAME;
use state::{fail, Ino, Key, Node, State, XorShift};

/// What a power cut leaves of bytes that were written but not yet synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PowerCutMode {
    /// Only synced bytes survive: the outcome every durability promise must hold under.
    #[default]
    DropUnsynced,
    /// A file that was only appended to since its last sync keeps its durable bytes plus
    /// a random prefix (from none to all) of the appended ones, as a disk that wrote back
    /// some pages before the cut does. Files changed otherwise revert to their durable
    /// bytes. The same seed and the same operations give the same outcome.
    KeepRandomPrefix { seed: u64 },
}

/// What a write does when it does not fit in the space limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FullDisk {
    /// Writes nothing and fails with [`ErrorKind::StorageFull`].
    #[default]
    WriteNothing,
    /// Writes what fits, then fails with [`ErrorKind::StorageFull`]. A [`NewFile`]
    /// write returns the short count first, as `write(2)` does.
    WritePartial,
}

/// The operations [`SimFileSystem::operations`] counts and
/// [`SimFileSystem::fail_next`] can fail: one per [`FileSystem`] method, and one per
/// handle method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    CreateDirAll,
    ListDir,
    OpenAppend,
    OpenRead,
    Create,
    Map,
    HardLink,
    RemoveDirAll,
    WriteFile,
    Rename,
    RemoveFile,
    SyncDir,
    LockDir,
    /// [`WalFile::append`].
    Append,
    /// A [`NewFile`]'s `write`; `write_all` may make several.
    Write,
    /// [`WalFile::sync`] and [`NewFile::sync`].
    Sync,
    /// [`WalFile::truncate`].
    Truncate,
}

/// An in-memory file system that can lose power. Cloning it gives another handle to
/// the same disk, so a test keeps one to cut the power while the engine holds an
/// `Arc<dyn FileSystem>`.
#[derive(Clone, Default)]
pub struct SimFileSystem {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for SimFileSystem {
    // The whole disk would be unreadable in a failed assertion; a summary is not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("SimFileSystem")
            .field("nodes", &state.nodes.len())
            .field("space_used", &state.used)
            .field("space_limit", &state.limit)
            .field("power_cuts", &state.epoch)
            .field("powered_off", &state.powered_off)
            .finish()
    }
}

impl SimFileSystem {
    /// An empty disk: the roots of the absolute and the relative tree, nothing else.
    pub fn new() -> SimFileSystem {
        SimFileSystem::default()
    }

    /// Creates `path` and its missing parents as if they had existed before the test:
    /// durable at once. Not an [`Operation`]; fails only where a file is in the way.
    pub fn create_durable_dir_all(&self, path: &Path) -> io::Result<()> {
        self.state.lock().create_dir_all(&Key::new(path)?, true)
    }

    /// The machine loses power and comes straight back: every directory and file reverts
    /// to its durable state (see [`PowerCutMode`]), files no longer named anywhere are
    /// gone, every open handle fails from now on, and every lock is released.
    pub fn power_cut(&self) {
        self.state.lock().power_cut();
    }

    /// How later power cuts treat unsynced bytes. Seeds the generator of
    /// [`PowerCutMode::KeepRandomPrefix`] afresh.
    pub fn set_power_cut_mode(&self, mode: PowerCutMode) {
        let mut state = self.state.lock();
        state.mode = mode;
        if let PowerCutMode::KeepRandomPrefix { seed } = mode {
            state.rng = XorShift::new(seed);
        }
    }

    /// Lets `operations` more operations run, then cuts the power instead of running the
    /// next one. That one and every later one fails until [`SimFileSystem::restart`],
    /// so the code under test cannot write on as if nothing had happened.
    pub fn power_cut_after(&self, operations: u64) {
        self.state.lock().cut_after = Some(operations);
    }

    /// Whether a scheduled power cut happened and [`SimFileSystem::restart`] was not
    /// called since.
    pub fn is_powered_off(&self) -> bool {
        self.state.lock().powered_off
    }

    /// Powers the machine back on after a scheduled cut, and cancels one still pending.
    pub fn restart(&self) {
        let mut state = self.state.lock();
        state.powered_off = false;
        state.cut_after = None;
    }

    /// Limits the total current bytes of all files (`None`: unlimited). Lowering it below
    /// what is used fills the disk; raising it frees space.
    pub fn set_space_limit(&self, limit: Option<u64>) {
        self.state.lock().limit = limit;
    }

    /// What a write that does not fit does.
    pub fn set_full_disk(&self, behaviour: FullDisk) {
        self.state.lock().full_disk = behaviour;
    }

    /// Current bytes of all files still named or open: what the space limit counts.
    pub fn space_used(&self) -> u64 {
        self.state.lock().used
    }

    /// Makes the next `count` operations of kind `op` fail with an `io::Error` of kind
    /// `Other`, changing nothing. Adds to failures already pending.
    pub fn fail_next(&self, op: Operation, count: u64) {
        *self.state.lock().failures.entry(op).or_default() += count;
    }

    /// Lets `operations` more operations run, then fails the next one, whatever its
    /// kind, with an `io::Error` of kind `Other`, changing nothing; later operations
    /// run normally. With [`SimFileSystem::operations`] a test can fail every step of
    /// a procedure in turn, as [`SimFileSystem::power_cut_after`] cuts at every step.
    pub fn fail_after(&self, operations: u64) {
        self.state.lock().fail_after = Some(operations);
    }

    /// Cancels every pending injected failure.
    pub fn clear_failures(&self) {
        let mut state = self.state.lock();
        state.failures.clear();
        state.fail_after = None;
    }

    /// Operations run so far, failed ones included, for choosing where
    /// [`SimFileSystem::power_cut_after`] cuts.
    pub fn operations(&self) -> u64 {
        self.state.lock().operations
    }

    /// Whether `path` currently names a file or directory.
    pub fn exists(&self, path: &Path) -> bool {
        Key::new(path).is_ok_and(|key| self.state.lock().lookup(&key).is_ok())
    }

    /// Whether `path` would still name something after a power cut.
    pub fn durably_exists(&self, path: &Path) -> bool {
        Key::new(path).is_ok_and(|key| self.state.lock().durable_lookup(&key).is_some())
    }

    /// The current bytes of the file at `path`, if there is one.
    pub fn current_file(&self, path: &Path) -> Option<Vec<u8>> {
        let key = Key::new(path).ok()?;
        let state = self.state.lock();
        match state.node(state.lookup(&key).ok()?) {
            Node::File(file) => Some(file.current.clone()),
            Node::Dir(_) => None,
        }
    }

    /// The bytes a [`PowerCutMode::DropUnsynced`] power cut would leave at `path`:
    /// found through durable directory entries, with the file's durable bytes.
    pub fn durable_file(&self, path: &Path) -> Option<Vec<u8>> {
        let key = Key::new(path).ok()?;
        let state = self.state.lock();
        match state.node(state.durable_lookup(&key)?) {
            Node::File(file) => Some(file.durable.clone()),
            Node::Dir(_) => None,
        }
    }

    /// Writes the durable state of the simulated directory `sim_dir` (what a
    /// [`PowerCutMode::DropUnsynced`] power cut would leave) into the real directory
    /// `real_dir`, creating it, so that a test can open it with the real file system.
    /// Hard links become copies.
    pub fn write_durable_image_to(&self, sim_dir: &Path, real_dir: &Path) -> io::Result<()> {
        let key = Key::new(sim_dir)?;
        let state = self.state.lock();
        let ino = state
            .durable_lookup(&key)
            .ok_or_else(|| fail(ErrorKind::NotFound, &key, "does not durably exist"))?;
        state.write_image(ino, real_dir)
    }

    /// Runs one operation on one path: checks the power, counts it, injects failures.
    fn run<T>(
        &self,
        op: Operation,
        path: &Path,
        body: impl FnOnce(&mut State, &Key) -> io::Result<T>,
    ) -> io::Result<T> {
        let key = Key::new(path)?;
        let mut state = self.state.lock();
        state.begin(op, None)?;
        body(&mut state, &key)
    }

    fn handle(&self, state: &mut State, ino: Ino, path: &Path) -> Handle {
        state.file_mut(ino).open += 1;
        Handle {
            state: Arc::clone(&self.state),
            ino,
            epoch: state.epoch,
            path: path.to_path_buf(),
        }
    }
}

impl FileSystem for SimFileSystem {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.run(Operation::CreateDirAll, path, |state, key| {
            state.create_dir_all(key, false)
        })
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.run(Operation::ListDir, path, |state, key| {
            match state.node(state.lookup(key)?) {
                Node::Dir(dir) => Ok(dir
                    .current
                    .keys()
                    .map(|name| name.to_string_lossy().into_owned())
                    .collect()),
                Node::File(_) => Err(fail(ErrorKind::NotADirectory, key, "is a file")),
            }
        })
    }

    fn open_append(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        self.run(Operation::OpenAppend, path, |state, key| {
            let ino = state.open_file(key)?;
            Ok(Arc::new(SimWalFile(self.handle(state, ino, path))) as Arc<dyn WalFile>)
        })
    }

    fn open_read(&self, path: &Path) -> io::Result<(Box<dyn Read + Send>, u64)> {
        self.run(Operation::OpenRead, path, |state, key| {
            let bytes = state.file_mut(state.open_file(key)?).current.clone();
            let len = bytes.len() as u64;
            Ok((
                Box::new(io::Cursor::new(bytes)) as Box<dyn Read + Send>,
                len,
            ))
        })
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn NewFile>> {
        self.run(Operation::Create, path, |state, key| {
            let ino = state.create_file(key)?;
            Ok(Box::new(SimNewFile(self.handle(state, ino, path))) as Box<dyn NewFile>)
        })
    }

    fn map(&self, path: &Path) -> io::Result<Arc<dyn MappedFile>> {
        self.run(Operation::Map, path, |state, key| {
            let bytes = state.file_mut(state.open_file(key)?).current.clone();
            Ok(Arc::new(SimMappedFile(bytes)) as Arc<dyn MappedFile>)
        })
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let to = Key::new(to)?;
        self.run(Operation::HardLink, from, |state, from| {
            state.hard_link(from, &to)
        })
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.run(Operation::RemoveDirAll, path, |state, key| {
            state.remove(key, true)
        })
    }

    fn write_file(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.run(Operation::WriteFile, path, |state, key| {
            // As `File::create`, `write_all`, `sync_all`: a failure part-way leaves the
            // file truncated or partly written, and nothing of it durable.
            let ino = state.create_file(key)?;
            state.append(ino, data)?;
            state.sync_file(ino);
            Ok(())
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let to = Key::new(to)?;
        self.run(Operation::Rename, from, |state, from| {
            state.rename(from, &to)
        })
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.run(Operation::RemoveFile, path, |state, key| {
            state.remove(key, false)
        })
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.run(Operation::SyncDir, path, |state, key| {
            let ino = state.lookup(key)?;
            match state.node_mut(ino) {
                Node::Dir(dir) => dir.durable.clone_from(&dir.current),
                // The real implementation opens and fsyncs whatever is at the path.
                Node::File(file) => file.durable.clone_from(&file.current),
            }
            // Entries dropped from the durable state may have been the last references
            // to some nodes.
            state.collect_garbage();
            Ok(())
        })
    }

    fn lock_dir(&self, dir: &Path) -> Result<Box<dyn LockGuard>> {
        let key = Key::new(dir).map_err(|e| Error::io("lock", dir, e))?;
        let mut state = self.state.lock();
        state
            .begin(Operation::LockDir, None)
            .map_err(|e| Error::io("lock", dir, e))?;
        // The real lock opens (creating) the LOCK file, so listings see it here too.
        let lock_file = key.child(LOCK_FILE_NAME);
        if state.lookup(&lock_file).is_err() {
            state
                .create_file(&lock_file)
                .map_err(|e| Error::io("open the lock file", lock_file.path(), e))?;
        }
        if state.locks.contains_key(&key) {
            return Err(Error::Locked {
                path: dir.to_path_buf(),
                holder: None,
            });
        }
        state.next_lock += 1;
        let token = state.next_lock;
        state.locks.insert(key.clone(), token);
        Ok(Box::new(SimLock {
            state: Arc::clone(&self.state),
            key,
            token,
        }))
    }
}

/// An open file: the inode it was opened on, and the power-cut epoch it belongs to.
struct Handle {
    state: Arc<Mutex<State>>,
    ino: Ino,
    epoch: u64,
    path: PathBuf,
}

impl Handle {
    fn run<T>(
        &self,
        op: Operation,
        body: impl FnOnce(&mut State, Ino) -> io::Result<T>,
    ) -> io::Result<T> {
        let mut state = self.state.lock();
        state.begin(op, Some(self.epoch))?;
        body(&mut state, self.ino)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("path", &self.path)
            .field("ino", &self.ino)
            .finish()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut state = self.state.lock();
        // A handle from before a power cut no longer counts; its node may be gone.
        if state.epoch == self.epoch {
            state.file_mut(self.ino).open -= 1;
            state.release_if_dead(self.ino);
        }
    }
}

#[derive(Debug)]
struct SimWalFile(Handle);

impl WalFile for SimWalFile {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        self.0
            .run(Operation::Append, |state, ino| state.append(ino, data))
    }

    fn sync(&self) -> io::Result<()> {
        self.0.run(Operation::Sync, |state, ino| {
            state.sync_file(ino);
            Ok(())
        })
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.0
            .run(Operation::Truncate, |state, ino| state.truncate(ino, len))
    }
}

#[derive(Debug)]
struct SimNewFile(Handle);

impl io::Write for SimNewFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .run(Operation::Write, |state, ino| match state.grow(ino, buf) {
                (0, Some(full)) => Err(full),
                (written, _) => Ok(written),
            })
    }

    fn flush(&mut self) -> io::Result<()> {
        // Writes go straight to the current bytes; only a dead handle has anything to
        // report.
        self.0.state.lock().check_alive(Some(self.0.epoch))
    }
}

impl NewFile for SimNewFile {
    fn sync(&mut self) -> io::Result<()> {
        self.0.run(Operation::Sync, |state, ino| {
            state.sync_file(ino);
            Ok(())
        })
    }
}

/// A copy of a file's bytes: sealed files never change while mapped, so a copy reads
/// the same as a map would.
struct SimMappedFile(Vec<u8>);

impl fmt::Debug for SimMappedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimMappedFile({} bytes)", self.0.len())
    }
}

impl MappedFile for SimMappedFile {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A held directory lock. The token tells it apart from a lock taken on the same
/// directory after a power cut released this one.
struct SimLock {
    state: Arc<Mutex<State>>,
    key: Key,
    token: u64,
}

impl fmt::Debug for SimLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimLock({})", self.key.path().display())
    }
}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut state = self.state.lock();
        if state.locks.get(&self.key) == Some(&self.token) {
            state.locks.remove(&self.key);
        }
    }
}

impl LockGuard for SimLock {}

#[cfg(test)]
mod tests;
