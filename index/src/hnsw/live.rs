//! The live graph of a memtable: rows are inserted as they arrive, from several
//! threads at once, while queries search it.
//!
//! It is the bulk build's store and insertion ([`super::build::insert`] over
//! [`Nodes`]) with rows read through a [`VectorSource`] (the engine's append-only
//! vector arena) instead of one slice, storage grown in chunks that never move, and
//! the inverse norms COSINE needs kept per node. Writers lock only the nodes whose
//! lists they change; readers take no lock. When the memtable is flushed,
//! [`LiveGraph::to_graph`] gives the segment's graph (node ids = row ids).

use super::build::{freeze, insert, Work};
use super::nodes::{Levels, Nodes};
use super::prefetch::prefetch_lines;
use super::search::{knn, with_scratch, RowFilter};
use super::space::VectorSource;
use super::space::{inverse_norm, CosKernel, IpKernel, Kernel, L2Kernel, RowStore, Rows};
use super::{HnswError, HnswGraph, HnswParams};
use crate::distance::Metric;
use crate::topk::Neighbor;

/// Rows from a [`VectorSource`], norms from the live graph's nodes.
#[derive(Clone, Copy)]
struct LiveRows<'a> {
    source: &'a dyn VectorSource,
    nodes: &'a Nodes,
}

impl<'a> RowStore<'a> for LiveRows<'a> {
    #[inline(always)]
    fn row(&self, id: u32) -> &'a [f32] {
        self.source.row(id).unwrap_or(&[])
    }

    #[inline(always)]
    fn inv_norm(&self, id: u32) -> f32 {
        self.nodes.inv_norm(id)
    }

    #[inline(always)]
    fn prefetch(&self, id: u32, lines: usize, _norm: bool) {
        if let Some(row) = self.source.row(id) {
            prefetch_lines(row, lines);
        }
    }
}

/// An HNSW graph that grows one row at a time; see the module docs.
pub struct LiveGraph {
    nodes: Nodes,
    dim: usize,
    metric: Metric,
    params: HnswParams,
}

impl std::fmt::Debug for LiveGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveGraph")
            .field("dim", &self.dim)
            .field("metric", &self.metric)
            .field("params", &self.params)
            .field("len", &self.len())
            .finish()
    }
}

impl LiveGraph {
    /// An empty graph for rows of `dim` floats. `capacity` is the number of nodes
    /// stored before the first growth (the memtable's row limit, typically); more
    /// can be inserted, each growth doubling the storage without moving it.
    pub fn new(
        dim: usize,
        metric: Metric,
        params: &HnswParams,
        capacity: usize,
    ) -> Result<LiveGraph, HnswError> {
        params.validate()?;
        if dim == 0 || dim > u32::MAX as usize {
            return Err(HnswError::InvalidParams("dim must be in 1..=u32::MAX"));
        }
        let nodes = Nodes::new(
            params.m as u32,
            capacity.max(1024),
            Levels::Drawn {
                seed: params.seed,
                m: params.m,
            },
        );
        Ok(LiveGraph {
            nodes,
            dim,
            metric,
            params: *params,
        })
    }

    /// Inserts row `id` (its vector read from `vectors`, which must keep returning it
    /// while the graph lives) and links it. Safe to call from several threads at
    /// once and while others search; each id at most once.
    pub fn insert(&self, id: u32, vectors: &dyn VectorSource) -> Result<(), HnswError> {
        self.check_source(vectors)?;
        if id == u32::MAX {
            return Err(HnswError::TooManyRows(u32::MAX as usize));
        }
        let row = vectors.row(id).ok_or(HnswError::MissingVector(id))?;
        if row.len() != self.dim {
            return Err(HnswError::DimensionMismatch {
                what: "vectors",
                expected: self.dim,
                got: row.len(),
            });
        }
        self.nodes.ensure(id);
        if self.nodes.is_inserted(id) {
            return Err(HnswError::AlreadyInserted(id));
        }
        // Before the claim: a search may reach the node as soon as it is claimed.
        if self.metric == Metric::Cosine {
            self.nodes.set_inv_norm(id, inverse_norm(row));
        }
        if !self.nodes.claim(id) {
            return Err(HnswError::AlreadyInserted(id));
        }
        match self.metric {
            Metric::Cosine => self.insert_with::<CosKernel>(id, vectors),
            Metric::L2 => self.insert_with::<L2Kernel>(id, vectors),
            Metric::InnerProduct => self.insert_with::<IpKernel>(id, vectors),
        }
        Ok(())
    }

    fn insert_with<K: Kernel>(&self, id: u32, source: &dyn VectorSource) {
        let rows = self.rows::<K>(source);
        let ef = self.params.ef_construction;
        with_scratch(|sc| insert(&self.nodes, &rows, id, ef, sc, &mut Work::default()));
    }

    fn rows<'a, K: Kernel>(&'a self, source: &'a dyn VectorSource) -> Rows<'a, K, LiveRows<'a>> {
        Rows::with_store(
            LiveRows {
                source,
                nodes: &self.nodes,
            },
            self.dim,
        )
    }

    fn check_source(&self, vectors: &dyn VectorSource) -> Result<(), HnswError> {
        if vectors.dim() != self.dim {
            return Err(HnswError::DimensionMismatch {
                what: "vectors",
                expected: self.dim,
                got: vectors.dim(),
            });
        }
        Ok(())
    }

    /// The `k` inserted rows nearest to `query`, nearest first, among those `filter`
    /// accepts; the same semantics as [`super::GraphRef::search`]. A row whose
    /// insertion is still running may be returned; a caller that searches the rows
    /// past its indexed mark exactly passes a filter excluding them.
    pub fn search(
        &self,
        vectors: &dyn VectorSource,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn RowFilter>,
    ) -> Result<Vec<Neighbor>, HnswError> {
        self.check_source(vectors)?;
        if query.len() != self.dim {
            return Err(HnswError::DimensionMismatch {
                what: "query",
                expected: self.dim,
                got: query.len(),
            });
        }
        let Some(entry) = self.nodes.published_entry() else {
            return Ok(Vec::new());
        };
        if k == 0 {
            return Ok(Vec::new());
        }
        let entry = (entry.node, entry.level);
        Ok(match self.metric {
            Metric::Cosine => knn(
                &self.rows::<CosKernel>(vectors),
                &self.nodes,
                entry,
                query,
                (k, ef),
                filter,
            ),
            Metric::L2 => knn(
                &self.rows::<L2Kernel>(vectors),
                &self.nodes,
                entry,
                query,
                (k, ef),
                filter,
            ),
            Metric::InnerProduct => knn(
                &self.rows::<IpKernel>(vectors),
                &self.nodes,
                entry,
                query,
                (k, ef),
                filter,
            ),
        })
    }

    /// Rows inserted (or being inserted).
    pub fn len(&self) -> usize {
        self.nodes.inserted_count() as usize
    }

    /// Whether no row was inserted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `id` was inserted (or is being inserted).
    pub fn contains(&self, id: u32) -> bool {
        self.nodes.is_inserted(id)
    }

    /// Floats per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The metric the graph is built and searched with.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The build parameters.
    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// The graph over rows `0..n_rows` as a segment stores it (write it with
    /// [`HnswGraph::to_bytes`]): rows never inserted are rows without a vector. Every
    /// inserted id should be below `n_rows` and no insertion should be running; if
    /// not, the snapshot leaves out what it cannot place but is still well formed.
    /// When nothing was inserted, the result has no edges and row 0 as its entry
    /// point: write no graph then.
    pub fn to_graph(&self, n_rows: u32) -> HnswGraph {
        let inv_norms = if self.metric == Metric::Cosine {
            (0..n_rows)
                .map(|id| {
                    if self.nodes.is_inserted(id) {
                        self.nodes.inv_norm(id)
                    } else {
                        0.0
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        freeze(
            &self.nodes,
            n_rows,
            self.dim as u32,
            self.metric,
            &self.params,
            inv_norms,
        )
    }
}
