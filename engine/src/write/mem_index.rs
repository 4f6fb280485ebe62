//! The HNSW graphs of a memtable: fresh rows are indexed as they arrive.
//!
//! The writer appends rows; the indexer (the flusher thread, or the writer itself when
//! no background thread runs or when the indexer falls too far behind) inserts every
//! slot below the memtable's published horizon into the live graph of each HNSW field,
//! in slot order, and then raises `indexed`. A query walks the graph for the slots
//! below the `indexed` it read and scans the slots from there to its horizon exactly,
//! so a row is searchable the moment its write is acknowledged.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use parking_lot::Mutex;
use strata_index::hnsw::{HnswGraph, HnswParams, LiveGraph, VectorSource};

use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Schema, VectorIndex};
use crate::write::live_memtable::{LiveMemtable, VectorColumn};

/// Rows the indexer may fall behind the writer before writers index themselves.
pub(crate) const INDEX_LAG_MAX: u32 = 4_096;

/// Rows one indexing pass takes at most: a writer that must wait for the indexer
/// waits for one such pass, not for a whole backlog.
const INDEX_PASS_ROWS: u32 = 256;

impl VectorSource for VectorColumn {
    fn row(&self, id: u32) -> Option<&[f32]> {
        VectorColumn::row(self, id)
    }
    fn dim(&self) -> usize {
        VectorColumn::dim(self)
    }
}

/// The live graphs of one memtable.
#[derive(Debug)]
pub(crate) struct MemIndex {
    /// One entry per schema field: the graph of an HNSW vector field.
    graphs: Vec<Option<LiveGraph>>,
    /// Every slot below this is in every graph (or has no vector there, or shares an
    /// earlier slot's node: [`LiveMemtable::node`]).
    indexed: AtomicU32,
    /// One indexing pass at a time, so `indexed` only ever covers whole passes.
    busy: Mutex<()>,
}

impl MemIndex {
    pub fn new(schema: &Schema, capacity: usize) -> MemIndex {
        let graphs = schema
            .fields()
            .iter()
            .map(|field| match field.kind {
                FieldKind::Vector(options) => match options.index {
                    VectorIndex::Hnsw { m, ef_construction } => LiveGraph::new(
                        options.dim,
                        options.metric,
                        &HnswParams::new(m, ef_construction),
                        capacity,
                    )
                    .ok(),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        MemIndex {
            graphs,
            indexed: AtomicU32::new(0),
            busy: Mutex::new(()),
        }
    }

    /// Whether any field has a graph (else there is nothing to index).
    pub fn has_graphs(&self) -> bool {
        self.graphs.iter().any(Option::is_some)
    }

    /// Nodes over every graph.
    pub fn nodes(&self) -> u64 {
        self.graphs
            .iter()
            .flatten()
            .map(|graph| graph.len() as u64)
            .sum()
    }

    /// Slots below this are in the graphs.
    pub fn indexed(&self) -> u32 {
        self.indexed.load(Ordering::Acquire)
    }

    /// The graph of the vector field at `position`.
    pub fn graph(&self, position: u16) -> Option<&LiveGraph> {
        self.graphs.get(position as usize)?.as_ref()
    }

    /// Inserts the slots from `indexed` up to `upto` into every graph, in passes of
    /// at most [`INDEX_PASS_ROWS`] rows, raising `indexed` after each.
    pub fn catch_up(&self, memtable: &LiveMemtable, upto: u32, threads: usize) -> Result<()> {
        loop {
            let from = self.indexed();
            if from >= upto {
                return Ok(());
            }
            self.pass(
                memtable,
                upto.min(from.saturating_add(INDEX_PASS_ROWS)),
                threads,
            )?;
        }
    }

    /// One pass: the slots from `indexed` up to `upto`, on `threads` threads.
    fn pass(&self, memtable: &LiveMemtable, upto: u32, threads: usize) -> Result<()> {
        let _one_pass = self.busy.lock();
        let from = self.indexed();
        if upto <= from || !self.has_graphs() {
            self.indexed.fetch_max(upto, Ordering::AcqRel);
            return Ok(());
        }
        for (position, graph) in self.graphs.iter().enumerate() {
            let (Some(graph), Some(column)) = (graph, memtable.column(position as u16)) else {
                continue;
            };
            let next = AtomicUsize::new(from as usize);
            let failure = Mutex::new(None);
            let work = || loop {
                let slot = next.fetch_add(1, Ordering::Relaxed);
                if slot >= upto as usize {
                    break;
                }
                let slot = slot as u32;
                if column.row(slot).is_none() || memtable.node(slot) != slot || graph.contains(slot)
                {
                    continue;
                }
                if let Err(error) = graph.insert(slot, column) {
                    *failure.lock() = Some(error);
                }
            };
            let threads = threads.clamp(1, (upto - from) as usize);
            if threads == 1 {
                work();
            } else {
                std::thread::scope(|scope| {
                    for _ in 0..threads {
                        scope.spawn(work);
                    }
                });
            }
            if let Some(error) = failure.into_inner() {
                return Err(Error::InvalidArgument {
                    reason: format!("cannot index a memtable row in the HNSW graph: {error}"),
                });
            }
        }
        self.indexed.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }

    /// Each field's graph over the slots below `rows` (node ids = slots), for the
    /// segment a flush writes; every slot below `rows` must be indexed.
    pub fn graphs_for_flush(&self, rows: u32) -> Vec<Option<HnswGraph>> {
        self.graphs
            .iter()
            .map(|graph| graph.as_ref().map(|graph| graph.to_graph(rows)))
            .collect()
    }
}

/// Threads an indexing pass of `lag` rows uses: one for a trickle, every core for a
/// backlog (a graph insertion costs about as much as a few hundred distances).
pub(crate) fn indexing_threads(lag: u32) -> usize {
    if lag < 256 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}
