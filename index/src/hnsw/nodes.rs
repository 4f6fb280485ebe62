//! The graph under construction: neighbour lists that several writers change (each
//! under its node's lock) while readers walk them without locks, in chunks that are
//! allocated on demand and never move, so the same store serves the bulk build (all
//! chunks up front), the merge and the live graph of a memtable (grown as rows
//! arrive).
//!
//! Each list is a run of `AtomicU32` (a count, then ids). A reader may see a list
//! half-replaced, but every word it can see is a valid id of a node whose insertion
//! has started, so the worst case is one slightly stale hop, which hnswlib accepts as
//! well (it locks on reads too, but the list it reads can be stale a moment later all
//! the same).

use std::sync::atomic::{
    AtomicBool, AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::OnceLock;

use parking_lot::{Mutex, MutexGuard};

use super::search::Links;

/// Levels above this are never drawn (with M >= 2 a level of 32 has probability
/// below 2^-32 per row); it bounds the descent and the header check.
pub(crate) const MAX_LEVEL: u32 = 32;

/// Chunk `k` holds `base << k` nodes; 33 chunks cover every u32 id for any base >= 1.
const CHUNKS: usize = 33;

/// Level of row `id`: `floor(-ln(U) / ln(M))`, U uniform in (0, 1] from SplitMix64 at
/// position `id` of the stream seeded by `seed`, so a row's level depends only on the
/// seed and its id, whichever order (or thread) inserts it.
pub(crate) fn draw_level(seed: u64, m: usize, id: u32) -> u8 {
    let mut z = seed.wrapping_add((id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    ((-u.ln() * (1.0 / (m as f64).ln())) as u32).min(MAX_LEVEL) as u8
}

/// Where a node's level comes from.
pub(crate) enum Levels {
    /// [`draw_level`] with this seed and M.
    Drawn { seed: u64, m: usize },
    /// Given per id (a merge keeps the levels of the graph it starts from; a bulk
    /// build gives rows without a vector level 0); ids past the end have level 0.
    Table(Vec<u8>),
}

impl Levels {
    fn of(&self, id: u32) -> u8 {
        match self {
            Levels::Drawn { seed, m } => draw_level(*seed, *m, id),
            Levels::Table(table) => table.get(id as usize).copied().unwrap_or(0),
        }
    }
}

/// The entry point: a node on the highest level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub node: u32,
    pub level: u32,
}

impl Entry {
    const NONE: u64 = u64::MAX;

    fn pack(self) -> u64 {
        (self.level as u64) << 32 | self.node as u64
    }

    fn unpack(word: u64) -> Option<Entry> {
        (word != Self::NONE).then_some(Entry {
            node: word as u32,
            level: (word >> 32) as u32,
        })
    }
}

struct Chunk {
    /// `len * (1 + m0)` words, as in the file.
    level0: Box<[AtomicU32]>,
    /// Per node: `level * (1 + m)` words (empty at level 0).
    upper: Box<[Box<[AtomicU32]>]>,
    levels: Box<[u8]>,
    locks: Box<[Mutex<()>]>,
    /// `1/|v|` as f32 bits, kept by the live graph for COSINE.
    inv_norms: Box<[AtomicU32]>,
    /// Set when the node's insertion starts.
    inserted: Box<[AtomicBool]>,
}

/// Neighbour lists, levels, locks and the entry point of a graph being built.
pub(crate) struct Nodes {
    pub m: u32,
    pub m0: u32,
    base: u64,
    chunks: [OnceLock<Chunk>; CHUNKS],
    levels: Levels,
    /// Serialises chunk allocation, so allocated chunks are always a prefix.
    grow: Mutex<()>,
    /// Ids below this have storage (the allocated chunks' extent, at most u32::MAX).
    capacity: AtomicU32,
    /// Held by an insertion that reads or replaces the entry point.
    pub entry: Mutex<Option<Entry>>,
    /// The entry point for lock-free readers: set once the node is linked.
    published: AtomicU64,
    inserted: AtomicU32,
}

impl Nodes {
    /// An empty store whose first chunk holds `base` nodes (later ones double).
    pub fn new(m: u32, base: usize, levels: Levels) -> Nodes {
        Nodes {
            m,
            m0: 2 * m,
            base: base.clamp(1, u32::MAX as usize) as u64,
            chunks: std::array::from_fn(|_| OnceLock::new()),
            levels,
            grow: Mutex::new(()),
            capacity: AtomicU32::new(0),
            entry: Mutex::new(None),
            published: AtomicU64::new(Entry::NONE),
            inserted: AtomicU32::new(0),
        }
    }

    /// Chunk index and offset of `id`.
    #[inline(always)]
    fn locate(&self, id: u32) -> (usize, usize) {
        let id = id as u64;
        if id < self.base {
            return (0, id as usize);
        }
        let k = (id / self.base + 1).ilog2();
        (k as usize, (id - self.base * ((1 << k) - 1)) as usize)
    }

    #[inline(always)]
    fn chunk(&self, id: u32) -> Option<(&Chunk, usize)> {
        let (k, at) = self.locate(id);
        Some((self.chunks.get(k)?.get()?, at))
    }

    /// Makes sure `id` has storage (allocating every chunk up to its own).
    pub fn ensure(&self, id: u32) {
        let (k, _) = self.locate(id);
        if self.chunks[k].get().is_some() {
            return;
        }
        let _grow = self.grow.lock();
        for chunk in 0..=k {
            if self.chunks[chunk].get().is_some() {
                continue;
            }
            let start = self.base * ((1u64 << chunk) - 1);
            let end = (start + (self.base << chunk)).min(u32::MAX as u64);
            let chunk_nodes = self.allocate(start as u32, end as u32);
            // Under `grow` no one else initialises it.
            let _ = self.chunks[chunk].set(chunk_nodes);
            self.capacity.store(end as u32, Release);
        }
    }

    fn allocate(&self, start: u32, end: u32) -> Chunk {
        let len = (end - start) as usize;
        let atomics = |n: usize| (0..n).map(|_| AtomicU32::new(0)).collect();
        let levels: Box<[u8]> = (start..end).map(|id| self.levels.of(id)).collect();
        Chunk {
            level0: atomics(len * (self.m0 as usize + 1)),
            upper: levels
                .iter()
                .map(|&l| atomics(l as usize * (self.m as usize + 1)))
                .collect(),
            levels,
            locks: (0..len).map(|_| Mutex::new(())).collect(),
            inv_norms: atomics(len),
            inserted: (0..len).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Ids below this have storage.
    pub fn capacity(&self) -> u32 {
        self.capacity.load(Acquire)
    }

    /// Nodes whose insertion has started.
    pub fn inserted_count(&self) -> u32 {
        self.inserted.load(Acquire)
    }

    pub fn level(&self, node: u32) -> u32 {
        self.chunk(node).map_or(0, |(c, at)| c.levels[at] as u32)
    }

    /// Marks `node` as being inserted; false if it already was (or has no storage).
    pub fn claim(&self, node: u32) -> bool {
        let claimed = self.chunk(node).is_some_and(|(c, at)| {
            c.inserted[at]
                .compare_exchange(false, true, Release, Relaxed)
                .is_ok()
        });
        if claimed {
            self.inserted.fetch_add(1, Release);
        }
        claimed
    }

    pub fn is_inserted(&self, node: u32) -> bool {
        self.chunk(node)
            .is_some_and(|(c, at)| c.inserted[at].load(Acquire))
    }

    pub fn set_inv_norm(&self, node: u32, inv: f32) {
        if let Some((c, at)) = self.chunk(node) {
            c.inv_norms[at].store(inv.to_bits(), Relaxed);
        }
    }

    #[inline(always)]
    pub fn inv_norm(&self, node: u32) -> f32 {
        self.chunk(node)
            .map_or(0.0, |(c, at)| f32::from_bits(c.inv_norms[at].load(Relaxed)))
    }

    pub fn lock(&self, node: u32) -> Option<MutexGuard<'_, ()>> {
        self.chunk(node).map(|(c, at)| c.locks[at].lock())
    }

    /// The entry point as readers see it.
    pub fn published_entry(&self) -> Option<Entry> {
        Entry::unpack(self.published.load(Acquire))
    }

    /// Sets the entry point; the caller holds `entry`'s lock and has linked `e.node`.
    pub fn publish_entry(&self, slot: &mut Option<Entry>, e: Entry) {
        *slot = Some(e);
        self.published.store(e.pack(), Release);
    }

    #[inline(always)]
    fn block(&self, node: u32, level: u32) -> Option<&[AtomicU32]> {
        let (chunk, at) = self.chunk(node)?;
        if level == 0 {
            let stride = self.m0 as usize + 1;
            chunk.level0.get(at * stride..(at + 1) * stride)
        } else {
            let stride = self.m as usize + 1;
            let start = (level as usize - 1) * stride;
            chunk.upper.get(at)?.get(start..start + stride)
        }
    }

    /// Writes a list; the caller holds `node`'s lock. Ids first, count last, so a
    /// concurrent reader never sees a count covering slots not written yet.
    pub fn set_list(&self, node: u32, level: u32, ids: impl ExactSizeIterator<Item = u32>) {
        if let Some(block) = self.block(node, level) {
            let count = ids.len().min(block.len() - 1);
            for (slot, id) in block[1..].iter().zip(ids) {
                slot.store(id, Relaxed);
            }
            block[0].store(count as u32, Release);
        }
    }
}

impl Links for Nodes {
    #[inline(always)]
    fn node_count(&self) -> u32 {
        self.capacity()
    }

    #[inline]
    fn neighbors(&self, node: u32, level: u32, out: &mut Vec<u32>) {
        out.clear();
        if let Some(block) = self.block(node, level) {
            let count = (block[0].load(Acquire) as usize).min(block.len() - 1);
            out.extend(block[1..1 + count].iter().map(|a| a.load(Relaxed)));
        }
    }

    fn is_node(&self, node: u32) -> bool {
        self.is_inserted(node)
    }
}
