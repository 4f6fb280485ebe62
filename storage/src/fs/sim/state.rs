//! The simulated disk itself: the tree of nodes with their current and durable states,
//! and what each operation does to it. `sim.rs` wraps it in the `FileSystem` API.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::io::{self, ErrorKind};
use std::mem;
use std::path::{Component, Path, PathBuf};

use super::{FullDisk, Operation, PowerCutMode};

/// A path as the simulation keys it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Key {
    absolute: bool,
    names: Vec<OsString>,
}

impl Key {
    pub(super) fn new(path: &Path) -> io::Result<Key> {
        if path.as_os_str().is_empty() {
            // As the real file system: "" is not the working directory.
            return Err(io::Error::new(ErrorKind::NotFound, "empty path"));
        }
        let mut key = Key {
            absolute: false,
            names: Vec::new(),
        };
        for component in path.components() {
            match component {
                Component::Prefix(prefix) => {
                    key.absolute = true;
                    key.names.push(prefix.as_os_str().to_owned());
                }
                Component::RootDir => key.absolute = true,
                Component::CurDir => {}
                Component::ParentDir => {
                    if key.names.last().is_some_and(|name| name != "..") {
                        key.names.pop();
                    } else if !key.absolute {
                        key.names.push("..".into());
                    }
                }
                Component::Normal(name) => key.names.push(name.to_owned()),
            }
        }
        Ok(key)
    }

    fn root(&self) -> Ino {
        if self.absolute {
            ABSOLUTE_ROOT
        } else {
            RELATIVE_ROOT
        }
    }

    pub(super) fn child(&self, name: &str) -> Key {
        let mut child = self.clone();
        child.names.push(name.into());
        child
    }

    pub(super) fn path(&self) -> PathBuf {
        let mut path = PathBuf::from(if self.absolute { "/" } else { "." });
        path.extend(&self.names);
        path
    }
}

pub(super) fn fail(kind: ErrorKind, key: &Key, what: &str) -> io::Error {
    io::Error::new(kind, format!("{}: {what}", key.path().display()))
}

pub(super) type Ino = u64;
const ABSOLUTE_ROOT: Ino = 0;
const RELATIVE_ROOT: Ino = 1;

pub(super) enum Node {
    File(FileNode),
    Dir(DirNode),
}

#[derive(Default)]
pub(super) struct FileNode {
    pub(super) current: Vec<u8>,
    pub(super) durable: Vec<u8>,
    /// Current directory entries naming the file.
    links: u32,
    /// Live handles open on it.
    pub(super) open: u32,
}

impl FileNode {
    /// Whether the file is still reachable now, so that its bytes take space.
    fn live(&self) -> bool {
        self.links > 0 || self.open > 0
    }
}

#[derive(Default)]
pub(super) struct DirNode {
    pub(super) current: BTreeMap<OsString, Ino>,
    pub(super) durable: BTreeMap<OsString, Ino>,
}

pub(super) struct State {
    /// Ordered, so that a seeded power cut visits files in a repeatable order.
    pub(super) nodes: BTreeMap<Ino, Node>,
    next_ino: Ino,
    /// Power cuts so far; handles from an earlier epoch are dead.
    pub(super) epoch: u64,
    pub(super) locks: HashMap<Key, u64>,
    pub(super) next_lock: u64,
    /// Current bytes of the files still named or open.
    pub(super) used: u64,
    pub(super) limit: Option<u64>,
    pub(super) full_disk: FullDisk,
    pub(super) mode: PowerCutMode,
    pub(super) rng: XorShift,
    pub(super) failures: HashMap<Operation, u64>,
    pub(super) operations: u64,
    /// Operations left to run before a scheduled power cut.
    pub(super) cut_after: Option<u64>,
    /// Operations left to run before one scheduled failure.
    pub(super) fail_after: Option<u64>,
    pub(super) powered_off: bool,
}

impl Default for State {
    fn default() -> State {
        let mut nodes = BTreeMap::new();
        nodes.insert(ABSOLUTE_ROOT, Node::Dir(DirNode::default()));
        nodes.insert(RELATIVE_ROOT, Node::Dir(DirNode::default()));
        State {
            nodes,
            next_ino: RELATIVE_ROOT + 1,
            epoch: 0,
            locks: HashMap::new(),
            next_lock: 0,
            used: 0,
            limit: None,
            full_disk: FullDisk::default(),
            mode: PowerCutMode::default(),
            rng: XorShift::new(0),
            failures: HashMap::new(),
            operations: 0,
            cut_after: None,
            fail_after: None,
            powered_off: false,
        }
    }
}

impl State {
    pub(super) fn check_alive(&self, epoch: Option<u64>) -> io::Result<()> {
        if self.powered_off {
            return Err(io::Error::other("simulated power cut: the machine is off"));
        }
        if epoch.is_some_and(|epoch| epoch != self.epoch) {
            return Err(io::Error::other(
                "simulated power cut: this handle did not survive it",
            ));
        }
        Ok(())
    }

    /// Starts operation `op` (on a handle of `epoch`): fails if the power is off, the
    /// handle is dead, the scheduled power cut is due, or a failure is injected.
    pub(super) fn begin(&mut self, op: Operation, epoch: Option<u64>) -> io::Result<()> {
        self.check_alive(epoch)?;
        match self.cut_after {
            Some(0) => {
                self.cut_after = None;
                self.power_cut();
                self.powered_off = true;
                return self.check_alive(None);
            }
            Some(left) => self.cut_after = Some(left - 1),
            None => {}
        }
        self.operations += 1;
        match self.fail_after {
            Some(0) => {
                self.fail_after = None;
                return Err(io::Error::other(format!(
                    "injected {op:?} failure (scheduled)"
                )));
            }
            Some(left) => self.fail_after = Some(left - 1),
            None => {}
        }
        if let Some(pending) = self.failures.get_mut(&op).filter(|n| **n > 0) {
            *pending -= 1;
            return Err(io::Error::other(format!("injected {op:?} failure")));
        }
        Ok(())
    }

    pub(super) fn node(&self, ino: Ino) -> &Node {
        self.nodes.get(&ino).expect("linked or open nodes are kept")
    }

    pub(super) fn node_mut(&mut self, ino: Ino) -> &mut Node {
        self.nodes
            .get_mut(&ino)
            .expect("linked or open nodes are kept")
    }

    pub(super) fn file_mut(&mut self, ino: Ino) -> &mut FileNode {
        match self.node_mut(ino) {
            Node::File(file) => file,
            Node::Dir(_) => unreachable!("only files are opened or written"),
        }
    }

    fn dir_mut(&mut self, ino: Ino) -> &mut DirNode {
        match self.node_mut(ino) {
            Node::Dir(dir) => dir,
            Node::File(_) => unreachable!("entries are looked up in directories only"),
        }
    }

    fn is_dir(&self, ino: Ino) -> bool {
        matches!(self.node(ino), Node::Dir(_))
    }

    /// The current entry `name` of the directory `dir`.
    fn entry(&self, dir: Ino, name: &OsString) -> Option<Ino> {
        match self.node(dir) {
            Node::Dir(dir) => dir.current.get(name).copied(),
            Node::File(_) => None,
        }
    }

    fn add_node(&mut self, node: Node) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, node);
        ino
    }

    /// Follows `names` from the root of `key` through current entries.
    fn walk(&self, key: &Key, names: &[OsString]) -> io::Result<Ino> {
        let mut ino = key.root();
        for name in names {
            ino = match self.node(ino) {
                Node::Dir(dir) => *dir
                    .current
                    .get(name)
                    .ok_or_else(|| fail(ErrorKind::NotFound, key, "no such file or directory"))?,
                Node::File(_) => {
                    return Err(fail(ErrorKind::NotADirectory, key, "a parent is a file"))
                }
            };
        }
        Ok(ino)
    }

    pub(super) fn lookup(&self, key: &Key) -> io::Result<Ino> {
        self.walk(key, &key.names)
    }

    /// The directory that holds (or would hold) `key`, and its name there.
    fn parent<'k>(&self, key: &'k Key) -> io::Result<(Ino, &'k OsString)> {
        let (name, parents) = key
            .names
            .split_last()
            .ok_or_else(|| fail(ErrorKind::InvalidInput, key, "is a root"))?;
        let dir = self.walk(key, parents)?;
        if !self.is_dir(dir) {
            return Err(fail(ErrorKind::NotADirectory, key, "the parent is a file"));
        }
        Ok((dir, name))
    }

    pub(super) fn durable_lookup(&self, key: &Key) -> Option<Ino> {
        let mut ino = key.root();
        for name in &key.names {
            ino = match self.node(ino) {
                Node::Dir(dir) => *dir.durable.get(name)?,
                Node::File(_) => return None,
            };
        }
        Some(ino)
    }

    pub(super) fn open_file(&self, key: &Key) -> io::Result<Ino> {
        let ino = self.lookup(key)?;
        if self.is_dir(ino) {
            return Err(fail(ErrorKind::IsADirectory, key, "is a directory"));
        }
        Ok(ino)
    }

    pub(super) fn create_dir_all(&mut self, key: &Key, durable: bool) -> io::Result<()> {
        let mut ino = key.root();
        for (index, name) in key.names.iter().enumerate() {
            let child = match self.entry(ino, name) {
                Some(child) if self.is_dir(child) => child,
                Some(_) if index + 1 == key.names.len() => {
                    return Err(fail(ErrorKind::AlreadyExists, key, "is a file"))
                }
                Some(_) => return Err(fail(ErrorKind::NotADirectory, key, "a parent is a file")),
                None => {
                    let child = self.add_node(Node::Dir(DirNode::default()));
                    self.dir_mut(ino).current.insert(name.clone(), child);
                    child
                }
            };
            if durable {
                self.dir_mut(ino).durable.insert(name.clone(), child);
            }
            ino = child;
        }
        Ok(())
    }

    /// Creates the file at `key`, or truncates the one there in place, as
    /// `File::create` does: the truncation is not durable until a sync.
    pub(super) fn create_file(&mut self, key: &Key) -> io::Result<Ino> {
        let (dir, name) = self.parent(key)?;
        if let Some(ino) = self.entry(dir, name) {
            if self.is_dir(ino) {
                return Err(fail(ErrorKind::IsADirectory, key, "is a directory"));
            }
            let freed = mem::take(&mut self.file_mut(ino).current).len();
            self.used -= freed as u64;
            return Ok(ino);
        }
        let ino = self.add_node(Node::File(FileNode {
            links: 1,
            ..FileNode::default()
        }));
        self.dir_mut(dir).current.insert(name.clone(), ino);
        Ok(ino)
    }

    /// Free bytes under the space limit.
    fn room(&self) -> u64 {
        self.limit
            .map_or(u64::MAX, |limit| limit.saturating_sub(self.used))
    }

    /// Appends as much of `data` to the live file `ino` as the space limit allows;
    /// returns how much, and the error if that was not all of it.
    pub(super) fn grow(&mut self, ino: Ino, data: &[u8]) -> (usize, Option<io::Error>) {
        let room = usize::try_from(self.room()).unwrap_or(usize::MAX);
        let written = if data.len() <= room {
            data.len()
        } else if self.full_disk == FullDisk::WritePartial {
            room
        } else {
            0
        };
        self.file_mut(ino)
            .current
            .extend_from_slice(&data[..written]);
        self.used += written as u64;
        let full = (written < data.len()).then(|| {
            io::Error::new(
                ErrorKind::StorageFull,
                "no space left on device (simulated)",
            )
        });
        (written, full)
    }

    pub(super) fn append(&mut self, ino: Ino, data: &[u8]) -> io::Result<()> {
        match self.grow(ino, data) {
            (_, Some(full)) => Err(full),
            (_, None) => Ok(()),
        }
    }

    pub(super) fn sync_file(&mut self, ino: Ino) {
        let file = self.file_mut(ino);
        file.durable.clone_from(&file.current);
    }

    /// `set_len` then `sync_all`, as the real WAL file does.
    pub(super) fn truncate(&mut self, ino: Ino, len: u64) -> io::Result<()> {
        let current = self.file_mut(ino).current.len() as u64;
        if len > current && len - current > self.room() {
            return Err(io::Error::new(
                ErrorKind::StorageFull,
                "no space left on device (simulated)",
            ));
        }
        let new_len = usize::try_from(len).map_err(|_| ErrorKind::InvalidInput)?;
        self.file_mut(ino).current.resize(new_len, 0);
        self.used = self.used - current + len;
        self.sync_file(ino);
        Ok(())
    }

    pub(super) fn hard_link(&mut self, from: &Key, to: &Key) -> io::Result<()> {
        let ino = self.lookup(from)?;
        if self.is_dir(ino) {
            return Err(fail(
                ErrorKind::PermissionDenied,
                from,
                "directories cannot be hard-linked",
            ));
        }
        let (dir, name) = self.parent(to)?;
        if self.entry(dir, name).is_some() {
            return Err(fail(ErrorKind::AlreadyExists, to, "already exists"));
        }
        self.dir_mut(dir).current.insert(name.clone(), ino);
        self.file_mut(ino).links += 1;
        Ok(())
    }

    pub(super) fn rename(&mut self, from: &Key, to: &Key) -> io::Result<()> {
        let (from_dir, from_name) = self.parent(from)?;
        let ino = self
            .entry(from_dir, from_name)
            .ok_or_else(|| fail(ErrorKind::NotFound, from, "no such file or directory"))?;
        let (to_dir, to_name) = self.parent(to)?;
        let replaced = self.entry(to_dir, to_name);
        if replaced == Some(ino) {
            // Two names of one file: POSIX leaves both in place.
            return Ok(());
        }
        let moving_dir = self.is_dir(ino);
        if moving_dir && to.absolute == from.absolute && to.names.starts_with(&from.names) {
            return Err(fail(
                ErrorKind::InvalidInput,
                to,
                "is inside the directory moved",
            ));
        }
        if let Some(old) = replaced {
            match (moving_dir, self.node(old)) {
                (false, Node::Dir(_)) => {
                    return Err(fail(ErrorKind::IsADirectory, to, "is a directory"))
                }
                (true, Node::File(_)) => {
                    return Err(fail(ErrorKind::NotADirectory, to, "is a file"))
                }
                (true, Node::Dir(dir)) if !dir.current.is_empty() => {
                    return Err(fail(ErrorKind::DirectoryNotEmpty, to, "is not empty"))
                }
                _ => {}
            }
        }
        self.dir_mut(from_dir).current.remove(from_name);
        self.dir_mut(to_dir).current.insert(to_name.clone(), ino);
        if let Some(old) = replaced {
            self.unlink(old);
        }
        Ok(())
    }

    /// Removes the file (`dir: false`) or the directory tree (`dir: true`) at `key`.
    pub(super) fn remove(&mut self, key: &Key, dir: bool) -> io::Result<()> {
        let (parent, name) = self.parent(key)?;
        let ino = self
            .entry(parent, name)
            .ok_or_else(|| fail(ErrorKind::NotFound, key, "no such file or directory"))?;
        match (dir, self.is_dir(ino)) {
            (false, true) => return Err(fail(ErrorKind::IsADirectory, key, "is a directory")),
            (true, false) => return Err(fail(ErrorKind::NotADirectory, key, "is a file")),
            _ => {}
        }
        self.dir_mut(parent).current.remove(name);
        self.unlink(ino);
        Ok(())
    }

    /// Drops one current entry naming `ino`, which the caller already removed. A
    /// directory loses all its current entries, as `rm -r` unlinks each one; the
    /// durable entries stay, as nothing synced the removals.
    fn unlink(&mut self, ino: Ino) {
        match self.node_mut(ino) {
            Node::File(file) => {
                file.links -= 1;
                self.release_if_dead(ino);
            }
            Node::Dir(dir) => {
                for child in mem::take(&mut dir.current).into_values() {
                    self.unlink(child);
                }
            }
        }
    }

    /// Frees the current bytes of a file no name and no handle reaches any more: nothing
    /// can read them again, and a power cut restores the durable ones.
    pub(super) fn release_if_dead(&mut self, ino: Ino) {
        let file = self.file_mut(ino);
        if !file.live() {
            let freed = mem::take(&mut file.current).len();
            self.used -= freed as u64;
        }
    }

    /// Drops the nodes no current or durable entry and no open handle reaches.
    pub(super) fn collect_garbage(&mut self) {
        let mut stack: Vec<Ino> = vec![ABSOLUTE_ROOT, RELATIVE_ROOT];
        stack.extend(self.nodes.iter().filter_map(|(&ino, node)| {
            matches!(node, Node::File(file) if file.open > 0).then_some(ino)
        }));
        let mut reached = HashSet::new();
        while let Some(ino) = stack.pop() {
            if reached.insert(ino) {
                if let Node::Dir(dir) = self.node(ino) {
                    stack.extend(dir.current.values().chain(dir.durable.values()));
                }
            }
        }
        self.nodes.retain(|ino, _| reached.contains(ino));
    }

    pub(super) fn power_cut(&mut self) {
        self.epoch += 1;
        self.locks.clear();
        let keep_prefix = matches!(self.mode, PowerCutMode::KeepRandomPrefix { .. });
        for node in self.nodes.values_mut() {
            match node {
                Node::Dir(dir) => dir.current.clone_from(&dir.durable),
                Node::File(file) => {
                    let synced = file.durable.len();
                    if keep_prefix
                        && file.current.len() > synced
                        && file.current.starts_with(&file.durable)
                    {
                        let kept = self.rng.below(file.current.len() - synced + 1);
                        file.current.truncate(synced + kept);
                    } else {
                        file.current.clone_from(&file.durable);
                    }
                    // What is on the platter after the cut is what the next boot reads.
                    file.durable.clone_from(&file.current);
                    file.open = 0;
                }
            }
        }
        self.collect_garbage();
        let mut links: HashMap<Ino, u32> = HashMap::new();
        for node in self.nodes.values() {
            if let Node::Dir(dir) = node {
                for &child in dir.current.values() {
                    *links.entry(child).or_default() += 1;
                }
            }
        }
        let mut used = 0;
        for (ino, node) in &mut self.nodes {
            if let Node::File(file) = node {
                file.links = links.get(ino).copied().unwrap_or(0);
                used += file.current.len() as u64;
            }
        }
        self.used = used;
    }

    pub(super) fn write_image(&self, ino: Ino, real: &Path) -> io::Result<()> {
        match self.node(ino) {
            Node::Dir(dir) => {
                std::fs::create_dir_all(real)?;
                for (name, &child) in &dir.durable {
                    self.write_image(child, &real.join(name))?;
                }
                Ok(())
            }
            Node::File(file) => std::fs::write(real, &file.durable),
        }
    }
}

/// xorshift64: all a seeded power cut needs, without a dependency.
pub(super) struct XorShift(u64);

impl XorShift {
    pub(super) fn new(seed: u64) -> XorShift {
        // A splitmix64 step spreads small seeds; the generator must not start at zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        XorShift((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`; `n` must not be zero.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
